"""What a sweep says as it goes and at its end: one line a finished run, the counts, the accuracy table."""

from __future__ import annotations

from collections import Counter

STATUSES = ("ok", "failed", "diverged", "interrupted", "skipped")


def run_line(finished, keys=None) -> str:
    """``ok  textclf trec torch lstm seed 0  test accuracy 0.8620  12.3 s``."""
    record = finished.record
    best = record.get("best") or {}
    metric = record.get("metric") or "metric"
    split, value = ("test", best.get("test")) if best.get("test") is not None else ("dev", best.get("dev"))
    shown = f"{split} {metric} {value:.4f}" if value is not None else (record.get("error") or "no metric")
    return f"{record['status']:<11}  {finished.config.describe(keys)}  {shown}  {finished.seconds:.1f} s"


def counts_line(statuses: list[str], not_started: int = 0) -> str:
    counts = Counter(statuses)
    parts = [f"{counts.get(s, 0)} {s}" for s in STATUSES]
    if not_started:
        parts.append(f"{not_started} not started")
    return f"sweep: {', '.join(parts)} ({len(statuses) + not_started} configurations)"


def records_table(results_dir, paths) -> str:
    """The report's accuracy table over exactly these record files (mean ± sd over seeds of a configuration)."""
    import warnings
    from pathlib import Path

    from rnnbench.report.accuracy import accuracy_section
    from rnnbench.report.frame import load_results
    from rnnbench.report.render import Meta, render_text

    wanted = {Path(p).name for p in paths}  # all in results_dir; names are unique there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = load_results(results_dir)
    if frame.empty:
        return ""
    frame = frame[frame["path"].map(lambda p: Path(p).name).isin(wanted)]
    section = accuracy_section(frame) if not frame.empty else None
    if section is None:
        return ""
    return render_text([section], Meta(str(results_dir), f"{len(frame)} records of this sweep"))
