"""What tune.py needs from Optuna: the study, the pruning callback, progress lines, the picture.

The search space is not here: it lives with the model, in `suggest_hyperparameters`.
"""

import argparse
import math
import random
import re
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pytorch_lightning as pl
import sqlalchemy.exc
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from .callbacks import run_directory
from .errors import OneLineError, TrainingError, first_line, interruption_exit_code
from .settings import Allowed

DEFAULT_STUDY_NAME = "digits-classifier"
DEFAULT_N_TRIALS = 20
# Trials with a final value before parameter importances mean anything.
MIN_TRIALS_FOR_IMPORTANCES = 5
# Stale RUNNING trials of a killed worker are marked FAIL after two missed heartbeats.
HEARTBEAT_SECONDS = 60


class TuneError(OneLineError):
    """A study that cannot be opened or used as asked."""


class TrialInterrupted(Exception):
    """Ctrl-C or a signal stopped a trial: Optuna marks it FAIL, and the search stops."""

    def __init__(self, exit_code: int = 130):
        super().__init__("interrupted")
        self.exit_code = exit_code  # the shell's: 143 for SIGTERM, 130 for Ctrl-C


def add_tuning_args(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The flags of the search itself, as their own group."""
    group = parser.add_argument_group(
        "Tuning", "the Optuna study: its database, its name, and how many trials to add"
    )
    group.add_argument(
        "--n_trials",
        type=Allowed(int, 1).parse,
        default=DEFAULT_N_TRIALS,
        help="trials this run adds",
    )
    group.add_argument(
        "--study_name",
        default=DEFAULT_STUDY_NAME,
        help="the study to create, or to add trials to if --storage already holds it",
    )
    group.add_argument(
        "--storage",
        help="SQLAlchemy database URL, shared by every worker (default: sqlite:///"
        "<default_root_dir>/optuna.db)",
    )
    group.add_argument(
        "--timeout",
        type=Allowed(float, 0, low_excluded=True).parse,
        help="seconds after which no new trial starts (default: no limit)",
    )
    return group


def default_storage(root_dir: str | Path) -> str:
    """A SQLite database in the runs folder: a real database, with nothing to install or run."""
    path = Path(root_dir).resolve() / "optuna.db"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TuneError(f"{root_dir}: cannot write the study there ({err.strerror})") from None
    return f"sqlite:///{path}"


def open_study(study_name: str, storage: str, seed: int | None) -> optuna.Study:
    """Create the study, or load it to add trials; any worker with the same URL joins it.

    A seed gives a fresh study the same suggestions; a resumed one continues where it was.
    """
    # The progress lines say what Optuna's own log would, once per trial.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        database = connect(storage)
        study = optuna.create_study(
            study_name=study_name,
            storage=database,
            direction="minimize",
            pruner=make_pruner(),
            load_if_exists=True,
        )
    except Exception as err:  # SQLAlchemy's errors, a missing driver, a malformed URL
        raise TuneError(f"--storage {storage}: {first_line(err)}") from err
    if study.direction != optuna.study.StudyDirection.MINIMIZE:
        raise TuneError(
            f"study {study_name!r} in {storage} maximizes its objective; tune.py minimizes"
            " the validation loss: give another --study_name"
        )
    offset = len(study.trials) if seed is not None else 0
    study.sampler = optuna.samplers.TPESampler(seed=None if seed is None else seed + offset)
    return study


def connect(storage: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """The study database, its tables created on first use.

    Workers that start together race to create the tables: the losers try again.
    """
    # Workers on one SQLite file wait for each other's writes rather than fail at once.
    engine = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    storage, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random())


def make_pruner() -> optuna.pruners.BasePruner:
    """Stop a trial whose val_loss is worse than the median of earlier trials at that epoch."""
    # The first trials run in full to set the median, and no trial is judged on its first
    # two epochs, when every loss is still falling fast.
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2)


class PartlyFixedTrial:
    """A trial whose suggestions are the given values for the names the command line fixed.

    The fixed names are then not searched, and not recorded among the trial's parameters.
    """

    def __init__(self, trial: optuna.Trial, fixed: dict):
        self.trial = trial
        self.fixed = fixed

    def __getattr__(self, name: str):
        method = getattr(self.trial, name)
        if not name.startswith("suggest_"):
            return method

        def suggest(param_name: str, *args, **kwargs):
            if param_name in self.fixed:
                return self.fixed[param_name]
            return method(param_name, *args, **kwargs)

        return suggest


class ReportToTrial(Callback):
    """Report val_loss to the trial after every epoch's validation, and prune hopeless trials.

    Keeps the best val_loss, the trial's objective; the run's logger gets the trial's number.
    """

    def __init__(self, trial: optuna.Trial):
        self.trial = trial
        self.best = math.inf

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Match the run's log to the study, and the study's trial to the run's folder.
        study = self.trial.study.study_name
        for logger in trainer.loggers:
            logger.log_hyperparams({"optuna_study": study, "optuna_trial": self.trial.number})
        self.trial.set_user_attr("run_dir", str(run_directory(trainer)))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or "val_loss" not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics["val_loss"])
        epoch = trainer.current_epoch
        self.best = min(self.best, value)
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch}: val_loss {value:.4f}")


def search(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    n_trials: int,
    timeout: float | None,
    catch: tuple[type[Exception], ...] = (),
) -> None:
    """Add trials to the study, with a progress line each; Ctrl-C ends as TrialInterrupted."""
    print(
        f"Study {study.study_name!r}: {len(study.trials)} trials so far; adding {n_trials}."
        " Objective: each trial's best val_loss, minimized.",
        flush=True,
    )
    try:
        study.optimize(
            objective, n_trials=n_trials, timeout=timeout, catch=catch, callbacks=[print_trial]
        )
    except KeyboardInterrupt as err:
        # Between trials or inside one: Optuna has marked a running trial FAIL already.
        raise TrialInterrupted(130) from err
    except SIGTERMException as err:  # between trials (launcher.stop_on_sigterm)
        raise TrialInterrupted(143) from err


def run_search(
    train_trial: Callable[[dict, list[Callback]], None],
    suggest: Callable[[optuna.Trial], dict],
    fixed: dict,
    options: argparse.Namespace,
    root_dir: str | Path,
    seed: int | None,
) -> optuna.Study:
    """Open the study and add trials, each train_trial(searched hyperparameters, callbacks).

    `suggest` is the search space; `fixed` hyperparameters are not searched.
    """
    storage = options.storage or default_storage(root_dir)
    study = open_study(options.study_name, storage, seed)

    def objective(trial: optuna.Trial) -> float:
        try:
            suggested = suggest(PartlyFixedTrial(trial, fixed))
        except ValueError as err:  # Optuna's word for a parameter whose kind changed
            raise TuneError(
                f"study {study.study_name!r}: the search space changed since its first trials"
                f" ({first_line(err)}); give another --study_name"
            ) from None
        reporter = ReportToTrial(trial)
        try:
            train_trial({k: v for k, v in suggested.items() if k not in fixed}, [reporter])
        except TrainingError as err:
            trial.set_user_attr("error", str(err))
            raise
        except SystemExit as stop:
            # Lightning turns a signal during fit into an exit; Optuna must see an error.
            raise TrialInterrupted(interruption_exit_code(stop) or 130) from stop
        return reporter.best

    try:
        # A diverged trial is marked FAIL and the search goes on.
        search(study, objective, options.n_trials, options.timeout, catch=(TrainingError,))
    except TrialInterrupted as stop:
        print(
            "Interrupted: the running trial is marked FAIL; run again to add trials.",
            file=sys.stderr,
        )
        sys.exit(stop.exit_code)
    return study


def finish(study: optuna.Study, root_dir: str | Path, fixed_argv: list[str], prefix: str) -> None:
    """Print the study's best trial and how to train it again, and draw the study."""
    for line in summary(study, fixed_argv, prefix):
        print(line)
    picture = draw_study(study, root_dir)
    if picture:
        print(f"Picture of the study: {picture}")


def trial_line(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> str:
    """One line per finished trial: its number, state, value, duration and run folder."""
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    epochs = len(trial.intermediate_values)
    if trial.state == optuna.trial.TrialState.COMPLETE:
        outcome = f"best val_loss {trial.value:.4f}"
    elif trial.state == optuna.trial.TrialState.PRUNED:
        outcome = f"pruned after epoch {max(trial.intermediate_values, default=0)}"
    else:
        outcome = trial.user_attrs.get("error", "failed")
    run_dir = trial.user_attrs.get("run_dir", "no run folder")
    return (
        f"trial {trial.number} {trial.state.name}: {outcome}, {epochs} epochs"
        f" in {seconds:.1f} s ({run_dir})"
    )


def print_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """An Optuna study callback: the progress line of each trial this worker finishes."""
    print(trial_line(study, trial), flush=True)


def reproduce_command(fixed_argv: list[str], params: dict, prefix: str = "--") -> str:
    """The train.py command that trains the trial again: the fixed flags, then its parameters."""
    flags = [item for name, value in params.items() for item in (prefix + name, repr(value))]
    return shlex.join(["python", "train.py", *fixed_argv, *flags])


def summary(study: optuna.Study, fixed_argv: list[str], prefix: str = "--") -> list[str]:
    """The lines tune.py ends with: the study's counts and its best trial so far."""
    states = [trial.state.name for trial in study.trials]
    counts = ", ".join(f"{states.count(state)} {state}" for state in sorted(set(states)))
    lines = [f"Study {study.study_name!r}: {len(states)} trials ({counts})"]
    completed = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not completed:
        return [*lines, "No trial has completed yet: no best parameters."]
    best = study.best_trial
    return [
        *lines,
        f"Best trial {best.number}: best val_loss {best.value:.6g} (the objective, minimized)",
        *(f"  {name} = {value!r}" for name, value in best.params.items()),
        "Reproduce it with:",
        "  " + reproduce_command(fixed_argv, best.params, prefix),
    ]


def draw_study(study: optuna.Study, root_dir: str | Path) -> Path | None:
    """Draw the optimization history, and parameter importances once enough trials have a
    value, side by side in one PNG under the runs folder; return its path."""
    completed = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not completed:
        return None
    # Agg before pyplot, which Optuna's plots use: files only, never a window.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import image, pyplot
    from optuna.visualization import matplotlib as plots

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = [plots.plot_optimization_history(study, target_name="best val_loss")]
        if len(completed) >= MIN_TRIALS_FOR_IMPORTANCES and completed[0].params:
            axes.append(plots.plot_param_importances(study))
    images = []
    for ax in axes:
        ax.figure.tight_layout()
        ax.figure.canvas.draw()
        images.append(np.asarray(ax.figure.canvas.buffer_rgba()))
        pyplot.close(ax.figure)
    height = max(image.shape[0] for image in images)
    # White below a shorter plot, so that the two sit side by side in one picture.
    padded = [
        np.pad(image, ((0, height - image.shape[0]), (0, 0), (0, 0)), constant_values=255)
        for image in images
    ]
    safe_name = re.sub(r"[^\w.-]", "_", study.study_name)
    path = Path(root_dir) / f"study_{safe_name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image.imsave(path, np.hstack(padded))
    return path
