"""Train and test the model. `python train.py --help` lists the three groups of arguments."""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from {{ cookiecutter.package_name }}.callbacks import (
    check_training_finished,
    make_callbacks,
    saved_checkpoints,
)
from {{ cookiecutter.package_name }}.checkpoints import (
    AtomicCheckpointIO,
    data_mismatch,
    find_checkpoint,
)
from {{ cookiecutter.package_name }}.data import (
    DEFAULT_DATA_DIR,
    {{ cookiecutter.datamodule_class }},
)
from {{ cookiecutter.package_name }}.errors import (
    ArgumentParser,
    CheckpointError,
    DataError,
    SettingsError,
    TrainingError,
    interruption_exit_code,
)
from {{ cookiecutter.package_name }}.model import (
    DATA_ARGUMENTS,
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)
from {{ cookiecutter.package_name }}.runs import start_run
from {{ cookiecutter.package_name }}.trainer_args import (
    HelpFormatter,
    add_trainer_args,
    trainer_kwargs,
)

# Data module settings that change how fast a run goes, never what it computes.
SPEED_ONLY = {"num_workers"}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    add_trainer_args(parser)
    {{ cookiecutter.model_class }}.add_model_specific_args(parser)
    program = parser.add_argument_group(
        "Program", "the data, the seed, and how checkpoints resume and early stopping waits"
    )
    program.add_argument(
        "--data_dir",
        default=DEFAULT_DATA_DIR,
        help="folder with inputs.npy and labels.npy; the default one is filled with the digits",
    )
    program.add_argument(
        "--num_classes",
        type=at_least(2),
        help="number of classes, if more than the labels show; if not given, the largest label + 1",
    )
    program.add_argument(
        "--seed", type=at_least(0, 2**32 - 1), default=42, help="seed for every random generator"
    )
    program.add_argument("--batch_size", type=at_least(1), default=128, help="examples per batch")
    program.add_argument(
        "--num_workers",
        type=at_least(0),
        help="DataLoader worker processes; if not given, 2 where the machine has cores to spare",
    )
    program.add_argument(
        "--ckpt_path",
        help="last.ckpt to resume, or 'last': the newest usable one under --default_root_dir",
    )
    program.add_argument(
        "--patience",
        type=at_least(1),
        default=5,
        help="epochs without a better val_loss before training stops early",
    )
    # Project defaults for a few Trainer arguments; every other one keeps Lightning's.
    parser.set_defaults(
        max_epochs=8,
        deterministic=True,
        default_root_dir="outputs",
        log_every_n_steps=10,
    )
    return parser


def at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer from `minimum` (to `maximum`), refused in one line otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            allowed = (
                f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            )
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give an integer, {allowed}")
        return value

    return parse


def parse_args(
    argv: list[str] | None = None, parser: ArgumentParser | None = None
) -> tuple[argparse.Namespace, set[str]]:
    """The parsed arguments, and the names of those given on the command line."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    # Parsing again over a namespace that already holds every name leaves out the defaults.
    unset = object()
    given = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(vars(args), unset)))
    if args.max_epochs == 0:
        parser.error("argument --max_epochs: 0 is not allowed: give -1 (no limit) or 1 or more")
    return args, {name for name, value in vars(given).items() if value is not unset}


def train(args: argparse.Namespace, given: set[str] = frozenset()) -> dict:
    """Fit, test the best weights, and return the test metrics."""
    trainer, model, datamodule = fit(args, given)
    best, last = saved_checkpoints(trainer)
    results = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
    if best:
        rank_zero_info(f"Best checkpoint: {best}")
    else:
        reason = "validated" if trainer.checkpoint_callbacks else "checkpointed"
        saved = f", saved in {last}" if last else ", not saved"
        rank_zero_info(
            f"No best checkpoint (no epoch was {reason}): tested the final weights{saved}"
        )
    return results[0] if results else {}


def fit(
    args: argparse.Namespace, given: set[str] = frozenset(), callbacks: Sequence[Callback] = ()
) -> tuple[pl.Trainer, pl.LightningModule, pl.LightningDataModule]:
    """Build the data, the model and the Trainer, with `callbacks` beside the project's, and fit."""
    pl.seed_everything(args.seed, workers=True)
    ckpt_path = None
    if args.ckpt_path:
        ckpt_path, datamodule, model = resume(args, given)
    else:
        datamodule = {{ cookiecutter.datamodule_class }}(**data_settings(args))
        data_report = {name: getattr(datamodule, name) for name in DATA_ARGUMENTS}
        if args.num_classes is not None:
            data_report["num_classes"] = checked_num_classes(args.num_classes, datamodule)
        hyperparameters = {name: getattr(args, name) for name in hyperparameter_defaults()}
        model = {{ cookiecutter.model_class }}(**data_report, **hyperparameters)
    trainer = build_trainer(args, callbacks)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    check_training_finished(trainer)
    return trainer, model, datamodule


