"""Finding and watching the processes a test started, through Linux /proc (not a test module itself).

The sweep and run stopping tests wait for a run to start and to enter its command before they signal it.
They look only among their own descendants: pytest-xdist runs another test beside this one, and other users'
processes share the machine, so a process found by its command line alone may not be this test's.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path


def _status(pid: int) -> str:
    return Path(f"/proc/{pid}/status").read_text()


def parent(pid: int) -> int:
    """``pid``'s parent process id."""
    return int(next(line.split()[1] for line in _status(pid).splitlines() if line.startswith("PPid:")))


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (those that end meanwhile are left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, StopIteration, ValueError):
                continue
    return found


def descends_from(pid: int, ancestor: int) -> bool:
    """True when ``ancestor`` is ``pid``'s parent, its parent's parent, and so on up to init."""
    try:
        while pid > 1:
            pid = parent(pid)
            if pid == ancestor:
                return True
    except (OSError, StopIteration, ValueError):
        return False
    return False


def find_descendant(ancestor: int, markers: list[str], timeout: float) -> int:
    """The pid of a descendant of ``ancestor`` whose command line holds every marker, waiting up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if all(m in cmdline for m in markers) and descends_from(int(entry.name), ancestor):
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no descendant of {ancestor} with {markers} within {timeout} s")


def catches_sigterm(pid: int) -> bool:
    """The run has entered its command (``signals.handled`` catches SIGTERM): a signal now ends it with a record."""
    try:
        caught = next(line.split()[1] for line in _status(pid).splitlines() if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s until it is true; an AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
