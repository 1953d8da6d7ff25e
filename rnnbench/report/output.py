"""Writing the rendered report to a file: atomically, and never over an existing file unless forced."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rnnbench.errors import RnnbenchError


def write_output(path, text: str, force: bool = False) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder; a reader never sees half a report.

    Without ``force`` the final name is claimed with a hard link, which fails
    instead of replacing when a file appeared there meanwhile.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise RnnbenchError(f"--output {target} is a directory; give a file name")
    if target.exists() and not force:
        raise RnnbenchError(f"{target} exists; use --force to overwrite it")
    if not target.parent.is_dir():
        raise RnnbenchError(f"cannot write {target}: folder {target.parent} does not exist")
    try:
        handle = tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=".tmp-report-", delete=False,
                                             encoding="utf-8")
    except OSError as exc:
        raise RnnbenchError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
        if force:
            os.replace(handle.name, target)
        else:
            _link_or_fail(Path(handle.name), target)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    return target


def _link_or_fail(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise RnnbenchError(f"{target} exists; use --force to overwrite it") from None
    except OSError:  # no hard links on this file system: check once more, then move
        if target.exists():
            raise RnnbenchError(f"{target} exists; use --force to overwrite it") from None
        os.replace(tmp, target)


def write_figures(report_path, figures, force: bool = False):
    """Write each chart to ``<report stem>_files/<name>`` beside the report; the figures, named by relative path.

    A Markdown report links its charts instead of inlining them, so they are
    files next to it, named after it (``report.md`` → ``report_files/``).
    """
    from dataclasses import replace

    target = Path(report_path).expanduser()
    if target.exists() and not force:
        raise RnnbenchError(f"{target} exists; use --force to overwrite it")
    folder = target.parent / f"{target.stem}_files"
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise RnnbenchError(f"cannot create {folder}: {exc.strerror or exc}") from None
    written, names = [], set()
    for heading, charts in figures:
        placed = []
        for chart in charts:
            write_output(folder / chart.name, chart.svg + "\n", force=True)
            names.add(chart.name)
            placed.append(replace(chart, name=f"{folder.name}/{chart.name}"))
        written.append((heading, placed))
    for stale in folder.glob("*.svg"):  # a chart the records no longer make must not linger beside the report
        if stale.name not in names:
            stale.unlink()
    return written
