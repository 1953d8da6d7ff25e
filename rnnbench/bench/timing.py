"""Timing one callable honestly: warm-up, calibrated repeats, raw samples, robust statistics.

The method (pyperf's, scaled down to one process a configuration):

1. **Warm-up**: at least ``warmup_calls`` calls and ``warmup_s`` seconds, so that
   tracing, JIT compilation, allocator growth and thread-pool start-up are paid
   before anything is recorded.
2. **Calibration**: the fastest warm-up call (after the first) estimates the cost
   of one call; a sample then runs ``loops`` back-to-back calls, enough to last
   ``min_sample_s`` (checked by a trial sample, and raised if it falls short), so
   that the clock's resolution and the loop's own cost vanish against it.
3. **Samples**: at least ``min_samples``, more while the sampling time is under
   ``budget_s`` (at most ``max_samples``). Every sample is kept, as seconds per
   call. The garbage collector is off while sampling (as in :mod:`timeit`).
4. **Summary**: median, IQR (25th to 75th percentile, linear interpolation),
   min, max and count; the median is what tables show, being robust to the
   occasional preempted sample.
5. **Warnings**, pyperf-style, stored with the numbers: a high spread (IQR over
   10% of the median, or max - min over 50%), samples shorter than 1 ms, and a
   busy machine (1-minute load average above the usable CPUs).

``rnnbench bench`` runs steps 1 and 2 here too, then samples in interleaved rounds
(:mod:`rnnbench.bench.rounds`) under the policy's round fields: at least ``min_rounds``,
``visit_samples`` samples a visit, until every row's interval is within ``target_ci``,
the budget (``budget_s`` a row) is spent, or ``max_rounds``.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field, replace

#: Spread above which a measurement is flagged (fractions of the median).
IQR_WARNING = 0.10
RANGE_WARNING = 0.50
#: A sample shorter than this is at the mercy of the timer and the loop.
SHORT_SAMPLE_S = 1e-3


@dataclass(frozen=True)
class TimingPolicy:
    """How long to warm up and sample; suites pick one (smoke: quick, cpu: careful)."""

    warmup_calls: int = 2
    warmup_s: float = 0.2
    min_sample_s: float = 0.05
    min_samples: int = 5
    max_samples: int = 50
    budget_s: float = 1.5
    #: A call slower than this (its fastest warm-up call) gets ``slow_samples`` one-call samples instead of
    #: ``min_samples``, with a warning: seconds-long calls (torch.compile's backward on a busy CPU, say) would
    #: otherwise take minutes a configuration. None: no such limit.
    slow_call_s: float | None = None
    slow_samples: int = 3
    #: Interleaved rounds (:mod:`rnnbench.bench.rounds`): at least this many (6: the fewest samples whose
    #: order-statistic interval reaches 95%), at most ``max_rounds``; each visit of a row takes
    #: ``visit_samples`` samples (one when a sample is one call); sampling stops early once every row's
    #: interval half-width is within ``target_ci`` of its median (a fraction).
    min_rounds: int = 6
    max_rounds: int = 25
    visit_samples: int = 2
    target_ci: float = 0.03
    #: Wait after each visit until the visited worker stops using CPU (:func:`rnnbench.bench.probes.wait_idle`).
    idle_wait: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


QUICK = TimingPolicy(
    warmup_calls=1,
    warmup_s=0.0,
    min_sample_s=0.005,
    min_samples=3,
    max_samples=5,
    budget_s=0.05,
    min_rounds=3,
    max_rounds=5,
    visit_samples=1,
    idle_wait=False,
)
#: Custom grids' and the lengths suite's policy. Per row: warm-up 0.2 s, samples of >= 50 ms, 2 a visit (1 for
#: a call of 50 ms or more), 6 to 25 rounds, and 1.5 s of sampling a row unless every row of the comparison,
#: and every ratio, reaches the 3% target first.
CAREFUL = TimingPolicy(slow_call_s=2.0)
#: The cpu suite's: CAREFUL with 3 s of sampling a row and 8 to 30 rounds. At 1.5 s the slow rows (0.25 s a
#: call and more) stopped at 6 rounds, and the interval of six per-round ratios is their whole range (±10-25%
#: on the 2-CPU VM of the committed records).
CPU_SUITE = replace(CAREFUL, budget_s=3.0, min_rounds=8, max_rounds=30)


@dataclass
class Measurement:
    """Raw samples (seconds per call) and their summary."""

    samples_s: list[float]
    loops: int
    warmup_calls: int
    median_s: float
    iqr_s: float
    min_s: float
    max_s: float
    count: int
    warnings: list[str] = field(default_factory=list)


def summarize(samples: list[float]) -> dict:
    """Median, IQR, min, max and count of ``samples`` (IQR 0 for a single sample)."""
    if not samples:
        raise ValueError("no samples to summarize")
    if len(samples) == 1:
        q1 = q3 = samples[0]
    else:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return {
        "median_s": statistics.median(samples),
        "iqr_s": q3 - q1,
        "min_s": min(samples),
        "max_s": max(samples),
        "count": len(samples),
    }


def spread_warnings(samples: list[float], sample_duration_s: float | None = None) -> list[str]:
    """The pyperf-style warnings that depend on the samples alone."""
    stats = summarize(samples)
    median = stats["median_s"]
    warnings = []
    if median > 0 and stats["iqr_s"] / median > IQR_WARNING:
        warnings.append(f"unstable: IQR is {stats['iqr_s'] / median:.0%} of the median (> {IQR_WARNING:.0%})")
    if median > 0 and (stats["max_s"] - stats["min_s"]) / median > RANGE_WARNING:
        warnings.append(
            f"unstable: max - min is {(stats['max_s'] - stats['min_s']) / median:.0%} "
            f"of the median (> {RANGE_WARNING:.0%})"
        )
    if sample_duration_s is not None and sample_duration_s < SHORT_SAMPLE_S:
        warnings.append(
            f"short samples: {sample_duration_s * 1e3:.2f} ms each (< {SHORT_SAMPLE_S * 1e3:.0f} ms); "
            "timer resolution and loop overhead matter"
        )
    return warnings


def load_warning(load1: float | None, cpus: int) -> list[str]:
    """A warning when the machine has more runnable work than CPUs (other jobs steal time)."""
    if load1 is not None and load1 > cpus:
        return [f"busy machine: load average {load1:.2f} on {cpus} usable CPU(s)"]
    return []


def calibrate_loops(call_s: float, min_sample_s: float, max_loops: int = 1_000_000) -> int:
    """Calls per sample so that a sample lasts at least ``min_sample_s`` (at least 1)."""
    if call_s <= 0:
        return max_loops if min_sample_s > 0 else 1
    return max(1, min(max_loops, math.ceil(min_sample_s / call_s)))


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def current_load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def measure(
    fn, policy: TimingPolicy = CAREFUL, clock=time.perf_counter, load=current_load, cpus: int | None = None
) -> Measurement:
    """Time ``fn()`` under ``policy``; ``clock``, ``load`` and ``cpus`` are injectable for tests."""
    call_s, warmup_calls = warm_up(fn, policy, clock)
    slow = policy.slow_call_s is not None and call_s > policy.slow_call_s
    if slow:
        loops, calibration_calls = 1, 0
        policy = TimingPolicy(
            **{
                **policy.as_dict(),
                "min_samples": max(1, policy.slow_samples),
                "max_samples": max(1, policy.slow_samples),
                "budget_s": 0.0,
            }
        )
    else:
        loops, calibration_calls = calibrate(fn, policy, clock, call_s, trusted=warmup_calls > 1)
    warmup_calls += calibration_calls
    samples = []
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        spent = 0.0
        while len(samples) < policy.min_samples or (spent < policy.budget_s and len(samples) < policy.max_samples):
            start = clock()
            for _ in range(loops):
                fn()
            elapsed = clock() - start
            spent += elapsed
            samples.append(elapsed / loops)
    finally:
        if was_enabled:
            gc.enable()
    stats = summarize(samples)
    warnings = spread_warnings(samples, stats["median_s"] * loops)
    if slow:
        warnings.append(
            f"slow calls ({call_s:.1f} s, over {policy.slow_call_s:g} s): {len(samples)} one-call samples only"
        )
    warnings += load_warning(load(), cpus or usable_cpus())
    return Measurement(samples_s=samples, loops=loops, warmup_calls=warmup_calls, warnings=warnings, **stats)


def warm_up(fn, policy: TimingPolicy, clock) -> tuple[float, int]:
    """Run the warm-up; return the fastest call after the first (the first alone if it is the only
    one: it may include tracing) and how many calls it made."""
    durations = []
    began = clock()
    while len(durations) < max(1, policy.warmup_calls) or clock() - began < policy.warmup_s:
        start = clock()
        fn()
        durations.append(clock() - start)
    return min(durations[1:] or durations), len(durations)


def calibrate(fn, policy: TimingPolicy, clock, call_s: float, trusted: bool, max_rounds: int = 8) -> tuple[int, int]:
    """Loops per sample from the warm-up's estimate, checked by trial samples (pyperf-style) and
    raised while a trial falls short of ``min_sample_s``; returns ``(loops, calls made)``.

    The trial is skipped when the estimate is ``trusted`` (a fastest-of-several warm-up call)
    and leaves a wide margin; a single warm-up call may have included tracing, so it is checked.
    """
    loops = calibrate_loops(call_s, policy.min_sample_s)
    calls = 0
    for _ in range(max_rounds):
        if trusted and loops * call_s >= 2 * policy.min_sample_s:
            break
        start = clock()
        for _ in range(loops):
            fn()
        elapsed = clock() - start
        calls += loops
        if elapsed >= policy.min_sample_s:
            break
        loops = max(loops + 1, calibrate_loops(elapsed / loops, policy.min_sample_s))
    return loops, calls


def warm_and_calibrate(fn, policy: TimingPolicy, clock=time.perf_counter) -> dict:
    """Steps 1 and 2 for interleaved rounds: ``{"loops", "call_s", "warmup_calls", "slow"}``.

    A call slower than ``policy.slow_call_s`` is sampled one call at a time (``loops`` 1), as
    :func:`measure` does, so a seconds-long call does not cost minutes a visit.
    """
    call_s, calls = warm_up(fn, policy, clock)
    slow = policy.slow_call_s is not None and call_s > policy.slow_call_s
    loops, more = (1, 0) if slow else calibrate(fn, policy, clock, call_s, trusted=calls > 1)
    return {"loops": loops, "call_s": call_s, "warmup_calls": calls + more, "slow": slow}


def take_samples(fn, loops: int, count: int, clock=time.perf_counter) -> list[float]:
    """``count`` samples of seconds per call, ``loops`` back-to-back calls each, garbage collector off."""
    samples = []
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(count):
            start = clock()
            for _ in range(loops):
                fn()
            samples.append((clock() - start) / loops)
    finally:
        if was_enabled:
            gc.enable()
    return samples
