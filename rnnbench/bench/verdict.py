"""Whether a bench row, or a whole bench record, can be believed, and why not: plain sentences with numbers.

A median is only worth quoting when its interval is narrow, the machine was not busy with
something else while it was sampled, the hypervisor did not take the CPU away, and the
machine was as fast as it usually is (its peak GEMM near the best ever recorded on it).
:func:`row_verdict` and :func:`record_verdict` turn the facts the probes recorded
(:mod:`rnnbench.bench.probes`) into ``(stable, reasons)``; rows of older records, without
those facts, are judged on what they have. :func:`settle` waits for a quiet machine first.
"""

from __future__ import annotations

import math
import sys
import time

from rnnbench.bench import stats
from rnnbench.bench.probes import load_1min
from rnnbench.machine import machine_identity

#: The widest interval of a median that still counts as a measurement: ±3% separates the 5% changes
#: ``compare`` looks for, and a quiet machine reaches it in well under a minute for every suite row.
TARGET_CI = 0.03
#: Average CPUs other processes may keep busy while a row is sampled. On the 2-CPU development VM the
#: idle daemons (kdamond, the VM agent, kworkers) used 0.019 CPUs over 10 s (per-process /proc/PID/stat,
#: 2026-12-07); one busy loop elsewhere reads 1.0, and a 2-s CpuWindow next to a training sweep read
#: 1.48-1.51. A quarter of a CPU is ten times the idle noise plus the tick rounding of a merged row
#: (about 0.02 CPUs over 1 s on 2 CPUs), and a quarter of the smallest real competitor, which on
#: 2 CPUs already takes an eighth of the machine from a 2-thread benchmark.
OTHER_CPUS_LIMIT = 0.25
#: Share of CPU time the hypervisor may steal: a few percent is a neighbour's burst, more means the
#: host is overcommitted and every time is inflated by about that share (and unevenly).
STEAL_LIMIT = 0.05
#: A peak GEMM below 70% of the best recorded on the same host means the machine ran slow for the whole
#: record (a throttled or shared host; the committed records span 57-219 GFLOP/s on one VM), while
#: run-to-run GEMM noise on a quiet machine stays within about 10%.
PEAK_FRACTION_LIMIT = 0.7


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def _number(value) -> float | None:
    """A finite float, or None for anything else (older or hand-edited records hold anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _samples(row: dict) -> list[float]:
    values = row.get("samples_s")
    if not isinstance(values, list):
        return []
    return [v for v in map(_number, values) if v is not None]


def row_verdict(row: dict, target_ci: float = TARGET_CI, cpus: int | None = None) -> tuple[bool, list[str]]:
    """``(stable, reasons)`` of one bench row; ``cpus`` is the usable CPU count named in the load reason."""
    status = row.get("status")
    if status != "ok":
        error = row.get("error")
        word = status if isinstance(status, str) and status else "failed"
        return False, [f"{word}: {error}" if error else word]
    reasons = []
    samples = _samples(row)
    if not samples:
        return False, ["no timing samples"]
    rel = _number(row.get("rel_ci"))
    if rel is None:
        rel = stats.rel_ci(samples)
    if rel is not None and rel > target_ci:
        reasons.append(f"interval ±{_pct(rel)}, wider than the {100 * target_ci:g}% target")
    _, coverage = stats.median_ranks(len(samples))
    if coverage < stats.LEVEL:
        reasons.append(
            f"only {len(samples)} samples: the interval covers the median with probability "
            f"{100 * coverage:.0f}%, below {100 * stats.LEVEL:.0f}%"
        )
    cpu = row.get("cpu") if isinstance(row.get("cpu"), dict) else {}
    other = _number(cpu.get("other_cpus"))
    if other is not None and other > OTHER_CPUS_LIMIT:
        reasons.append(f"other processes used {other:.2g} CPUs while it was sampled{_load_note(cpu, cpus)}")
    steal = _number(cpu.get("steal_fraction"))
    if steal is not None and steal > STEAL_LIMIT:
        reasons.append(f"{_pct(steal)} of CPU time stolen by the hypervisor")
    return not reasons, reasons


def _load_note(cpu: dict, cpus: int | None) -> str:
    loads = (
        [v for v in map(_number, cpu.get("load") or ()) if v is not None] if isinstance(cpu.get("load"), list) else []
    )
    if not loads:
        return ""
    on = f" on {cpus} usable CPUs" if cpus else ""
    return f" (1-min load {max(loads):.1f}{on})"


def record_cpus(record: dict) -> int | None:
    """The usable CPUs of the machine a record was made on (None when the record does not say)."""
    machine = record.get("machine") if isinstance(record.get("machine"), dict) else {}
    for key in ("usable_cpus", "logical_cpus"):
        value = _number(machine.get(key))
        if value and value > 0:
            return int(value)
    return None


def record_peaks(record: dict) -> dict:
    """``{dtype: gflops}`` of a record's peak GEMMs (``peaks``; older records only have ``peak``)."""
    found = {}
    peaks = record.get("peaks")
    candidates = list(peaks.items()) if isinstance(peaks, dict) else []
    single = record.get("peak")
    if not candidates and isinstance(single, dict):
        candidates = [(single.get("dtype") or "float32", single)]
    for dtype, peak in candidates:
        gflops = _number(peak.get("gflops")) if isinstance(peak, dict) else None
        if isinstance(dtype, str) and gflops and gflops > 0:
            found[dtype] = gflops
    return found


