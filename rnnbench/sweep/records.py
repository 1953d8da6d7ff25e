"""The record of a run that ended without writing one (it crashed, was killed, or its worker died).

Every configuration a sweep starts ends as a record, as every ``rnnbench
run`` does; the driver writes this one, with the reason and, under Ray, the
node, so a failure is a row in the report and never a silent gap.
"""
from __future__ import annotations

import shlex
from datetime import datetime, timezone

from rnnbench.machine import git_commit, load_average, machine_info, package_versions
from rnnbench.records import RUN_SCHEMA as SCHEMA


def stand_in_record(config, status: str, error: str, *, started: float, finished: float,
                    node: str | None = None) -> dict:
    """A ``rnnbench.run/1`` record with ``status`` (failed or interrupted) for ``config``; no metrics."""
    resolved = config.resolved
    machine = machine_info() if node is None else {"hostname": node, "note": "a Ray node; details unknown"}
    return {
        "schema": SCHEMA, "status": status, "error": error,
        "task": config.task, "dataset": resolved.get("dataset"), "backend": config.backend,
        "model": resolved.get("model"), "seed": config.seed,
        "metric": None, "metric_higher_is_better": None,
        "best": {"epoch": None, "step": None, "dev": None, "test": None},
        "epochs": [], "diverged_at": None, "gradient_flow": [],
        "config": {k: v for k, v in resolved.items() if k != "seeds"},
        "spec": None, "data": None, "notes": [f"written by rnnbench sweep: the run left no record ({error})"],
        "backend_info": None, "machine": machine,
        "load_average": {"start": None, "end": load_average() if node is None else None},
        "versions": package_versions(), "git": git_commit(),
        "command": "rnnbench " + shlex.join(config.argv()),
        "started_at": _stamp(started), "steps": 0, "finished_at": _stamp(finished),
        "wall_seconds": round(finished - started, 3), "timing": {},
    }


def _stamp(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
