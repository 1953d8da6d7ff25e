"""Row filters (``--model lstm,gru``, ``--dataset 'adding-*'``) and, when they leave nothing, which one did."""

from __future__ import annotations

from fnmatch import fnmatchcase

from rnnbench.errors import RnnbenchError
from rnnbench.report.section import cell_text


def normalise(filters: dict) -> dict:
    """``{column: set of accepted strings}``; None values dropped, comma lists split."""
    result = {}
    for column, value in filters.items():
        if value is None:
            continue
        values = value.split(",") if isinstance(value, str) else list(value)
        accepted = {str(v).strip() for v in values if str(v).strip()}
        if accepted:
            result[column] = accepted
    return result


def apply_filters(frame, filters: dict):
    """The rows of ``frame`` whose column values are among the accepted ones, for every filter."""
    filters = normalise(filters)
    unknown = sorted(set(filters) - set(frame.columns))
    if unknown and len(frame):
        raise RnnbenchError(f"cannot filter on {unknown[0]!r}; columns: {', '.join(sorted(frame.columns))}")
    mask = None
    for column, accepted in filters.items():
        if column not in frame.columns:
            continue
        hit = frame[column].map(lambda v, a=accepted: _matches(cell_text(v), a)).astype(bool)  # bool even if empty
        if column == "host" and "hostname" in frame.columns:  # "vm" is every "vm (<ISA level>)" too
            hit = hit | frame["hostname"].map(lambda v, a=accepted: _matches(cell_text(v), a)).astype(bool)
        mask = hit if mask is None else mask & hit
    return frame if mask is None else frame[mask]


def explain_empty(frame, filters: dict) -> str:
    """Why ``filters`` match no row of ``frame``: the filters that match nothing alone, with what exists."""
    filters = normalise(filters)
    reasons = []
    for column, accepted in filters.items():
        if column in frame.columns and len(apply_filters(frame, {column: accepted})) == 0:
            present = sorted({cell_text(v) for v in frame[column]} - {None})
            reasons.append(
                f"--{column} {','.join(sorted(accepted))} matches nothing (present: {', '.join(present) or 'none'})"
            )
    if reasons:
        return "; ".join(reasons)
    shown = " ".join(f"--{c} {','.join(sorted(v))}" for c, v in filters.items())
    return f"no record matches {shown} together"


def _matches(text: str | None, accepted: set) -> bool:
    """Equal to an accepted value, or matching one that is a shell pattern (``adding-*``, ``rnn*``)."""
    if text is None:
        return False
    return text in accepted or any(fnmatchcase(text, p) for p in accepted if any(c in p for c in "*?["))
