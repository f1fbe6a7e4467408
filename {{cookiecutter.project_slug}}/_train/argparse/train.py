"""Train and test the model. `python train.py --help` lists the three groups of arguments."""

import argparse
from collections.abc import Sequence

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from {{ cookiecutter.package_name }}.data import (
    ALLOWED,
    TASKS,
    {{ cookiecutter.datamodule_class }},
)
from {{ cookiecutter.package_name }}.machinery.callbacks import (
    check_training_finished,
    saved_checkpoints,
)
from {{ cookiecutter.package_name }}.machinery.checkpoints import find_checkpoint
from {{ cookiecutter.package_name }}.machinery.data_report import (
    checked_num_classes,
    data_mismatch,
)
from {{ cookiecutter.package_name }}.machinery.errors import ArgumentParser
from {{ cookiecutter.package_name }}.machinery.launcher import (
    accumulation_problem,
    build_trainer,
    constructor_defaults,
    max_epochs_problem,
    report_checkpoints,
    resumed_settings,
    script_run,
)
from {{ cookiecutter.package_name }}.machinery.settings import Allowed
from {{ cookiecutter.package_name }}.machinery.trainer_args import (
    HelpFormatter,
    add_trainer_args,
    trainer_kwargs,
)
from {{ cookiecutter.package_name }}.model import (
    DATA_ARGUMENTS,
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)

# The data module's settings that are flags of the Program group.
DATA_FLAGS = ("data_dir", "batch_size", "num_workers", "seed", "task", "augment")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_trainer_args(parser)
    {{ cookiecutter.model_class }}.add_model_specific_args(parser)
    program = parser.add_argument_group(
        "Program", "the data, the seed, and how checkpoints resume and early stopping waits"
    )
    program.add_argument(
        "--data_dir",
        help="folder with inputs.npy and labels.npy; the default one is filled with the digits",
    )
    program.add_argument(
        "--num_classes",
        type=Allowed(int, 2).parse,
        help="number of classes, if more than the labels show; if not given, the largest label + 1",
    )
    program.add_argument(
        "--task",
        choices=TASKS,
        help="what the labels mean, where they could mean two tasks; if not given, read from"
        ' labels.npy (README.md, "Use your own data")',
    )
    program.add_argument(
        "--augment",
        action="store_true",
        help="shift, turn and zoom training images a little, anew each epoch (not tables)",
    )
    program.add_argument("--seed", type=ALLOWED["seed"].parse, help="seed of every generator")
    program.add_argument("--batch_size", type=ALLOWED["batch_size"].parse, help="batch size")
    program.add_argument(
        "--num_workers",
        type=ALLOWED["num_workers"].parse,
        help="DataLoader worker processes; if not given, 2 where the machine has cores to spare",
    )
    program.add_argument(
        "--ckpt_path",
        help="last.ckpt to resume, or 'last': the newest usable one under --default_root_dir",
    )
    program.add_argument(
        "--patience",
        type=Allowed(int, 1).parse,
        default=5,
        help="epochs without a better val_loss before training stops early",
    )
    # The data flags' defaults are the data module's. Project defaults for a few Trainer
    # arguments; every other one keeps Lightning's.
    data_defaults = constructor_defaults({{ cookiecutter.datamodule_class }}, DATA_FLAGS)
    parser.set_defaults(**data_defaults)
    parser.set_defaults(
        max_epochs=8, deterministic=True, default_root_dir="outputs", log_every_n_steps=10
    )
    return parser


