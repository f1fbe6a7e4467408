"""The experiment logger: CSV files in the run's own folder."""

from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, Logger

from .runs import claim_run_dir


def make_logger(root_dir: str | Path) -> tuple[Logger, Path | None]:
    """The CSV logger and the run's folder, where metrics.csv and hparams.yaml go."""
    run_dir = claim_run_dir(root_dir)
    version = int(run_dir.name[8:]) if run_dir else None
    return CSVLogger(save_dir=root_dir, name="", version=version), run_dir
