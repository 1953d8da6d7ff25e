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
