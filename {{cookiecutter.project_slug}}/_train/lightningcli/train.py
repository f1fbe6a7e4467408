"""Train, validate, test or predict with LightningCLI; `python train.py --help` lists how.

configs/default.yaml holds the project's defaults; `--config FILE` and flags override them.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.trainer import Trainer

from {{ cookiecutter.package_name }}.data import (
    ALLOWED,
    {{ cookiecutter.datamodule_class }},
)
from {{ cookiecutter.package_name }}.machinery.callbacks import check_training_finished
from {{ cookiecutter.package_name }}.machinery.checkpoints import find_checkpoint
from {{ cookiecutter.package_name }}.machinery.cli_parser import (
    SUBCOMMANDS,
    ArgumentParser,
)
from {{ cookiecutter.package_name }}.machinery.data_report import data_mismatch
from {{ cookiecutter.package_name }}.machinery.errors import OneLineError, SettingsError
from {{ cookiecutter.package_name }}.machinery.launcher import (
    accumulation_problem,
    build_trainer,
    constructor_defaults,
    max_epochs_problem,
    report_checkpoints,
    resumed_settings,
    script_run,
)
from {{ cookiecutter.package_name }}.machinery.settings import check_settings
from {{ cookiecutter.package_name }}.model import ALLOWED as MODEL_ALLOWED
from {{ cookiecutter.package_name }}.model import (
    DATA_ARGUMENTS,
    {{ cookiecutter.model_class }},
    hyperparameter_defaults,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.yaml"


def run_seed(seed_everything: int | bool) -> int:
    """The one seed the data order and the per-epoch reseeding follow, as a number."""
    if isinstance(seed_everything, bool):
        raise SettingsError("seed_everything: give a number, so that every run can be repeated")
    return ALLOWED["seed"].check("seed_everything", seed_everything)


class Parser(ArgumentParser):
    """The project's parser: one-line errors, and dumped configs that say what the data links."""

    def dump_comments(self, config: Namespace) -> str:
        return linked_from_data(config)


def linked_from_data(config: Namespace) -> str:
    """YAML comments: where the model's data arguments come from, with their values if read now."""
    if config.get("ckpt_path"):
        names = ", ".join(f"model.{name}" for name in DATA_ARGUMENTS)
        return f"# {names}: the checkpoint's (--ckpt_path {config.ckpt_path})\n"
    data = {{ cookiecutter.datamodule_class }}(**config.data.as_dict())
    data.prepare_data()
    report = {name: data.report[name] for name in DATA_ARGUMENTS}
    report["input_shape"] = list(report["input_shape"])
    values = yaml.safe_dump({"model": report}, default_flow_style=None, sort_keys=False)
    heading = f"Linked from the data, not options of their own ({data.hparams.data_dir}):"
    return "".join(f"# {line}\n" for line in [heading, *values.splitlines()])


