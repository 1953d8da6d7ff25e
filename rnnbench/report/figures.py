"""Which charts a report draws from the frame: accuracy, speed, each task's own, learning curves.

:mod:`plots` knows matplotlib; this module knows records. :func:`all_figures`
returns ``[(heading, [Figure, ...]), ...]``; each chart reads the same
aggregation as its table (seeds pooled per variant, latest measurement). A
task's own charts (``Task.report_figures``: long-range gradient flow and
success vs T) come between the speed charts and the learning curves.
"""

from __future__ import annotations

import statistics

from rnnbench.report.accuracy import summarise_runs
from rnnbench.report.hooks import task_figures
from rnnbench.report.plots import (
    colour,
    figure,
    line_alpha,
    line_style,
    model_colour,
    style_context,
    to_svg,
    unique_ids,
)
from rnnbench.report.render import Figure
from rnnbench.report.section import missing, model_label, row_keys
from rnnbench.report.speed import shape_label
from rnnbench.report.summary import backend_sort_key, when
from rnnbench.report.variants import DEFAULT_LABEL

MODEL_ORDER = ("rnn", "rnn (relu)", "gru", "lstm", "recursive", "treelstm")


def all_figures(frame) -> list[tuple[str, list[Figure]]]:
    """``[(heading, [Figure, ...]), ...]`` for every heading that has something to draw."""
    with style_context():
        groups = [
            ("Charts: accuracy", accuracy_figures(frame)),
            ("Charts: speed", speed_figures(frame)),
            *task_figures(frame),
            ("Charts: learning curves", learning_curve_figures(frame) + wall_time_curve_figures(frame)),
        ]
    return [(heading, figures) for heading, figures in groups if figures]


def accuracy_figures(frame) -> list[Figure]:
    """Test metric by model, one bar per backend with the seeds' sd as error bar; a panel per dataset."""
    runs = chart_runs(frame)
    if runs is None:
        return []
    runs = runs[runs["seq_len_key"] == "-"]
    if runs.empty:
        return []
    table = summarise_runs(runs)
    table = table[table["variant"] == DEFAULT_LABEL] if (table["variant"] == DEFAULT_LABEL).any() else table
    panels = list(table.groupby(["task", "dataset", "metric"], sort=True))
    backends = sorted(table["backend"].unique(), key=backend_sort_key)
    fig, axes = figure(len(panels))
    for ax, ((task, dataset, metric), part) in zip(axes, panels):
        scale = 100.0 if part["percent"].all() else 1.0
        models = sorted(part["model"].unique(), key=model_rank)
        present = [b for b in backends if b in set(part["backend"])]  # no gap for a backend this panel lacks
        width = 0.6 / max(1, len(present))
        for j, backend in enumerate(present):
            xs, ys, errs = [], [], []
            for i, model in enumerate(models):
                rows = part[(part["model"] == model) & (part["backend"] == backend)]
                if rows.empty:
                    continue
                r = rows.iloc[0]
                mean = r["test_mean"] if not missing(r["test_mean"]) else r["dev_mean"]
                sd = r["test_sd"] if not missing(r["test_mean"]) else r["dev_sd"]
                xs.append(i - 0.3 + width * (j + 0.5))
                ys.append(scale * mean)
                errs.append(0.0 if missing(sd) else scale * sd)
            if xs:  # points, not bars: the axis does not start at zero
                ax.errorbar(
                    xs,
                    ys,
                    yerr=errs,
                    fmt="o",
                    markersize=5,
                    capsize=3,
                    elinewidth=1.2,
                    color=colour(backend, backends),
                    label=backend,
                )
        values = [scale * v for v in part["test_mean"].fillna(part["dev_mean"]) if not missing(v)]
        if values:
            low, high = min(values), max(values)
            pad = max(1e-9, (high - low) * 0.6 + (2.0 if scale == 100 else 0.05 * abs(high)))
            ax.set_ylim(max(0.0, low - pad), high + pad / 2)
        ax.set_xticks(
            range(len(models)), models, fontsize=7 if len(models) > 3 else 8, rotation=20 if len(models) > 4 else 0
        )
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.set_title(f"{task} {dataset}")
        ax.set_ylabel(f"test {metric}{' %' if scale == 100 else ''}")
    _legend(fig, axes)
    return [
        Figure(
            "test metric by model and backend (mean ± sd over seeds; default variants)",
            unique_ids(to_svg(fig), "acc"),
            "accuracy.svg",
        )
    ]


