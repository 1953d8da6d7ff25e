"""``python -m rnnbench.sweep.guarded run ...``: ``rnnbench run`` that dies with the process that started it.

A Ray worker that is killed must not leave its training run behind as an
orphan; Linux's parent-death signal ends it (elsewhere the run simply
continues to its end, into a folder no one reads).
"""
from __future__ import annotations

import os
import signal
import sys


def _die_with_parent() -> None:
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _accept_stop_signals() -> None:
    """A Ray worker blocks SIGINT in its threads and a child inherits that mask: unblock, or Ctrl-C never lands."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    _die_with_parent()
    _accept_stop_signals()
    from rnnbench.cli import main

    sys.exit(main(sys.argv[1:]))
