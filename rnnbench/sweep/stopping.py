"""Ctrl-C, SIGTERM and SIGHUP during a sweep: remember the signal, pass it on to the runs, start nothing new.

The executors poll :attr:`StopSignals.received`; the handler itself only
records the signal and calls ``forward`` (which signals the running children),
so no run is cut off half-way through writing its record.
"""
from __future__ import annotations

import signal
import threading

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
if hasattr(signal, "SIGHUP"):  # a closed terminal or ssh session: the runs end interrupted, as on SIGTERM
    EXIT_CODES[signal.SIGHUP] = 129


class StopSignals:
    """Context manager: while inside, SIGINT, SIGTERM and SIGHUP set ``received`` and call ``forward(signum)``."""

    def __init__(self, forward=lambda signum: None):
        self.forward = forward
        self.received = None  # the first signal: it decides the exit status
        self.count = 0  # every signal so far: a second Ctrl-C passes the stop on again
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for signum in EXIT_CODES:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False

    def _handle(self, signum, frame):
        self.received = self.received or signum
        self.count += 1
        self.forward(signum)
