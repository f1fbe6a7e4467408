"""Search the model's hyperparameters with Optuna; `python tune.py --help` lists the flags."""

import sys

import optuna
from jsonargparse import Namespace
from pytorch_lightning.callbacks import Callback

from {{ cookiecutter.package_name }}.data import ALLOWED
from {{ cookiecutter.package_name }}.machinery.errors import ArgumentParser, SettingsError
from {{ cookiecutter.package_name }}.machinery.launcher import script_run
from {{ cookiecutter.package_name }}.machinery.tuning import (
    add_tuning_args,
    finish,
    run_search,
)
from {{ cookiecutter.package_name }}.model import (
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)

from train import ParseOnly, run_cli
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
        type=ALLOWED["seed"].parse,
        help="seed of the sampler: a fresh study suggests the same trials (default: unseeded)",
    )
    return parser


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


def train_trial(training_argv: list[str], hyperparameters: dict, callbacks: list[Callback]) -> None:
    """One trial: `train.py fit` with the trial's hyperparameters over the fixed flags."""
    searched = [
        item for name, value in hyperparameters.items() for item in (f"--model.{name}", repr(value))
    ]
    run_cli(["fit", *training_argv, *searched], trainer_defaults={"callbacks": callbacks})


def main(argv: list[str] | None = None) -> optuna.Study:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if {"-h", "--help"} & set(argv):
        parser.print_help()
        print("\nEvery other flag is one of `train.py fit`'s, and holds for every trial:\n")
        train_main(["fit", "--help"])
    options, training_argv = parser.parse_known_args(argv)
    with script_run():
        # Bad flags stop here, before any trial.
        config = run_cli(training_argv, ParseOnly, run=False).config
        if config.ckpt_path is not None:
            raise SettingsError(
                "--ckpt_path: every trial trains from the start; tune.py resumes studies"
            )
        if config.trainer.limit_val_batches == 0:
            raise SettingsError(
                "--trainer.limit_val_batches 0: trials are compared by their val_loss"
            )
        root_dir = config.trainer.default_root_dir
        study = run_search(
            lambda hyperparameters, callbacks: train_trial(
                training_argv, hyperparameters, callbacks
            ),
            {{ cookiecutter.model_class }}.suggest_hyperparameters,
            fixed_hyperparameters(config.model, training_argv),
            options,
            root_dir,
            options.seed,
        )
        finish(study, root_dir, ["fit", *training_argv], prefix="--model.")
        return study


if __name__ == "__main__":
    main()
