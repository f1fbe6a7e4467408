"""How the tests run train.py of this command line (argparse): its flags, a fit in-process."""

import pytorch_lightning as pl

from train import fit, parse_args

# Each setting the tests give, as this train.py spells its flag.
FLAG = {
    name: f"--{name}"
    for name in (
        *("data_dir", "batch_size", "num_workers", "seed", "ckpt_path", "task"),
        *("learning_rate", "channels", "hidden_units", "dropout"),
        *("default_root_dir", "max_epochs", "limit_train_batches", "limit_val_batches"),
        *("log_every_n_steps", "enable_progress_bar", "enable_model_summary"),
    )
}
# The flag that switches the augmentation on.
AUGMENT = ["--augment"]
# What comes before the flags of a training run; tune.py takes the flags alone.
SUBCOMMAND = []


def fit_in_process(argv: list[str]) -> pl.Trainer:
    """Fit as `python train.py ARGV` would, in this process, with no test; return the Trainer."""
    trainer, _, _ = fit(parse_args(argv))
    return trainer


def train_then_test_command(fit_flags: list[str]) -> list[str]:
    """The command that tests what `fit_flags` train: here train.py fits and tests in one run."""
    return fit_flags