def parse_args(
    argv: list[str] | None = None, parser: ArgumentParser | None = None
) -> argparse.Namespace:
    """The parsed arguments; a value no flag allows stops here, before anything is built."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    problem = max_epochs_problem(getattr(args, "max_epochs", None))
    if problem:
        parser.error(f"argument --max_epochs: {problem}")
    problem = accumulation_problem(getattr(args, "accumulate_grad_batches", None))
    if problem:
        parser.error(f"argument --accumulate_grad_batches: {problem}")
    return args


def train(args: argparse.Namespace) -> dict:
    """Fit, test the best weights, and return the test metrics."""
    trainer, model, datamodule = fit(args)
    best, _ = saved_checkpoints(trainer)
    # Without validation no checkpoint ranks the epochs: the final weights are tested then.
    results = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
    report_checkpoints(trainer, then="those were tested")
    return results[0] if results else {}


def fit(
    args: argparse.Namespace, callbacks: Sequence[Callback] = ()
) -> tuple[pl.Trainer, pl.LightningModule, pl.LightningDataModule]:
    """Build the data, the model and the Trainer, with `callbacks` beside the project's, and fit."""
    pl.seed_everything(args.seed, workers=True)
    ckpt_path = None
    if args.ckpt_path is not None:
        ckpt_path, datamodule, model = resume(args)
    else:
        datamodule = {{ cookiecutter.datamodule_class }}(**data_settings(args))
        datamodule.prepare_data()
        data_report = {name: datamodule.report[name] for name in DATA_ARGUMENTS}
        if args.num_classes is not None:
            data_report["num_classes"] = checked_num_classes(
                args.num_classes, data_report, datamodule.hparams.data_dir
            )
        hyperparameters = {name: getattr(args, name) for name in hyperparameter_defaults()}
        model = {{ cookiecutter.model_class }}(**data_report, **hyperparameters)
    trainer = make_trainer(args, callbacks)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    check_training_finished(trainer)
    return trainer, model, datamodule


def data_settings(args: argparse.Namespace) -> dict:
    """The data module's arguments among the parsed ones."""
    return {name: getattr(args, name) for name in DATA_FLAGS}


def make_trainer(args: argparse.Namespace, callbacks: Sequence[Callback] = ()) -> pl.Trainer:
    """The Trainer from its flags, with `callbacks` and the project's, in a run folder."""
    options = trainer_kwargs(args)
    return build_trainer(
        pl.Trainer,
        root_dir=args.default_root_dir,
        seed=args.seed,
        logger=options.pop("logger", True),
        validating=options.get("limit_val_batches") != 0,
        patience=args.patience,
        callbacks=callbacks,
        **options,
    )


def resume(args: argparse.Namespace) -> tuple[str, pl.LightningDataModule, pl.LightningModule]:
    """The checkpoint to resume, and the data module and model built as it was trained."""
    path, checkpoint = find_checkpoint(
        args.ckpt_path,
        args.default_root_dir,
        refuse=lambda checkpoint: resumed_datamodule(args, checkpoint)[1],
    )
    model = {{ cookiecutter.model_class }}(**checkpoint["hyper_parameters"])
    return str(path), resumed_datamodule(args, checkpoint)[0], model


def resumed_datamodule(
    args: argparse.Namespace, checkpoint: dict
) -> tuple[pl.LightningDataModule, str | None]:
    """The data module as the checkpoint was trained, and why the flags or data clash, if so."""
    saved = {**checkpoint["datamodule_hyper_parameters"], **checkpoint["hyper_parameters"]}
    data_defaults = constructor_defaults({{ cookiecutter.datamodule_class }}, DATA_FLAGS)
    defaults = {**hyperparameter_defaults(), **data_defaults}
    requested = {name: getattr(args, name) for name in defaults}
    settings, clash = resumed_settings(saved, requested, defaults, lambda name: f"--{name}")
    saved_data = checkpoint["datamodule_hyper_parameters"]
    data = {name: settings[name] for name in DATA_FLAGS}
    datamodule = {{ cookiecutter.datamodule_class }}(**{**saved_data, **data})
    datamodule.prepare_data()
    # The data first: a --data_dir that does not fit is told what the checkpoint expects.
    return datamodule, data_mismatch(saved, datamodule.predict_dataset()) or clash


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    with script_run():
        return train(args)


if __name__ == "__main__":
    main()
