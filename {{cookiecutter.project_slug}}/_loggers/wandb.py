"""The experiment logger: Weights & Biases, offline unless you ask for more."""

import os
from pathlib import Path

from pytorch_lightning.loggers import Logger, WandbLogger


def make_logger(root_dir: str | Path) -> tuple[Logger, None]:
    """The wandb logger; each run's folder is named after its unique id, under the project's."""
    import wandb

    # Runs in one process (tune.py's trials) each need a wandb run of their own, and
    # WandbLogger would join the run an earlier one left open.
    if wandb.run is not None:
        wandb.finish()
    # Offline unless you ask for more: `wandb login` and WANDB_MODE=online sync the run.
    offline = os.environ.get("WANDB_MODE", "offline") != "online"
    # wandb looks for the git repository from save_dir, which must exist by then.
    Path(root_dir).mkdir(parents=True, exist_ok=True)
    logger = WandbLogger(
        project={{ cookiecutter.project_slug | tojson }},
        save_dir=str(root_dir),
        offline=offline,
    )
    return logger, None
