"""Run folders: each run writes to a folder of its own, and a refused run leaves none behind."""

from pathlib import Path

from pytorch_lightning.utilities.rank_zero import rank_zero_only


def claim_run_dir(root_dir: str | Path) -> Path | None:
    """Create the next free root_dir/version_N folder and return it.

    Under DDP only the main process claims one; the others get None.
    """
    # Creating a folder either succeeds or finds it taken, so runs that start at the same
    # moment each get their own. Under DDP Lightning hands the main process's folder on.
    if rank_zero_only.rank != 0:
        return None
    root = Path(root_dir)
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(path.name[8:]) for path in root.glob("version_*") if path.name[8:].isdigit()]
    version = max(taken, default=-1) + 1
    while True:
        try:
            (root / f"version_{version}").mkdir()
            return root / f"version_{version}"
        except FileExistsError:
            version += 1


def remove_empty_folder(path: Path | None) -> None:
    """Remove a run folder that nothing was written to, so a refused run leaves no trace."""
    if path and path.is_dir() and not any(path.iterdir()):
        path.rmdir()
