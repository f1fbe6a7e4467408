"""The data, the model and the training pieces of this project; README.md shows how they fit."""

import warnings

# pytorch-lightning 2.6 builds torch's LeafSpec, which torch 2.10+ deprecates. The call
# still works; this hides only that one message, from that one Lightning module.
warnings.filterwarnings(
    "ignore",
    message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    category=FutureWarning,
    module=r"pytorch_lightning\.utilities\._pytree",
)
# A resumed run writes to a folder of its own, so its checkpoints keep the best of that run
# only; Lightning warns that the old folder's ranking is not carried over, as intended here.
warnings.filterwarnings(
    "ignore",
    message="The dirpath has changed from",
    module=r"pytorch_lightning\.callbacks\.model_checkpoint",
)
