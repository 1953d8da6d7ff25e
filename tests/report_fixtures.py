"""Small hand-made records (run, check, bench) in the agreed schemas, for the report tests.

Each builder returns a plain dict shaped like what ``rnnbench run``,
``rnnbench check`` and ``rnnbench bench`` write, with only the fields the
report reads filled in; keyword arguments plant the numbers a test asserts on.
"""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path

_clock = count()


def _stamp(started_at=None) -> str:
    if started_at:
        return started_at
    n = next(_clock)
    return f"2026-11-27T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z"


def _common(host: str, status: str, started_at=None) -> dict:
    return {
        "status": status,
        "started_at": _stamp(started_at),
        "machine": {
            "hostname": host,
            "cpu_model": f"{host} CPU",
            "logical_cpus": 2,
            "usable_cpus": 2,
            "python": "3.11.7",
        },
        "versions": {"rnnbench": "0.1.0", "numpy": "2.4.6", "torch": "2.13.0"},
        "git": {"commit": "0" * 40, "dirty": False},
    }


def run_record(
    *,
    task="textclf",
    dataset="trec",
    model="lstm",
    backend="torch",
    impl="native",
    seed=0,
    dev=0.8,
    test=0.8,
    status="ok",
    metric="accuracy",
    higher_is_better=None,
    host="hostA",
    config=None,
    dev_metrics=None,
    test_metrics=None,
    gradient_flow=None,
    published=None,
    epochs=None,
    started_at=None,
) -> dict:
    record = {
        "schema": "rnnbench.run/1",
        **_common(host, status, started_at),
        "error": None,
        "task": task,
        "dataset": dataset,
        "backend": backend,
        "model": model,
        "seed": seed,
        "metric": metric,
        "best": {"epoch": 2, "step": 20, "dev": dev, "test": test},
        "epochs": epochs
        if epochs is not None
        else [
            {"epoch": 1, "mean_loss": 1.0, "dev": dev * 0.9, "examples_per_s": 100.0},
            {"epoch": 2, "mean_loss": 0.5, "dev": dev, "examples_per_s": 110.0},
        ],
        "config": {
            "task": task,
            "dataset": dataset,
            "backend": backend,
            "model": model,
            "threads": 2,
            **(config or {}),
        },
        "backend_info": {"framework": backend, "impl": impl, "device": "cpu", "threads": 2},
        "data": {"dataset": dataset},
        "timing": {"train_examples_per_s": 105.0, "step_median": 0.01},
        "wall_seconds": 3.0,
        "steps": 20,
    }
    if higher_is_better is not None:
        record["metric_higher_is_better"] = higher_is_better
    if dev_metrics is not None:
        record["best"]["dev_metrics"] = dev_metrics
    if test_metrics is not None:
        record["best"]["test_metrics"] = test_metrics
    if gradient_flow is not None:
        record["gradient_flow"] = gradient_flow
    if published is not None:
        record["data"]["published"] = published
    if status != "ok":
        record["error"] = f"planted {status}"
    return record


def longrange_record(
    *,
    model="lstm",
    backend="numpy",
    seq_len=100,
    success=True,
    seed=0,
    status="ok",
    activation="tanh",
    problem="adding",
    config=None,
    **kwargs,
) -> dict:
    """As the longrange task writes it: dataset ``<problem>-T<seq_len>``, success among the test metrics."""
    mse = 0.004 if success else 0.16
    metrics = {"mse": mse, "baseline": 0.167, "success": success} if status == "ok" else None
    return run_record(
        task="longrange",
        dataset=f"{problem}-T{seq_len}",
        model=model,
        backend=backend,
        seed=seed,
        status=status,
        metric="mse",
        higher_is_better=False,
        dev=mse,
        test=mse if status == "ok" else None,
        config={"problem": problem, "seq_len": seq_len, "activation": activation, **(config or {})},
        dev_metrics=metrics,
        test_metrics=metrics,
        **kwargs,
    )


