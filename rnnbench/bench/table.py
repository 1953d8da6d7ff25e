"""The terminal tables of a bench run: the fastest path of each backend side by side, then every row.

The summary has one line a configuration (cell, size, pass, dtype) and one column a
backend: that backend's fastest impl (or tree schedule) of the configuration, its
median, the impl's name and its fraction of the peak, and the ratio of each backend
to the best one. The full table below it has one line a timed row: the median with
its 95% interval as ``±x%``, the ratio to the fastest row with its interval
(``1.32× [1.28–1.36]``), the memory one call adds (peak MiB) and the first call's
seconds (compiling included). Rows that are not stable are listed under it with their
reasons; kernel warnings (an old BLAS kernel, a pinning variable) and the peak follow.
"""

from __future__ import annotations

from rnnbench.bench.stats import format_pm
from rnnbench.bench.suites import size_label
from rnnbench.table import format_table

HEADER = [
    "cell",
    "backend",
    "impl",
    "size",
    "pass",
    "median ms",
    "n",
    "GFLOP/s",
    "% peak",
    "items/s",
    "× fastest [95%]",
    "peak MiB",
    "first call",
    "status",
]


def format_summary(rows: list[dict]) -> str:
    """Each backend's fastest path per configuration, side by side (the comparison that is fair)."""
    from rnnbench.bench.record import fastest_impls

    chosen = fastest_impls(rows)
    if not chosen:
        return ""
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    configs = {}
    for item in chosen:
        label = (item["cell"], size_label(item), item["pass"], item["dtype"])
        configs.setdefault(label, {})[item["backend"]] = item
    header = ["cell", "size", "pass", "dtype"] + [f"{b} ms (fastest impl, % peak)" for b in backends] + ["× best"]
    lines = []
    for label, by_backend in configs.items():
        cells = []
        for backend in backends:
            item = by_backend.get(backend)
            if item is None:
                cells.append("-")
                continue
            peak = f", {_percent(item['peak_fraction'])}" if item.get("peak_fraction") is not None else ""
            pm = format_pm(item["median_s"], item.get("ci95_s"))
            cells.append(f"{_num(item['median_s'], 1e3)}{' ' + pm if pm else ''} ({item['impl']}{peak})")
        ratios = " ".join(
            f"{b}:{_ratio(by_backend[b]['ratio_to_best'], by_backend[b].get('ratio_ci95'))}"
            for b in backends
            if b in by_backend
        )
        lines.append([*label, *cells, ratios])
    return (
        "each backend at its fastest (median ms; the impl or tree schedule that was fastest; "
        "× best: ratio to the best backend, the median of per-round ratios [95% interval]):\n"
        + format_table(header, lines)
    )


def format_kernels(record_warnings: list[str], kernels: dict) -> str:
    """Which kernel each backend ran, and what held one back."""
    from rnnbench.bench.kernels import summarize

    lines = ["kernels: " + "; ".join(f"{b}: {summarize(info)}" for b, info in kernels.items())] if kernels else []
    if record_warnings:
        lines.append("warnings (kernels, pinning variables, peak):")
        lines += [f"  ! {w}" for w in record_warnings]
    return "\n".join(lines)


def format_rows(rows: list[dict], peaks: dict) -> str:
    lines, notes, busy = [], [], []
    for row in rows:
        status = row["status"]
        warnings = [w for w in row.get("warnings") or () if not w.startswith("busy machine")]
        busy += [w for w in row.get("warnings") or () if w.startswith("busy machine")]
        if warnings:
            notes.append(f"[{len(notes) + 1}] {row_name(row)}: {'; '.join(warnings)}")
            status = f"{status} [{len(notes)}]"
        if row.get("error"):
            status = f"{status}: {row['error']}"
        lines.append(
            [
                row["cell"],
                row["backend"],
                row.get("impl") or "-",
                size_label(row),
                row["pass"],
                _median(row),
                row.get("count") or "-",
                _num(row.get("gflops_per_s")),
                _percent(row.get("peak_fraction")),
                _items(row),
                _ratio(row.get("ratio_to_fastest"), row.get("ratio_ci95")),
                _mib(row.get("peak_bytes")),
                _seconds(row.get("first_call_s")),
                status,
            ]
        )
    text = format_table(HEADER, lines)
    text += "\n\n" + _peak_line(peaks)
    if busy:
        notes.append(
            f"busy machine while {len(busy)} of {len(rows)} rows were timed (e.g. {busy[-1][14:]}): "
            "other work competed for the CPUs, so times may be inflated"
        )
    if notes:
        text += "\nwarnings:\n" + "\n".join(notes)
    return text


