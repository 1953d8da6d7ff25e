"""The record of a run that ended without writing one (it crashed, was killed, or its worker died).

Every configuration a sweep starts ends as a record, as every ``rnnbench
run`` does; the driver writes this one, with the reason and, under Ray, the
node, so a failure is a row in the report and never a silent gap.
"""
from __future__ import annotations

import shlex
from datetime import datetime, timezone

from rnnbench.machine import load_average
from rnnbench.records import RUN_SCHEMA, record_header


def stand_in_record(config, status: str, error: str, *, started: float, finished: float,
                    node: str | None = None) -> dict:
    """A ``rnnbench.run/1`` record with ``status`` (failed or interrupted) for ``config``; no metrics."""
    resolved = config.resolved
    machine = None if node is None else _node_machine(node)
    record = record_header(RUN_SCHEMA, task=config.task, dataset=resolved.get("dataset"), backend=config.backend,
                           seed=config.seed, status=status, started_at=_stamp(started), machine=machine)
    record.update({
        "error": error, "model": resolved.get("model"),
        "metric": None, "metric_higher_is_better": None,
        "best": {"epoch": None, "step": None, "dev": None, "test": None},
        "epochs": [], "diverged_at": None, "gradient_flow": [],
        "config": {k: v for k, v in resolved.items() if k != "seeds"},
        "spec": None, "data": None, "notes": [f"written by rnnbench sweep: the run left no record ({error})"],
        "backend_info": None,
        "load_average": {"start": None, "end": load_average() if node is None else None},
        "command": "rnnbench " + shlex.join(config.argv()),
        "steps": 0, "finished_at": _stamp(finished), "wall_seconds": round(finished - started, 3), "timing": {},
    })
    return record


def _node_machine(node: str) -> dict:
    """``"host (ip)"`` as the record's ``machine``: all the driver knows of a node whose run left nothing."""
    host, _, ip = node.partition(" (")
    return {"hostname": host, "ip": ip.rstrip(")") or None, "note": "a Ray node; details unknown to the driver"}


def _stamp(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
