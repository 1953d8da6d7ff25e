"""The accuracy table: task x dataset x model x backend, mean ± sample sd over seeds, per split.

Seeds are averaged only within one variant (:mod:`variants`); where a
dataset's rows include runs that changed the task's defaults, a short
``variant`` label says how, and the section's details list every option. Dev is the split the model was
chosen on; test is read once, at the best dev point. Published figures from the record print beside ours.
"""

from __future__ import annotations

import re
import statistics

import pandas as pd

from rnnbench.params import CELLS
from rnnbench.report.section import Block, Section, mean_sd, missing, sig
from rnnbench.report.variants import DEFAULT_LABEL, details, variant_labels

GROUP = ["task", "dataset", "model", "backend", "impl", "device", "config_key"]


def accuracy_section(frame) -> Section | None:
    runs = frame[frame["kind"] == "run"]
    if runs.empty:
        return None
    summary = summarise_runs(runs)
    blocks, notes = (
        [],
        [
            "mean ± sample standard deviation over n seeds of one configuration; dev is the "
            "model-selection split, test is measured once at the best dev epoch"
        ],
    )
    for (task, metric), part in summary.groupby(["task", "metric"], sort=True):
        shared = part["published"].iloc[0] if part["published"].nunique() == 1 and len(part) > 1 else ""
        blocks.append(_task_block(task, metric, part, published_column=not shared))
        if shared:
            notes.append(f"published, for every {task} {metric} row: {shared}")
    if summary.attrs.get("superseded"):
        notes.append(
            f"{summary.attrs['superseded']} run(s) repeated with the same seed and configuration "
            f"were left out: the latest of each counts"
        )
    return Section(
        "accuracy",
        "Accuracy",
        summary.drop(columns=["config_key", "percent", "variant_diff"]),
        blocks,
        notes,
        details=variant_details(summary),
    )


def variant_details(summary) -> list[str]:
    """``task dataset model "label": every option it changed``, once per labelled variant."""
    lines = []
    for _, r in summary.iterrows():
        if r["variant"] != DEFAULT_LABEL:
            line = f'{r["task"]} {r["dataset"]} {r["model"]} "{r["variant"]}": {details(r["variant_diff"])}'
            if line not in lines:
                lines.append(line)
    return lines


def summarise_runs(runs) -> pd.DataFrame:
    """One row per configuration: n seeds, mean and sd of dev, test and every extra metric."""
    runs = runs.assign(
        model=runs["model"].fillna("-"), impl=runs["impl"].fillna("-"), device=runs["device"].fillna("cpu")
    )
    latest = runs.sort_values("started_at", kind="stable").drop_duplicates(GROUP + ["seed"], keep="last")
    superseded, runs = len(runs) - len(latest), latest
    diffs = {key: rows["variant"].iloc[0] for key, rows in runs.groupby(GROUP, sort=False)}
    labels = {}
    for keys in _by_dataset(diffs).values():
        labels.update(variant_labels({k: diffs[k] for k in keys}))
    out = []
    for key, rows in runs.groupby(GROUP, sort=True):
        first = rows.iloc[0]
        entry = dict(zip(GROUP, key))
        entry.update(
            variant=labels.get(key, DEFAULT_LABEL),
            variant_diff=first["variant"],
            metric=first["metric"],
            higher_is_better=bool(first["higher_is_better"]),
            n=len(rows),
            seeds=",".join(str(s) for s in sorted(rows["seed"])),
        )
        for column in ["dev", "test"] + _extra_columns(rows):
            values = [v for v in rows[column] if not missing(v)]
            if values and all(isinstance(v, (bool,)) for v in values):
                entry[f"{column}_count"] = sum(values)
                entry[f"{column}_n"] = len(values)
                continue
            values = [float(v) for v in values]
            entry[f"{column}_mean"] = statistics.mean(values) if values else None
            entry[f"{column}_sd"] = statistics.stdev(values) if len(values) > 1 else None
        entry["published"] = _published(rows)
        out.append(entry)
    summary = pd.DataFrame(out)
    summary["percent"] = summary.apply(_is_fraction, axis=1)
    columns = ("task", "dataset", "model", "variant", "backend", "impl", "device")
    order = sorted(range(len(summary)), key=lambda i: [natural_key(summary.at[i, c]) for c in columns])
    summary = summary.iloc[order].reset_index(drop=True)
    summary.attrs["superseded"] = superseded
    return summary


