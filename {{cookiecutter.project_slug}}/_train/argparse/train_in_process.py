"""How the tests run train.py of this command line (argparse) in their own process."""

import pytorch_lightning as pl

from train import fit, parse_args


def fit_in_process(argv: list[str]) -> pl.Trainer:
    """Fit as `python train.py ARGV` would, in this process, with no test; return the Trainer."""
    trainer, _, _ = fit(parse_args(argv))
    return trainer


def train_then_test_command(fit_flags: list[str]) -> list[str]:
    """The command that tests what `fit_flags` train: here train.py fits and tests in one run."""
    return fit_flags
