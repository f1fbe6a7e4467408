"""No experiment logger: metrics still reach the progress bar and the learning curves."""

from pathlib import Path

from .runs import claim_run_dir


def make_logger(root_dir: str | Path) -> tuple[bool, Path | None]:
    """No logger (False, as the Trainer takes it), and the run's own folder."""
    return False, claim_run_dir(root_dir)
