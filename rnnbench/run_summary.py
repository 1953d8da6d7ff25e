"""The short result table ``rnnbench run`` prints at the end: one row a seed, then mean and spread."""

from __future__ import annotations

import statistics

from rnnbench.table import format_table


def summary_table(records: list[dict]) -> str:
    rows = []
    for r in records:
        best, timing = r["best"], r.get("timing", {})
        rows.append(
            [
                r["backend"],
                r.get("model") or "",
                r["dataset"],
                r["seed"],
                r["status"],
                _fmt(best["dev"]),
                _fmt(best["test"]),
                best["epoch"] or "-",
                r.get("steps", 0),
                _per_epoch(r),
                _fmt(timing.get("train_examples_per_s"), 1),
            ]
        )
    ok = [r for r in records if r["status"] == "ok"]
    if len(ok) > 1:
        rows.append(
            [
                "",
                "",
                "",
                "mean ± sd",
                f"{len(ok)} ok",
                _spread([r["best"]["dev"] for r in ok]),
                _spread([r["best"]["test"] for r in ok]),
                "",
                "",
                "",
                "",
            ]
        )
    metric = records[0]["metric"] if records else "metric"
    return format_table(
        [
            "backend",
            "model",
            "dataset",
            "seed",
            "status",
            f"dev {metric}",
            f"test {metric}",
            "best epoch",
            "steps",
            "s/epoch",
            "train ex/s",
        ],
        rows,
    )


def _per_epoch(record) -> str:
    full = [e["train_seconds"] for e in record["epochs"]]
    return f"{statistics.median(full):.1f}" if full else "-"


def _fmt(value, digits=4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _spread(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def result_line(record: dict) -> str:
    """One seed's outcome, printed before its record is written so that no failed write can hide it."""
    best, metric = record["best"], record["metric"]
    return (
        f"result: seed {record['seed']} {record['status']}: dev {metric} {_fmt(best['dev'])}, "
        f"test {metric} {_fmt(best['test'])} (best epoch {best['epoch'] or '-'}, {record.get('steps', 0)} steps)"
    )
