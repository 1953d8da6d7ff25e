"""Long-lived worker processes of interleaved rounds, from the parent's side: start, ask, stop, reap.

A :class:`Worker` is ``python -m rnnbench.bench.worker --serve`` (:mod:`rnnbench.bench.serve`) with the
thread-count variables in its environment. :meth:`Worker.ask` sends one JSON line and waits, up to a
timeout, for one line back. A worker that exits, hangs past the timeout or answers something that is
not JSON is killed and raises :class:`~rnnbench.bench.sweep.WorkerError` with the reason (the last line
of its stderr, which goes to a temporary file so a chatty library never fills a pipe). A request the
worker itself refused raises :class:`RequestError`; the worker stays usable. :class:`Pool` keeps the
workers of one isolation scheme and stops every one of them, SIGTERM and then SIGKILL, however the
bench ends (Ctrl-C and SIGTERM included): no orphan and no zombie is left.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import time

from rnnbench.devices import thread_environment

#: Seconds a worker is given to leave after ``quit`` (or SIGTERM) before the next, harder signal.
STOP_GRACE_S = 3.0


class WorkerError(Exception):
    """A worker process that did not produce an answer (crashed, hung, answered garbage)."""


class RequestError(Exception):
    """The worker answered ``{"error": ...}``: this request failed, the worker is fine."""


class Worker:
    """One serving worker process."""

    def __init__(self, command, threads: int):
        self._error = WorkerError
        env = {**os.environ, **thread_environment(int(threads)), "PYTHONUNBUFFERED": "1"}
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [*command, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env
        )
        self.buffer = b""
        self.dead: str | None = None  # why it can no longer serve

    @property
    def pid(self) -> int:
        return self.process.pid

    def ask(self, request: dict, timeout: float) -> dict:
        """Send ``request``; its answer, or WorkerError (the worker is gone) or RequestError."""
        if self.dead:
            raise self._error(self.dead)
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            self._fail(self._exit_reason())
        line = self._read_line(timeout)
        try:
            answer = json.loads(line)
            if not isinstance(answer, dict):
                raise ValueError
        except ValueError:
            self._fail(f"worker answered no JSON (stderr: {self._last_stderr_line()})")
        if "error" in answer:
            raise RequestError(str(answer["error"]))
        return answer

    def _read_line(self, timeout: float) -> bytes:
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"worker timed out after {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self._fail(self._exit_reason())
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def _exit_reason(self) -> str:
        try:
            code = self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            return f"worker closed its output (stderr: {self._last_stderr_line()})"
        return f"worker exited with status {code}: {self._last_stderr_line()}"

    def _last_stderr_line(self) -> str:
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 8192))
            text = self.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return "no message"
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return lines[-1][:300] if lines else "no message"

    def _fail(self, reason: str):
        self.dead = reason
        self.stop(grace=0.0)
        raise self._error(reason)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """End the process and reap it: ``quit`` (a closed stdin), then SIGTERM, then SIGKILL."""
        self.dead = self.dead or "worker stopped"
        process = self.process
        if process.poll() is None and grace > 0:
            try:
                process.stdin.write(b'{"op": "quit"}\n')
                process.stdin.close()
            except OSError:
                pass
        for signum in (None, signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            if signum is not None:
                try:
                    process.send_signal(signum)
                except ProcessLookupError:
                    break
            try:
                process.wait(timeout=grace if signum != signal.SIGKILL else None)
            except subprocess.TimeoutExpired:
                continue
        for stream in (process.stdin, process.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass


class Pool:
    """The workers of a grid, by group key (``isolation`` decides the key); a context manager that stops
    them all on the way out, whatever the way out is."""

    def __init__(self, command, threads: int):
        self.command, self.threads = command, threads
        self.workers: dict = {}

    def get(self, key) -> Worker:
        """The live worker of ``key``, started (or restarted, after a death) on demand."""
        worker = self.workers.get(key)
        if worker is None or worker.dead:
            worker = self.workers[key] = Worker(self.command, self.threads)
        return worker

    def close(self, key, grace: float = STOP_GRACE_S) -> None:
        worker = self.workers.pop(key, None)
        if worker is not None:
            worker.stop(grace)

    def close_all(self, grace: float = STOP_GRACE_S) -> None:
        for key in list(self.workers):
            self.close(key, grace)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        # Interrupted (Ctrl-C, SIGTERM): do not wait for a polite quit; SIGTERM at once, SIGKILL soon after.
        from rnnbench import signals

        interrupted = kind is not None and not issubclass(kind, Exception)
        with signals.deferred():  # a second Ctrl-C waits until every worker is reaped
            self.close_all(grace=0.5 if interrupted else STOP_GRACE_S)
        return False
