"""Two result sets side by side: what changed, and whether the change is more than noise.

The one implementation behind ``rnnbench report --compare`` and ``rnnbench compare``, so the two never
disagree. Rows are matched on everything that defines a measurement except the machine, so two results
directories, or two machines in one directory, can be set side by side; where a side measured a
configuration several times its latest measurement counts.

* **Speed** (bench rows): ratio of medians B/A with a 95% bootstrap interval and the Mann-Whitney U
  p-value over the raw samples (:func:`rnnbench.bench.stats.timing_change`): ``slower`` or ``faster``
  only when p < 0.01 *and* beyond the threshold, else ``same``. A row without raw samples (an old
  record) gets the ratio alone, judged by the threshold; a note says so.
* **Throughput** (run records): seconds per training example, one sample a seed, through the same test.
* **Accuracy**: the mean over seeds on test (dev where a run has no test), in points for percentages.
* **Parity**: a check that passed in A and fails in B.

Rows found on one side only are listed by name under their table, never dropped silently.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import pandas as pd

from rnnbench.bench import stats
from rnnbench.report.accuracy import summarise_runs
from rnnbench.report.parity import CASE_IDENTITY
from rnnbench.report.section import Block, Section, cell_text, missing, row_keys, sig
from rnnbench.report.speed import IDENTITY, latest_rows, shape_label
from rnnbench.report.trust import record_trust
from rnnbench.report.variants import DEFAULT_LABEL

ACCURACY_KEY = ["task", "dataset", "model", "backend", "impl", "device", "config_key"]
SPEED_KEY = [c for c in IDENTITY if c != "host"]
PARITY_KEY = [c for c in CASE_IDENTITY if c != "host"]
#: Verdicts that count as a regression (``--fail-on-regression``, ``report --compare``'s exit status).
REGRESSION_VERDICTS = {"slower", "worse", "now fails"}


@dataclass
class Comparison:
    """The comparison section, how many regressions it holds, and the rows found on one side only
    (``{"kind", "configuration"}`` each)."""

    section: Section
    regressions: int
    only_a: list = field(default_factory=list)
    only_b: list = field(default_factory=list)

    @property
    def matched(self) -> int:
        return len(self.section.frame)


def compare(
    frame_a, frame_b, label_a: str, label_b: str, threshold: float = 0.05, accuracy_points: float = 1.0
) -> tuple[Section, int]:
    """The comparison section and the number of regressions it flags (``report --compare``)."""
    result = comparison(frame_a, frame_b, label_a, label_b, threshold, accuracy_points)
    return result.section, result.regressions


def comparison(
    frame_a,
    frame_b,
    label_a: str,
    label_b: str,
    threshold: float = 0.05,
    accuracy_points: float = 1.0,
    alpha: float = stats.ALPHA,
) -> Comparison:
    """B against A. ``threshold`` is relative (0.05: 5% slower, or a loss-like metric 5% worse);
    ``accuracy_points`` is in percentage points; ``alpha`` the p-value a timing change must beat."""
    blocks, frames, notes, only = [], [], [], {"a": [], "b": []}
    for kind, builder in (("speed", _speed), ("throughput", _throughput), ("accuracy", _accuracy), ("parity", _parity)):
        rows, only_a, only_b, kind_notes = builder(frame_a, frame_b, threshold, accuracy_points, alpha)
        listed = [
            f"only in {label}: " + "; ".join(names) for label, names in ((label_a, only_a), (label_b, only_b)) if names
        ]
        only["a"] += [{"kind": kind, "configuration": name} for name in only_a]
        only["b"] += [{"kind": kind, "configuration": name} for name in only_b]
        if rows is not None and len(rows):
            header = [
                "configuration",
                label_a,
                label_b,
                "B/A [95% interval]" if kind in _TIMED else "change",
                "p" if kind in _TIMED else "",
                "verdict",
            ]
            columns = ["configuration", "a_text", "b_text", "change_text", "p_text", "verdict"]
            if kind not in _TIMED:
                header, columns = header[:4] + header[5:], columns[:4] + columns[5:]
            blocks.append(Block(kind, header, rows[columns].values.tolist(), notes=kind_notes + listed))
            frames.append(rows.assign(kind=kind))
        else:
            notes += [f"{kind}: {line}" for line in listed]
    notes += _machine_notes(frame_a, frame_b, label_a, label_b)
    notes.insert(
        0,
        f"B/A: the median of {label_b} over that of {label_a}, with a 95% bootstrap interval and the "
        f"Mann-Whitney U p-value over the raw samples; slower or faster only when p < {alpha:g} and "
        f"more than {100 * threshold:g}% apart; regression: slower, accuracy more than "
        f"{accuracy_points:g} percentage point(s) worse (other metrics: {100 * threshold:g}% worse), "
        f"a check that passed and now fails",
    )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    regressions = int(table["regression"].sum()) if len(table) else 0
    section = Section("compare", f"Comparison: {label_b} against {label_a}", table, blocks, notes)
    return Comparison(section, regressions, only["a"], only["b"])


_TIMED = ("speed", "throughput")


# --- speed: bench rows ------------------------------------------------------------------------------------------


def _speed(frame_a, frame_b, threshold, points, alpha):
    rows_a, rows_b = (_latest_bench(f) for f in (frame_a, frame_b))
    if rows_a.empty or rows_b.empty:
        return None, _labels(rows_a, SPEED_KEY, _speed_label), _labels(rows_b, SPEED_KEY, _speed_label), []
    merged, only_a, only_b = _match(rows_a, rows_b, SPEED_KEY, _speed_label)
    out, no_samples, too_few, unstable = [], 0, 0, []
    for _, r in merged.iterrows():
        entry_a, entry_b = _entry(r, "a"), _entry(r, "b")
        a, b = _samples(entry_a), _samples(entry_b)
        row = {k: r[k] for k in SPEED_KEY}
        change = _change(a, b, r["median_s_a"], r["median_s_b"], threshold, alpha)
        no_samples += change["p_value"] is None
        too_few += change["p_value"] is not None and not _can_be_significant(len(a), len(b), alpha)
        stable = {
            f"stable_{side}": _stable(entry, r.get(f"record_{side}"))
            for side, entry in (("a", entry_a), ("b", entry_b))
        }
        label = _speed_label(r)
        if False in stable.values():
            unstable.append(label)
        out.append(
            {
                **row,
                "configuration": label + (" !" if False in stable.values() else ""),
                **change,
                **stable,
                "a_text": _ms_pm(r["median_s_a"], a),
                "b_text": _ms_pm(r["median_s_b"], b),
            }
        )
    notes = _sample_notes(no_samples, too_few, alpha, "row")
    if unstable:
        notes.append(
            f"! {len(unstable)} row(s) measured while their bench record judged them unstable (on one side "
            f"or both; the record says why): a verdict there may be the machine, not the code"
        )
    return pd.DataFrame(out), only_a, only_b, notes


def _latest_bench(frame):
    """The ok bench rows, the latest of each configuration (whatever machine measured it)."""
    rows = frame[(frame["kind"] == "bench") & (frame["status"] == "ok")]
    rows = rows[rows["median_s"].apply(_positive)] if len(rows) else rows
    if rows.empty:
        return rows
    rows = latest_rows(rows)[0]
    keyed = rows.assign(_key=row_keys(rows, SPEED_KEY)).sort_values("started_at", kind="stable")
    return keyed.drop_duplicates("_key", keep="last").drop(columns=["_key"])


def _speed_label(r) -> str:
    steps = r.get("steps_a", r.get("steps"))
    return (
        f"{r['cell']} {r['pass']} {r['dtype']} {shape_label({**dict(r), 'steps': steps})} "
        f"threads={_int(r['threads'])} {r['backend']} {r['impl']}"
        + ("" if missing(r["device"]) or r["device"] == "cpu" else f" {r['device']}")
    )


#: The row fields that identify a bench row inside its record (the frame copies them from it).
_ENTRY_FIELDS = (
    "cell",
    "backend",
    "impl",
    "device",
    "dtype",
    "threads",
    "batch",
    "steps",
    "input",
    "hidden",
    "trees",
    "nodes",
    "pass",
    "median_s",
)


def _entry(r, side: str) -> dict | None:
    """The row of one side's record that the frame row came from (same identity and median), or None."""
    record = r.get(f"record_{side}")
    entries = record.get("rows") if isinstance(record, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and _same_row(entry, r, side):
            return entry
    return None


def _samples(entry: dict | None) -> list[float]:
    """The raw per-call seconds of a bench row (empty for an old record without them)."""
    samples = entry.get("samples_s") if entry else None
    return _finite(samples) if isinstance(samples, list) else []


def _stable(entry: dict | None, record) -> bool | None:
    """False when the row or its record was judged unstable when measured; None when it does not say. A record
    is doubted for its own reasons (a busy or slow session), not for the count of its unstable rows: those
    are judged one by one (as the report does, :func:`rnnbench.report.trust.record_trust`)."""
    doubted = isinstance(record, dict) and isinstance(record.get("stable"), bool) and not record_trust(record, {})[0]
    verdicts = [entry.get("stable") if entry else None, False if doubted else None]
    if False in verdicts:
        return False
    return True if True in verdicts else None


def _same_row(entry: dict, r, side: str) -> bool:
    return (
        entry.get("kind") == r.get(f"structure_{side}")
        and all(cell_text(entry.get(k)) == cell_text(r.get(f"{k}_{side}")) for k in _ENTRY_FIELDS)
        and cell_text(entry.get("layers") or 1) == cell_text(r.get(f"layers_{side}"))
        and bool(entry.get("bidirectional")) == bool(r.get(f"bidirectional_{side}"))
    )


def _finite(values) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
            out.append(float(v))
    return out


def _change(a, b, median_a, median_b, threshold, alpha) -> dict:
    """``ratio``, ``lo``, ``hi``, ``p_value``, ``verdict``, ``regression`` and their texts, B against A (times)."""
    if a and b:
        c = stats.timing_change(a, b, threshold=threshold, alpha=alpha)
        ratio, lo, hi, p, verdict = c.ratio, c.lo, c.hi, c.p_value, c.verdict
    else:  # an old record without raw samples: the ratio alone, judged by the threshold
        ratio, lo, hi, p = median_b / median_a, None, None, None
        verdict = "slower" if ratio > 1 + threshold else "faster" if ratio < 1 / (1 + threshold) else "same"
    text = f"{ratio:.3f}x" + ("" if lo is None else f" [{lo:.3f}, {hi:.3f}]")
    return {
        "a": median_a,
        "b": median_b,
        "n_a": len(a),
        "n_b": len(b),
        "ratio": ratio,
        "lo": lo,
        "hi": hi,
        "change": ratio - 1.0,
        "p_value": p,
        "verdict": verdict,
        "regression": verdict == "slower",
        "change_text": f"{text} {100 * (ratio - 1):+.1f}%",
        "p_text": "-" if p is None else f"{p:.2g}",
    }


def _can_be_significant(n_a: int, n_b: int, alpha: float) -> bool:
    """Whether the two-sided Mann-Whitney U test can reach p < ``alpha`` at all with these sample counts."""
    return 2 / math.comb(n_a + n_b, n_a) < alpha


def _sample_notes(no_samples: int, too_few: int, alpha: float, what: str) -> list[str]:
    notes = []
    if no_samples:
        notes.append(
            f"{no_samples} {what}(s) without raw samples on one side (older records): ratio of medians "
            f"only, the verdict from the threshold alone"
        )
    if too_few:
        notes.append(
            f"{too_few} {what}(s) with too few samples for p < {alpha:g} (about 5 a side at least): "
            f"never slower or faster, whatever the ratio"
        )
    return notes


def _ms_pm(median, samples) -> str:
    text = f"{sig(1000 * median)} ms"
    if len(samples) > 1:
        text += f" {stats.format_pm(median, stats.median_interval(samples).as_list())}"
    return text


# --- throughput and accuracy: run records -----------------------------------------------------------------------


def _runs(frame):
    runs = frame[(frame["kind"] == "run") & (frame["status"] == "ok")]
    if runs.empty:
        return runs
    runs = runs.assign(
        model=runs["model"].fillna("-"), impl=runs["impl"].fillna("-"), device=runs["device"].fillna("cpu")
    )
    return runs.sort_values("started_at", kind="stable").drop_duplicates(ACCURACY_KEY + ["seed"], keep="last")


def _run_label(r) -> str:
    label = " ".join(str(r[k]) for k in ("task", "dataset", "model", "backend", "impl"))
    label += "" if r["device"] == "cpu" else f" {r['device']}"
    variant = r.get("variant_a", r.get("variant"))  # a label once summarised (a dict of options before)
    return label + (f" [{variant}]" if isinstance(variant, str) and variant != DEFAULT_LABEL else "")


def _throughput(frame_a, frame_b, threshold, points, alpha):
    """Seconds per training example, one sample a seed (the latest run of each), B against A."""
    runs_a, runs_b = (_runs(f) for f in (frame_a, frame_b))
    runs_a, runs_b = (r[r["examples_per_s"].apply(_positive)] if len(r) else r for r in (runs_a, runs_b))
    if runs_a.empty or runs_b.empty:
        return None, [], [], []  # their configurations are listed (or matched) by the accuracy table
    groups = [
        {
            key: [1.0 / float(v) for v in rows["examples_per_s"]]
            for key, rows in r.assign(_key=row_keys(r, ACCURACY_KEY)).groupby("_key")
        }
        for r in (runs_a, runs_b)
    ]
    firsts = runs_a.assign(_key=row_keys(runs_a, ACCURACY_KEY)).drop_duplicates("_key").set_index("_key")
    out, too_few = [], 0
    for key in sorted(set(groups[0]) & set(groups[1])):
        a, b = groups[0][key], groups[1][key]
        first = firsts.loc[key]
        change = _change(a, b, statistics.median(a), statistics.median(b), threshold, alpha)
        too_few += not _can_be_significant(len(a), len(b), alpha)
        out.append(
            {
                **{k: first[k] for k in ACCURACY_KEY},
                "configuration": _run_label(first) + " examples/s",
                **change,
                "a": 1.0 / change["a"],
                "b": 1.0 / change["b"],
                "a_text": f"{sig(1.0 / change['a'])}/s (n={len(a)})",
                "b_text": f"{sig(1.0 / change['b'])}/s (n={len(b)})",
            }
        )
    notes = ["throughput: seconds per training example, one sample a seed; B/A > 1 is slower"] if out else []
    return (pd.DataFrame(out) if out else None), [], [], notes + _sample_notes(0, too_few, alpha, "configuration")


def _positive(value) -> bool:
    return not missing(value) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _accuracy(frame_a, frame_b, threshold, points, alpha):
    runs_a, runs_b = (_runs(f) for f in (frame_a, frame_b))
    if runs_a.empty or runs_b.empty:
        return None, _labels(runs_a, ACCURACY_KEY, _run_label), _labels(runs_b, ACCURACY_KEY, _run_label), []
    merged, only_a, only_b = _match(summarise_runs(runs_a), summarise_runs(runs_b), ACCURACY_KEY, _run_label)
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
        verdict = "worse" if worse else "better" if improved else "same"
        out.append(
            {
                **{k: r[k] for k in ACCURACY_KEY},
                "configuration": f"{_run_label(r)} {r['metric_a']} {split}",
                "a": a,
                "b": b,
                "change": change,
                "a_text": a_text,
                "b_text": b_text,
                "change_text": text,
                "p_text": "",
                "verdict": verdict,
                "regression": worse,
            }
        )
    return pd.DataFrame(out), only_a, only_b, []


# --- parity: check rows -----------------------------------------------------------------------------------------


def _parity(frame_a, frame_b, threshold, points, alpha):
    rows_a, rows_b = (
        f[f["kind"] == "check"].sort_values("started_at", kind="stable").drop_duplicates(PARITY_KEY, keep="last")
        for f in (frame_a, frame_b)
    )
    if rows_a.empty or rows_b.empty:
        return None, _labels(rows_a, PARITY_KEY, _parity_label), _labels(rows_b, PARITY_KEY, _parity_label), []
    merged, only_a, only_b = _match(rows_a, rows_b, PARITY_KEY, _parity_label)
    out = []
    for _, r in merged.iterrows():
        failed_now, fixed = bool(r["passed_a"] and not r["passed_b"]), bool(r["passed_b"] and not r["passed_a"])
        verdict = "now fails" if failed_now else "fixed" if fixed else "same"
        out.append(
            {
                **{k: r[k] for k in PARITY_KEY},
                "a": r["max_rel_a"],
                "b": r["max_rel_b"],
                "change": None,
                "configuration": _parity_label(r),
                "a_text": _check_text(r["passed_a"], r["max_rel_a"]),
                "b_text": _check_text(r["passed_b"], r["max_rel_b"]),
                "change_text": "",
                "p_text": "",
                "verdict": verdict,
                "regression": failed_now,
            }
        )
    return pd.DataFrame(out), only_a, only_b, []


def _parity_label(r) -> str:
    return " ".join(str(r[k]) for k in PARITY_KEY)


# --- matching ---------------------------------------------------------------------------------------------------


def _match(a, b, key, label):
    """Rows present in both (columns suffixed _a and _b), and the labels of those in one side only."""
    a, b = (f.assign(_key=row_keys(f, key)) for f in (a, b))
    merged = a.merge(b, on="_key", suffixes=("_a", "_b"))
    for column in key:  # the key columns, unsuffixed, for labels
        merged[column] = merged[f"{column}_a"]
    only_a = [label(r) for _, r in a[~a["_key"].isin(b["_key"])].iterrows()]
    only_b = [label(r) for _, r in b[~b["_key"].isin(a["_key"])].iterrows()]
    return merged, only_a, only_b


def _labels(rows, key, label) -> list[str]:
    """One label per configuration of a side that has nothing to match against."""
    if rows.empty:
        return []
    return [label(r) for _, r in rows.assign(_key=row_keys(rows, key)).drop_duplicates("_key").iterrows()]


def _check_text(passed, max_rel) -> str:
    return ("pass" if passed else "FAIL") + ("" if missing(max_rel) else f" {max_rel:.1e}")


def _int(value) -> str:
    return "-" if missing(value) else str(int(value))


def _machine_notes(frame_a, frame_b, label_a, label_b) -> list[str]:
    """pyperf's warning: a speed change between two machines is partly the machine."""
    machines = [
        sorted({f"{h} ({c})" for h, c in zip(f["host"], f.get("cpu_model", f["host"])) if h})
        for f in (frame_a, frame_b)
    ]
    if machines[0] and machines[1] and machines[0] != machines[1]:
        return [
            f"{label_a} ran on {', '.join(machines[0])} and {label_b} on {', '.join(machines[1])}: "
            f"speed changes include the machine"
        ]
    return []
