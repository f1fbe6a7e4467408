"""Train and test the model. `python train.py --help` lists the three groups of arguments."""

import argparse
import inspect
import sys

import pytorch_lightning as pl

from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.errors import CheckpointError, DataError
from {{ cookiecutter.package_name }}.experiment import (
    make_callbacks,
    make_logger,
    resolve_ckpt_path,
    say,
)
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.model_class }}
from {{ cookiecutter.package_name }}.trainer_args import add_trainer_args, trainer_kwargs


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # One line, instead of argparse's usage block of every flag.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser():
    parser = ArgumentParser(
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    program = parser.add_argument_group("Program", "where the data is and how it is read")
    program.add_argument("--data_dir", default="data", help="data folder; filled on first use")
    program.add_argument("--seed", type=int, default=42, help="seed for every random generator")
    program.add_argument("--batch_size", type=int, default=128, help="examples per batch")
    program.add_argument(
        "--num_workers",
        type=int,
        help="DataLoader worker processes; if not given, 2 where the machine has cores to spare",
    )
    program.add_argument(
        "--ckpt_path",
        help="checkpoint to resume, or 'last': the newest last.ckpt under --default_root_dir",
    )
    program.add_argument(
        "--patience",
        type=int,
        default=5,
        help="epochs without a better val_loss before training stops early",
    )
    {{ cookiecutter.model_class }}.add_model_specific_args(parser)
    add_trainer_args(parser)
    # Project defaults for a few Trainer arguments; every other one keeps Lightning's.
    parser.set_defaults(
        max_epochs=10,
        deterministic=True,
        default_root_dir="outputs",
        log_every_n_steps=10,
    )
    return parser


def model_kwargs(args):
    """Only the model's own hyperparameters, so save_hyperparameters() records just those."""
    names = inspect.signature({{ cookiecutter.model_class }}).parameters
    return {name: getattr(args, name) for name in names}


def train(args):
    pl.seed_everything(args.seed, workers=True)
    datamodule = {{ cookiecutter.datamodule_class }}(
        data_dir=args.data_dir,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    model = {{ cookiecutter.model_class }}(**model_kwargs(args))
    trainer_options = trainer_kwargs(args)
    ckpt_path = resolve_ckpt_path(args.ckpt_path, trainer_options["default_root_dir"])
    if trainer_options.get("logger", True) is not False:
        trainer_options["logger"] = make_logger(trainer_options["default_root_dir"])
    callbacks = make_callbacks(
        enable_checkpointing=trainer_options.get("enable_checkpointing", True) is not False,
        enable_progress_bar=trainer_options.get("enable_progress_bar", True) is not False,
        patience=args.patience,
    )
    trainer = pl.Trainer(**trainer_options, callbacks=callbacks)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    results = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
    if best:
        say(f"Best checkpoint: {best}")
    return results[0] if results else {}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return train(args)
    except (DataError, CheckpointError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