class CLI(LightningCLI):
    # The data arguments of the checkpoint given to --ckpt_path, which the model is rebuilt with.
    trained_on: dict | None = None

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The model is built from what the data module reads in its data folder; given
        # --ckpt_path, as the checkpoint was trained (the data is checked against it).
        for name in DATA_ARGUMENTS:
            parser.link_arguments(
                "data",
                f"model.{name}",
                compute_fn=self.data_argument(name),
                apply_on="instantiate",
            )
        parser.link_arguments("seed_everything", "data.seed", compute_fn=run_seed)

    def data_argument(self, name: str) -> Callable[[Any], Any]:
        """The link's value: the data module's report, or the checkpoint's when there is one."""

        def report(data: {{ cookiecutter.datamodule_class }}) -> Any:
            if self.trained_on:
                return self.trained_on[name]
            data.prepare_data()
            return data.report[name]

        return report

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        check_config(config)
        if config.ckpt_path is not None or self.subcommand != "fit":
            self.use_checkpoint_settings(config)

    def use_checkpoint_settings(self, config: Namespace) -> None:
        """Resolve --ckpt_path, check it fits the data and the flags, and take its settings."""
        data = {{ cookiecutter.datamodule_class }}(**config.data.as_dict())
        data.prepare_data()

        def refuse(checkpoint: dict) -> str | None:
            mismatch = data_mismatch(checkpoint["hyper_parameters"], data.predict_dataset())
            return mismatch or self.checkpoint_settings(config, checkpoint)[1]

        root_dir = config.trainer.default_root_dir
        path, checkpoint = find_checkpoint(config.ckpt_path, root_dir, self.subcommand, refuse)
        config.ckpt_path = str(path)
        # The network, its classes and its input scaling are the checkpoint's, not this data's.
        self.trained_on = {name: checkpoint["hyper_parameters"][name] for name in DATA_ARGUMENTS}
        for section, settings in self.checkpoint_settings(config, checkpoint)[0].items():
            for name, value in settings.items():
                config[section][name] = value
        config.seed_everything = config.data.seed

    def checkpoint_settings(self, config: Namespace, checkpoint: dict) -> tuple[dict, str | None]:
        """The checkpoint's settings for the config's sections, and why they clash, if they do.

        Testing or predicting takes the model's; resuming a fit takes the data module's too.
        """
        sections = {"model": (checkpoint["hyper_parameters"], hyperparameter_defaults())}
        if self.subcommand == "fit":
            data_defaults = constructor_defaults({{ cookiecutter.datamodule_class }})
            sections["data"] = (checkpoint["datamodule_hyper_parameters"], data_defaults)
        resolved = {}
        for section, (saved, defaults) in sections.items():
            requested = {name: config[section][name] for name in defaults}
            settings, clash = resumed_settings(saved, requested, defaults, flag_name(section))
            if clash:
                return {}, clash
            resolved[section] = settings
        return resolved, None

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:
            # jsonargparse wraps what a class or a link raises; ours is one line already.
            if isinstance(err.__cause__, OneLineError):
                raise err.__cause__ from None
            raise

    def after_fit(self) -> None:
        check_training_finished(self.trainer)
        report_checkpoints(self.trainer, then="`python train.py test --ckpt_path last` tests them")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self.config_init[self.subcommand]
        trainer = config.trainer
        # Predicting writes only its output: no logger and no run folder.
        predicting = self.subcommand == "predict"
        return build_trainer(
            super().instantiate_trainer,
            root_dir=trainer.default_root_dir,
            seed=config.seed_everything,
            logger=False if predicting else trainer.logger,
            validating=trainer.limit_val_batches != 0,
            flag=lambda name: f"--trainer.{name}",
            # The project's callbacks join any the config names.
            callbacks=trainer.callbacks or [],
            run_folder=not predicting,
            enable_checkpointing=trainer.enable_checkpointing,
            enable_progress_bar=trainer.enable_progress_bar,
            **({"plugins": trainer.plugins} if trainer.plugins else {}),
            **kwargs,
        )


def check_config(config: Namespace) -> None:
    """Refuse, in one line, a setting no run of this project can use, before building anything."""
    check_settings(MODEL_ALLOWED, config.model, prefix="model.")
    check_settings(ALLOWED, config.data, prefix="data.")
    problem = max_epochs_problem(config.trainer.max_epochs)
    if problem:
        raise SettingsError(f"trainer.max_epochs {problem}")
    problem = accumulation_problem(config.trainer.accumulate_grad_batches)
    if problem:
        raise SettingsError(f"trainer.accumulate_grad_batches {problem}")
    if config.trainer.default_root_dir is None:
        raise SettingsError("trainer.default_root_dir: give a folder; every run writes under it")
    if config.trainer.barebones:
        # Barebones mode refuses the logger, checkpoints and callbacks every run here has.
        raise SettingsError("trainer.barebones is not available in this project: leave it off")


def flag_name(section: str) -> Callable[[str], str]:
    """How a setting of a config section is spelled as a flag."""
    return lambda name: (
        "--seed_everything" if section == "data" and name == "seed" else f"--{section}.{name}"
    )


class ParseOnly(CLI):
    """`train.py fit`'s parser and checks, building nothing: tune.py's config for every trial."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        # Without subcommands the parser lacks fit's --ckpt_path, which tune.py refuses.
        parser.add_argument("--ckpt_path", type=str | None, default=None)

    def before_instantiate_classes(self) -> None:
        check_config(self.config)

    def instantiate_classes(self) -> None:
        pass


def run_cli(args: list[str] | None = None, cli_class: type[CLI] = CLI, **kwargs: Any) -> CLI:
    """The project's LightningCLI over `args`: its model, its data, and configs/default.yaml."""
    defaults = {"default_config_files": [DEFAULT_CONFIG]}
    # With run=False there are no subcommands: the parser is `fit`'s, without the word.
    subcommands = kwargs.get("run", True)
    return cli_class(
        {{ cookiecutter.model_class }},
        {{ cookiecutter.datamodule_class }},
        parser_kwargs={name: defaults for name in SUBCOMMANDS} if subcommands else defaults,
        parser_class=Parser,
        # Without a logger, the config of the newest run is kept in the root folder.
        save_config_kwargs={"overwrite": True},
        args=args,
        **kwargs,
    )


def main(args: list[str] | None = None) -> CLI:
    with script_run():
        return run_cli(args)


if __name__ == "__main__":
    main()
