"""Writing the rendered report to a file: atomically, and never over an existing file unless forced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rnnbench.atomic import write_new, write_replacing
from rnnbench.errors import RnnbenchError

#: A report still being written: a hidden file beside its final name.
TMP_REPORT = ".tmp-report-"


def write_output(path, text: str, force: bool = False) -> Path:
    """Write ``text`` to ``path`` through :mod:`rnnbench.atomic`; a reader never sees half a report.

    Without ``force`` a file that appeared at ``path`` meanwhile is never replaced.
    """
    target = Path(path).expanduser()
    check_target(target, force)
    if not target.parent.is_dir():
        raise RnnbenchError(f"cannot write {target}: folder {target.parent} does not exist")
    try:
        if force:  # nothing but a regular file is ever replaced: checked again just before
            write_replacing(target, text, prefix=TMP_REPORT, before=lambda: check_target(target, force))
        elif write_new(target.parent, text, [target], prefix=TMP_REPORT) is None:
            raise RnnbenchError(f"{target} exists; use --force to overwrite it")
    except OSError as exc:  # disk full, quota, read-only: one line, and no half file left behind
        raise RnnbenchError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def check_target(target: Path, force: bool) -> None:
    """``target`` is absent, or a regular file that ``force`` allows to replace; anything else is one line.

    A device, a FIFO or a socket at that name is never replaced by a file, forced or not.
    """
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RnnbenchError(f"cannot write {target}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise RnnbenchError(f"--output {target} is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise RnnbenchError(
            f"--output {target} is {_kind(mode)}, not a regular file; rnnbench report replaces "
            f"only a regular file (to write to it, leave out --output and redirect)"
        )
    if not force:
        raise RnnbenchError(f"{target} exists; use --force to overwrite it")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def write_figures(report_path, figures, force: bool = False):
    """Write each chart to ``<report stem>_files/<name>`` beside the report; the figures, named by relative path.

    A Markdown report links its charts instead of inlining them, so they are
    files next to it, named after it (``report.md`` → ``report_files/``).
    """
    from dataclasses import replace

    target = Path(report_path).expanduser()
    check_target(target, force)
    folder = figures_folder(target)
    fresh = not folder.exists()
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise RnnbenchError(f"cannot create {folder}: {exc.strerror or exc}") from None
    written, names = [], set()
    try:
        for heading, charts in figures:
            placed = []
            for chart in charts:
                write_output(folder / chart.name, chart.svg + "\n", force=True)
                names.add(chart.name)
                placed.append(replace(chart, name=f"{folder.name}/{chart.name}"))
            written.append((heading, placed))
    except RnnbenchError:
        if fresh:  # a folder this call made must not stay behind, empty or half full
            remove_figures_folder(folder)
        raise
    for stale in folder.glob("*.svg"):  # a chart the records no longer make must not linger beside the report
        if stale.name not in names:
            stale.unlink()
    return written


def figures_folder(report_path) -> Path:
    """``report.md`` -> ``report_files/`` beside it: where a Markdown report's charts go."""
    target = Path(report_path).expanduser()
    return target.parent / f"{target.stem}_files"


def remove_figures_folder(folder: Path) -> None:
    """Remove a charts folder made by a report that then failed: its SVG files, then the folder if empty."""
    import contextlib

    for chart in folder.glob("*.svg"):
        with contextlib.suppress(OSError):
            chart.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def write_stdout(text: str) -> None:
    """The report on standard output; a full disk or device there (``> /dev/full``) is one line."""
    import sys

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader went away: the command line stops quietly
    except OSError as exc:
        from rnnbench.cli import silence_stdout

        silence_stdout()
        raise RnnbenchError(f"cannot write the report to standard output: {exc.strerror or exc}") from None
