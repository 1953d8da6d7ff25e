"""The record of a run that ended without writing one (it crashed, was killed, or its worker died).

Every configuration a sweep starts ends as a record, as every ``rnnbench
run`` does; the driver writes this one, with the reason and, under Ray, the
node, so a failure is a row in the report and never a silent gap.
"""

from __future__ import annotations

import shlex
from datetime import datetime, timezone

from rnnbench.machine import load_average
from rnnbench.records import RUN_SCHEMA, read_records, record_header


def stand_in_record(
    config, status: str, error: str, *, started: float, finished: float, node: str | None = None, results_dir=None
) -> dict:
    """A ``rnnbench.run/1`` record with ``status`` (failed or interrupted) for ``config``; no metric values.

    Its metric's name is the one other runs of the task and dataset in ``results_dir`` report (the task
    names it only once it has read the data), else "unknown": the report files it beside them.
    """
    resolved = config.resolved
    machine = None if node is None else _node_machine(node)
    record = record_header(
        RUN_SCHEMA,
        task=config.task,
        dataset=resolved.get("dataset"),
        backend=config.backend,
        seed=config.seed,
        status=status,
        started_at=_stamp(started),
        machine=machine,
    )
    record.update(
        {
            "error": error,
            "model": resolved.get("model"),
            **_metric(config, results_dir),
            "best": {"epoch": None, "step": None, "dev": None, "test": None},
            "epochs": [],
            "diverged_at": None,
            "gradient_flow": [],
            "config": {k: v for k, v in resolved.items() if k != "seeds"},
            "spec": None,
            "data": None,
            "notes": [f"written by rnnbench sweep: the run left no record ({error})"],
            "backend_info": None,
            "load_average": {"start": None, "end": load_average() if node is None else None},
            "command": "rnnbench " + shlex.join(config.argv()),
            "steps": 0,
            "finished_at": _stamp(finished),
            "wall_seconds": round(finished - started, 3),
            "timing": {},
        }
    )
    return record


def _metric(config, results_dir) -> dict:
    for _, record in read_records(results_dir) if results_dir is not None else []:
        if (record.get("task"), record.get("dataset")) == (config.task, config.resolved.get("dataset")) and isinstance(
            record.get("metric"), str
        ):
            return {"metric": record["metric"], "metric_higher_is_better": record.get("metric_higher_is_better")}
    return {"metric": "unknown", "metric_higher_is_better": None}


def _node_machine(node: str) -> dict:
    """``"host (ip)"`` as the record's ``machine``: all the driver knows of a node whose run left nothing."""
    host, _, ip = node.partition(" (")
    return {"hostname": host, "ip": ip.rstrip(")") or None, "note": "a Ray node; details unknown to the driver"}


def _stamp(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
