"""The long-range table: at which sequence length T each model still learns, per backend and problem.

A run succeeds when its record says so (``best.test_metrics.success``, the
task's own definition against the memoryless baseline); a run without that
verdict (diverged, failed) counts as not succeeding. A model *solves* T when
more than half of its seeds at T succeed; the table shows every ``k/n`` so
the reader can apply a stricter rule.
"""
from __future__ import annotations

import pandas as pd

from rnnbench.report.section import Block, Section, missing, model_label
from rnnbench.report.variants import DEFAULT_LABEL, details, variant_labels

GROUP = ["problem", "model", "backend", "impl", "device", "config_key"]  # the dataset names T (adding-T200): not a key


def longrange_section(frame) -> Section | None:
    runs = frame[(frame["kind"] == "run")]
    if "seq_len" not in runs.columns:
        return None
    runs = runs[runs["seq_len"].notna()]
    if runs.empty:
        return None
    runs = runs.assign(
        problem=runs["problem"].where(runs["problem"].notna(), runs["dataset"]),
        impl=runs["impl"].fillna("-"), device=runs["device"].fillna("cpu"),
        succeeded=[_succeeded(r) for r in runs["record"]],
        seq_len=runs["seq_len"].astype(int),
    )
    lengths = sorted(runs["seq_len"].unique())
    out = []
    for key, rows in runs.groupby(GROUP, sort=True):
        entry = dict(zip(GROUP, key))
        entry["variant_diff"] = rows["variant"].iloc[0]
        for length in lengths:
            at = rows[rows["seq_len"] == length]
            entry[f"T={length}"] = f"{int(at['succeeded'].sum())}/{len(at)}" if len(at) else ""
        entry["largest_T_solved"] = largest_solved(rows)
        out.append(entry)
    table = pd.DataFrame(out)
    table["variant"] = table["config_key"].map(variant_labels(dict(zip(table["config_key"], table["variant_diff"]))))
    table = table.sort_values(["problem", "model", "variant", "backend"], kind="stable").reset_index(drop=True)
    table["model_label"] = [model_label(m, d.get("activation")) for m, d in zip(table["model"], table["variant_diff"])]
    show_device, show_config = table["device"].nunique() > 1, bool((table["variant"] != DEFAULT_LABEL).any())
    header = ["problem", "model"] + (["variant"] if show_config else []) + ["backend", "impl"] + \
        (["device"] if show_device else []) + [f"T={t}" for t in lengths] + ["largest T solved"]
    rows = [[r["problem"], r["model"]] + ([r["variant"]] if show_config else []) + [r["backend"], r["impl"]]
            + ([r["device"]] if show_device else []) + [r[f"T={t}"] or "-" for t in lengths]
            + ["none" if missing(r["largest_T_solved"]) else str(int(r["largest_T_solved"]))]
            for _, r in table.iterrows()]
    notes = ["k/n: runs (seeds) that succeeded at that T, by the task's success rule on test, out of the runs "
             "there; solved = more than half succeeded; runs that differ in more than T are not pooled"]
    lines = sorted({f"{r['problem']} {r['model']} \"{r['variant']}\": {details(r['variant_diff'])}"
                    for _, r in table.iterrows() if r["variant"] != DEFAULT_LABEL})
    return Section("longrange", "Long-range dependencies: success vs sequence length T",
                   table.drop(columns=["config_key", "variant_diff"]),
                   [Block("success by sequence length", header, rows, keys=3 if show_config else 2)], notes,
                   details=lines)


def largest_solved(rows) -> int | None:
    """The largest T at which more than half of the runs succeeded (None when no T qualifies)."""
    solved = [int(t) for t, at in rows.groupby("seq_len") if 2 * int(at["succeeded"].sum()) > len(at)]
    return max(solved) if solved else None


def _succeeded(record: dict) -> bool:
    metrics = (record.get("best") or {}).get("test_metrics") or {}
    return record.get("status") == "ok" and metrics.get("success") is True
