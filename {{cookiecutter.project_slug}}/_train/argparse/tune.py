"""Search the model's hyperparameters with Optuna; `python tune.py --help` lists the flags."""

import argparse
import sys

import optuna
from pytorch_lightning.callbacks import Callback

from {{ cookiecutter.package_name }}.machinery.errors import ArgumentParser, SettingsError
from {{ cookiecutter.package_name }}.machinery.launcher import script_run
from {{ cookiecutter.package_name }}.machinery.trainer_args import trainer_kwargs
from {{ cookiecutter.package_name }}.machinery.tuning import (
    add_tuning_args,
    finish,
    run_search,
)
from {{ cookiecutter.package_name }}.model import (
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)

from train import build_parser as build_train_parser
from train import fit, parse_args

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


def given_names(argv: list[str]) -> set[str]:
    """The names of the flags typed in argv."""
    return {flag[2:].split("=")[0] for flag in argv if flag.startswith("--")}


def train_trial(args: argparse.Namespace, hyperparameters: dict, callbacks: list[Callback]) -> None:
    """One trial: train.py's fit, with the trial's hyperparameters over the fixed flags."""
    fit(argparse.Namespace(**{**vars(args), **hyperparameters}), callbacks=callbacks)


def main(argv: list[str] | None = None) -> optuna.Study:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv, build_parser())
    # Hyperparameters typed as flags hold for every trial and are not searched.
    fixed = {
        name: getattr(args, name) for name in given_names(argv) & set(hyperparameter_defaults())
    }
    with script_run():
        if args.ckpt_path is not None:
            raise SettingsError(
                "--ckpt_path: every trial trains from the start; tune.py resumes studies"
            )
        if trainer_kwargs(args).get("limit_val_batches") == 0:
            raise SettingsError("--limit_val_batches 0: trials are compared by their val_loss")
        study = run_search(
            lambda hyperparameters, callbacks: train_trial(args, hyperparameters, callbacks),
            {{ cookiecutter.model_class }}.suggest_hyperparameters,
            fixed,
            args,
            args.default_root_dir,
            # The seed makes a search repeatable only if given: parallel workers must differ.
            seed=args.seed if "seed" in given_names(argv) else None,
        )
        finish(study, args.default_root_dir, training_argv(argv), prefix="--")
        return study


if __name__ == "__main__":
    main()
