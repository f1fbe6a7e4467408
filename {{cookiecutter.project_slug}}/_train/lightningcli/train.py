"""Train, validate, test or predict with LightningCLI; `python train.py --help` lists how.

configs/default.yaml holds the project's defaults; `--config FILE` and flags override them.
"""

import difflib
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import yaml
from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.trainer import Trainer
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
from {{ cookiecutter.package_name }}.data import {{ cookiecutter.datamodule_class }}
from {{ cookiecutter.package_name }}.errors import (
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

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")
ABSENT = object()  # a key a config file does not hold


def run_seed(seed_everything: int | bool) -> int:
    """The one seed the data order and the per-epoch reseeding follow, as a number."""
    if isinstance(seed_everything, bool):
        raise ValueError("seed_everything: give a number, so that every run can be repeated")
    if not 0 <= seed_everything < 2**32:
        raise ValueError(f"seed_everything {seed_everything} is not allowed: give 0 to {2**32 - 1}")
    return seed_everything


class ArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, whose errors are one line naming the config file at fault."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:
            super().error(message, ex)  # raised for the parser that called this one to handle
        known = getattr(ex, "subcommand_parser", None) or named_subcommand(self, message) or self
        options = [name[2:] for name in known._option_string_actions if name.startswith("--")]
        self.exit(2, f"error: {one_line_error(message, getattr(self, 'args', []), options)}\n")

    def dump(self, cfg: Namespace, *args: Any, **kwargs: Any) -> str:
        """The config, and, for --print_config and each run's config.yaml, what the data links."""
        # The model's data arguments are link targets, which jsonargparse leaves out of a dump:
        # they follow as YAML comments, so the file still loads with --config.
        with warnings.catch_warnings():
            # LightningCLI passes skip_none, which newer jsonargparse deprecates: not yours to fix.
            warnings.filterwarnings("ignore", r"\s*skip_none", DeprecationWarning)
            text = super().dump(cfg, *args, **kwargs)
        dump_format = kwargs.get("format", "parser_mode")
        dump_format = self.parser_mode if dump_format == "parser_mode" else dump_format
        yaml_text = dump_format.startswith(("yaml", "omegaconf"))
        if not yaml_text or not kwargs.get("skip_link_targets", True) or "data" not in cfg:
            return text
        return text + linked_from_data(cfg)


def named_subcommand(
    parser: LightningArgumentParser, message: str
) -> LightningArgumentParser | None:
    """The parser of the subcommand an error names; older jsonargparse does not attach it."""
    named = re.search(r"Subcommand '(\w+)'", message)
    subcommands = parser._subcommands_action
    return subcommands._name_parser_map.get(named[1]) if named and subcommands else None


def one_line_error(message: str, args: list[str], options: list[str]) -> str:
    """jsonargparse's error in one line, naming the config files that hold the mistake."""
    message = " ".join(re.sub(r"<class '([\w.]+)'>", r"\1", message).split())
    sources = settings_sources(args)
    missing = re.match(r'Parser key "config": File does not exist: \'(.*)\'', message)
    if missing:
        named = [path for path in sources if Path(path).resolve() == Path(missing[1])]
        return f"--config {named[0] if named else missing[1]}: no such file"
    # Older jsonargparse releases say "Validation failed: ... does not accept nested key".
    unknown = re.match(
        r"(?:Validation failed: )?(?:Subcommand|Group) '\w+' does not accept"
        r" (?:option|nested key) '(.+)'",
        message,
    )
    typed = re.match(r'Parser key "([^"]+)": (.*?(?:Got value: (.*))?)$', message)
    linked = re.match(
        r"Call to compute_fn of link '\w+\(([\w.]+)\)[^']*' with args \((.*)\) failed: (.*)",
        message,
    )
    if unknown:
        key = unknown[1]
        close = difflib.get_close_matches(key, options, n=1)
        detail = "no such option" + (f"; did you mean {close[0]}?" if close else "")
        # Each file that names an unknown key holds the mistake.
        culprits = [path for path in sources if read_key(path, key) is not None]
    elif typed:
        # Each file is checked as it is read: the first to hold the refused value is at fault.
        key, detail, value = typed.groups()
        culprits = [path for path in sources if value and read_key(path, key) == value][:1]
    elif linked:
        # Links are computed from the final value: the last file or flag to set it.
        key, value, detail = linked.groups()
        culprits = [path for path in sources if read_key(path, key) == value][-1:]
    else:
        # A file that is not YAML says so without naming itself.
        files = [path for path in sources[1:] if not path.startswith("--")]
        culprits = [path for path in files if read_key(path, "") is None][:1]
        return ": ".join([*culprits, message])
    culprits = [path for path in culprits if not path.startswith("--")]
    return ": ".join([*culprits, *([] if detail.startswith(key) else [key]), detail])


def settings_sources(args: list[str]) -> list[str]:
    """configs/default.yaml, then the --config files and the flags, in the order they apply.

    A flag stands as "--key=value".
    """
    sources = [str(DEFAULT_CONFIG)]
    for index, arg in enumerate(args):
        following = args[index + 1] if index + 1 < len(args) else ""
        if arg in ("-c", "--config"):
            sources.append(following)
        elif arg.startswith("--config="):
            sources.append(arg.removeprefix("--config="))
        elif arg.startswith("--"):
            sources.append(arg if "=" in arg else f"{arg}={following}")
    return sources


def read_key(source: str, key: str) -> str | None:
    """The value a config file or a flag gives `key` (dotted), as text; None if it gives none.

    An empty key asks whether a file reads as YAML at all.
    """
    if source.startswith("--"):
        name, _, value = source.partition("=")
        return value if name == f"--{key}" else None
    try:
        node = yaml.safe_load(Path(source).read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not key:
        return ""
    # A file may also hold a subcommand's settings under its name.
    for start in [node, *(node.get(name) for name in SUBCOMMANDS if isinstance(node, dict))]:
        value = dotted_value(start, key)
        if value is None or isinstance(value, bool):
            return {None: "null", True: "true", False: "false"}[value]
        if value is not ABSENT:
            return str(value)
    return None


def dotted_value(node: object, key: str) -> object:
    if not isinstance(node, dict):
        return ABSENT
    if key in node:
        return node[key]
    head, _, rest = key.partition(".")
    return dotted_value(node.get(head), rest) if rest else ABSENT


def linked_from_data(config: Namespace) -> str:
    """YAML comments: where the model's data arguments come from, with their values if read now."""
    if config.get("ckpt_path"):
        names = ", ".join(f"model.{name}" for name in DATA_ARGUMENTS)
        return f"# {names}: the checkpoint's (--ckpt_path {config.ckpt_path})\n"
    data = {{ cookiecutter.datamodule_class }}(**config.data.as_dict())
    report = {name: getattr(data, name) for name in DATA_ARGUMENTS}
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
            return self.trained_on[name] if self.trained_on else getattr(data, name)

        return report

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        if config.trainer.max_epochs == 0:
            raise SettingsError(
                "trainer.max_epochs 0 is not allowed: give -1 (no limit) or 1 or more"
            )
        if config.trainer.barebones:
            # Barebones mode refuses the logger, checkpoints and callbacks every run here has.
            raise SettingsError("trainer.barebones is not available in this project: leave it off")
        if config.ckpt_path or self.subcommand != "fit":
            self.use_checkpoint_settings(config)

    def use_checkpoint_settings(self, config: Namespace) -> None:
        """Resolve --ckpt_path, check it fits the data, and rebuild the model as it was saved."""
        data = {{ cookiecutter.datamodule_class }}(**config.data.as_dict())

        def refuse(checkpoint: dict) -> str | None:
            return data_mismatch(checkpoint["hyper_parameters"], data)

        root_dir = config.trainer.default_root_dir
        path, checkpoint = find_checkpoint(config.ckpt_path, root_dir, self.subcommand, refuse)
        config.ckpt_path = str(path)
        rank_zero_info(f"{self.subcommand}: weights from {path} (epoch {checkpoint['epoch']})")
        # The network, its classes and its input scaling are the checkpoint's, not this data's.
        self.trained_on = {name: checkpoint["hyper_parameters"][name] for name in DATA_ARGUMENTS}
        defaults = hyperparameter_defaults()
        for name, saved in checkpoint["hyper_parameters"].items():
            if name in defaults:
                # A setting changed from its default must agree with the checkpoint.
                if config.model[name] not in (defaults[name], saved):
                    raise CheckpointError(
                        f"--ckpt_path {path}: it was trained with --model.{name} {saved},"
                        f" not {config.model[name]}"
                    )
                config.model[name] = saved

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:
            # jsonargparse wraps what a link raises; the data's own error is one line already.
            if isinstance(err.__cause__, DataError | SettingsError):
                raise err.__cause__ from None
            raise

    def after_fit(self) -> None:
        check_training_finished(self.trainer)
        best, last = saved_checkpoints(self.trainer)
        if best:
            rank_zero_info(f"Best checkpoint: {best}")
        elif last:
            rank_zero_info(
                f"No best checkpoint (no epoch was validated): the final weights are in {last};"
                " `python train.py test --ckpt_path last` tests them"
            )

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self.config_init[self.subcommand]
        trainer_config = config.trainer
        # trainer.default_root_dir owns every run: each gets a folder of its own under it,
        # unless the config names a logger of its own. Predicting writes only its output.
        run_dir = None
        validating = trainer_config.limit_val_batches != 0
        if self.subcommand == "fit" and not validating:
            rank_zero_info(
                "No validation (--trainer.limit_val_batches 0): no early stopping and no best.ckpt."
            )
        if self.subcommand == "predict":
            kwargs["logger"] = False
        elif trainer_config.logger in (None, True, False):
            with_logger = trainer_config.logger is not False
            kwargs["logger"], run_dir = start_run(trainer_config.default_root_dir, with_logger)
        # The project's callbacks join any the config names, except those it switches off.
        kwargs["callbacks"] = [
            *(trainer_config.callbacks or []),
            *make_callbacks(
                seed=config.seed_everything,
                enable_checkpointing=trainer_config.enable_checkpointing is not False,
                enable_progress_bar=trainer_config.enable_progress_bar is not False,
                validating=validating,
                checkpoint_dir=run_dir / "checkpoints" if run_dir else None,
            ),
        ]
        kwargs["plugins"] = trainer_config.plugins or [AtomicCheckpointIO()]
        try:
            return super().instantiate_trainer(**kwargs)
        except MisconfigurationException:
            if run_dir and not any(run_dir.iterdir()):
                run_dir.rmdir()  # a refused run leaves no trace
            raise


def run_cli(args: list[str] | None = None, cli_class: type[CLI] = CLI, **kwargs: Any) -> CLI:
    """The project's LightningCLI over `args`: its model, its data, and configs/default.yaml."""
    return cli_class(
        {{ cookiecutter.model_class }},
        {{ cookiecutter.datamodule_class }},
        parser_kwargs={name: {"default_config_files": [DEFAULT_CONFIG]} for name in SUBCOMMANDS},
        parser_class=ArgumentParser,
        # Without a logger, the config of the newest run is kept in the root folder.
        save_config_kwargs={"overwrite": True},
        args=args,
        **kwargs,
    )


def main(args: list[str] | None = None) -> CLI:
    try:
        return run_cli(args)
    except (DataError, CheckpointError, SettingsError, TrainingError) as err:
        sys.exit(f"error: {err}")
    except MisconfigurationException as err:
        sys.exit(f"error: {str(err).splitlines()[0]}")
    except SystemExit as stop:
        sys.exit(interruption_exit_code(stop) or stop.code)


if __name__ == "__main__":
    main()
