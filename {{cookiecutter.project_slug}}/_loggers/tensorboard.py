"""The experiment logger: TensorBoard, writing to the run's own folder."""

from pathlib import Path

from pytorch_lightning.loggers import Logger, TensorBoardLogger

from .runs import claim_run_dir


def make_logger(root_dir: str | Path) -> tuple[Logger, Path | None]:
    """TensorBoard's logger and the run's folder: `tensorboard --logdir <root_dir>` shows it."""
    run_dir = claim_run_dir(root_dir)
    version = int(run_dir.name[8:]) if run_dir else None
    logger = TensorBoardLogger(save_dir=root_dir, name="", version=version, default_hp_metric=False)
    return logger, run_dir
