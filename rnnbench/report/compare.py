"""``--compare``: the same configurations in two result sets, and the changes beyond a threshold.

Rows are matched on everything that defines a measurement except the
machine, so two results directories, or two machines in one directory, can
be set side by side. Speed compares medians (B over A); accuracy compares the
mean over seeds on test (dev where a run has no test), in points for
percentages; parity flags a case that passed in A and fails in B.
"""
from __future__ import annotations

import pandas as pd

from rnnbench.report.accuracy import summarise_runs
from rnnbench.report.parity import CASE_IDENTITY
from rnnbench.report.section import Block, Section, missing, row_keys, sig
from rnnbench.report.speed import IDENTITY, latest_rows, shape_label
from rnnbench.report.variants import DEFAULT_LABEL

ACCURACY_KEY = ["task", "dataset", "model", "backend", "impl", "device", "config_key"]
SPEED_KEY = [c for c in IDENTITY if c != "host"]
PARITY_KEY = [c for c in CASE_IDENTITY if c != "host"]


def compare(frame_a, frame_b, label_a: str, label_b: str, threshold: float = 0.05,
            accuracy_points: float = 1.0) -> tuple[Section, int]:
    """The comparison section and the number of regressions it flags.

    ``threshold`` is relative (0.05: 5 % slower median, or a loss-like metric
    5 % worse); ``accuracy_points`` is in percentage points.
    """
    blocks, frames, notes = [], [], []
    for kind, builder in (("accuracy", _accuracy), ("speed", _speed), ("parity", _parity)):
        rows, only_a, only_b = builder(frame_a, frame_b, threshold, accuracy_points)
        if rows is not None and len(rows):
            blocks.append(Block(kind, ["configuration", label_a, label_b, "change", "verdict"],
                                rows[["configuration", "a_text", "b_text", "change_text", "verdict"]].values.tolist()))
            frames.append(rows.assign(kind=kind))
        if only_a or only_b:
            notes.append(f"{kind}: {only_a} configuration(s) only in {label_a}, {only_b} only in {label_b} "
                         f"(not compared)")
    notes += _machine_notes(frame_a, frame_b, label_a, label_b)
    notes.insert(0, f"regression: speed median more than {100 * threshold:g}% slower; accuracy more than "
                    f"{accuracy_points:g} percentage point(s) worse (other metrics: {100 * threshold:g}% worse); "
                    f"a check that passed and now fails")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    regressions = int((table["verdict"] == "REGRESSION").sum()) if len(table) else 0
    return Section("compare", f"Comparison: {label_b} against {label_a}", table, blocks, notes), regressions


def _accuracy(frame_a, frame_b, threshold, points):
    runs_a, runs_b = (f[f["kind"] == "run"] for f in (frame_a, frame_b))
    if runs_a.empty or runs_b.empty:
        return None, _count(runs_a, ACCURACY_KEY), _count(runs_b, ACCURACY_KEY)
    merged, only_a, only_b = _match(summarise_runs(runs_a), summarise_runs(runs_b), ACCURACY_KEY)
    out = []
    for _, r in merged.iterrows():
        split = "test" if not missing(r["test_mean_a"]) and not missing(r["test_mean_b"]) else "dev"
        a, b = r[f"{split}_mean_a"], r[f"{split}_mean_b"]
        better = 1.0 if r["higher_is_better_a"] else -1.0
        if r["percent_a"] and r["percent_b"]:
            change = 100.0 * (b - a)
            worse, text = -better * change > points, f"{change:+.1f} pt"
            improved = better * change > points
            a_text, b_text = f"{100 * a:.1f} (n={r['n_a']})", f"{100 * b:.1f} (n={r['n_b']})"
        else:
            change = (b - a) / abs(a) if a else float("inf")
            worse, improved, text = -better * change > threshold, better * change > threshold, f"{100 * change:+.1f}%"
            a_text, b_text = f"{sig(a, 4)} (n={r['n_a']})", f"{sig(b, 4)} (n={r['n_b']})"
        label = " ".join(str(r[k]) for k in ("task", "dataset", "model", "backend", "impl"))
        label += "" if r["device"] == "cpu" else f" {r['device']}"
        label += f" {r['metric_a']} {split}" + (f" [{r['variant_a']}]" if r["variant_a"] != DEFAULT_LABEL else "")
        out.append({**{k: r[k] for k in ACCURACY_KEY}, "configuration": label, "a": a, "b": b, "change": change,
                    "a_text": a_text, "b_text": b_text, "change_text": text, "verdict": _verdict(worse, improved)})
    return pd.DataFrame(out), only_a, only_b


