"""Records: the JSON files every command leaves in a results directory, written and read in one place.

- **Schemas**: ``rnnbench.run/1`` (one a run), ``rnnbench.check/1`` and
  ``rnnbench.bench/1`` (one an invocation); :data:`KNOWN_SCHEMAS` maps each to
  the kind of row the report makes of it.
- **Header**: :func:`record_header`, the fields every record starts with
  (what, when, on which machine, with which versions, at which commit).
- **Writer**: :func:`write_record` puts a record under a new name through
  :func:`rnnbench.atomic.write_new`, which never replaces: two runs finishing at
  once into one directory both land (the second takes the next free suffix),
  and a reader never sees half a file.
- **Fallback**: when the results directory fails at the end (removed,
  read-only, disk full), :func:`save_record` puts the record in a new file in
  the system temporary directory, or on standard output, and says where with
  one :class:`RecordNotWritten` line: a finished run is never lost.
- **Tolerant reader**: :func:`read_records` skips files still being written,
  and unreadable or foreign files (with a :class:`RecordWarning` when asked),
  so one bad file never stops a report or a resumed sweep.
"""
from __future__ import annotations

import json
import re
import secrets
import sys
import tempfile
import warnings
from itertools import count
from pathlib import Path

from rnnbench.atomic import TMP_PREFIX, write_new
from rnnbench.errors import RnnbenchError

RUN_SCHEMA = "rnnbench.run/1"
CHECK_SCHEMA = "rnnbench.check/1"
BENCH_SCHEMA = "rnnbench.bench/1"
#: Every schema this version reads, and the kind of row the report makes of it.
KNOWN_SCHEMAS = {RUN_SCHEMA: "run", CHECK_SCHEMA: "check", BENCH_SCHEMA: "bench"}


class RecordWarning(UserWarning):
    """A file in the results directory that a reader skipped, and why."""


class RecordNotWritten(RnnbenchError):
    """The record is safe, but not in the results directory; ``saved`` is where it is (None: stdout)."""

    def __init__(self, results_dir, reason: str, saved: Path | None):
        where = f"it was saved to {saved}" if saved else "it was printed to standard output instead"
        super().__init__(f"could not write the record to {results_dir} ({reason}); {where}")
        self.saved = saved


# --- header --------------------------------------------------------------------------------------------------


def record_header(schema: str, *, task, dataset, backend, seed, status: str, started_at: str,
                  machine: dict | None = None) -> dict:
    """The fields every record starts with; ``machine`` defaults to this machine's description."""
    from rnnbench.machine import git_commit, machine_info, package_versions

    return {
        "schema": schema, "task": task, "dataset": dataset, "backend": backend, "seed": seed, "status": status,
        "started_at": started_at, "machine": machine_info() if machine is None else machine,
        "versions": package_versions(), "git": git_commit(),
    }


# --- atomic writer -------------------------------------------------------------------------------------------


def ensure_writable(results_dir) -> Path:
    """Create ``results_dir`` if needed and prove a file can be written there, before any long work."""
    path = Path(results_dir).expanduser()
    try:
        return _writable(path)
    except OSError as exc:
        raise RnnbenchError(f"results directory {path} is not writable ({exc.strerror or exc}); "
                            f"choose another with --results-dir") from None


def _writable(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=TMP_PREFIX + "probe-"):
        pass
    return path


#: The longest part of a record's name taken as it is; a longer one is cut and ends in a hash of the whole.
#: File names stop at 255 bytes, and the name must leave room for ``-N.json`` and the fallback's prefix.
NAME_PART_LIMIT = 60


def record_stem(record: dict) -> str:
    """``<UTC start>_<task>_<dataset>_<backend>_<model>_seed<N>``, with unsafe characters replaced.

    A part longer than :data:`NAME_PART_LIMIT` (a long dataset file stem) is cut
    and ends in a hash of the whole part, so the name stays short enough for any
    file system and two long names that differ only at the end still differ.
    """
    stamp = re.sub(r"[^0-9T]", "", record["started_at"])[:15]  # 2026-01-02T03:04:05.6Z -> 20260102T030405
    dataset = Path(str(record.get("dataset") or "data")).stem
    parts = [stamp, record["task"], dataset, record["backend"], record.get("model") or "", f"seed{record['seed']}"]
    return "_".join(_name_part(str(p)) for p in parts if p)


