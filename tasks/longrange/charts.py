"""The long-range task's report charts: gradient norm against time step, and success against sequence length.

The task hands these to ``rnnbench report`` through ``LongRange.report_figures``,
which imports this module only when a report draws charts (HTML, Markdown
to a file); matplotlib itself is imported by the functions that draw, as
everywhere in rnnbench, so that importing the module stays cheap.
"""

from __future__ import annotations

import statistics

from rnnbench import (
    ReportFigure,
    backend_line_alpha,
    backend_line_style,
    backend_sort_key,
    chart_figure,
    chart_runs,
    chart_slug,
    chart_svg,
    is_missing,
    main_variant,
    model_colour,
    model_rank,
    unique_svg_ids,
)

from .report import TASK


def chart_groups(frame) -> list[tuple[str, list[ReportFigure]]]:
    """``[(heading, [ReportFigure, ...]), ...]``, in the report's order (a heading without charts is dropped there)."""
    return [
        ("Charts: gradient flow", gradient_flow_figures(frame)),
        ("Charts: success vs sequence length", success_figures(frame)),
    ]


def _task_runs(frame):
    """This task's runs, finished or not, with the labels charts group by; None when there are none."""
    runs = chart_runs(frame, status=None)
    if runs is None:
        return None
    runs = runs[runs["task"] == TASK]
    return None if runs.empty else runs


def gradient_flow_figures(frame) -> list[ReportFigure]:
    """||dLoss/dh_t|| against t at the first probed step: a panel per cell, T as colour, backend as line style."""
    runs = _task_runs(frame)
    if runs is None:
        return []
    runs = runs[[bool(r.get("gradient_flow")) for r in runs["record"]]]
    if runs.empty:
        return []
    runs = main_variant(runs)
    figures = []
    for problem, part in runs.groupby("problem_key", sort=True):
        models = sorted(part["model_label"].unique(), key=model_rank)
        lengths = sorted({int(t) for t in part["seq_len"] if not is_missing(t)}) or [0]
        fig, axes = chart_figure(len(models), columns=min(4, len(models)), panel_size=(3.4, 2.6))
        cmap = _t_colours(lengths)
        steps = set()
        for ax, model in zip(axes, models):
            at = part[part["model_label"] == model]
            for backend in sorted(at["backend"].unique(), key=backend_sort_key):
                style, width = backend_line_style(backend)
                for t in lengths:
                    rows = at[(at["backend"] == backend) & (at["seq_len"].fillna(0).astype(int) == t)]
                    if rows.empty:
                        continue
                    run = rows.sort_values("seed").iloc[0]
                    probe = min(run["record"]["gradient_flow"], key=lambda p: p["step"])
                    steps.add(probe["step"])
                    points = [(i + 1, v) for i, v in enumerate(probe["norms"]) if not is_missing(v) and v > 0]
                    if points:
                        ax.plot(
                            [p[0] for p in points],
                            [p[1] for p in points],
                            style,
                            linewidth=width,
                            color=cmap[t],
                            alpha=backend_line_alpha(backend),
                        )
            ax.set_yscale("log")
            ax.set_title(model)
            ax.set_xlabel("time step t")
            ax.set_ylabel("||dLoss/dh_t|| (log)")
        _legend_t_and_backends(fig, lengths, cmap, sorted(part["backend"].unique(), key=backend_sort_key))
        at = f"step {steps.pop()}" if len(steps) == 1 else "the first probed step"
        title = f"gradient norm against time step at {at}: longrange {problem} (T as colour, backend as line style)"
        figures.append(
            ReportFigure(
                title, unique_svg_ids(chart_svg(fig), f"grad{len(figures)}"), f"gradient-flow-{chart_slug(problem)}.svg"
            )
        )
    return figures


def success_figures(frame) -> list[ReportFigure]:
    """Test metric over the memoryless baseline against T, the success line at 0.1; a panel per problem."""
    runs = _task_runs(frame)
    if runs is None:
        return []
    runs = runs[runs["seq_len_key"] != "-"]
    if runs.empty:
        return []
    runs = main_variant(runs)
    problems = sorted(runs["problem_key"].unique())
    fig, axes = chart_figure(len(problems), columns=2, panel_size=(5.6, 3.2))
    drew = False
    for ax, problem in zip(axes, problems):
        part = runs[runs["problem_key"] == problem]
        for (model, backend), rows in sorted(
            part.groupby(["model_label", "backend"]), key=lambda g: (model_rank(g[0][0]), backend_sort_key(g[0][1]))
        ):
            points = {}
            for _, r in rows.iterrows():
                metrics = (r["record"].get("best") or {}).get("test_metrics") or {}
                value = _number(metrics.get("ratio_to_baseline"))
                if value is None and _number(metrics.get("baseline")) and _number(r["test"]) is not None:
                    value = r["test"] / metrics["baseline"]
                if r["status"] != "ok":
                    value = 1.0  # diverged: no better than the baseline
                if value is not None and value > 0:
                    points.setdefault(int(r["seq_len"]), []).append(value)
            if not points:
                continue
            xs = sorted(points)
            style, width = backend_line_style(backend)
            ax.plot(
                xs,
                [statistics.mean(points[x]) for x in xs],
                style,
                marker="o",
                markersize=3,
                linewidth=width,
                color=model_colour(model),
                label=f"{model}, {backend}",
                alpha=backend_line_alpha(backend),
            )
            drew = True
        low = ax.get_ylim()[0]
        ax.set_ylim(min(low, 0.05), max(ax.get_ylim()[1], 1.5))
        ax.axhline(0.1, color="black", linewidth=0.8)
        ax.text(1.0, 0.1, "success below ", fontsize=7, va="bottom", ha="right", transform=ax.get_yaxis_transform())
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"longrange {problem}")
        ax.set_xlabel("sequence length T (log)")
        ax.set_ylabel("test metric / baseline (log)")
        ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if not drew:
        fig.clf()
        return []
    return [
        ReportFigure(
            "success against sequence length: test metric over the memoryless baseline (below 0.1 solves)",
            unique_svg_ids(chart_svg(fig), "success"),
            "success-vs-T.svg",
        )
    ]


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and not is_missing(value) else None


def _t_colours(lengths) -> dict:
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    n = max(1, len(lengths) - 1)
    return {t: cmap(0.9 * i / n) for i, t in enumerate(lengths)}


def _legend_t_and_backends(fig, lengths, cmap, backends) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=cmap[t], linewidth=2) for t in lengths]
    labels = [f"T={t}" for t in lengths]
    for backend in backends:
        style, width = backend_line_style(backend)
        handles.append(Line2D([], [], color="black", linestyle=style, linewidth=width))
        labels.append(backend)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.02))
