"""How the tests run train.py of this command line (LightningCLI) in their own process."""

import pytorch_lightning as pl

from train import run_cli


def fit_in_process(argv: list[str]) -> pl.Trainer:
    """Fit as `python train.py ARGV` would, in this process; return the Trainer."""
    return run_cli(argv).trainer


def train_then_test_command(fit_flags: list[str]) -> list[str]:
    """Fit with `fit_flags`, then return the command that tests the result: `train.py test`."""
    run_cli(fit_flags)
    return ["test", *fit_flags[1:], "--ckpt_path", "last"]
