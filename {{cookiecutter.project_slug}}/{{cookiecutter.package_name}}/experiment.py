"""Where a run writes: its logger, its callbacks, and the checkpoints it can resume from."""
{% if cookiecutter.logger == "mlflow" %}
import os
{%- endif %}
from pathlib import Path

import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.utilities import rank_zero_only

from .callbacks import LearningCurves, ReseedEveryEpoch
from .errors import CheckpointError
{%- if cookiecutter.logger == "mlflow" %}

# MLflow 3 keeps its local file store in maintenance mode and refuses it unless asked;
# a folder of plain files is what this project wants: no database, nothing to run.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
{%- endif %}


{%- if cookiecutter.cli == "argparse" %}


def make_logger(root_dir):
    """The experiment logger chosen when the project was generated."""
{%- if cookiecutter.logger == "tensorboard" %}
    from pytorch_lightning.loggers import TensorBoardLogger

    # Each run gets the next free version_N folder under root_dir.
    return TensorBoardLogger(save_dir=root_dir, name="", default_hp_metric=False)
{%- elif cookiecutter.logger == "csv" %}
    from pytorch_lightning.loggers import CSVLogger

    # Each run gets the next free version_N folder under root_dir.
    return CSVLogger(save_dir=root_dir, name="")
{%- elif cookiecutter.logger == "wandb" %}
    import os

    from pytorch_lightning.loggers import WandbLogger

    # Offline unless you ask for more: `wandb login` and WANDB_MODE=online sync the run.
    offline = os.environ.get("WANDB_MODE", "offline") != "online"
    # wandb looks for the git repository from save_dir, which must exist by then.
    Path(root_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project={{ cookiecutter.project_slug | tojson }},
        save_dir=root_dir,
        offline=offline,
    )
{%- elif cookiecutter.logger == "mlflow" %}
    from pytorch_lightning.loggers import MLFlowLogger

    # A local file store: `mlflow ui --backend-store-uri <root_dir>/mlruns` browses it.
    store = (Path(root_dir) / "mlruns").resolve()
    return MLFlowLogger(
        experiment_name={{ cookiecutter.project_slug | tojson }},
        tracking_uri=f"file:{store}",
    )
{%- else %}
    # No experiment logger: metrics still reach the progress bar and the learning curves.
    return False
{%- endif %}
{%- endif %}


def make_callbacks(enable_checkpointing=True, enable_progress_bar=True, patience=5):
    """Lightning's checkpoint, early-stopping and progress-bar callbacks, plus our two."""
    callbacks = [ReseedEveryEpoch(), LearningCurves()]
    callbacks.append(EarlyStopping(monitor="val_loss", patience=patience))
    if enable_checkpointing:
        callbacks += make_checkpoints()
    if enable_progress_bar:
        callbacks.append(make_progress_bar())
    return callbacks


def make_progress_bar():
    """Lightning's own progress bar (tqdm), redrawn every 10 batches, not every one.

    Each redraw, with its metrics, costs about half a millisecond, a few percent of a
    training step of this small model. Lightning's RichProgressBar is a drop-in alternative
    (`pip install rich`), prettier, but each of its redraws costs several times more.
    """
    return TQDMProgressBar(refresh_rate=10)


def make_checkpoints():
    """Two checkpoints with a job each: the best weights to test and predict, the latest to resume.

    The best one comes first, so `trainer.checkpoint_callback` and `ckpt_path="best"` mean it.
    """
    best = ModelCheckpoint(
        # One fixed name, replaced in place when validation improves: commands can name it.
        filename="best",
        # Validation loss ranks checkpoints more steadily than accuracy on a small
        # validation set, where one example moves accuracy by half a percent.
        monitor="val_loss",
        mode="min",
        # Weights and hyperparameters only: a third of the size, and quicker to write.
        save_weights_only=True,
    )
    # No monitor: written after every epoch, improved or not, replacing the one before, so
    # a crash costs at most the epoch it happened in. (save_last=True on the best checkpoint
    # would only follow it, and go stale while validation loss does not improve.)
    latest = ModelCheckpoint(filename="last")
    return [best, latest]


def resolve_ckpt_path(ckpt_path, root_dir):
    """Turn --ckpt_path into a checked checkpoint to resume from, and say what is resumed.

    "last" means the newest last.ckpt of any earlier run under root_dir; Lightning would
    read it as the last checkpoint of this new run, which has none yet.
    """
    if ckpt_path is None:
        return None
    path = find_last_checkpoint(root_dir) if ckpt_path == "last" else ckpt_path
    checkpoint = read_resumable_checkpoint(path)
    epoch, step = checkpoint["epoch"], checkpoint["global_step"]
    say(
        f"Resuming from {path}: epoch {epoch} done, step {step};"
        f" training continues at epoch {epoch + 1}"
    )
    return str(path)


@rank_zero_only
def say(message):
    """Print once, from the main process, however many processes train."""
    print(message)


def find_last_checkpoint(root_dir):
    """The most recently written last*.ckpt under root_dir."""
    candidates = sorted(Path(root_dir).rglob("last*.ckpt"), key=lambda path: path.stat().st_mtime)
    if not candidates:
        raise CheckpointError(f"--ckpt_path last: no last.ckpt under {root_dir}; nothing to resume")
    return candidates[-1]


def read_checkpoint(path):
    """Load a checkpoint's contents without running pickled code, or raise CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"--ckpt_path {path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a truncated or foreign file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"--ckpt_path {path}: not a readable checkpoint ({reason})") from None


def read_resumable_checkpoint(path):
    """Like read_checkpoint, but the file must hold the whole training state, not just weights."""
    checkpoint = read_checkpoint(path)
    if "optimizer_states" not in checkpoint:
        raise CheckpointError(
            f"--ckpt_path {path}: holds only the model's weights (a best.ckpt);"
            " resume from a last.ckpt"
        )
    return checkpoint
