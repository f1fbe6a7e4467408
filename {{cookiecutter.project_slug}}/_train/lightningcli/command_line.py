"""How the tests run train.py of this command line (LightningCLI): its flags, a fit in-process."""

import pytorch_lightning as pl

from train import run_cli

# Each setting the tests give, as this train.py spells its flag.
FLAG = {
    **{name: f"--data.{name}" for name in ("data_dir", "batch_size", "num_workers", "task")},
    **{
        name: f"--model.{name}" for name in ("learning_rate", "channels", "hidden_units", "dropout")
    },
    **{
        name: f"--trainer.{name}"
        for name in (
            *("default_root_dir", "max_epochs", "limit_train_batches", "limit_val_batches"),
            *("log_every_n_steps", "enable_progress_bar", "enable_model_summary"),
        )
    },
    "seed": "--seed_everything",
    "ckpt_path": "--ckpt_path",
}
# The flag that switches the augmentation on.
AUGMENT = ["--data.augment", "true"]
# What comes before the flags of a training run; tune.py takes the flags alone.
SUBCOMMAND = ["fit"]


def fit_in_process(argv: list[str]) -> pl.Trainer:
    """Fit as `python train.py ARGV` would, in this process; return the Trainer."""
    return run_cli(argv).trainer


def train_then_test_command(fit_flags: list[str]) -> list[str]:
    """Fit with `fit_flags`, then return the command that tests the result: `train.py test`."""
    run_cli(fit_flags)
    return ["test", *fit_flags[1:], "--ckpt_path", "last"]