def check_row(
    backend="torch", impl="native", case="lstm", dtype="float32", max_rel=1e-7, tolerance=1e-4, passed=None, error=""
) -> dict:
    passed = (max_rel == max_rel and max_rel <= tolerance) if passed is None else passed
    return {
        "backend": backend,
        "impl": impl,
        "case": case,
        "dtype": dtype,
        "max_abs": max_rel,
        "max_rel": max_rel,
        "worst": "grad.W_x",
        "tolerance": tolerance,
        "passed": passed,
        "error": error,
    }


def check_record(rows, *, host="hostA", mode="parity", started_at=None) -> dict:
    status = "ok" if all(r["passed"] for r in rows) else "failed"
    return {
        "schema": "rnnbench.check/1",
        **_common(host, status, started_at),
        "task": "check",
        "dataset": mode,
        "backend": "+".join(sorted({r["backend"] for r in rows})),
        "seed": 0,
        "config": {"threads": 2},
        "rows": rows,
    }


#: A quiet old-style row's spread around its median: 9 samples, so the order-statistic interval reaches 95%
#: (±0.5%); a test that wants a noisy or short row passes its own ``samples``.
QUIET = (0.99, 0.995, 0.998, 1.0, 1.0, 1.0, 1.002, 1.005, 1.01)


def bench_row(
    *,
    cell="lstm",
    backend="torch",
    impl="native",
    median_s=0.01,
    threads=2,
    batch=64,
    steps=100,
    input=128,
    hidden=256,
    passes="forward+backward",
    dtype="float32",
    status="ok",
    gflops_per_s=None,
    peak_fraction=None,
    warnings=None,
    structure="sequence",
    trees=None,
    nodes=None,
    samples=None,
    **new_fields,
) -> dict:
    """A bench row; ``new_fields`` plants issue 20's fields (``stable``, ``unstable_reasons``, ``ci95_s``,
    ``ratio_to_fastest``, ``ratio_ci95``, ``rounds``, ``peak_bytes``, ``first_call_s``...)."""
    timed = median_s is not None
    samples = list(samples) if samples is not None else [median_s * f for f in QUIET] if timed else []
    row = {
        "kind": structure,
        "cell": cell,
        "backend": backend,
        "impl": impl,
        "device": "cpu",
        "dtype": dtype,
        "threads": threads,
        "batch": batch,
        "pass": passes,
        "samples_s": samples,
        "median_s": median_s,
        "iqr_s": median_s * 0.005 if timed else None,
        "min_s": min(samples) if samples else None,
        "count": len(samples),
        "flops": 1e9,
        "gflops_per_s": gflops_per_s,
        "peak_fraction": peak_fraction,
        "items_per_s": batch / median_s if median_s else None,
        "warnings": warnings or [],
        "status": status,
        "error": None if status == "ok" else "planted",
    }
    if structure == "tree":  # steps: the schedule's length (levels, or nodes one by one)
        row.update(trees=trees, nodes=nodes, steps=steps, input=input, hidden=hidden, items_unit="nodes")
    else:
        row.update(steps=steps, input=input, hidden=hidden)
    row.update(new_fields)
    return row


def bench_record(
    rows, *, host="hostA", peak_gflops=100.0, suite="smoke", started_at=None, load=None, **new_fields
) -> dict:
    """A bench record; ``load`` is its 1-minute load average at ``(start, end)``; ``new_fields`` plants issue
    20's record-level fields (``stable``, ``unstable_reasons``, ``settle``)."""
    record = {
        "schema": "rnnbench.bench/1",
        **_common(host, "ok", started_at),
        "task": "bench",
        "dataset": suite,
        "backend": "+".join(sorted({r["backend"] for r in rows})),
        "seed": 0,
        "peak": {"gflops": peak_gflops, "dtype": "float32", "threads": 2, "size": 2048, "method": "numpy sgemm"},
        "rows": rows,
        **new_fields,
    }
    if load is not None:
        record["load_average"] = {"start": [load[0], load[0], load[0]], "end": [load[1], load[1], load[1]]}
    return record


def write_records(folder, records) -> Path:
    """Write each record as ``NNN_<schema kind>.json`` in ``folder`` (created); return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start = len(list(folder.glob("*.json")))
    for n, record in enumerate(records, start):
        kind = record["schema"].split(".")[1].split("/")[0]
        (folder / f"{n:03d}_{kind}.json").write_text(json.dumps(record), encoding="utf-8")
    return folder
