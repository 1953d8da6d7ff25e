"""Reading record files: every ``*.json`` a results directory holds, tolerant of what it cannot read.

A results directory is shared by runs, checks and benchmarks, possibly from
other versions; a report must still come out when one file is truncated or
of a schema this version does not know, so such a file becomes a warning.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from rnnbench.errors import RnnbenchError

#: Record schemas the report understands, and the row kind each becomes.
KNOWN_SCHEMAS = {"rnnbench.run/1": "run", "rnnbench.check/1": "check", "rnnbench.bench/1": "bench"}
TMP_PREFIX = ".tmp-"  # a record still being written (rnnbench.results)


class RecordWarning(UserWarning):
    """A file in the results directory that the report skipped, and why."""


def read_record_files(results_dir) -> list[tuple[Path, dict]]:
    """``(path, record)`` for every readable record of a known schema, in file-name order."""
    folder = Path(results_dir).expanduser()
    if not folder.exists():
        raise RnnbenchError(f"results directory {folder} does not exist; choose one with --results-dir")
    if not folder.is_dir():
        raise RnnbenchError(f"{folder} is not a directory; --results-dir takes the folder of the records")
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):  # .tmp-* files are records still being written
            continue
        record = _read(path)
        if record is not None:
            found.append((path, record))
    return found


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.warn(RecordWarning(f"skipped {path.name}: not readable JSON ({_reason(exc)})"), stacklevel=3)
        return None
    if not isinstance(record, dict) or not isinstance(record.get("schema"), str) \
            or record["schema"] not in KNOWN_SCHEMAS:
        schema = record.get("schema") if isinstance(record, dict) else type(record).__name__
        warnings.warn(RecordWarning(f"skipped {path.name}: unknown schema {schema!r}"), stacklevel=3)
        return None
    return record


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    return getattr(exc, "strerror", None) or str(exc)
