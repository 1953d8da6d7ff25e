"""The local executor: each configuration in its own ``rnnbench run`` process, up to ``jobs`` at once.

A fresh process per run is what ``rnnbench run`` itself guarantees: the thread
count is fixed before any framework loads, and one run's imports, caches and
crashes never touch another's. Children get their own session, so a Ctrl-C
at the terminal reaches the sweep only, which passes it on exactly once; a run
that ignores it gets SIGTERM, then SIGKILL (:class:`~rnnbench.sweep.stopping.Escalation`).
Each child runs under :mod:`rnnbench.sweep.guarded` with SIGTERM as its
parent-death signal: a sweep killed outright (SIGKILL, an OOM kill) leaves no
orphan training on, and each of its runs still ends with an ``interrupted`` record.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from rnnbench.records import RecordNotWritten, save_record
from rnnbench.sweep.stand_in import stand_in_record
from rnnbench.sweep.stopping import Escalation, StopSignals

RECORD_LINE = re.compile(r"^record: (.+?\.json)(?:  \(.*\))?$", re.MULTILINE)
POLL_SECONDS = 0.05


@dataclass
class Finished:
    """A configuration's end: its record (read back from where it was written) and the wall time."""

    config: object
    record: dict
    path: Path | None
    seconds: float
    #: The record is not in the results directory: it went to the fallback (``path``; None: standard output).
    elsewhere: bool = False


def keep_record(results_dir, record: dict) -> tuple[Path | None, bool]:
    """The driver writes a record (a stand-in, or one Ray brought back) with the one writer: its path, and
    True when the results directory failed and the record went to the fallback instead (None: stdout)."""
    try:
        return save_record(results_dir, record), False
    except RecordNotWritten as exc:
        return exc.saved, True


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def child_command(config, results_dir) -> list[str]:
    """``rnnbench run`` for ``config``, ended by SIGTERM (so it writes its record) if the sweep dies first."""
    return [
        sys.executable,
        "-m",
        "rnnbench.sweep.guarded",
        "--parent-death=SIGTERM",
        *config.argv(),
        "--results-dir",
        str(results_dir),
        "--no-progress",
    ]


def run_local(configurations, results_dir, jobs: int, on_finished) -> int | None:
    """Run every configuration; ``on_finished(Finished)`` after each; the stopping signal, or None."""
    pending, running = deque(configurations), {}

    def forward(signum):
        for process in list(running):
            if process.poll() is None:
                process.send_signal(signum)

    escalation = Escalation()  # a run that ignores the stop: SIGTERM after a grace period, then SIGKILL
    with StopSignals(forward) as stop:
        while running or (pending and not stop.received):
            if stop.received:
                escalation.start()
                for process in list(running):
                    escalation.push(process)
            while pending and len(running) < jobs and not stop.received:
                config = pending.popleft()
                log = tempfile.TemporaryFile()
                started = time.time()
                process = subprocess.Popen(
                    child_command(config, results_dir), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
                running[process] = (config, log, started)
            done = [p for p in running if p.poll() is not None]
            for process in done:
                config, log, started = running.pop(process)
                on_finished(_collect(config, process.returncode, log, started, results_dir, stop.received))
            if not done:
                time.sleep(POLL_SECONDS)
    return stop.received


def _collect(config, returncode: int, log, started: float, results_dir, stopping) -> Finished:
    """The record the child wrote, or a stand-in saying why there is none."""
    finished = time.time()
    log.seek(0)
    output = log.read().decode("utf-8", "replace")
    log.close()
    paths = [Path(p) for p in RECORD_LINE.findall(output)]
    for path in paths:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        elsewhere = path.parent.resolve() != Path(results_dir).resolve()  # the run's fallback: /tmp
        return Finished(config, record, path, finished - started, elsewhere)
    record = _printed_record(output)  # neither folder took it: the run printed it, and the driver keeps it
    if record is None:
        reason = describe_exit(returncode, output)
        status = "interrupted" if stopping or returncode in STOPPED else "failed"
        record = stand_in_record(config, status, reason, started=started, finished=finished, results_dir=results_dir)
    path, elsewhere = keep_record(results_dir, record)
    return Finished(config, record, path, finished - started, elsewhere)


#: Exit statuses of a run stopped by Ctrl-C, SIGTERM or SIGHUP (its own 128 + N, or killed by the signal).
STOPPED = {128 + s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)} | {
    -s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
}


def _printed_record(output: str) -> dict | None:
    """A whole run record that ``rnnbench run`` printed because no folder would take it, else None."""
    start = output.find('{\n "schema": "rnnbench.run/1"')
    if start < 0:
        return None
    try:
        record, _ = json.JSONDecoder().raw_decode(output[start:])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def describe_exit(returncode: int, output: str) -> str:
    """Why a run left no record: its signal or exit status, and its last line of output."""
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"rnnbench run exited with status {returncode}"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return f"{how}: {lines[-1]}" if lines else how