def speed_figures(frame) -> list[Figure]:
    """Dot plots of each backend's fastest impl against the fastest backend (ratio, linear axis, a line at 1.0),
    with the ratio's 95% interval as whiskers where the record sampled in interleaved rounds: one chart per bench
    record (a session, as in the summary), a panel per pass, a row per cell and size. Only trusted rows: a
    ratio's length never starts at an arbitrary baseline, and a noisy median never looks like a measurement."""
    from rnnbench.report.trust import shown_ratio

    rows = frame[(frame["kind"] == "bench") & (frame["status"] == "ok")]
    if rows.empty or "median_s" not in rows.columns:
        return []
    rows = rows[rows["median_s"].notna()]
    if rows.empty:
        return []
    rows = rows.assign(size=[shape_label(r) for _, r in rows.iterrows()])
    group_by = ["cell", "size", "dtype", "threads"]
    trusted = rows["trusted"].astype(bool) if "trusted" in rows else rows["status"].eq("ok")
    incomplete = (
        {(p, k) for p, k in zip(rows.loc[~trusted, "path"], row_keys(rows[~trusted], group_by + ["pass"]))}
        if (~trusted).any()
        else set()
    )
    rows = rows[trusted]
    if rows.empty:
        return []
    all_backends = sorted(rows["backend"].unique(), key=backend_sort_key)
    figures = []
    sessions = sorted(rows.groupby("path", sort=False), key=lambda g: (-len(g[1]), str(g[1]["started_at"].iloc[0])))
    for path, session in sessions:
        first = session.iloc[0]
        passes = sorted(session["pass"].dropna().astype(str).unique(), key=lambda p: (p != "forward+backward", p))
        backends = [b for b in all_backends if b in set(session["backend"])]
        height = session.drop_duplicates(group_by).shape[0]
        fig, axes = figure(len(passes), columns=min(2, len(passes)), panel_size=(5.0, max(2.2, 0.32 * height + 1.2)))
        for ax, pass_ in zip(axes, passes):
            part = session[session["pass"] == pass_]
            best = part.sort_values("median_s").drop_duplicates(group_by + ["backend"])
            groups = sorted(
                best.groupby(group_by, sort=False), key=lambda g: (model_rank(g[0][0]), g[1]["median_s"].min())
            )
            step = 0.6 / max(1, len(backends))
            for j, backend in enumerate(backends):
                ys, xs, low, high = [], [], [], []
                for i, (_, group) in enumerate(groups):
                    at = group[group["backend"] == backend]
                    if at.empty:
                        continue
                    complete = (path, row_keys(group.iloc[:1], group_by + ["pass"])[0]) not in incomplete
                    ratio, ci = shown_ratio(at.iloc[0], group["median_s"].min(), complete)
                    if ratio is None:
                        continue
                    ys.append(i - 0.3 + step * (j + 0.5))
                    xs.append(ratio)
                    low.append(max(0.0, ratio - ci[0]) if ci else 0.0)
                    high.append(max(0.0, ci[1] - ratio) if ci else 0.0)
                if xs:  # whiskers only where an interval exists (zero-length otherwise: nothing drawn)
                    ax.errorbar(
                        xs,
                        ys,
                        xerr=[low, high],
                        fmt="o",
                        markersize=5,
                        capsize=3,
                        elinewidth=1.2,
                        color=colour(backend, all_backends),
                        label=backend,
                    )
            ax.axvline(1.0, color="black", linewidth=0.8)
            ax.set_xlim(left=min(0.9, ax.get_xlim()[0]))
            ax.set_yticks(
                range(len(groups)), [_tick(c, size).replace("\n", " ") for (c, size, _, _), _ in groups], fontsize=7
            )
            ax.set_ylim(len(groups) - 0.5, -0.5)  # the first group on top
            ax.set_xlabel("× the fastest backend (1.0 = fastest; whiskers: 95% interval)")
            ax.set_title(f"{pass_}: each backend's fastest impl")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)  # outside: never over a dot
        suite, day = str(first.get("suite") or "bench"), when(first["started_at"])
        where = f", {first['host']}" if rows["host"].nunique() > 1 else ""
        figures.append(
            Figure(
                f"speed, {suite} {day}{where}: ratio to the fastest backend",
                unique_ids(to_svg(fig), f"speed{len(figures)}"),
                f"speed-{chart_slug(suite)}-{chart_slug(day)}{'-' + chart_slug(first['host']) if where else ''}.svg",
            )
        )
    return figures


