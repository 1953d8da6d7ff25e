"""A finished run is never lost because its record could not be written.

When the results directory fails at the end (removed, read-only, disk full),
the record goes to a new file in the system temporary directory instead, and
when even that fails, to standard output; the caller is then told where, as
one :class:`RecordNotWritten` line.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from rnnbench.errors import RnnbenchError
from rnnbench.results import record_json, record_stem, write_record


class RecordNotWritten(RnnbenchError):
    """The record is safe, but not in the results directory; ``saved`` is where it is (None: stdout)."""

    def __init__(self, results_dir, reason: str, saved: Path | None):
        where = f"it was saved to {saved}" if saved else "it was printed to standard output instead"
        super().__init__(f"could not write the record to {results_dir} ({reason}); {where}")
        self.saved = saved


def save_record(results_dir, record: dict) -> Path:
    """``write_record``, or keep the record elsewhere and raise :class:`RecordNotWritten` saying where."""
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
    """A new file ``rnnbench-record-<stem>-XXXX.json`` in the temp directory (never an existing one)."""
    fd, name = tempfile.mkstemp(prefix=f"rnnbench-record-{stem}-", suffix=".json", dir=tempfile.gettempdir())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, 0o644)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)
