"""The long-range table: at which sequence length T each model still learns, per backend and problem.

A run succeeds when its record says so (``best.test_metrics.success``, the
task's own definition against the memoryless baseline); a run without that
verdict (diverged, failed) counts as not succeeding. A model *solves* T when
more than half of its seeds at T succeed; the table shows every ``k/n`` so
the reader can apply a stricter rule.
"""
from __future__ import annotations

import json

import pandas as pd

from rnnbench.report.configs import config_key, differing_labels
from rnnbench.report.section import Block, Section, missing, model_label

GROUP = ["problem", "model_label", "backend", "impl", "device", "base_key"]  # the dataset names T (adding-T200): not a key


def longrange_section(frame) -> Section | None:
    runs = frame[(frame["kind"] == "run")]
    if "seq_len" not in runs.columns:
        return None
    runs = runs[runs["seq_len"].notna()]
    if runs.empty:
        return None
    runs = runs.assign(
        problem=runs["problem"].where(runs["problem"].notna(), runs["dataset"]),
        model_label=[model_label(m, a) for m, a in zip(runs["model"], runs["activation"])],
        impl=runs["impl"].fillna("-"), device=runs["device"].fillna("cpu"),
        base_key=[config_key(r.get("config"), ignore=("seq_len", "dataset")) for r in runs["record"]],
        succeeded=[_succeeded(r) for r in runs["record"]],
        seq_len=runs["seq_len"].astype(int),
    )
    lengths = sorted(runs["seq_len"].unique())
    out = []
    for key, rows in runs.groupby(GROUP, sort=True):
        entry = dict(zip(GROUP, key))
        for length in lengths:
            at = rows[rows["seq_len"] == length]
            entry[f"T={length}"] = f"{int(at['succeeded'].sum())}/{len(at)}" if len(at) else ""
        entry["largest_T_solved"] = largest_solved(rows)
        out.append(entry)
    table = pd.DataFrame(out)
    # the model column already says "rnn (relu)"; the activation of an lstm is no difference worth a column
    configs = {key: {k: v for k, v in json.loads(key).items() if k != "activation"} for key in table["base_key"]}
    table["config"] = table["base_key"].map(differing_labels(configs))
    show_device, show_config = table["device"].nunique() > 1, bool(table["config"].astype(bool).any())
    header = ["problem", "model", "backend", "impl"] + (["device"] if show_device else []) + \
        (["config"] if show_config else []) + [f"T={t}" for t in lengths] + ["largest T solved"]
    rows = [[r["problem"], r["model_label"], r["backend"], r["impl"]] + ([r["device"]] if show_device else [])
            + ([r["config"]] if show_config else []) + [r[f"T={t}"] or "-" for t in lengths]
            + ["none" if missing(r["largest_T_solved"]) else str(int(r["largest_T_solved"]))]
            for _, r in table.iterrows()]
    notes = ["k/n: runs (seeds) that succeeded at that T, by the task's success rule on test, out of the runs "
             "there; solved = more than half succeeded; runs that differ in more than T are not pooled"]
    return Section("longrange", "Long-range dependencies: success vs sequence length T",
                   table.drop(columns=["base_key"]), [Block("success by sequence length", header, rows)], notes)


def largest_solved(rows) -> int | None:
    """The largest T at which more than half of the runs succeeded (None when no T qualifies)."""
    solved = [int(t) for t, at in rows.groupby("seq_len") if 2 * int(at["succeeded"].sum()) > len(at)]
    return max(solved) if solved else None


def _succeeded(record: dict) -> bool:
    metrics = (record.get("best") or {}).get("test_metrics") or {}
    return record.get("status") == "ok" and metrics.get("success") is True
