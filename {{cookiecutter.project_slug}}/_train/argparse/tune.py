"""Search the model's hyperparameters with Optuna; `python tune.py --help` lists the flags."""

import argparse
import sys

import optuna
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from {{ cookiecutter.package_name }}.errors import (
    ArgumentParser,
    CheckpointError,
    DataError,
)
from {{ cookiecutter.package_name }}.model import (
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)
from {{ cookiecutter.package_name }}.trainer_args import trainer_kwargs
from {{ cookiecutter.package_name }}.tuning import (
    PartlyFixedTrial,
    ReportToTrial,
    TrialInterrupted,
    TuneError,
    add_tuning_args,
    default_storage,
    finish,
    first_line,
    open_study,
    search,
)

from train import TrainingError, fit, parse_args
from train import build_parser as build_train_parser

# What --help says of the trials, after the line above.
ABOUT_TRIALS = (
    " Every trial is a train.py run that fits and validates, with no test: the search must not"
    " see the test set. The model's suggest_hyperparameters holds the search space; every other"
    " flag, and a hyperparameter given as a flag, holds for all trials. The objective is each"
    " trial's best val_loss, minimized."
)


def build_parser() -> ArgumentParser:
    """train.py's flags, which hold for every trial, and the Tuning group."""
    parser = build_train_parser()
    parser.description = __doc__ + ABOUT_TRIALS
    # No abbreviations: the train.py command printed at the end repeats the flags as typed.
    parser.allow_abbrev = False
    add_tuning_args(parser)
    return parser


def training_argv(argv: list[str]) -> list[str]:
    """The flags of argv that train.py takes: all but the Tuning group's."""
    tuning = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_tuning_args(tuning)
    return tuning.parse_known_args(argv)[1]


def objective(trial: optuna.Trial, args: argparse.Namespace, given: set[str]) -> float:
    """Train with the trial's hyperparameters over the fixed flags; return its best val_loss."""
    fixed = {name: getattr(args, name) for name in given & set(hyperparameter_defaults())}
    hyperparameters = {{ cookiecutter.model_class }}.suggest_hyperparameters(
        PartlyFixedTrial(trial, fixed),
    )
    reporter = ReportToTrial(trial)
    try:
        fit(argparse.Namespace(**{**vars(args), **hyperparameters}), callbacks=[reporter])
    except TrainingError as err:
        trial.set_user_attr("error", str(err))
        raise
    except SystemExit as err:
        # Lightning turns Ctrl-C during fit into an exit; Optuna must see an error to mark FAIL.
        raise TrialInterrupted("interrupted") from err
    return reporter.best


def main(argv: list[str] | None = None) -> optuna.Study:
    argv = sys.argv[1:] if argv is None else argv
    args, given = parse_args(argv, build_parser())
    if args.ckpt_path:
        sys.exit("error: --ckpt_path: every trial trains from the start; tune.py resumes studies")
    if trainer_kwargs(args).get("limit_val_batches") == 0:
        sys.exit("error: --limit_val_batches 0: trials are compared by their val_loss")
    storage = args.storage or default_storage(args.default_root_dir)
    try:
        # The seed makes a search repeatable only if given: parallel workers must differ.
        study = open_study(args.study_name, storage, args.seed if "seed" in given else None)
        search(
            study,
            lambda trial: objective(trial, args, given),
            args.n_trials,
            args.timeout,
            # A diverged trial is marked FAIL and the search goes on.
            catch=(TrainingError,),
        )
    except (TuneError, DataError, CheckpointError) as err:
        sys.exit(f"error: {err}")
    except MisconfigurationException as err:
        sys.exit(f"error: {first_line(err)}")
    except TrialInterrupted:
        print(
            "Interrupted: the running trial is marked FAIL; run again to add trials.",
            file=sys.stderr,
        )
        sys.exit(130)
    finish(study, args.default_root_dir, training_argv(argv), prefix="--")
    return study


if __name__ == "__main__":
    main()