def format_unstable(rows: list[dict], record_reasons=()) -> str:
    """The "not stable" list: each ok row that is not stable, with its reasons, then the record's own."""
    lines = [
        f"  {row_name(row)}: {'; '.join(row.get('unstable_reasons') or ()) or 'no reason given'}"
        for row in rows
        if row.get("status") == "ok" and row.get("stable") is False
    ]
    lines += [f"  record: {reason}" for reason in record_reasons or ()]
    if not lines:
        return ""
    return "not stable (do not quote these numbers without a rerun on a quiet machine):\n" + "\n".join(lines)


def row_name(row) -> str:
    """A row in one phrase: backend, impl, cell, size, pass."""
    return " ".join(str(p) for p in (row["backend"], row.get("impl"), row["cell"], size_label(row), row["pass"]) if p)


def _peak_line(peaks: dict) -> str:
    parts = []
    for dtype, peak in peaks.items():
        if peak.get("gflops"):
            others = {}
            for c in peak.get("candidates") or ():
                if c.get("gflops") and c["method"] != peak["method"]:
                    others[c["method"]] = max(others.get(c["method"], 0), c["gflops"])
            also = "; others: " + ", ".join(f"{m} {g:.0f}" for m, g in others.items()) if others else ""
            parts.append(
                f"{dtype} peak {peak['gflops']:.1f} GFLOP/s ({peak['method']} {peak['size']}^2, "
                f"{peak['threads']} thread(s), fastest sample, each framework in its own process{also})"
            )
        else:
            parts.append(f"{dtype} peak not measured: {peak.get('error', 'unknown reason')}")
    return "; ".join(parts) or "peak not measured"


def _num(value, scale=1.0) -> str:
    if value is None:
        return "-"
    value *= scale
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _ratio(value, interval=None) -> str:
    """``1.32×`` or, with an interval, ``1.32× [1.28–1.36]``."""
    if value is None:
        return "-"
    if interval and None not in interval[:2]:
        return f"{value:.2f}× [{interval[0]:.2f}–{interval[1]:.2f}]"
    return f"{value:.2f}×"


def _median(row) -> str:
    """Median ms with its interval: ``12.3 ±2.1%``."""
    text = _num(row.get("median_s"), 1e3)
    pm = format_pm(row["median_s"], row.get("ci95_s")) if row.get("median_s") else ""
    return f"{text} {pm}" if pm else text


def _mib(value) -> str:
    return "-" if value is None else f"{value / 2**20:.3g}"


def _seconds(value) -> str:
    """Seconds of a first call: ``0.41 s``, ``12 ms``."""
    if value is None:
        return "-"
    return f"{value:.3g} s" if value >= 1 else f"{value * 1e3:.3g} ms"


def _items(row) -> str:
    value = row.get("items_per_s")
    if value is None:
        return "-"
    unit = "tok" if row.get("items_unit") == "tokens" else "nodes"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix} {unit}"
    return f"{value:.3g} {unit}"


def format_overhead(rows: list[dict]) -> str:
    """The harness's own cost: its median (and minimum) against bare loops over the same work."""
    lines = []
    for row in rows:
        result = row.get("overhead")
        if not result:
            continue
        line = [row_name(row), _num(result["harness_s"], 1e3)]
        for name in ("bare_same_callable", "bare_framework"):
            if f"{name}_s" in result:
                line += [
                    _num(result[f"{name}_s"], 1e3),
                    f"{100 * result[f'vs_{name}']:+.1f}% / {100 * result[f'vs_{name}_min']:+.1f}%",
                ]
            else:
                line += ["-", "-"]
        lines.append(line + [result.get("bare_framework_method") or "-"])
    if not lines:
        return "\nno overhead measured (sequence configurations with status ok only)"
    header = [
        "configuration",
        "harness ms",
        "bare loop ms",
        "overhead median/min",
        "bare layer ms",
        "overhead median/min",
        "bare layer",
    ]
    return (
        "\nharness overhead (samples pooled over interleaved rounds; bare loop: the same callable, "
        "bare layer: the framework's own layer):\n" + format_table(header, lines)
    )
