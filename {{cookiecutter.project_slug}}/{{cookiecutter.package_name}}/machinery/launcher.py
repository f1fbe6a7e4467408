"""What train.py and tune.py of either command line share: the Trainer's parts, resume, errors."""

import inspect
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
import torch.distributed
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import MisconfigurationException, SIGTERMException

from .callbacks import make_callbacks, saved_checkpoints
from .checkpoints import AtomicCheckpointIO
from .errors import OneLineError, first_line, interruption_exit_code
from .files import remove_abandoned
from .logger import make_logger
from .runs import claim_run_dir, remove_empty_folder

# Settings a resumed run may change: where the data is read from (it is checked against the
# checkpoint instead) and how fast it is read, never what the run computes.
FREE_ON_RESUME = {"data_dir", "num_workers"}


@contextmanager
def script_run() -> Iterator[None]:
    """Around a script's work: errors in one line, the shell's exit codes, hooks put back."""
    excepthook = threading.excepthook
    on_sigterm = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        with warnings.catch_warnings():
            hide_known_warnings()
            yield
        close_process_group()
    except OneLineError as err:
        sys.exit(f"error: {err}")
    except MisconfigurationException as err:
        sys.exit(f"error: {first_line(err)}")
    except OSError as err:  # a full disk or a read-only folder, where a file is written
        sys.exit(f"error: {err.filename}: {err.strerror}" if err.filename else f"error: {err}")
    except SystemExit as stop:
        sys.exit(interruption_exit_code(stop) or stop.code)
    finally:
        # A stopped run quiets the threads' hook while it shuts down (callbacks.ResumeHint).
        threading.excepthook = excepthook
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)


def close_process_group() -> None:
    """End a finished DDP run's process group while the interpreter is still whole."""
    # Lightning leaves it open, and gloo's threads, torn down as the process exits, can abort
    # it ("terminate called without an active exception"): torchrun then reports the rank failed.
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside a fit (preparing data, between trials): stop as a fit does, cleanly."""
    # During a fit, Lightning's own handler calls this one as well, then stops the fit at the
    # end of the step; raising here would cut the step short.
    if signal.getsignal(signal.SIGTERM) is stop_on_sigterm:
        raise SIGTERMException()


def hide_known_warnings() -> None:
    """Hide two warnings of Lightning's that are expected here; the rest stay."""
    # pytorch-lightning 2.6 builds torch's LeafSpec, which torch 2.10+ deprecates. The call
    # still works; this hides only that one message, from that one Lightning module.
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"pytorch_lightning\.utilities\._pytree",
    )
    # A resumed run writes to a folder of its own, so its checkpoints keep the best of that
    # run only; Lightning warns that the old folder's ranking is not carried over, as intended.
    warnings.filterwarnings(
        "ignore",
        message="The dirpath has changed from",
        module=r"pytorch_lightning\.callbacks\.model_checkpoint",
    )
    # tune.py runs LightningCLI from Python over its own command line, as intended.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")


def max_epochs_problem(max_epochs: int | None) -> str | None:
    """Why a max_epochs is refused, if it is: 0 would run a fit that trains nothing."""
    if max_epochs == 0:
        return "0 is not allowed: give -1 (no limit) or 1 or more"
    return None


def accumulation_problem(accumulate_grad_batches: object) -> str | None:
    """Why an accumulate_grad_batches is refused: Lightning takes 0, then divides by it."""
    if isinstance(accumulate_grad_batches, int) and accumulate_grad_batches < 1:
        return f"{accumulate_grad_batches} is not allowed: give an integer, 1 or more"
    return None


def build_trainer(
    make_trainer: Callable[..., pl.Trainer],
    root_dir: str | Path,
    seed: int,
    logger: bool | Logger | None = True,
    validating: bool = True,
    flag: Callable[[str], str] = lambda name: f"--{name}",
    callbacks: Sequence[Callback] = (),
    run_folder: bool = True,
    patience: int = 5,
    **options: Any,
) -> pl.Trainer:
    """`make_trainer(**options)` with the project's logger, callbacks and checkpoint writer.

    The run gets a folder of its own under root_dir, removed again if the Trainer is refused.
    """
    # `flag` spells a Trainer argument as the command line does, for the messages.
    if not validating:
        rank_zero_info(
            f"No validation ({flag('limit_val_batches')} 0): no early stopping and no best.ckpt."
        )
    run_dir = None
    try:
        # Files that runs killed mid-write left under the root folder.
        if Path(root_dir).is_dir():
            remove_abandoned(root_dir)
        # True or None: the project's logger. A logger of the user's own (a LightningCLI
        # config may name one) keeps its own folder.
        if logger is None or logger is True:
            logger, run_dir = make_logger(root_dir)
        elif logger is False and run_folder:
            run_dir = claim_run_dir(root_dir)
    except OSError as err:
        raise OneLineError(
            f"{flag('default_root_dir')} {root_dir}: cannot write there ({err.strerror})"
        ) from None
    project_callbacks = make_callbacks(
        seed=seed,
        enable_checkpointing=options.get("enable_checkpointing") is not False,
        enable_progress_bar=options.get("enable_progress_bar") is not False,
        patience=patience,
        validating=validating,
        checkpoint_dir=run_dir / "checkpoints" if run_dir else None,
    )
    options.setdefault("plugins", [AtomicCheckpointIO()])
    try:
        return make_trainer(logger=logger, callbacks=[*callbacks, *project_callbacks], **options)
    except (MisconfigurationException, ValueError) as err:
        # A Trainer argument Lightning refuses: an unknown accelerator, an impossible limit.
        remove_empty_folder(run_dir)
        raise OneLineError(first_line(err)) from None


def report_checkpoints(trainer: pl.Trainer, then: str) -> None:
    """Say which checkpoint holds the best weights, or where the final ones are, and `then`."""
    best, last = saved_checkpoints(trainer)
    if best:
        rank_zero_info(f"Best checkpoint: {best}")
        return
    reason = "validated" if trainer.checkpoint_callbacks else "checkpointed"
    saved = f"the final weights are in {last}" if last else "the final weights were not saved"
    rank_zero_info(f"No best checkpoint (no epoch was {reason}): {saved}; {then}")


def constructor_defaults(cls: type, names: Sequence[str] | None = None) -> dict[str, Any]:
    """The default of each of a class's constructor arguments (of `names`, if given)."""
    parameters = inspect.signature(cls).parameters
    return {name: parameters[name].default for name in names or parameters}


def resumed_settings(
    saved: Mapping[str, Any],
    requested: Mapping[str, Any],
    defaults: Mapping[str, Any],
    flag: Callable[[str], str],
) -> tuple[dict[str, Any], str | None]:
    """The settings a resumed run uses, and why the requested ones clash with `saved`, if so.

    One rule for both command lines: a setting left at its default takes the saved value.
    """
    settings = dict(requested)
    for name, value in requested.items():
        if name not in saved or value == defaults.get(name, saved[name]):
            settings[name] = saved.get(name, value)
        elif value != saved[name] and name not in FREE_ON_RESUME:
            return settings, f"it was trained with {flag(name)} {saved[name]}, not {value}"
    return settings, None