def learning_curve_figures(frame) -> list[Figure]:
    """Dev metric per epoch, mean over seeds: a panel per dataset, model as colour, backend as line style."""
    panels = _curve_panels(frame)
    if not panels:
        return []
    fig, axes = figure(len(panels))
    for ax, ((task, dataset), part) in zip(axes, panels):
        for (model, backend), group in sorted(
            part.groupby(["model_label", "backend"]), key=lambda g: (model_rank(g[0][0]), backend_sort_key(g[0][1]))
        ):
            epochs = _mean_by_epoch([r.get("epochs") or [] for r in group["record"]])
            xs = [e for e in sorted(epochs) if not missing(epochs[e])]
            if not xs:
                continue
            scale = 100.0 if all(0 <= epochs[e] <= 1 for e in xs) and group["higher_is_better"].all() else 1.0
            style, width = line_style(backend)
            ax.plot(
                xs,
                [scale * epochs[e] for e in xs],
                style,
                marker="o",
                markersize=2.5,
                linewidth=width,
                color=model_colour(model),
                label=f"{model}, {backend}",
                alpha=line_alpha(backend),
            )
        ax.set_title(f"{task} {dataset}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"dev {part['metric'].iloc[0]}")
        ax.legend(fontsize=6, frameon=False, ncol=2)
    return [
        Figure(
            "dev metric per epoch (mean over seeds; model as colour, backend as line style)",
            unique_ids(to_svg(fig), "curves"),
            "learning-curves.svg",
        )
    ]


def wall_time_curve_figures(frame) -> list[Figure]:
    """Dev metric against training seconds (mean over the seeds timed on a quiet machine, epoch by epoch): a
    panel per dataset, model as colour, backend as line style, the task's dev target as a dashed line."""
    from rnnbench.report.cost import busy, declared_target, history

    panels = _curve_panels(frame, keep=lambda record: not busy(record))
    if not panels:
        return []
    fig, axes = figure(len(panels))
    for ax, ((task, dataset), part) in zip(axes, panels):
        metric = part["metric"].iloc[0]
        scale = (
            100.0 if all(0 <= v <= 1 for v in part["dev"] if not missing(v)) and part["higher_is_better"].all() else 1.0
        )
        for (model, backend), group in sorted(
            part.groupby(["model_label", "backend"]), key=lambda g: (model_rank(g[0][0]), backend_sort_key(g[0][1]))
        ):
            points = _mean_by_epoch_end([history({"epochs": r.get("epochs")}) for r in group["record"]])
            if not points:
                continue
            style, width = line_style(backend)
            ax.plot(
                [x for x, _ in points],
                [scale * y for _, y in points],
                style,
                marker="o",
                markersize=2.5,
                linewidth=width,
                color=model_colour(model),
                label=f"{model}, {backend}",
                alpha=line_alpha(backend),
            )
        target = declared_target(task, dataset, metric)
        if target is not None:
            ax.axhline(scale * target, color="0.5", linestyle=":", linewidth=1, label="target")
        ax.set_title(f"{task} {dataset}")
        ax.set_xlabel("training seconds")
        ax.set_ylabel(f"dev {metric}")
        if ax.get_legend_handles_labels()[0]:  # a panel whose runs have no history draws no lines
            ax.legend(fontsize=6, frameon=False, ncol=2)
    return [
        Figure(
            "dev metric against training seconds (runs on a quiet machine, mean over seeds; the dotted "
            "line is the task's dev target)",
            unique_ids(to_svg(fig), "wallcurves"),
            "learning-curves-time.svg",
        )
    ]


def _curve_panels(frame, keep=None) -> list:
    """``[((task, dataset), runs), ...]`` for the learning-curve charts: finished runs that are not long-range,
    of each model's main variant, those whose record ``keep`` accepts (all when None)."""
    runs = chart_runs(frame)
    if runs is None:
        return []
    wanted = (runs["seq_len_key"] == "-").to_numpy().copy()
    if keep is not None:
        wanted &= [bool(keep(record)) for record in runs["record"]]
    runs = runs[wanted]
    return [] if runs.empty else list(main_variant(runs).groupby(["task", "dataset"], sort=True))


def _mean_by_epoch_end(histories) -> list[tuple[float, float]]:
    """``(mean training seconds, mean dev)`` at each epoch end the seeds share."""
    length = min((len(h) for h in histories), default=0)
    return [
        (statistics.mean(h[i][0] for h in histories), statistics.mean(h[i][1] for h in histories))
        for i in range(length)
    ]


def chart_runs(frame, status="ok"):
    """Runs (finished ones unless ``status`` is None), with the labels charts group by; None when there are none."""
    runs = frame[frame["kind"] == "run"]
    if status is not None:
        runs = runs[runs["status"] == status]
    if runs.empty:
        return None
    seq = runs["seq_len"] if "seq_len" in runs.columns else [None] * len(runs)
    problem = runs["problem"] if "problem" in runs.columns else runs["dataset"]
    return runs.assign(
        model_label=[model_label(m, a) for m, a in zip(runs["model"], runs.get("activation", [None] * len(runs)))],
        seq_len_key=[("-" if missing(t) else str(int(t))) for t in seq],
        problem_key=[p if isinstance(p, str) else d for p, d in zip(problem, runs["dataset"])],
    )


def main_variant(runs):
    """Per task, dataset and model, the runs of the variant with the most records: one curve per backend."""
    keep = []
    problem = runs["problem_key"] if "problem_key" in runs.columns else runs["dataset"]
    runs = runs.assign(_table=[p if s != "-" else d for p, s, d in zip(problem, runs["seq_len_key"], runs["dataset"])])
    for _, part in runs.groupby(["task", "_table", "model_label"], sort=False):
        counts = part["config_key"].value_counts()
        best = sorted(counts.index, key=lambda k: (-counts[k], k != "{}", k))[0]  # ties: the defaults
        keep.extend(part.index[part["config_key"] == best])
    return runs.loc[sorted(keep)]


def _mean_by_epoch(epoch_lists) -> dict:
    merged = {}
    for epochs in epoch_lists:
        for entry in epochs:
            value = entry.get("dev")
            if not missing(value):
                merged.setdefault(entry["epoch"], []).append(value)
    return {epoch: statistics.mean(values) for epoch, values in merged.items()}


def _legend(fig, axes) -> None:
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.01))
        fig.subplots_adjust(bottom=0.2)


def _tick(cell, size) -> str:
    """``lstm`` over its size; a tree batch's label on two lines so neighbours do not overlap."""
    return f"{cell}\n" + str(size).replace(" trees ", " trees\n", 1).replace(") ", ")\n", 1)


def model_rank(model):
    """The sort key that puts models in the charts' order (rnn, rnn (relu), gru, lstm, recursive, treelstm)."""
    return (MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER), str(model))


def chart_slug(text) -> str:
    """``text`` as part of a chart's file name: letters and digits, every other character a hyphen."""
    return "".join(c if c.isalnum() else "-" for c in str(text)).strip("-").lower()
