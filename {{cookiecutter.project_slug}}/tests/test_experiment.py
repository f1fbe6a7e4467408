"""The run's checkpoints: the best weights when validation improves, the latest every epoch."""

import pytest
import pytorch_lightning as pl
import torch

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.errors import CheckpointError
from {{ cookiecutter.package_name }}.experiment import (
    make_callbacks,
    read_resumable_checkpoint,
)
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}


class WorseEveryEpoch({{ cookiecutter.model_class }}):
    """Validation loss rises every epoch, so only the first epoch is ever the best."""

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", float(self.current_epoch))


@pytest.fixture(scope="module")
def checkpoints(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    trainer = pl.Trainer(
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
        callbacks=make_callbacks(enable_progress_bar=False, patience=10),
    )
    datamodule = {{ cookiecutter.datamodule_class }}(data_dir=str(data_dir), num_workers=0)
    trainer.fit(WorseEveryEpoch(channels=4, hidden_units=8), datamodule=datamodule)
    (best,) = root.rglob("best.ckpt")
    (last,) = root.rglob("last.ckpt")
    return best, last


def test_last_is_written_after_every_epoch_even_without_improvement(checkpoints):
    _, last = checkpoints
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 2
    assert state["optimizer_states"] and state["loops"]


def test_best_holds_the_weights_of_the_best_epoch(checkpoints):
    best, _ = checkpoints
    state = torch.load(best, weights_only=True)
    assert state["epoch"] == 0
    assert "optimizer_states" not in state
    assert state["hyper_parameters"]["channels"] == 4


def test_resuming_needs_the_whole_training_state(checkpoints):
    best, last = checkpoints
    assert read_resumable_checkpoint(last)["epoch"] == 2
    with pytest.raises(CheckpointError, match="holds only the model's weights"):
        read_resumable_checkpoint(best)
