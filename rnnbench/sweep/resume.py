"""Which configurations already have their result: a re-run sweep does only what is missing.

A record counts for a configuration when it is the same run: task, backend
and seed, the resolved dataset and model, and every option of the task's
resolved configuration (so ``epochs = 10`` given for trec equals trec's
default of 10 left out, and an option the sweep leaves out must still have
its default), made by the same commit unless any version will do. ``ok`` counts, and so does ``diverged``:
a NaN loss is a deterministic result of that configuration (the long-range table reports
it), not a broken run; ``failed`` and ``interrupted`` records never count.
"""

from __future__ import annotations

import math
from pathlib import Path

from rnnbench.plugins import known_task
from rnnbench.records import read_records

DONE_STATUSES = ("ok", "diverged")
#: Options that say where a run found its files, not what it computed.
NOT_COMPARED = ("data_dir", "offline")
#: How a run executed, compared only when the sweep sets them (against the backend's own report too,
#: so ``impl = "native"`` or ``device = "cpu"`` given equals the default left out).
EXECUTION = ("device", "impl", "threads")


def find_done(configurations, results_dir, commit: str | None, any_version: bool = False) -> dict:
    """``configuration -> path`` of a record that already holds its result."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return {}
    index = {}
    for path, record in read_records(folder):
        if record.get("status") in DONE_STATUSES:
            index.setdefault((record.get("task"), record.get("backend"), record.get("seed")), []).append((path, record))
    done = {}
    for config in configurations:
        for path, record in index.get((config.task, config.backend, config.seed), []):
            if same_run(config, record) and (any_version or (record.get("git") or {}).get("commit") == commit):
                done[config] = path
                break
    return done


def same_run(config, record: dict) -> bool:
    """True when ``record`` ran ``config``: the identity, then every option of the task's resolved
    configuration (so a tanh rnn never takes an IRNN's record), then the execution options the sweep sets."""
    resolved = config.resolved
    if record.get("dataset") != resolved.get("dataset") or record.get("model") != resolved.get("model"):
        return False
    recorded = record.get("config") or {}
    task = known_task(config.task)
    if task is not None:  # what an option added since this record meant when the record omits it
        recorded = {**task.omitted_options(recorded), **recorded}
    given = {key for key, _, _ in config.options}
    for key, value in resolved.items():
        if key in NOT_COMPARED or key in EXECUTION or key in ("task", "backend", "seeds"):
            continue
        if key not in recorded:  # an option newer than the record: only a value the sweep asks for counts
            if key in given:
                return False
            continue
        if not same_value(value, recorded[key]):
            return False
    info = record.get("backend_info") or {}
    for key in EXECUTION:
        if key in given and not (
            same_value(config.value(key), recorded.get(key)) or same_value(config.value(key), info.get(key))
        ):
            return False
    return True


def same_value(a, b) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return a == b
