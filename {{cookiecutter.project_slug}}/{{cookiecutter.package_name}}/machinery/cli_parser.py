"""LightningCLI's parser, with errors in one line that name the config file at fault."""

import difflib
import re
import warnings
from pathlib import Path
from typing import Any, NoReturn

import yaml
from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser

SUBCOMMANDS = ("fit", "validate", "test", "predict")
ABSENT = object()  # a key a config file does not hold


class ArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, whose errors are one line naming the config file at fault."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:
            super().error(message, ex)  # raised for the parser that called this one to handle
        known = getattr(ex, "subcommand_parser", None) or named_subcommand(self, message) or self
        options = [name[2:] for name in known._option_string_actions if name.startswith("--")]
        sources = settings_sources(known.default_config_files, getattr(self, "args", []))
        self.exit(2, f"error: {one_line_error(message, sources, options)}\n")

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
        return text + self.dump_comments(cfg)

    def dump_comments(self, config: Namespace) -> str:
        """YAML comments to end a dumped config with; train.py's parser says what the data links."""
        return ""


def named_subcommand(
    parser: LightningArgumentParser, message: str
) -> LightningArgumentParser | None:
    """The parser of the subcommand an error names; older jsonargparse does not attach it."""
    named = re.search(r"Subcommand '(\w+)'", message)
    subcommands = parser._subcommands_action
    return subcommands._name_parser_map.get(named[1]) if named and subcommands else None


def one_line_error(message: str, sources: list[str], options: list[str]) -> str:
    """jsonargparse's error in one line, naming the config files that hold the mistake."""
    message = " ".join(re.sub(r"<class '([\w.]+)'>", r"\1", message).split())
    # A value given to a link's target: jsonargparse names the link ("source --> target") and
    # says no more than that the value failed the target's type, when that type takes None.
    target = re.match(r"argument [\w()]+ --> ([\w.]+): ", message)
    if target:
        return f'Linked "{target[1]}" must be given via "data".'
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


def settings_sources(default_config_files: list[str], args: list[str]) -> list[str]:
    """The default config files, then the --config files and flags, in the order they apply.

    A flag stands as "--key=value".
    """
    sources = [str(path) for path in default_config_files]
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
