"""Run records: one JSON file a run, written atomically, never overwriting another.

A record is first written in full to a hidden temporary file in the results
directory, then *linked* under its final name; ``os.link`` fails instead of
replacing when the name exists, so two runs finishing at once into one
directory both land (the second takes the next free suffix), and a reader
never sees half a file. Where hard links are not supported the final name is
reserved with an exclusive create and the full file moved over it with
``os.replace``.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from itertools import count
from pathlib import Path

from rnnbench.errors import RnnbenchError

SCHEMA = "rnnbench.run/1"
TMP_PREFIX = ".tmp-"


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


def record_stem(record: dict) -> str:
    """``<UTC start>_<task>_<dataset>_<backend>_<model>_seed<N>``, with unsafe characters replaced."""
    stamp = re.sub(r"[^0-9T]", "", record["started_at"])[:15]  # 2026-01-02T03:04:05.6Z -> 20260102T030405
    dataset = Path(str(record.get("dataset") or "data")).stem
    parts = [stamp, record["task"], dataset, record["backend"], record.get("model") or "", f"seed{record['seed']}"]
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", "_".join(p for p in parts if p))


def write_record(results_dir, record: dict) -> Path:
    """Write ``record`` under a new unique name in ``results_dir``; return its path.

    Raises ``OSError`` when it cannot (folder gone or read-only, disk full):
    :func:`rnnbench.record_fallback.save_record` then keeps the record elsewhere.
    """
    folder = _writable(Path(results_dir).expanduser())
    text = record_json(record)
    handle = tempfile.NamedTemporaryFile("w", dir=folder, prefix=TMP_PREFIX, suffix=".json", delete=False,
                                         encoding="utf-8")
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # a record is for reading; mkstemp would leave it private
        stem = record_stem(record)
        for n in count():
            final = folder / (f"{stem}.json" if n == 0 else f"{stem}-{n}.json")
            if _claim(Path(handle.name), final):
                return final
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    raise AssertionError("unreachable")


def record_json(record: dict) -> str:
    """The text of a record file."""
    return json.dumps(record, indent=1, sort_keys=False, default=_jsonable) + "\n"


def _claim(tmp: Path, final: Path) -> bool:
    """Put ``tmp``'s content at ``final`` unless ``final`` exists; True on success."""
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # no hard links here: reserve the name, then move the full file over it
    try:
        os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, final)
    return True


def read_records(results_dir, schemas=(SCHEMA,)) -> list[tuple[Path, dict]]:
    """Every complete record of ``schemas`` in ``results_dir`` (temporary files skipped), by name."""
    folder = Path(results_dir)
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith(TMP_PREFIX):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and data.get("schema") in schemas:
            records.append((path, data))
    return records


def _jsonable(value):
    """NumPy scalars and arrays, paths and tuples as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")
