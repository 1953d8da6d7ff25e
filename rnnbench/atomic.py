"""Writing a file so that no reader ever sees half of it, and nothing existing is replaced unless asked.

Every file rnnbench leaves behind (records, reports, charts) is written here: the text goes in full to a hidden
temporary file in the target's folder and is flushed to disk, then put under its final name in one step.

- :func:`write_new` never replaces: the final name is claimed with ``os.link``, which fails instead of replacing
  when the name exists (two writers finishing at once both land, each under a name of its own); where the file
  system has no hard links, the name is reserved by an exclusive create and the full file moved over it.
- :func:`write_replacing` replaces (a forced report) with one ``os.replace``.

Either way a failure (disk full, read-only, folder gone) raises ``OSError`` and leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

#: The prefix of a file still being written: readers of a results folder skip these names.
TMP_PREFIX = ".tmp-"


def write_new(folder, text: str, names: Iterable, *, prefix: str = TMP_PREFIX) -> Path | None:
    """Write ``text`` under the first of ``names`` (paths in ``folder``) that does not exist; None when all do."""
    with _staged(Path(folder), text, prefix) as staged:
        for name in names:
            if _claim(staged, Path(name)):
                return Path(name)
    return None


def write_replacing(target, text: str, *, prefix: str = TMP_PREFIX, before: Callable[[], None] | None = None) -> Path:
    """Write ``text`` at ``target``, replacing what is there; ``before()`` runs just before the replace."""
    target = Path(target)
    with _staged(target.parent, text, prefix) as staged:
        if before is not None:
            before()
        os.replace(staged, target)
    return target


@contextlib.contextmanager
def _staged(folder: Path, text: str, prefix: str):
    """A temporary file in ``folder`` holding ``text`` on disk, readable by all; removed unless moved away."""
    handle = tempfile.NamedTemporaryFile("w", dir=folder, prefix=prefix, delete=False, encoding="utf-8")
    staged = Path(handle.name)
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staged, 0o644)  # a result is for reading; tempfile would leave it private
        yield staged
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()


def _claim(staged: Path, final: Path) -> bool:
    """Put ``staged``'s content at ``final`` unless ``final`` exists; True on success."""
    try:
        os.link(staged, final)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # no hard links here: reserve the name, then move the full file over it
    try:
        os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    os.replace(staged, final)
    return True
