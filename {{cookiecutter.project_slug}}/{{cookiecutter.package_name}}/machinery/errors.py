"""Errors the scripts report as one line: each message names the path or flag at fault."""

import argparse
from typing import NoReturn

from pytorch_lightning.utilities.exceptions import SIGTERMException


class OneLineError(Exception):
    """A mistake the user can mend: the scripts print `error: <message>` and exit with 1."""


class DataError(OneLineError):
    """Data that cannot be read or written, or that does not fit the model."""


class CheckpointError(OneLineError):
    """A checkpoint that is missing, unreadable, or does not fit this run."""


class SettingsError(OneLineError, ValueError):
    """A setting outside what it allows."""


class TrainingError(OneLineError):
    """Training that ran but gave no usable model."""


class ExportError(OneLineError):
    """An exported model that does not compute what the PyTorch model computes."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, instead of a usage block of every flag."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def interruption_exit_code(stop: SystemExit) -> int | None:
    """The status shells expect from a run a signal stopped: 143 for SIGTERM, 130 for Ctrl-C."""
    # Lightning ends a stopped run with SIGTERMException, or with exit status 1 after Ctrl-C;
    # batch schedulers would read either as success or as an ordinary failure.
    if isinstance(stop, SIGTERMException):
        return 143
    if isinstance(stop.__context__, KeyboardInterrupt):
        return 130
    return None


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or its type's name when it has none."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
