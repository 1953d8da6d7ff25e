"""Which bench rows the report shows as measurements, and why the others are not trusted.

A median is quoted only when its row was stable: a record written since issue 20 says so
itself (``stable`` and ``unstable_reasons``, per row and per record); an older row is judged
by :mod:`rnnbench.bench.verdict` on what it has (its samples' interval; the record's load
average against the usable CPUs; its peak GEMM against the machine's best recorded one).
One place decides, so the summary, the speed table and the charts never disagree.
"""

from __future__ import annotations

import math
import re

from rnnbench.bench import stats
from rnnbench.machine import machine_identity

#: The record-level sentence that only counts unstable rows: those rows are judged one by one, so it alone
#: does not make the other rows of the record untrustworthy.
ROW_COUNT = re.compile(r"^\d+ of \d+ rows? unstable$")


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _pair(value) -> list[float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        pair = [_number(v) for v in value]
        if None not in pair:
            return pair
    return None


def interval(entry: dict) -> list[float] | None:
    """The row's ``ci95_s``, or the order-statistic interval of its ``samples_s`` for an older row."""
    recorded = _pair(entry.get("ci95_s"))
    if recorded is not None:
        return recorded
    samples = (
        [v for v in map(_number, entry.get("samples_s") or ()) if v is not None]
        if isinstance(entry.get("samples_s"), list)
        else []
    )
    return stats.median_interval(samples).as_list() if samples else None


def ratio_interval(entry: dict) -> list[float] | None:
    """``ratio_ci95`` when the row was sampled in interleaved rounds (None otherwise)."""
    return _pair(entry.get("ratio_ci95"))


def _sentences(value) -> list[str]:
    """A recorded list of reasons as text (anything else a hand-edited record holds: one sentence, or none)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if isinstance(value, str) and value else []


def row_trust(entry: dict, record: dict) -> tuple[bool, list[str]]:
    """``(stable, reasons)`` of one row: its own verdict, else :func:`verdict.row_verdict` on what it has."""
    from rnnbench.bench import verdict

    if isinstance(entry.get("stable"), bool):
        return entry["stable"], [] if entry["stable"] else _sentences(entry.get("unstable_reasons")) or ["unstable"]
    timing = ((record.get("config") or {}).get("timing") or {}) if isinstance(record.get("config"), dict) else {}
    target = _number(timing.get("target_ci") if isinstance(timing, dict) else None) or verdict.TARGET_CI
    return verdict.row_verdict(entry, target, verdict.record_cpus(record))


def record_trust(record: dict, best_peaks: dict) -> tuple[bool, list[str]]:
    """``(trusted, reasons)`` of a whole record: its own record-level reasons (or, for an older record,
    :func:`verdict.record_verdict`'s against ``best_peaks``), the mere count of unstable rows aside."""
    from rnnbench.bench import verdict

    if isinstance(record.get("stable"), bool):
        reasons = [] if record["stable"] else _sentences(record.get("unstable_reasons"))
    else:
        reasons = verdict.record_verdict(record, best_peaks)[1]
    own = [r for r in reasons if not ROW_COUNT.match(r)]
    return not own, own


def best_peaks(records) -> dict:
    """``{machine: {dtype: best peak GFLOP/s}}`` over ``records`` (a machine:
    :func:`rnnbench.machine.machine_identity`)."""
    from rnnbench.bench import verdict

    best: dict = {}
    for record in records:
        at = best.setdefault(machine_identity(record), {})
        for dtype, gflops in verdict.record_peaks(record).items():
            at[dtype] = max(at.get(dtype, 0.0), gflops)
    return best


def judge(frame):
    """``frame`` with ``trusted`` (bool) and ``trust_reasons`` (tuple) on every bench row, and
    ``record_trusted`` (False when the record as a whole is not); other rows get True and ``()``. A row is
    trusted when it and its record are; a row that is not ok is never trusted."""
    frame = frame.copy()
    frame["trusted"], frame["record_trusted"], frame["trust_reasons"] = True, True, [()] * len(frame)
    bench = frame["kind"] == "bench"
    if not bench.any():
        return frame
    records = {path: record for path, record in zip(frame.loc[bench, "path"], frame.loc[bench, "record"])}
    peaks = best_peaks(records.values())
    verdicts = {path: record_trust(record, peaks.get(machine_identity(record), {})) for path, record in records.items()}
    trusted, whole, reasons = [], [], []
    for index in frame.index[bench]:
        record_ok, record_reasons = verdicts[frame.at[index, "path"]]
        row_ok = bool(frame.at[index, "row_stable"]) if "row_stable" in frame else True
        row_reasons = tuple(frame.at[index, "row_reasons"] or ()) if "row_reasons" in frame else ()
        trusted.append(record_ok and row_ok and frame.at[index, "status"] == "ok")
        whole.append(record_ok)
        reasons.append(tuple(record_reasons) if not record_ok else (() if row_ok else row_reasons))
    frame.loc[bench, "trusted"] = trusted
    frame.loc[bench, "record_trusted"] = whole
    frame.loc[bench, "trust_reasons"] = pd_series(reasons, frame.index[bench])
    frame["trusted"] = frame["trusted"].astype(bool)
    frame["record_trusted"] = frame["record_trusted"].astype(bool)
    return frame


def pd_series(values, index):
    """Tuples as one object per cell (pandas would otherwise try to spread them over columns)."""
    import pandas as pd

    return pd.Series(values, index=index, dtype=object)


def shown_ratio(row, fastest_median: float, complete: bool) -> tuple[float | None, list[float] | None]:
    """``(ratio to the fastest, its interval or None)`` of a shown row: the record's median of per-round ratios and
    their interval when it sampled in interleaved rounds and every row of the configuration is shown (``complete``:
    the record's fastest is then among them); else its median over ``fastest_median``, without an interval."""
    from rnnbench.report.section import missing

    interval, recorded = row.get("ratio_ci95"), row.get("ratio_to_fastest")
    if complete and isinstance(interval, (list, tuple)) and len(interval) == 2 and not missing(recorded):
        return float(recorded), [float(v) for v in interval]
    median = row.get("median_s")
    return (None, None) if missing(median) or not fastest_median else (median / fastest_median, None)


def median_text(median_s, ci) -> str:
    """``12.3 ±2.1%`` (milliseconds): the median and the larger side of its interval."""
    from rnnbench.report.section import missing, sig

    if missing(median_s):
        return "-"
    pm = stats.format_pm(median_s, ci) if ci is not None else ""
    return f"{sig(1000.0 * median_s)} {pm}".strip()


def ratio_text(ratio, ci=None) -> str:
    """``1.32× [1.28–1.36]``; the bracket only when the ratio has an interval from interleaved rounds."""
    from rnnbench.report.section import missing

    if missing(ratio):
        return "-"
    return f"{ratio:.2f}×" + (f" [{ci[0]:.2f}–{ci[1]:.2f}]" if ci is not None else "")


def mib(peak_bytes) -> str:
    """Peak resident memory a call adds, in MiB (``-`` when not measured)."""
    from rnnbench.report.section import missing, sig

    return "-" if missing(peak_bytes) else sig(peak_bytes / 2**20)
