"""SIGTERM and SIGHUP handled like Ctrl-C, so a run stopped by ``timeout``, Slurm or ``docker stop`` keeps its record.

:func:`handled` (entered by ``cli.main``) turns these signals into :class:`Interrupted`,
a ``KeyboardInterrupt`` that carries the signal, so every ``except KeyboardInterrupt``
already in the code treats them as Ctrl-C. Code that must not be cut short (writing a
record) runs inside :func:`deferred`: a signal arriving there waits until the block
ends; :func:`interruptible` reopens the window inside it (the training loop).
The exit status is ``128 + signal number``, as a shell reports a process killed by it.
"""

from __future__ import annotations

import contextlib
import signal
import threading

#: Signals turned into :class:`Interrupted`; SIGINT too, unless someone else installed its handler.
TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop request by signal: Ctrl-C (SIGINT), SIGTERM or SIGHUP."""

    def __init__(self, signum: int):
        super().__init__(signal_name(signum))
        self.signum = signum


class _State:
    deferring = 0  # depth of deferred() blocks in force
    pending = None  # a signal received while deferring, not yet acted upon


_state = _State()


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def number(name: str) -> int:
    """``"SIGTERM"`` -> 15, as a record names its signal."""
    return int(signal.Signals[name])


def signum_of(exc: BaseException) -> int:
    """The signal behind an interrupt; a plain ``KeyboardInterrupt`` is Ctrl-C (SIGINT)."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_status(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP: what a shell shows for a process killed by it."""
    return 128 + int(signum_of(exc))


def describe(exc: BaseException) -> str:
    """How a record and the last line name the interruption: ``the user`` for Ctrl-C, else the signal."""
    signum = signum_of(exc)
    return "the user (SIGINT)" if signum == signal.SIGINT else signal_name(signum)


def _on_signal(signum, frame):
    if _state.deferring:
        if _state.pending is None:
            _state.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handled():
    """Install the handlers for the block, restoring the earlier ones after (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = list(TERMINATING)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        wanted.append(signal.SIGINT)  # so that Ctrl-C waits for a record being written, too
    previous = {signum: signal.signal(signum, _on_signal) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state.deferring, _state.pending = 0, None


@contextlib.contextmanager
def deferred():
    """Hold handled signals until the block ends, then raise the first one (unless :func:`take_pending` took it)."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
        if not _state.deferring:
            signum = take_pending()
            if signum is not None:
                raise Interrupted(signum)


@contextlib.contextmanager
def interruptible():
    """Inside :func:`deferred`, let signals interrupt again; one already held is raised on entry."""
    saved, _state.deferring = _state.deferring, 0
    try:
        signum = take_pending()
        if signum is not None:
            raise Interrupted(signum)
        yield
    finally:
        _state.deferring = saved


def take_pending() -> int | None:
    """The signal held by :func:`deferred`, if any, now acted upon by the caller."""
    signum, _state.pending = _state.pending, None
    return signum
