"""Checkpoints: written whole or not at all, read safely, and the one to resume found."""

import errno
from collections.abc import Callable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import torch
from pytorch_lightning.plugins import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_info

from .errors import CheckpointError
from .files import discard, link_or_copy, open_beside, replace_with

DISK_THREAD = "checkpoint-disk"  # the name of the thread that syncs, renames and links


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, then renames it over the old one.

    A second checkpoint of the state just written becomes a hard link to that file.
    """

    # A full disk or a crash mid-write then leaves the previous last.ckpt whole and loadable.
    # In an epoch that improved, best.ckpt and last.ckpt hold the same state, in either order.
    # Syncing a file to disk waits on the disk, not the CPU, so a thread does it, and the
    # rename and link after it, in the order saved, while training goes on. A file therefore
    # gets its name a moment after save_checkpoint returns; loading waits for it, and so
    # does the end of fit, which raises any error the thread met.

    def __init__(self) -> None:
        super().__init__()
        self.latest: tuple[tuple, Path] | None = None  # (training state, file) saved last
        self.disk_thread: ThreadPoolExecutor | None = None  # from the first save to teardown
        self.unfinished: list[tuple[Future, Path]] = []

    def save_checkpoint(
        self, checkpoint: dict, path: str | Path, storage_options: object = None
    ) -> None:
        self.raise_any_error(wait=False)
        path = Path(path)
        state = training_state(checkpoint)
        if self.latest and self.latest[0] == state:
            self.finish_in_thread(path, link_or_copy, self.latest[1], path)
        else:
            with checkpoint_errors(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                file = open_beside(path)
                try:
                    torch.save(checkpoint, file)
                except BaseException:
                    discard(file)
                    raise
            self.finish_in_thread(path, replace_with, file, path)
        self.latest = (state, path)

    def finish_in_thread(self, path: Path, finish: Callable, *args: object) -> None:
        """Run finish(*args), which puts the file at `path` in place, after all saved before."""
        if self.disk_thread is None:
            self.disk_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=DISK_THREAD)
        self.unfinished.append((self.disk_thread.submit(finish, *args), path))

    def raise_any_error(self, wait: bool) -> None:
        """Raise CheckpointError for a file the thread could not finish; first wait for all."""
        if wait:
            futures.wait([future for future, _ in self.unfinished])
        finished = [(future, path) for future, path in self.unfinished if future.done()]
        self.unfinished = [pair for pair in self.unfinished if pair not in finished]
        for future, path in finished:
            with checkpoint_errors(path):
                future.result()

    def load_checkpoint(self, *args: object, **kwargs: object) -> dict:
        self.raise_any_error(wait=True)
        return super().load_checkpoint(*args, **kwargs)

    def remove_checkpoint(self, path: str | Path) -> None:
        self.raise_any_error(wait=True)
        super().remove_checkpoint(path)

    def teardown(self) -> None:
        # The thread ends with each fit, so a search of many trials does not keep one per trial.
        try:
            self.raise_any_error(wait=True)
        finally:
            if self.disk_thread is not None:
                self.disk_thread.shutdown()
                self.disk_thread = None


@contextmanager
def checkpoint_errors(path: Path) -> Iterator[None]:
    """Turn a failure to write the checkpoint at `path` into a one-line CheckpointError."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        cause = os_error_behind(err)
        if cause is None:
            raise
        if cause.errno == errno.ENOSPC:
            raise CheckpointError(f"no space left on device while writing {path}") from None
        raise CheckpointError(f"cannot write {path} ({cause.strerror})") from None


def os_error_behind(err: BaseException | None) -> OSError | None:
    """The OSError an error is, or was raised while handling: a full disk, say."""
    # On a full disk torch's zip writer fails twice: an OSError, then, closing the archive,
    # a RuntimeError ("unexpected pos") raised while handling it.
    while err is not None and not isinstance(err, OSError):
        err = err.__context__
    return err


def training_state(checkpoint: dict) -> tuple:
    """Where training stood when `checkpoint` was taken, and whether it can resume from there."""
    return checkpoint.get("epoch"), checkpoint.get("global_step"), "optimizer_states" in checkpoint


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint's contents without running pickled code, or raise CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"--ckpt_path {path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a truncated or foreign file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"--ckpt_path {path}: not a readable checkpoint ({reason})") from None


def read_resumable_checkpoint(path: str | Path) -> dict:
    """Like read_checkpoint, but the file must hold the whole training state, not just weights."""
    checkpoint = read_checkpoint(path)
    if "optimizer_states" not in checkpoint:
        raise CheckpointError(
            f"--ckpt_path {path}: holds only the model's weights; resume from a last.ckpt"
        )
    return checkpoint


def find_checkpoint(
    ckpt_path: str | None,
    root_dir: str | Path,
    subcommand: str = "fit",
    refuse: Callable[[dict], str | None] = lambda checkpoint: None,
) -> tuple[Path, dict]:
    """The checkpoint --ckpt_path names, read, checked and announced: (its path, its contents).

    "last" and "best": the newest such file under root_dir that loads; `refuse` must accept it.
    """
    # `refuse` says why a checkpoint does not fit this run, or returns None. A damaged newest
    # file is passed over for the next newest; one that loads but does not fit is refused, as
    # the run meant is the newest one, not an older one that happens to fit. Lightning itself
    # would look for "last" and "best" in this new run, which has none yet. `fit` resumes,
    # so it needs the whole training state; the other subcommands need only the weights.
    if ckpt_path is None:
        raise CheckpointError(
            f"{subcommand} needs --ckpt_path: a checkpoint file, or 'best' or 'last' for the"
            f" newest under {root_dir}"
        )
    read = read_resumable_checkpoint if subcommand == "fit" else read_checkpoint
    if ckpt_path not in ("last", "best"):
        checkpoint = read(ckpt_path)
        reason = refuse(checkpoint)
        if reason:
            raise CheckpointError(f"--ckpt_path {ckpt_path}: {reason}")
        return announced(Path(ckpt_path), checkpoint, subcommand)
    found = sorted(
        Path(root_dir).rglob(f"{ckpt_path}*.ckpt"), key=lambda path: path.stat().st_mtime
    )
    if not found:
        raise CheckpointError(f"--ckpt_path {ckpt_path}: no {ckpt_path}.ckpt under {root_dir}")
    reasons = []
    for path in reversed(found):
        try:
            checkpoint = read(path)
        except CheckpointError as err:
            reasons.append(str(err).removeprefix("--ckpt_path "))
            continue
        reason = refuse(checkpoint)
        if reason:
            raise CheckpointError(f"--ckpt_path {ckpt_path} ({path}): {reason}")
        return announced(path, checkpoint, subcommand)
    raise CheckpointError(
        f"--ckpt_path {ckpt_path}: no usable {ckpt_path}.ckpt under {root_dir}"
        f" ({'; '.join(reasons)})"
    )


def announced(path: Path, checkpoint: dict, subcommand: str) -> tuple[Path, dict]:
    """Say which checkpoint a run takes, and where training goes on from; return both."""
    epoch = checkpoint["epoch"]
    if subcommand == "fit":
        message = (
            f"Resuming from {path}: epoch {epoch} done, step {checkpoint['global_step']};"
            f" training continues at epoch {epoch + 1}"
        )
    else:
        message = f"{subcommand}: weights from {path} (epoch {epoch})"
    rank_zero_info(message)
    return path, checkpoint
