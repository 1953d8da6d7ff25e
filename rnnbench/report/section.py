"""What a table builder hands the renderers: numbers for CSV, formatted blocks for people, and notes.

A builder computes once; the terminal, Markdown and HTML renderers only lay
out the ``blocks``, and CSV writes the numeric ``frame`` so nothing is lost to
rounding or ``±`` text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Block:
    """One printed table: a title, column names and rows of already formatted cells."""

    title: str
    header: list[str]
    rows: list[list[str]]
    #: Leading columns that name a row: a table too wide for the terminal is split, repeating these.
    keys: int = 1
    #: Lines printed right under this table (e.g. which sweep file made its records).
    notes: list[str] = field(default_factory=list)
    #: ``(task, dataset or problem)`` the table shows, for finding the sweep file that made it.
    source: tuple = ()
    #: The models of its rows and, for a task that splits its tables (``Task.summary_split``), ``(option,
    #: value)``: a sweep is named under the table only when it runs one of those models with that value.
    models: tuple = ()
    split: tuple | None = None
    #: The unformatted numbers of a table that is not its section's own frame (a cost table under an
    #: accuracy table), one dict a backend and row, for ``--table cost --format csv``.
    numbers: list | None = None


@dataclass
class Section:
    """One report table (accuracy, speed, parity, long-range, comparison)."""

    name: str
    title: str
    frame: object  # pandas.DataFrame of the unformatted numbers, one row per printed row
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: What the labels abbreviate (the full options of each variant): always printed; a ``<details>`` in HTML.
    details: list[str] = field(default_factory=list)
    #: Every individual warning; the notes count them by kind, ``--verbose`` lists them.
    verbose: list[str] = field(default_factory=list)


def missing(value) -> bool:
    """True for a value a record left out: None or NaN (pandas' empty cell)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def sig(value, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, ``-`` when missing."""
    if missing(value):
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.{digits - 1}e}"
    if magnitude >= 10**digits:
        return f"{value:.0f}"
    return f"{value:.{digits}g}" if magnitude >= 1 else f"{value:.{digits - 1 - math.floor(math.log10(magnitude))}f}"


def mean_sd(mean, sd, n: int, scale: float = 1.0, decimals: int | None = None) -> str:
    """``84.2 ± 0.5``; no ``±`` for a single seed, where there is no spread to show."""
    if missing(mean):
        return "-"
    if decimals is None:
        text = sig(mean * scale, 4)
        spread = sig(sd * scale, 2) if not missing(sd) else None
    else:
        text = f"{mean * scale:.{decimals}f}"
        spread = f"{sd * scale:.{decimals}f}" if not missing(sd) else None
    return text if n < 2 or spread is None else f"{text} ± {spread}"


def model_label(model, activation) -> str:
    """``rnn (relu)`` for the relu RNN, which the long-range task runs beside the tanh one; else the model."""
    relu = model == "rnn" and isinstance(activation, str) and activation != "tanh"
    return f"{model} ({activation})" if relu else str(model)


def cell_text(value) -> str | None:
    """A cell as a user would type it: None when missing, ``2`` (not ``2.0``) for a whole float."""
    if missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row_keys(frame, columns) -> list[str]:
    """One text key per row from ``columns``, equal exactly when the rows agree on them (2 and 2.0 agree)."""
    return ["|".join(str(cell_text(v)) for v in values) for values in frame[list(columns)].itertuples(index=False)]
