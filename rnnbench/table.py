"""Plain-text tables for the terminal: aligned columns, no dependencies."""

from __future__ import annotations

import re

#: Line breaks, tabs and other control characters (C0, DEL, C1, the Unicode line and paragraph separators).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text) -> str:
    """``text`` on one line: every run of control characters (a newline in a file name, say) becomes one space,
    so a name from a record can neither split a table row nor send a terminal escape sequence."""
    return _CONTROL.sub(" ", str(text))


def format_table(header: list[str], rows: list[list]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    cells = [[one_line(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return one_line(value)
