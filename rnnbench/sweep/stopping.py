"""Ctrl-C, SIGTERM and SIGHUP during a sweep: remember the signal, pass it on to the runs, start nothing new.

The executors poll :attr:`StopSignals.received`; the handler itself only
records the signal and calls ``forward`` (which signals the running children),
so no run is cut off half-way through writing its record.

A run that ignores the stop still ends (:class:`Escalation`): SIGTERM
``RNNBENCH_SWEEP_STOP_GRACE`` seconds (30) after it, which ``rnnbench run`` answers
as it does Ctrl-C, then SIGKILL as long again after that; the sweep writes the
record of a killed run itself, ``interrupted``.
"""

from __future__ import annotations

import os
import signal
import threading
import time

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


#: Seconds from the stop to SIGTERM, and again from SIGTERM to SIGKILL, for a run still going.
GRACE_SECONDS = 30.0


def stop_grace() -> float:
    """``RNNBENCH_SWEEP_STOP_GRACE`` (seconds, > 0), else :data:`GRACE_SECONDS`."""
    raw = os.environ.get("RNNBENCH_SWEEP_STOP_GRACE", "")
    try:
        value = float(raw)
    except ValueError:
        return GRACE_SECONDS
    return value if 0 < value < float("inf") else GRACE_SECONDS


class Escalation:
    """After a stop: SIGTERM to a run still going ``grace`` seconds later, SIGKILL ``grace`` seconds after that,
    so a run that ignores SIGINT (or SIGTERM) still ends. Call :meth:`start` at the stop, then :meth:`push`
    each running process on every poll."""

    def __init__(self, grace: float | None = None):
        self.grace = stop_grace() if grace is None else grace
        self.since = None  # time.monotonic() of the stop
        self._sent = {}  # pid -> the last signal pushed

    def start(self) -> None:
        if self.since is None:
            self.since = time.monotonic()

    def due(self) -> int | None:
        """The signal a run still going is owed now: None, SIGTERM, then SIGKILL."""
        if self.since is None:
            return None
        waited = time.monotonic() - self.since
        if waited >= 2 * self.grace:
            return getattr(signal, "SIGKILL", signal.SIGTERM)
        return signal.SIGTERM if waited >= self.grace else None

    def push(self, process) -> None:
        """Send ``process`` (a :class:`subprocess.Popen`) the signal now due, each one once."""
        signum = self.due()
        if signum is None or process.poll() is not None or self._sent.get(process.pid) == signum:
            return
        self._sent[process.pid] = signum
        try:
            process.kill() if signum == getattr(signal, "SIGKILL", None) else process.send_signal(signum)
        except ProcessLookupError:  # it ended in between
            pass
