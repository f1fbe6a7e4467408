"""Search the model's hyperparameters with Optuna; `python tune.py --help` lists the flags."""

import sys

import optuna
from jsonargparse import Namespace
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
from {{ cookiecutter.package_name }}.tuning import (
    PartlyFixedTrial,
    ReportToTrial,
    TrialInterrupted,
    TuneError,
    add_tuning_args,
    default_storage,
    finish,
    first_line,
    integer_from,
    open_study,
    search,
)

from train import CLI, run_cli
from train import main as train_main

# What --help says of the trials, after the line above.
ABOUT_TRIALS = (
    " Every trial is a `train.py fit` run: the flags other than the tuning ones go to the"
    " project's LightningCLI, --config included, and hold for every trial. The model's"
    " suggest_hyperparameters holds the search space; a --model.* setting given here is not"
    " searched. The objective is each trial's best val_loss, minimized."
)


def build_parser() -> ArgumentParser:
    """The Tuning group; every other flag is left for `train.py fit`."""
    parser = ArgumentParser(
        description=__doc__ + ABOUT_TRIALS,
        usage="python tune.py [tuning flags] [train.py fit flags]",
        add_help=False,
        # No abbreviations: a flag of train.py's must never be taken for a tuning one.
        allow_abbrev=False,
    )
    group = add_tuning_args(parser)
    group.add_argument(
        "--seed",
        type=integer_from(0),
        help="seed of the sampler: a fresh study suggests the same trials (default: unseeded)",
    )
    return parser


class FlagsChecked(Exception):
    """Raised by CheckFlags with the parsed configuration of `train.py fit`."""

    def __init__(self, config: Namespace) -> None:
        super().__init__("flags checked")
        self.config = config


class CheckFlags(CLI):
    """Parse and check the flags as `train.py fit` does, then stop before building anything."""

    def before_instantiate_classes(self) -> None:
        raise FlagsChecked(self.config.fit)


def checked_config(training_argv: list[str]) -> Namespace:
    """The configuration every trial starts from; bad flags stop here, before any trial."""
    try:
        run_cli(["fit", *training_argv], CheckFlags)
    except FlagsChecked as checked:
        return checked.config


def fixed_hyperparameters(model_config: Namespace, training_argv: list[str]) -> dict:
    """The hyperparameters typed as --model.* flags or set away from their defaults."""
    typed = {
        flag.split("=")[0].removeprefix("--model.")
        for flag in training_argv
        if flag.startswith("--model.")
    }
    return {
        name: model_config[name]
        for name, default in hyperparameter_defaults().items()
        if name in typed or model_config[name] != default
    }


def objective(trial: optuna.Trial, training_argv: list[str], fixed: dict) -> float:
    """Fit with the trial's hyperparameters over the fixed flags; return its best val_loss."""
    hyperparameters = {{ cookiecutter.model_class }}.suggest_hyperparameters(
        PartlyFixedTrial(trial, fixed),
    )
    searched = [
        item
        for name, value in hyperparameters.items()
        if name not in fixed
        for item in (f"--model.{name}", repr(value))
    ]
    reporter = ReportToTrial(trial)
    try:
        run_cli(["fit", *training_argv, *searched], CLI, trainer_defaults={"callbacks": [reporter]})
    except SystemExit as err:
        # Lightning turns Ctrl-C during fit into an exit; Optuna must see an error to mark FAIL.
        raise TrialInterrupted("interrupted") from err
    return reporter.best


def main(argv: list[str] | None = None) -> optuna.Study:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if {"-h", "--help"} & set(argv):
        parser.print_help()
        print("\nEvery other flag is one of `train.py fit`'s, and holds for every trial:\n")
        train_main(["fit", "--help"])
    options, training_argv = parser.parse_known_args(argv)
    config = checked_config(training_argv)
    if config.ckpt_path:
        sys.exit("error: --ckpt_path: every trial trains from the start; tune.py resumes studies")
    if config.trainer.limit_val_batches == 0:
        sys.exit("error: --trainer.limit_val_batches 0: trials are compared by their val_loss")
    root_dir = config.trainer.default_root_dir
    storage = options.storage or default_storage(root_dir)
    fixed = fixed_hyperparameters(config.model, training_argv)
    try:
        study = open_study(options.study_name, storage, options.seed)
        search(
            study,
            lambda trial: objective(trial, training_argv, fixed),
            options.n_trials,
            options.timeout,
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
    finish(study, root_dir, ["fit", *training_argv], prefix="--model.")
    return study


if __name__ == "__main__":
    main()