def _name_part(text: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "-", text)
    if len(safe) <= NAME_PART_LIMIT:
        return safe
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{safe[:NAME_PART_LIMIT - 13]}-{digest}"


def write_record(results_dir, record: dict) -> Path:
    """Write ``record`` under a new unique name in ``results_dir``; return its path.

    Raises ``OSError`` when it cannot (folder gone or read-only, disk full):
    :func:`save_record` then keeps the record elsewhere.
    """
    folder = _writable(Path(results_dir).expanduser())
    stem = record_stem(record)
    names = (folder / (f"{stem}.json" if n == 0 else f"{stem}-{n}.json") for n in count())
    return write_new(folder, record_json(record), names)


def record_json(record: dict) -> str:
    """The text of a record file."""
    return json.dumps(record, indent=1, sort_keys=False, default=_jsonable) + "\n"


def _jsonable(value):
    """NumPy scalars and arrays, paths and tuples as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")


# --- fallback ------------------------------------------------------------------------------------------------


def save_record(results_dir, record: dict) -> Path:
    """:func:`write_record`, or keep the record elsewhere and raise :class:`RecordNotWritten` saying where."""
    try:
        return write_record(results_dir, record)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    text = record_json(record)
    try:
        saved = _write_fallback(text, record_stem(record))
    except OSError:
        sys.stdout.write(text)
        sys.stdout.flush()
        saved = None
    raise RecordNotWritten(results_dir, reason, saved)


def _write_fallback(text: str, stem: str) -> Path:
    """A new file ``rnnbench-record-<stem>-<random>.json`` in the temp directory (never an existing one)."""
    folder = Path(tempfile.gettempdir())
    names = (folder / f"rnnbench-record-{stem}-{secrets.token_hex(4)}.json" for _ in count())
    return write_new(folder, text, names, prefix=TMP_PREFIX + "rnnbench-")


# --- tolerant reader -----------------------------------------------------------------------------------------


def read_records(results_dir, schemas=(RUN_SCHEMA,), *, warn: bool = False,
                 must_exist: bool = False) -> list[tuple[Path, dict]]:
    """``(path, record)`` for every complete record of ``schemas`` (None: every known one), in file-name order.

    Hidden files (records still being written) are skipped; so are unreadable
    files and other schemas, each with a :class:`RecordWarning` when ``warn``.
    A missing folder is empty, or a one-line error when ``must_exist``.
    """
    folder = Path(results_dir).expanduser()
    if must_exist and not folder.exists():
        raise RnnbenchError(f"results directory {folder} does not exist; choose one with --results-dir")
    if must_exist and not folder.is_dir():
        raise RnnbenchError(f"{folder} is not a directory; --results-dir takes the folder of the records")
    wanted = set(KNOWN_SCHEMAS if schemas is None else schemas)
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):  # TMP_PREFIX: still being written
            continue
        record = _read(path, wanted, warn)
        if record is not None:
            found.append((path, record))
    return found


def _read(path: Path, wanted: set, warn: bool) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, a 5000-digit number
        if warn:
            warnings.warn(RecordWarning(f"skipped {path.name}: not readable JSON ({_reason(exc)})"), stacklevel=4)
        return None
    schema = record.get("schema") if isinstance(record, dict) else None
    if not isinstance(schema, str) or schema not in wanted:
        if warn and not (isinstance(schema, str) and schema in KNOWN_SCHEMAS):
            shown = schema if isinstance(record, dict) else type(record).__name__
            warnings.warn(RecordWarning(f"skipped {path.name}: unknown schema {shown!r}"), stacklevel=4)
        return None
    return record


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return getattr(exc, "strerror", None) or str(exc)