def record_verdict(record: dict, best_peaks: dict | None = None) -> tuple[bool, list[str]]:
    """``(stable, record-level reasons)``: unstable rows counted, a slow peak GEMM against ``best_peaks``
    (``{dtype: best gflops}`` of this host), and a busy machine when the rows carry no ``cpu`` of their own.

    A row's own ``stable`` is used when it has one; otherwise the row is judged here with the
    record's ``config.timing.target_ci``. Rows that failed are not counted: the status says so.
    """
    reasons = []
    rows = [r for r in record.get("rows") or () if isinstance(r, dict)]
    ok = [r for r in rows if r.get("status") == "ok"]
    cpus = record_cpus(record)
    timing = (record.get("config") or {}).get("timing") if isinstance(record.get("config"), dict) else None
    target = _number((timing or {}).get("target_ci") if isinstance(timing, dict) else None) or TARGET_CI
    unstable = sum(
        1 for r in ok if not (r["stable"] if isinstance(r.get("stable"), bool) else row_verdict(r, target, cpus)[0])
    )
    if unstable:
        reasons.append(f"{unstable} of {len(ok)} rows unstable")
    for dtype, gflops in sorted(record_peaks(record).items()):
        best = _number((best_peaks or {}).get(dtype))
        if best and gflops < PEAK_FRACTION_LIMIT * best:
            what = "peak GEMM" if dtype == "float32" else f"{dtype} peak GEMM"
            reasons.append(
                f"{what} {gflops:.0f} GFLOP/s is {100 * gflops / best:.0f}% of this machine's best "
                f"recorded {best:.0f} GFLOP/s"
            )
    if cpus and not any(isinstance(r.get("cpu"), dict) for r in ok):
        reasons += _load_reasons(record.get("load_average"), cpus)
    return not reasons, reasons


def _load_reasons(load_average, cpus: int) -> list[str]:
    """Older records: the 1-minute load at the start or end of the record above the usable CPUs."""
    if not isinstance(load_average, dict):
        return []
    said = []
    for when in ("start", "end"):
        loads = load_average.get(when)
        one = _number(loads[0]) if isinstance(loads, list) and loads else None
        if one is not None and one > cpus:
            said.append(f"{one:.1f} at the {when}")
    return [f"1-min load {' and '.join(said)}, above the {cpus} usable CPUs"] if said else []


def _host_matches(record: dict, host) -> bool:
    if isinstance(host, dict):  # another record: the same machine_identity (name, CPU model, count, ISA level)
        return machine_identity(record) == machine_identity(host)
    machine = record.get("machine")
    return isinstance(machine, dict) and machine.get("hostname") == host


def best_recorded_peaks(results_dir, host) -> dict:
    """``{dtype: best peak gflops}`` over the bench records of ``host`` in ``results_dir``.

    ``host`` is a hostname, or a bench record: then only records of the same
    :func:`rnnbench.machine.machine_identity` count (cloud VMs share a hostname, and one
    name has meant CPUs with and without AVX-512). Unreadable files and other records are skipped silently.
    """
    from rnnbench.records import BENCH_SCHEMA, read_records

    best: dict = {}
    try:
        found = read_records(results_dir, schemas=(BENCH_SCHEMA,))
    except OSError:
        return best
    for _, record in found:
        if not isinstance(record, dict) or not _host_matches(record, host):
            continue
        for dtype, gflops in record_peaks(record).items():
            best[dtype] = max(best.get(dtype, 0.0), gflops)
    return best


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def settle(limit_s: float, cpus: int, load=load_1min, sleep=time.sleep, clock=time.monotonic, say=_say) -> dict:
    """Wait up to ``limit_s`` for the 1-minute load to fall below ``cpus / 2``, checking every 2 s.

    Says once that it waits (nothing when the machine is already quiet) and then the outcome.
    Returns the record's ``settle`` field: waited_s, load_before, load_after, settled, limit_s.
    ``settled`` is False when the load is unknown (no load average on this OS).
    """
    threshold = max(cpus or 1, 1) / 2
    before = load()
    result = {
        "waited_s": 0.0,
        "load_before": before,
        "load_after": before,
        "settled": before is not None and before < threshold,
        "limit_s": limit_s,
    }
    if before is None or result["settled"] or limit_s <= 0:
        return result
    say(f"bench: waiting up to {limit_s:g} s for the machine to settle (1-min load {before:.1f} on {cpus} CPUs)")
    start = clock()
    after = before
    while True:
        remaining = limit_s - (clock() - start)
        if remaining <= 0:
            break
        sleep(min(2.0, remaining))
        now = load()
        if now is not None:
            after = now
            if now < threshold:
                break
    waited = clock() - start
    result.update(waited_s=round(waited, 3), load_after=after, settled=after < threshold)
    if result["settled"]:
        say(f"bench: settled after {waited:.0f} s (1-min load {after:.1f})")
    else:
        say(
            f"bench: still busy after {waited:.0f} s (1-min load {after:.1f} on {cpus} CPUs); measuring anyway, "
            "and each row will say whether the load disturbed it"
        )
    return result
