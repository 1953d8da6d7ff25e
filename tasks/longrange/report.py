"""The long-range task's report tables: at which sequence length T each model still learns, per backend and problem.

The task hands these to ``rnnbench report`` through its report hooks
(``LongRange.report_section`` and ``summary_blocks``): the ``longrange``
table, and the summary's "largest T solved" table per problem.

A run succeeds when its record says so (``best.test_metrics.success``, the
task's own definition against the memoryless baseline); a run without that
verdict (diverged, failed) counts as not succeeding. A model *solves* T when
more than half of its seeds at T succeed; the table shows every ``k/n`` so
the reader can apply a stricter rule.

Imported only by the report (it imports pandas).
"""

from __future__ import annotations

import pandas as pd

from rnnbench import (
    DEFAULT_VARIANT,
    ReportBlock,
    ReportSection,
    backend_column,
    backend_sort_key,
    format_sig,
    is_missing,
    model_label,
    ordered_by_model,
    variant_details,
    variant_labels,
)

TASK = "longrange"
GROUP = ["problem", "model", "backend", "impl", "device", "config_key"]  # the dataset names T (adding-T200): not a key
#: The README's summary has no room for these tables: where to find them instead.
BRIEF_NOTE = (
    "long-range toy problems (adding, copy: the largest T each model solves): "
    "`results/report.md` and `rnnbench report --table summary`"
)  # a note's text is escaped; code is not


def longrange_runs(frame):
    """This task's runs that name a sequence length (every run of it does), or None when there are none."""
    runs = frame[(frame["kind"] == "run") & (frame["task"] == TASK)]
    if "seq_len" not in runs.columns:
        return None
    runs = runs[runs["seq_len"].notna()]
    return None if runs.empty else runs


def longrange_section(frame) -> ReportSection | None:
    """``rnnbench report --table longrange``: success k/n at every T tried, per problem, model, variant and backend."""
    runs = longrange_runs(frame)
    if runs is None:
        return None
    runs = runs.assign(
        problem=runs["problem"].where(runs["problem"].notna(), runs["dataset"]),
        impl=runs["impl"].fillna("-"),
        device=runs["device"].fillna("cpu"),
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
    show_device, show_config = table["device"].nunique() > 1, bool((table["variant"] != DEFAULT_VARIANT).any())
    header = (
        ["problem", "model"]
        + (["variant"] if show_config else [])
        + ["backend", "impl"]
        + (["device"] if show_device else [])
        + [f"T={t}" for t in lengths]
        + ["largest T solved"]
    )
    rows = [
        [r["problem"], r["model"]]
        + ([r["variant"]] if show_config else [])
        + [r["backend"], r["impl"]]
        + ([r["device"]] if show_device else [])
        + [r[f"T={t}"] or "-" for t in lengths]
        + ["none" if is_missing(r["largest_T_solved"]) else str(int(r["largest_T_solved"]))]
        for _, r in table.iterrows()
    ]
    notes = [
        "k/n: runs (seeds) that succeeded at that T, by the task's success rule on test, out of the runs "
        "there; solved = more than half succeeded; runs that differ in more than T are not pooled"
    ]
    lines = sorted(
        {
            f'{r["problem"]} {r["model"]} "{r["variant"]}": {variant_details(r["variant_diff"])}'
            for _, r in table.iterrows()
            if r["variant"] != DEFAULT_VARIANT
        }
    )
    return ReportSection(
        "longrange",
        "Long-range dependencies: success vs sequence length T",
        table.drop(columns=["config_key", "variant_diff"]),
        [ReportBlock("success by sequence length", header, rows, keys=3 if show_config else 2)],
        notes,
        details=lines,
    )


def largest_solved(rows) -> int | None:
    """The largest T at which more than half of the runs succeeded (None when no T qualifies)."""
    solved = [int(t) for t, at in rows.groupby("seq_len") if 2 * int(at["succeeded"].sum()) > len(at)]
    return max(solved) if solved else None


def summary_blocks(frame, brief: bool):
    """The summary's long-range tables, one per problem (backends as columns, the largest T solved in each cell),
    as ``(blocks, notes, variant lines)``; for the README (``brief``), only a note saying where they are."""
    blocks, notes, lines = _largest_t_blocks(frame)
    if brief:
        return [], [BRIEF_NOTE] if blocks else [], []
    return blocks, notes, lines


def _largest_t_blocks(frame):
    runs = longrange_runs(frame)
    if runs is None:
        return [], [], []
    runs = runs.assign(
        problem=runs["problem"].where(runs["problem"].notna(), runs["dataset"]),
        impl=runs["impl"].fillna("-"),
        device=runs["device"].fillna("cpu"),
        seq_len=runs["seq_len"].astype(int),
        succeeded=[_succeeded(r) for r in runs["record"]],
    )
    runs = runs.assign(
        column=[backend_column(b, i, d) for b, i, d in zip(runs["backend"], runs["impl"], runs["device"])]
    )
    blocks, lines = [], []
    for problem, part in runs.groupby("problem", sort=True):
        labels = variant_labels({k: v for k, v in zip(part["config_key"], part["variant"])})
        part = part.assign(label=part["config_key"].map(labels))
        columns = sorted(part["column"].unique(), key=backend_sort_key)
        metric = part["metric"].dropna().iloc[0] if part["metric"].notna().any() else "metric"
        show_variant = bool((part["label"] != DEFAULT_VARIANT).any())
        header = ["model"] + (["variant"] if show_variant else []) + ["T tried"] + columns
        printed = []
        for (model, label), group in ordered_by_model(part.groupby(["model", "label"], sort=False)):
            tried = sorted(group["seq_len"].unique())
            row = [model] + ([label] if show_variant else [])
            row.append(", ".join(str(t) for t in tried))
            for column in columns:
                at = group[group["column"] == column]
                if at.empty:
                    row.append("-")
                    continue
                solved = largest_solved(at)
                if solved is None:
                    row.append("none")
                    continue
                values = [v for v in at.loc[at["seq_len"] == solved, "test"] if not is_missing(v)]
                value = f" ({format_sig(sum(values) / len(values), 2)})" if values else ""
                row.append(f"{solved}{value}")
            printed.append(row)
            if label.endswith("…"):
                lines.append(
                    (f'"{label}": {variant_details(group["variant"].iloc[0])}', f"longrange {problem} {model}")
                )
        title = f"longrange {problem}: largest T solved (test {metric} there)"
        blocks.append(ReportBlock(title, header, printed, keys=2 if show_variant else 1, source=(TASK, problem)))
    notes = [
        "long-range: the largest T at which most seeds succeed (test metric below 10% of the memoryless "
        "baseline), with the test metric there; none: no T tried was solved"
    ]
    return blocks, notes, lines


def _succeeded(record: dict) -> bool:
    metrics = (record.get("best") or {}).get("test_metrics") or {}
    return record.get("status") == "ok" and metrics.get("success") is True
