"""Errors the scripts report as one line: each message names the path or flag at fault."""

import argparse


class DataError(Exception):
    """Data that cannot be read or written, or that does not fit the model."""


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable, or does not fit this run."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, instead of a usage block of every flag."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
