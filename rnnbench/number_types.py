"""One rule for every number a user gives: finite, and inside the option's range, checked before anything runs.

Every numeric option of every command (``run`` and the tasks' own options,
``bench``, ``check``, ``report``, ``sweep``) takes one of the argparse types
below, all made by one factory, :func:`number`. A value that is not a number,
is ``nan`` or infinite, or lies outside the option's range is refused while
the command line is parsed, before anything is read or run: one line naming
the option (``rnnbench: error: --lr must be positive, got 0``), exit status 2
(``rnnbench.cli`` turns the type's refusal into that line). A sweep file's value
goes through the same type (:func:`rnnbench.sweep.options.convert`), so the
rule holds there too. The module imports nothing heavy: every parser uses it.
"""

from __future__ import annotations

import argparse
import math

from rnnbench.errors import RnnbenchError


class NumberType:
    """An argparse ``type``: text -> ``kind`` (int or float), refused unless finite and within the bounds."""

    def __init__(
        self, kind: type, low=None, high=None, *, low_open: bool = False, high_open: bool = False, name: str = ""
    ):
        if kind not in (int, float):
            raise TypeError(f"a number type is int or float, not {kind!r}")
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open
        self.__name__ = name or kind.__name__  # what argparse calls the type

    def rule(self) -> str:
        """The range in words, as the messages say it (``at least 1``, ``positive``, ``in [0, 1)``)."""
        if self.high is None and self.low is not None:
            if self.low == 0 and self.kind is float:
                return "positive" if self.low_open else "not negative"
            return f"{'above' if self.low_open else 'at least'} {self.low}"
        if self.low is None and self.high is not None:
            return f"{'below' if self.high_open else 'at most'} {self.high}"
        if self.low is None:
            return "finite" if self.kind is float else "an integer"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"

    def parse(self, value):
        """``value`` (text, or a number from a sweep file) as ``kind``; ValueError saying why not."""
        if isinstance(value, bool):
            raise ValueError(f"must be {'an integer' if self.kind is int else 'a number'}, got {value!r}")
        text = str(value).strip()
        try:
            number = int(text) if self.kind is int else float(text)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(
                f"must be {'an integer' if self.kind is int else 'a number'}, got {str(value)!r}"
            ) from None
        if self.kind is float and not math.isfinite(number):
            raise ValueError(f"must be a finite number, got {text}")
        below = self.low is not None and (number < self.low or (self.low_open and number == self.low))
        above = self.high is not None and (number > self.high or (self.high_open and number == self.high))
        if below or above:
            rule = self.rule()
            verb = "lie" if rule.startswith("in ") else "be"
            if rule == "not negative":
                raise ValueError(f"must not be negative, got {text}")
            raise ValueError(f"must {verb} {rule}, got {text}")
        return number

    def __call__(self, text):
        """argparse's call: an :class:`argparse.ArgumentTypeError` says why, and argparse names the option."""
        try:
            return self.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def check(self, value, option: str):
        """The same rule with ``option`` named: ``value`` as ``kind``, else a one-line RnnbenchError."""
        try:
            return self.parse(value)
        except ValueError as exc:
            raise RnnbenchError(f"{option} {exc}") from None

    def __repr__(self) -> str:
        return f"NumberType({self.kind.__name__}, {self.rule()})"


def number(
    kind: type, low=None, high=None, *, low_open: bool = False, high_open: bool = False, name: str = ""
) -> NumberType:
    """The one factory: an argparse type for ``kind`` within ``[low, high]`` (either end open, or absent)."""
    return NumberType(kind, low, high, low_open=low_open, high_open=high_open, name=name)


positive_float = number(float, 0, low_open=True, name="positive number")
nonnegative_float = number(float, 0, name="non-negative number")
#: A probability or share in [0, 1].
probability = number(float, 0, 1, name="probability")
#: A rate that must leave something, in [0, 1) (dropout).
rate = number(float, 0, 1, high_open=True, name="rate")
#: A share strictly between 0 and 1 (a held-out fraction).
open_fraction = number(float, 0, 1, low_open=True, high_open=True, name="fraction")
#: A share above 0, up to 1 (a success threshold as a fraction of a baseline).
fraction = number(float, 0, 1, low_open=True, name="fraction")
positive_int = number(int, 1, name="positive integer")
nonnegative_int = number(int, 0, name="non-negative integer")
#: Seeds (run seeds, split seeds): NumPy's generators take non-negative integers only.
seed = nonnegative_int


def at_least(low: int) -> NumberType:
    """An integer of at least ``low`` (``--folds``: 2)."""
    return number(int, low, name=f"integer >= {low}")
