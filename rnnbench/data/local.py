"""Is a dataset here, and where: the check every reader makes before opening a file.

A registered dataset that is missing is fetched on first use, the way
``keras.datasets`` and ``torchvision`` do (one line saying what, how much,
from where and to where, then a progress bar). With downloading off
(``--offline``, ``RNNBENCH_OFFLINE=1``) a missing dataset is a one-line
:class:`RnnbenchError` naming the ways out, never a traceback and never a
silent switch to other data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnbench.data.fetch import fetch
from rnnbench.data.paths import DATA_DIR_VARIABLE, OFFLINE_VARIABLE, DataDir, offline, resolve_data_dir
from rnnbench.data.registry import DATASETS, DatasetSource, get_source
from rnnbench.errors import RnnbenchError


@dataclass(frozen=True)
class LocalStatus:
    """What of one dataset is on disk."""

    source: DatasetSource
    folder: Path
    missing: tuple[str, ...]  # required files absent
    present_optional: tuple[str, ...]
    size_bytes: int
    #: Files there that cannot be the converted original: ``"rt-polarity.pos is empty"``, ``"... truncated"``
    #: (only when the sizes were checked, :func:`local_status`).
    damaged: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        return not self.missing

    @property
    def state(self) -> str:
        if self.present:
            return "unusable" if self.damaged else "present"
        return "partial" if self.folder.is_dir() and any(self.folder.iterdir()) else "missing"


def local_status(name: str, data_dir: DataDir, check_sizes: bool = False) -> LocalStatus:
    """What of dataset ``name`` is in ``data_dir``; ``check_sizes``: also each file's size against the registry."""
    source = get_source(name)
    folder = data_dir.path / name
    missing = tuple(f for f in source.required if not (folder / f).is_file())
    optional = tuple(f for f in source.optional if (folder / f).is_file())
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0
    damaged = tuple(size_problems(source, folder)) if check_sizes else ()
    return LocalStatus(source, folder, missing, optional, size, damaged)


#: A gzipped file is compressed again by the converter: another zlib may write a few bytes fewer.
COMPRESSED_SLACK = 0.02


def size_problems(source: DatasetSource, folder: Path):
    """Each file of the dataset that is there but empty, or shorter than the converter writes it."""
    for name in (*source.required, *source.optional):
        path = folder / name
        try:
            actual = path.stat().st_size if path.is_file() else None
        except OSError:
            actual = None
        if actual is None:
            continue
        expected = source.sizes.get(name)
        if actual == 0:
            yield f"{name} is empty" + (f" (the registry says {expected:,} bytes)" if expected else "")
        elif expected and actual < expected * (1 - COMPRESSED_SLACK if name.endswith(".gz") else 1):
            yield f"{name} is truncated ({actual:,} of {expected:,} bytes)"


def all_statuses(data_dir: DataDir, check_sizes: bool = False) -> list[LocalStatus]:
    return [local_status(name, data_dir, check_sizes) for name in DATASETS]


def dataset_folder(name: str, data_dir: str | DataDir | None = None, *, progress: bool | None = None) -> Path:
    """The folder holding dataset ``name``, fetched first when it is missing and downloading is on."""
    resolved = data_dir if isinstance(data_dir, DataDir) else resolve_data_dir(data_dir)
    status = local_status(name, resolved)
    if status.present:
        return status.folder
    if offline():
        raise RnnbenchError(
            f"dataset {name!r} not found in {resolved.describe()}: missing {', '.join(status.missing)}; "
            f"downloading is off (--offline or {OFFLINE_VARIABLE}): run `rnnbench data fetch {name}` where "
            f"there is a network, or point --data-dir or {DATA_DIR_VARIABLE} at a folder that holds {name}/"
        )
    return fetch(status.source, resolved, progress=progress)
