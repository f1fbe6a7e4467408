"""Command-line flags for every Trainer argument, read from the installed Trainer's signature."""

# Lightning 2.0 removed `Trainer.add_argparse_args`; this is its replacement. The flags
# follow whichever Lightning release is installed, with the help text of its docstring.

import argparse
import datetime
import inspect
import pathlib
import re
import typing
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl

TRUE_WORDS = {"true", "yes", "on"}
FALSE_WORDS = {"false", "no", "off"}
# Names a Trainer argument's type in help; a literal value is ("literal", value).
Accepted = list[type | tuple[str, Any] | None]
# model_registry names a model for Lightning's cloud hub, which no run of this project uses.
# barebones refuses a logger, checkpoints and callbacks, and every run here has them.
LEFT_OUT = {"model_registry", "barebones"}
# The project builds its own logger (runs.py): from text, only switching it off makes sense,
# and a run without --logger logs as one with --logger true does.
PROJECT_HELP = {"logger": "false switches the project's logger off"}
PROJECT_DEFAULTS = {"logger": True}
# Every run writes under default_root_dir: a folder, never None ("none" names a folder too).
PROJECT_TYPES = {"default_root_dir": [str]}


# Where the signature's default is None, the docstring names the value a run uses.
DOCUMENTED_DEFAULT = re.compile(r"(?:Default:|[Bb]y default it will be set to) ``(.+?)``")
# None that leaves a feature off, as the docstring says; profiler's says only "None".
NONE_IS_OFF = re.compile(r"[Dd]isabled by default|None`` disables")
OFF_WHEN_NONE = {"profiler"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show every flag's default; a Trainer flag the project leaves alone shows the Trainer's."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = super()._get_help_string(action) or ""
        defaults = trainer_defaults()
        if action.default is argparse.SUPPRESS and action.dest in defaults:
            # argparse formats help with %-style placeholders.
            help_text += f" (default: {defaults[action.dest]})".replace("%", "%%")
        return help_text


def add_trainer_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one flag per Trainer argument that text can express, in a "Trainer" group."""
    # Flags the user does not give stay out of the parsed namespace, so the Trainer keeps
    # its own defaults for them; `parser.set_defaults` can still set a project default.
    group = parser.add_argument_group("Trainer", "arguments passed to pytorch_lightning.Trainer")
    descriptions = docstring_args(pl.Trainer.__init__.__doc__)
    help_texts = {name: first_sentence(text) for name, text in descriptions.items()}
    help_texts.update(PROJECT_HELP)
    type_hints = typing.get_type_hints(pl.Trainer.__init__)
    for name in trainer_arg_names():
        accepted = PROJECT_TYPES.get(name) or scalar_types(type_hints.get(name, str))
        if name in LEFT_OUT or not any(kind is not None for kind in accepted):
            continue  # only Python objects fit here, such as callbacks or plugins
        group.add_argument(
            f"--{name}",
            type=value_parser(name, accepted),
            default=argparse.SUPPRESS,
            metavar=metavar(accepted),
            help=help_texts.get(name, ""),
        )
    return parser


def trainer_arg_names() -> list[str]:
    """The names of the Trainer's arguments, in the signature's order."""
    return [name for name in inspect.signature(pl.Trainer.__init__).parameters if name != "self"]


def trainer_defaults() -> dict[str, Any]:
    """Each Trainer argument's value when not given, as help shows it, or the project's."""
    parameters = inspect.signature(pl.Trainer.__init__).parameters
    descriptions = docstring_args(pl.Trainer.__init__.__doc__)
    defaults = {
        name: effective_default(name, parameters[name].default, descriptions.get(name, ""))
        for name in trainer_arg_names()
    }
    return {**defaults, **PROJECT_DEFAULTS}


def effective_default(name: str, default: Any, description: str) -> Any:
    """The value a run uses for a Trainer argument whose signature default may be None."""
    if default is not None:
        return default
    documented = DOCUMENTED_DEFAULT.findall(description)
    if documented and documented[-1] != "None":
        return documented[-1].strip("'\"")
    # max_epochs is "disabled by default" too, but then "defaults to" 1000 epochs.
    if name in OFF_WHEN_NONE or (
        NONE_IS_OFF.search(description) and "defaults to" not in description
    ):
        return "None, off"
    return "None, Lightning chooses"


def trainer_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The Trainer's arguments among the parsed ones."""
    names = set(trainer_arg_names())
    return {name: value for name, value in vars(args).items() if name in names}


def scalar_types(hint: Any) -> Accepted:
    """Flatten a type hint into what text can be parsed into: types and literal values."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return [kind for member in typing.get_args(hint) for kind in scalar_types(member)]
    if origin is typing.Literal:
        return [("literal", value) for value in typing.get_args(hint)]
    if origin is list and typing.get_args(hint) == (int,):
        return [list]
    if hint is type(None):
        return [None]
    if hint in (bool, int, float, str, datetime.timedelta):
        return [str if hint is datetime.timedelta else hint]
    if hint is pathlib.Path:
        return [str]
    return []


def value_parser(name: str, accepted: Accepted) -> Callable[[str], Any]:
    """Return a function that parses the text of flag `name` into the first type it fits."""

    def parse(text: str) -> Any:
        lowered = text.lower()
        if None in accepted and lowered == "none":
            return None
        if bool in accepted and lowered in TRUE_WORDS | FALSE_WORDS:
            return lowered in TRUE_WORDS
        literals = [kind[1] for kind in accepted if isinstance(kind, tuple)]
        for value in literals:
            if text == str(value):
                return value
        if int in accepted and re.fullmatch(r"-?\d+", text):
            return int(text)
        if float in accepted and re.fullmatch(r"-?(\d+\.?\d*|\.\d+)(e-?\d+)?", lowered):
            return float(text)
        if list in accepted and re.fullmatch(r"\d+(,\d+)+,?", text):
            return [int(index) for index in text.split(",") if index]
        if str in accepted:
            return text
        allowed = ", ".join(str(value) for value in literals) or metavar(accepted)
        raise argparse.ArgumentTypeError(f"{text!r} is not one of: {allowed}")

    parse.__name__ = name  # argparse names the flag's type in its error messages
    return parse


def metavar(accepted: Accepted) -> str:
    """The placeholder help shows for a flag's value, such as INT|FLOAT."""
    names = {bool: "BOOL", int: "INT", float: "FLOAT", str: "TEXT", list: "IDS"}
    parts = [names[kind] for kind in accepted if kind in names]
    if any(isinstance(kind, tuple) for kind in accepted):
        parts.insert(0, "CHOICE")
    return "|".join(dict.fromkeys(parts))


def docstring_args(docstring: str | None) -> dict[str, str]:
    """Map each argument in a Google-style "Args:" section to its description, on one line."""
    descriptions = {}
    name = None
    for line in (docstring or "").split("Args:", 1)[-1].splitlines():
        match = re.match(r"\s{8,12}(\w+): (.*)", line)
        if match:
            name, text = match.groups()
            descriptions[name] = text
        elif name and line.strip():
            descriptions[name] += " " + line.strip()
        else:
            name = None
    return descriptions


def first_sentence(text: str) -> str:
    """The first sentence of a docstring's text, with Sphinx roles reduced to their names."""
    text = re.sub(r":\w+:`~?([^`]+)`|``([^`]+)``", lambda m: m.group(1) or m.group(2), text)
    sentence = re.split(r"(?<=[.)])\s+(?=[A-Z])", text.strip(), maxsplit=1)[0]
    # argparse formats help with %-style placeholders.
    return sentence.replace("%", "%%")
