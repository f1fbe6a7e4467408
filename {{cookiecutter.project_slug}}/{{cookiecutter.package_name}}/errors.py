"""Errors the scripts report as one line: each message names the path or flag at fault."""


class DataError(Exception):
    """Data that cannot be read or written."""


class CheckpointError(Exception):
    """A checkpoint that is missing or unreadable."""
