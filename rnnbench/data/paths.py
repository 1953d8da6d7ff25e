"""Where datasets live: ``--data-dir``, then ``RNNBENCH_DATA_DIR``, then the user cache directory.

One resolution order for every command, so that ``rnnbench data list`` shows
exactly the folder ``rnnbench run`` will read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_VARIABLE = "RNNBENCH_DATA_DIR"


@dataclass(frozen=True)
class DataDir:
    """A resolved data directory and the rule that chose it (shown to users)."""

    path: Path
    source: str  # "--data-dir", "RNNBENCH_DATA_DIR" or "user cache"

    def describe(self) -> str:
        return f"{self.path} (from {self.source})"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rnnbench/data``, or ``~/.cache/rnnbench/data`` when the variable is unset."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "rnnbench" / "data"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> DataDir:
    """The data directory to use; it need not exist yet (``data fetch`` creates it)."""
    if explicit is not None and str(explicit).strip():
        return DataDir(Path(explicit).expanduser(), "--data-dir")
    from_env = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if from_env:
        return DataDir(Path(from_env).expanduser(), DATA_DIR_VARIABLE)
    return DataDir(user_cache_dir(), "user cache")


OFFLINE_VARIABLE = "RNNBENCH_OFFLINE"
MIRROR_VARIABLE = "RNNBENCH_DATA_MIRROR"


def offline() -> bool:
    """True when downloading is off: ``RNNBENCH_OFFLINE`` set to anything but empty, 0, false or no.

    ``--offline`` on a command sets the variable for its process (and the
    processes it starts), so one switch covers every path that could download.
    """
    return os.environ.get(OFFLINE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def mirror_url(url: str, dataset: str, filename: str) -> str:
    """``url``, or its copy on the mirror ``RNNBENCH_DATA_MIRROR`` names: ``<base>/<dataset>/<filename>``.

    A mirror is any folder served over HTTP(S) (or a ``file://`` folder) that holds
    each dataset's original files under their original names; the checksums
    stay those of the originals, so a mirror cannot change what is trained on.
    """
    base = os.environ.get(MIRROR_VARIABLE, "").strip()
    if not base:
        return url
    return f"{base.rstrip('/')}/{dataset}/{filename}"