def natural_key(value) -> list:
    """Sort ``seq_len=50`` before ``seq_len=100``: digit runs compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(value))]


def _by_dataset(configs: dict) -> dict:
    grouped = {}
    for key in configs:
        grouped.setdefault((key[0], key[1]), []).append(key)
    return grouped


def _extra_columns(rows) -> list[str]:
    return sorted(c for c in rows.columns if c.startswith(("dev_", "test_")) and rows[c].notna().any())


def _is_fraction(entry) -> bool:
    """Accuracy-like: higher is better and every value lies in [0, 1], so it prints as a percentage."""
    if not entry["higher_is_better"]:
        return False
    values = [entry.get(f"{s}_mean") for s in ("dev", "test")]
    values = [v for v in values if not missing(v)]
    return bool(values) and all(0.0 <= v <= 1.0 for v in values)


def _published(rows) -> str:
    """The published figures the records carry for this row, as ``value metric[, model] (source)``.

    A figure for one of our cells belongs to that cell's rows only; a
    reference point that is no cell of ours (a baseline) belongs to every row.
    """
    model = rows.iloc[0]["model"]
    seen = []
    for record in rows["record"]:
        for entry in (record.get("data") or {}).get("published") or []:
            other = entry.get("model")
            if other in CELLS and other != model:
                continue
            value = entry.get("value")
            text = " ".join(
                str(part)
                for part in (sig(value, 4) if isinstance(value, float) else value, entry.get("metric") or "")
                if part != ""
            )
            if other not in (None, model):
                text += f", {other}"
            text += f" ({entry.get('source', '?')})"
            if text not in seen:
                seen.append(text)
    return "; ".join(seen)


def _task_block(task: str, metric: str, part: pd.DataFrame, published_column: bool = True) -> Block:
    percent = bool(part["percent"].all())
    repeats = {"test_mean", f"test_{metric}_mean", "test_count", f"test_{metric}_count"}  # the main metric again
    extras = [
        c[: -len("_mean")]
        for c in part.columns
        if c.startswith("test_") and c.endswith("_mean") and c not in repeats and part[c].notna().any()
    ]
    counts = [
        c[: -len("_count")]
        for c in part.columns
        if c.startswith("test_") and c.endswith("_count") and c not in repeats and part[c].notna().any()
    ]
    show_config = bool((part["variant"] != DEFAULT_LABEL).any())
    show_device = part["device"].nunique() > 1
    show_published = published_column and bool(part["published"].astype(bool).any())
    unit = " %" if percent else ""
    extra_percent = {c: percent and all(_fraction(v) for v in part[f"{c}_mean"] if not missing(v)) for c in extras}
    header = (
        ["dataset", "model", "backend", "impl"]
        + (["device"] if show_device else [])
        + (["variant"] if show_config else [])
        + ["n", f"dev {metric}{unit}", f"test {metric}{unit}"]
        + [f"test {c[5:]}{' %' if extra_percent[c] else ''}" for c in extras]
        + [f"test {c[5:]}" for c in counts]
        + (["published"] if show_published else [])
    )
    rows = []
    for _, r in part.iterrows():
        scale, decimals = (100.0, 1) if percent else (1.0, None)
        cells = (
            [r["dataset"], r["model"], r["backend"], r["impl"]]
            + ([r["device"]] if show_device else [])
            + ([r["variant"]] if show_config else [])
        )
        cells += [
            str(r["n"]),
            mean_sd(r["dev_mean"], r["dev_sd"], r["n"], scale, decimals),
            mean_sd(r["test_mean"], r["test_sd"], r["n"], scale, decimals),
        ]
        for column in extras:
            cells.append(
                mean_sd(
                    r.get(f"{column}_mean"),
                    r.get(f"{column}_sd"),
                    r["n"],
                    100.0 if extra_percent[column] else 1.0,
                    1 if extra_percent[column] else None,
                )
            )
        for column in counts:
            count = r.get(f"{column}_count")
            cells.append("-" if missing(count) else f"{int(count)}/{int(r[f'{column}_n'])}")
        if show_published:
            cells.append(r["published"] or "-")
        rows.append(cells)
    better = "" if part["higher_is_better"].all() else ", lower is better"
    title = f"{task}: {metric}{' in %' if percent else ''}{better}"
    return Block(title, header, rows, keys=5 if show_config else 4)


def _fraction(value) -> bool:
    return not missing(value) and 0.0 <= value <= 1.0
