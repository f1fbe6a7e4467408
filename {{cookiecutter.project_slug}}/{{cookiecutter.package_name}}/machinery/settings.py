"""The one check of every number a flag or setting takes: its kind and the range it allows."""

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SettingsError


@dataclass(frozen=True)
class Allowed:
    """The values a numeric setting allows: integers or numbers, between optional bounds."""

    kind: type = float
    low: float | None = None
    high: float | None = None
    low_excluded: bool = False
    high_excluded: bool = False

    def describe(self) -> str:
        """What to give, in words: "an integer, 1 or more", "a number above 0", ..."""
        kind = "an integer" if self.kind is int else "a number"
        low = f"above {self.low}" if self.low_excluded else f"{self.low} or more"
        high = f"below {self.high}" if self.high_excluded else f"{self.high} or less"
        if self.low is not None and self.high is not None:
            word = "above" if self.low_excluded else "from"
            to = "below" if self.high_excluded else "to"
            return f"{kind}, {word} {self.low} {to} {self.high}"
        if self.low is not None:
            return f"{kind}, {low}"
        return f"{kind}, {high}" if self.high is not None else kind

    def allows(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_excluded and value == self.low)):
            return False
        return not (
            self.high is not None
            and (value > self.high or (self.high_excluded and value == self.high))
        )

    def check(self, name: str, value: Any) -> Any:
        """Return `value`, or raise SettingsError naming the setting and what it allows."""
        if not self.allows(value):
            raise SettingsError(f"{name} {value!r} is not allowed: give {self.describe()}")
        return value

    def parse(self, text: str) -> Any:
        """An argparse type: the value `text` spells, refused in one line if not allowed."""
        try:
            value = self.kind(text)
        except ValueError:
            value = None
        if not self.allows(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give {self.describe()}")
        return value


def check_settings(
    allowed: Mapping[str, Allowed], settings: Mapping[str, Any], prefix: str = ""
) -> None:
    """Raise SettingsError for the first setting a rule in `allowed` refuses; None passes.

    The message names the setting with `prefix` before it, as its flag does ("model.").
    """
    for name, rule in allowed.items():
        if settings.get(name) is not None:
            rule.check(prefix + name, settings[name])
