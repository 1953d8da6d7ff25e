"""Which charts a report draws from the frame: gradient flow, learning curves, speed bars.

:mod:`plots` knows pixels; this module knows records. Each function returns
``[(title, svg), ...]`` for one heading of the HTML page.
"""
from __future__ import annotations

import statistics

from rnnbench.report.configs import differing_labels
from rnnbench.report.plots import bar_chart, line_chart
from rnnbench.report.section import missing, model_label, row_keys
from rnnbench.report.speed import CONFIG, latest_rows, shape_label

MAX_LINES = 10  # more lines than this on one chart cannot be told apart


def all_figures(frame) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(heading, [(title, svg), ...]), ...]`` for every heading that has something to draw."""
    groups = [("Plots: gradient flow", gradient_flow_figures(frame)),
              ("Plots: learning curves", learning_curve_figures(frame)),
              ("Plots: speed", speed_figures(frame))]
    return [(heading, figures) for heading, figures in groups if figures]


def gradient_flow_figures(frame) -> list[tuple[str, str]]:
    """||dLoss/dh_t|| against t at the first probed step, one line per model and backend (lowest seed)."""
    runs = _ok_runs(frame)
    if runs is None:
        return []
    runs = runs[runs["record"].map(lambda r: bool(r.get("gradient_flow"))).astype(bool)]
    figures = []
    for (task, dataset, seq_len), part in runs.groupby(["task", "dataset", "seq_len_key"], sort=True):
        series, steps = [], set()
        for _, run in part.sort_values("seed").drop_duplicates(["model_label", "backend", "impl"]).iterrows():
            probe = min(run["record"]["gradient_flow"], key=lambda p: p["step"])
            steps.add(probe["step"])
            norms = probe["norms"]
            series.append((run["model_label_full"], range(1, len(norms) + 1), norms))
        at = f"step {steps.pop()}" if len(steps) == 1 else "first probed step"
        where = _where(task, dataset, seq_len)
        figures.append((f"gradient flow: {where}", line_chart(
            series[:MAX_LINES], title=f"||dLoss/dh_t|| at {at}: {where}", x_label="time step t",
            y_label="mean gradient norm (log)", log_y=True)))
    return figures


def learning_curve_figures(frame) -> list[tuple[str, str]]:
    """Training loss and dev metric per epoch, mean over the seeds of each configuration."""
    runs = _ok_runs(frame)
    if runs is None:
        return []
    figures = []
    for (task, dataset, seq_len), part in runs.groupby(["task", "dataset", "seq_len_key"], sort=True):
        where = _where(task, dataset, seq_len)
        metric = part["metric"].iloc[0]
        loss, dev = [], []
        groups = dict(list(part.groupby(["model_label_full", "config_key"], sort=True)))
        differ = differing_labels({key: rows["record"].iloc[0].get("config") or {} for key, rows in groups.items()})
        for (label, key), group in groups.items():
            label = f"{label} {differ[(label, key)]}".strip()
            epochs = _mean_by_epoch([r.get("epochs") or [] for r in group["record"]])
            xs = sorted(epochs)
            loss.append((label, xs, [epochs[e].get("mean_loss") for e in xs]))
            dev.append((label, xs, [epochs[e].get("dev") for e in xs]))
        for name, series, log_y in (("training loss", loss, True), (f"dev {metric}", dev, False)):
            figures.append((f"{name}: {where}", line_chart(
                series[:MAX_LINES], title=f"{name} per epoch: {where}", x_label="epoch",
                y_label=name + (" (log)" if log_y else ""), log_y=log_y)))
    return figures


def speed_figures(frame) -> list[tuple[str, str]]:
    """Median time per call of every backend, one chart per configuration and machine."""
    rows = frame[(frame["kind"] == "bench") & (frame["status"] == "ok")]
    if rows.empty:
        return []
    rows, _ = latest_rows(rows)
    figures = []
    for _, part in rows.groupby(row_keys(rows, CONFIG), sort=True):
        first = part.iloc[0]
        part = part.sort_values("median_s")
        threads = "" if missing(first["threads"]) else f", {int(first['threads'])} threads"
        title = f"{first['cell']} {first['pass']} {first['dtype']} {shape_label(first)}{threads} ({first['host']})"
        bars = [(f"{r['backend']} {r['impl']}" + ("" if r["device"] in (None, "cpu") else f" {r['device']}"),
                 1000.0 * r["median_s"]) for _, r in part.iterrows()]
        figures.append((title, bar_chart(bars, title=title, unit="ms")))
    return figures


def _where(task, dataset, seq_len) -> str:
    """``longrange adding-T200``; T is added only when the dataset name does not already say it."""
    said = seq_len == "-" or str(dataset).endswith(f"T{seq_len}")
    return f"{task} {dataset}" + ("" if said else f", T={seq_len}")


def _ok_runs(frame):
    """Runs that finished, with the labels the charts group and name them by (None when there are none)."""
    runs = frame[(frame["kind"] == "run") & (frame["status"] == "ok")]
    if runs.empty:
        return None
    several_impls = runs.groupby(["task", "dataset", "model", "backend"])["impl"].transform("nunique") > 1
    labels = [model_label(m, a) for m, a in zip(runs["model"], runs["activation"])]
    return runs.assign(
        model_label=labels, impl=runs["impl"].fillna("-"),
        seq_len_key=[("-" if missing(t) else str(int(t))) for t in runs["seq_len"]],
        model_label_full=[f"{m} {b}" + (f" {i}" if several else "")
                          for m, b, i, several in zip(labels, runs["backend"], runs["impl"], several_impls)])


def _mean_by_epoch(epoch_lists) -> dict:
    """``{epoch: {"mean_loss": mean, "dev": mean}}`` over the runs that reached that epoch."""
    merged = {}
    for epochs in epoch_lists:
        for entry in epochs:
            merged.setdefault(entry["epoch"], []).append(entry)
    return {epoch: {key: _mean([e.get(key) for e in entries]) for key in ("mean_loss", "dev")}
            for epoch, entries in merged.items()}


def _mean(values):
    values = [v for v in values if not missing(v)]
    return statistics.mean(values) if values else None