def data_settings(args: argparse.Namespace) -> dict:
    """The data module's arguments among the parsed ones."""
    names = ("data_dir", "batch_size", "num_workers", "seed")
    return {name: getattr(args, name) for name in names}


def checked_num_classes(num_classes: int, datamodule: pl.LightningDataModule) -> int:
    """--num_classes may leave room for classes the labels lack, never drop one they hold."""
    if num_classes < datamodule.num_classes:
        raise DataError(
            f"--num_classes {num_classes} contradicts the data: {datamodule.hparams.data_dir}"
            f" holds labels 0 to {datamodule.num_classes - 1}"
        )
    return num_classes


def build_trainer(args: argparse.Namespace, callbacks: Sequence[Callback] = ()) -> pl.Trainer:
    """The Trainer from its flags, with `callbacks`, the project's, and a run folder of its own."""
    trainer_options = trainer_kwargs(args)
    validating = trainer_options.get("limit_val_batches") != 0
    if not validating:
        rank_zero_info("No validation (--limit_val_batches 0): no early stopping and no best.ckpt.")
    with_logger = trainer_options.get("logger") is not False
    trainer_options["logger"], run_dir = start_run(args.default_root_dir, with_logger)
    callbacks = list(callbacks) + make_callbacks(
        seed=args.seed,
        enable_checkpointing=trainer_options.get("enable_checkpointing") is not False,
        enable_progress_bar=trainer_options.get("enable_progress_bar") is not False,
        patience=args.patience,
        validating=validating,
        checkpoint_dir=run_dir / "checkpoints" if run_dir else None,
    )
    try:
        return pl.Trainer(**trainer_options, callbacks=callbacks, plugins=[AtomicCheckpointIO()])
    except MisconfigurationException:
        remove_empty_folder(run_dir)
        raise


def remove_empty_folder(path: Path | None) -> None:
    """Remove a run folder that nothing was written to, so a refused run leaves no trace."""
    if path and path.is_dir() and not any(path.iterdir()):
        path.rmdir()


def resume(
    args: argparse.Namespace, given: set[str]
) -> tuple[str, pl.LightningDataModule, pl.LightningModule]:
    """The checkpoint to resume, and the data module and model built as it was trained.

    A flag given again must agree with the checkpoint: a resumed run continues the same run.
    """

    def refuse(checkpoint: dict) -> str | None:
        saved = {**checkpoint["datamodule_hyper_parameters"], **checkpoint["hyper_parameters"]}
        # The data first: a --data_dir that does not fit is told what the checkpoint expects.
        mismatch = data_mismatch(saved, resumed_datamodule(checkpoint))
        if mismatch:
            return mismatch
        for name in sorted(given & set(saved) - SPEED_ONLY):
            if getattr(args, name) != saved[name]:
                return f"it was trained with --{name} {saved[name]}, not {getattr(args, name)}"
        return None

    def resumed_datamodule(checkpoint: dict) -> pl.LightningDataModule:
        settings = dict(checkpoint["datamodule_hyper_parameters"])
        for name in ("data_dir", "num_workers"):
            if name in given:
                settings[name] = getattr(args, name)
        return {{ cookiecutter.datamodule_class }}(**settings)

    path, checkpoint = find_checkpoint(args.ckpt_path, args.default_root_dir, refuse=refuse)
    epoch = checkpoint["epoch"]
    rank_zero_info(
        f"Resuming from {path}: epoch {epoch} done, step {checkpoint['global_step']};"
        f" training continues at epoch {epoch + 1}"
    )
    model = {{ cookiecutter.model_class }}(**checkpoint["hyper_parameters"])
    return str(path), resumed_datamodule(checkpoint), model


def main(argv: list[str] | None = None) -> dict:
    args, given = parse_args(argv)
    try:
        return train(args, given)
    except (DataError, CheckpointError, SettingsError, TrainingError) as err:
        sys.exit(f"error: {err}")
    except MisconfigurationException as err:
        sys.exit(f"error: {str(err).splitlines()[0]}")
    except SystemExit as stop:
        sys.exit(interruption_exit_code(stop) or stop.code)


if __name__ == "__main__":
    main()
