"""Run a grid's configurations in worker processes and collect their rows (the parent side).

The parent imports no framework: each worker (:mod:`rnnbench.bench.worker`) starts
with the thread-count variables already in its environment. Mode ``time`` runs in
interleaved rounds over long-lived workers (:mod:`rnnbench.bench.rounds`); the other
modes (overhead, train, peak) send a request to a fresh one-shot worker. A worker that
crashes, hangs past its timeout or answers garbage turns into ``failed`` rows for the
configurations it held, with the reason; the sweep goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import groupby

from rnnbench.bench.rounds import run_rounds
from rnnbench.bench.run_config import empty_row
from rnnbench.bench.workers import WorkerError
from rnnbench.devices import thread_environment

WORKER = (sys.executable, "-m", "rnnbench.bench.worker")


def call_worker(request: dict, timeout: float, command=WORKER) -> dict:
    """Send ``request`` to a fresh worker and return its JSON answer."""
    env = {**os.environ, **thread_environment(int(request["threads"])), "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(
            list(command), input=json.dumps(request), capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        raise WorkerError(f"worker timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise WorkerError(f"worker exited with status {done.returncode}: {_last_line(done.stderr)}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise WorkerError(f"worker answered no JSON (stderr: {_last_line(done.stderr)})") from None


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def run_configs(
    configs,
    *,
    threads: int,
    policy,
    isolation: str = "config",
    mode: str = "time",
    timeout: float = 600.0,
    unavailable: dict | None = None,
    progress=None,
    command=WORKER,
) -> list[dict]:
    """Rows for ``configs`` in order; one worker per config (``isolation="config"``), per backend and impl
    (``"impl"``: tree rows, whose impl is the schedule, group by schedule) or per backend (``"backend"``).

    ``progress(done, total, row)`` is called as rows complete. Mode ``time`` runs the interleaved rounds.
    """
    unavailable = unavailable or {}
    rows = [None] * len(configs)
    pending = []
    for index, config in enumerate(configs):
        if config["backend"] in unavailable:
            rows[index] = empty_row(config, "unavailable", unavailable[config["backend"]])
        else:
            pending.append(index)
    done = len(configs) - len(pending)
    if mode == "time":

        def advance(row):
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, len(configs), row)

        measured = run_rounds(
            configs,
            pending,
            threads=threads,
            policy=policy,
            isolation=isolation,
            timeout=timeout,
            command=command,
            progress=advance,
        )
        for index, row in measured.items():
            rows[index] = row
        return rows
    if isolation in ("backend", "impl"):
        # One process per backend (or backend and impl), in the order they first appear in the grid.
        def group_of(i):
            return configs[i]["backend"] if isolation == "backend" else (configs[i]["backend"], configs[i]["impl"])

        seen = list(dict.fromkeys(group_of(i) for i in pending))
        order = sorted(pending, key=lambda i: seen.index(group_of(i)))
        groups = [list(g) for _, g in groupby(order, key=group_of)]
    else:
        groups = [[i] for i in pending]
    for group in groups:
        request = {"mode": mode, "threads": threads, "policy": policy.as_dict(), "configs": [configs[i] for i in group]}
        try:
            answer = call_worker(request, timeout * len(group), command)
            answered = answer["rows"]
            if len(answered) != len(group):
                raise WorkerError(f"worker answered {len(answered)} rows for {len(group)} configurations")
        except (WorkerError, KeyError, TypeError) as exc:
            answered = [empty_row(configs[i], "failed", str(exc)) for i in group]
        for i, row in zip(group, answered):
            rows[i] = row
            done += 1
            if progress is not None:
                progress(done, len(configs), row)
    return rows


def measure_peak(
    *, device: str, threads: int, sizes, dtype: str, policy, timeout: float = 600.0, command=WORKER, frameworks=None
) -> dict:
    """The machine's matrix-multiply peak: each framework's GEMM in a worker of its own, the best kept.

    ``frameworks`` (default: every installed one, :func:`rnnbench.bench.peak.available_frameworks`)
    never import here. A worker that fails leaves a candidate with its error; when none measured
    anything the peak is None with the reasons.
    """
    from rnnbench.bench.peak import available_frameworks, combine

    candidates, kernels = [], {}
    for framework in frameworks if frameworks is not None else available_frameworks(device):
        request = {
            "mode": "peak",
            "threads": threads,
            "device": device,
            "sizes": list(sizes),
            "dtype": dtype,
            "policy": policy.as_dict(),
            "framework": framework,
        }
        try:
            answer = call_worker(request, timeout, command)
            candidates += answer["candidates"]
            kernels[framework] = answer["kernel"]
        except (WorkerError, KeyError, TypeError) as exc:
            candidates.append({"method": None, "framework": framework, "size": None, "error": str(exc)})
    try:
        return combine(candidates, kernels, device, threads, dtype)
    except RuntimeError as exc:
        return {
            "gflops": None,
            "dtype": dtype,
            "threads": threads,
            "size": None,
            "method": None,
            "device": device,
            "error": str(exc),
            "candidates": candidates,
            "kernels": kernels,
            "warnings": [],
        }
