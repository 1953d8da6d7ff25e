"""``python -m rnnbench.sweep.guarded [--parent-death=SIGNAL] run ...``: ``rnnbench run`` that dies with the
process that started it.

A Ray worker or a local sweep that is killed must not leave its training runs
behind as orphans; Linux's parent-death signal ends them (elsewhere a run
simply continues to its end). The signal is SIGKILL by default (a Ray run's
record would land in a folder no one reads); the local sweep asks for SIGTERM,
so each run still writes its ``interrupted`` record into the shared results directory.
"""

from __future__ import annotations

import os
import signal
import sys


def _die_with_parent(signum: int = signal.SIGKILL) -> None:
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signum))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _accept_stop_signals() -> None:
    """A Ray worker blocks SIGINT in its threads and a child inherits that mask: unblock, or Ctrl-C never lands."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _parent_death_signal(argv: list[str]) -> tuple[int, list[str]]:
    """``--parent-death=SIGTERM`` leading the command line: that signal, and the rest of the line."""
    if argv and argv[0].startswith("--parent-death="):
        return int(signal.Signals[argv[0].split("=", 1)[1]]), argv[1:]
    return signal.SIGKILL, argv


if __name__ == "__main__":
    signum, argv = _parent_death_signal(sys.argv[1:])
    sys.argv[1:] = argv  # a record's command is the run's own command line
    _die_with_parent(signum)
    _accept_stop_signals()
    from rnnbench.cli import main

    sys.exit(main(argv))