def _speed(frame_a, frame_b, threshold, points):
    rows_a, rows_b = (f[(f["kind"] == "bench") & (f["status"] == "ok")] for f in (frame_a, frame_b))
    if rows_a.empty or rows_b.empty:
        return None, _count(rows_a, SPEED_KEY), _count(rows_b, SPEED_KEY)
    merged, only_a, only_b = _match(latest_rows(rows_a)[0], latest_rows(rows_b)[0], SPEED_KEY)
    out = []
    for _, r in merged.iterrows():
        a, b = r["median_s_a"], r["median_s_b"]
        change = b / a - 1.0
        row = {k: r[k] for k in SPEED_KEY}
        label = f"{r['cell']} {r['pass']} {r['dtype']} {shape_label({**row, 'steps': r['steps_a']})} " \
                f"threads={_int(r['threads'])} " \
                f"{r['backend']} {r['impl']}" + ("" if r["device"] in (None, "cpu") else f" {r['device']}")
        out.append({**row, "configuration": label, "a": a, "b": b, "change": change,
                    "a_text": f"{sig(1000 * a)} ms", "b_text": f"{sig(1000 * b)} ms",
                    "change_text": f"{100 * change:+.1f}%",
                    "verdict": _verdict(change > threshold, change < -threshold, better="faster")})
    return pd.DataFrame(out), only_a, only_b


def _parity(frame_a, frame_b, threshold, points):
    rows_a, rows_b = (f[f["kind"] == "check"].sort_values("started_at", kind="stable")
                      .drop_duplicates(PARITY_KEY, keep="last") for f in (frame_a, frame_b))
    if rows_a.empty or rows_b.empty:
        return None, _count(rows_a, PARITY_KEY), _count(rows_b, PARITY_KEY)
    merged, only_a, only_b = _match(rows_a, rows_b, PARITY_KEY)
    out = []
    for _, r in merged.iterrows():
        failed_now, fixed = bool(r["passed_a"] and not r["passed_b"]), bool(r["passed_b"] and not r["passed_a"])
        out.append({**{k: r[k] for k in PARITY_KEY}, "a": r["max_rel_a"], "b": r["max_rel_b"], "change": None,
                    "configuration": " ".join(str(r[k]) for k in PARITY_KEY),
                    "a_text": _check_text(r["passed_a"], r["max_rel_a"]),
                    "b_text": _check_text(r["passed_b"], r["max_rel_b"]),
                    "change_text": "", "verdict": _verdict(failed_now, fixed, better="fixed")})
    return pd.DataFrame(out), only_a, only_b


def _match(a, b, key):
    """Rows present in both (columns suffixed _a and _b), and how many were only in one."""
    a, b = (f.assign(_key=row_keys(f, key)) for f in (a, b))
    merged = a.merge(b, on="_key", suffixes=("_a", "_b"))
    for column in key:  # the key columns, unsuffixed, for labels
        merged[column] = merged[f"{column}_a"]
    return merged, int((~a["_key"].isin(b["_key"])).sum()), int((~b["_key"].isin(a["_key"])).sum())


def _count(rows, key) -> int:
    return 0 if rows.empty else len(set(row_keys(rows, key)))


def _verdict(worse: bool, improved: bool, better: str = "improved") -> str:
    return "REGRESSION" if worse else (better if improved else "")


def _check_text(passed, max_rel) -> str:
    return ("pass" if passed else "FAIL") + ("" if missing(max_rel) else f" {max_rel:.1e}")


def _int(value) -> str:
    return "-" if missing(value) else str(int(value))


def _machine_notes(frame_a, frame_b, label_a, label_b) -> list[str]:
    """pyperf's warning: a speed change between two machines is partly the machine."""
    machines = [sorted({f"{h} ({c})" for h, c in zip(f["host"], f.get("cpu_model", f["host"])) if h})
                for f in (frame_a, frame_b)]
    if machines[0] and machines[1] and machines[0] != machines[1]:
        return [f"{label_a} ran on {', '.join(machines[0])} and {label_b} on {', '.join(machines[1])}: "
                f"speed changes include the machine"]
    return []
