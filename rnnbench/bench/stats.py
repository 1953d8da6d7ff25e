"""The statistics behind every speed figure: intervals of a median, of a ratio, and a change test.

One module, so that ``bench`` (each row's interval), the report (what it prints) and
``compare`` (did it get slower?) agree on what a number's uncertainty is.

* **Interval of a median**: distribution-free, from order statistics. For ``n`` samples the
  ``j``-th smallest and ``j``-th largest bracket the true median with probability
  ``1 - 2 P(Binomial(n, 1/2) < j)``; ``j`` is the largest rank keeping that at or above the
  level. No assumption about the shape of timing noise (it is skewed: preemption only adds).
  Below 6 samples no pair of order statistics reaches 95%; the interval is then the full
  range and :func:`median_interval` says what coverage it has.
* **Interval of a ratio from interleaved rounds**: each round times every backend once, so
  each round gives one ratio; their median and its order-statistic interval are the row's
  ``ratio_to_fastest`` and ``ratio_ci95``. Load drift between rounds cancels inside a round.
* **A change between two sample sets** (``compare``): ratio of medians B/A with a seeded
  bootstrap interval, and the two-sided Mann-Whitney U p-value (scipy.stats). A change counts
  only when it is both significant (p < ``alpha``) and larger than a threshold.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

#: Confidence level of every interval rnnbench prints.
LEVEL = 0.95
#: The smallest p-value that still counts as "no change" in ``compare``.
ALPHA = 0.01


@dataclass(frozen=True)
class Interval:
    """``lo <= hi`` around ``center``; ``coverage`` is the exact confidence the ranks give (>= level
    unless there were too few samples); ``method`` names how it was made."""

    center: float
    lo: float
    hi: float
    coverage: float
    method: str

    @property
    def rel_halfwidth(self) -> float | None:
        """Half the interval's width over its center (``rel_ci``); None for a zero center."""
        return (self.hi - self.lo) / 2 / abs(self.center) if self.center else None

    @property
    def rel_reach(self) -> float:
        """How far the farther end lies from the center, over the center (inf for a zero center): a
        ratio "within ±5%" has ``rel_reach <= 0.05``."""
        return max(self.center - self.lo, self.hi - self.center) / abs(self.center) if self.center else math.inf

    def as_list(self) -> list[float]:
        return [self.lo, self.hi]


def _binomial_cdf_below(j: int, n: int) -> float:
    """P(Binomial(n, 1/2) < j)."""
    return sum(math.comb(n, k) for k in range(j)) / 2**n


def median_ranks(n: int, level: float = LEVEL) -> tuple[int, float]:
    """``(j, coverage)``: the 1-based rank ``j`` such that the j-th smallest and j-th largest of ``n``
    samples bracket the median with probability ``coverage >= level`` (j = 1, the range, when no
    rank reaches the level)."""
    if n < 1:
        raise ValueError("no samples")
    best = 1
    for j in range(1, n // 2 + 1):
        if 1 - 2 * _binomial_cdf_below(j, n) >= level:
            best = j
        else:
            break
    return best, 1 - 2 * _binomial_cdf_below(best, n)


def median_interval(samples, level: float = LEVEL) -> Interval:
    """The median of ``samples`` and its distribution-free ``level`` interval (order statistics)."""
    values = sorted(float(v) for v in samples)
    if not values:
        raise ValueError("no samples to summarize")
    j, coverage = median_ranks(len(values), level)
    return Interval(statistics.median(values), values[j - 1], values[-j], coverage, "order statistics")


def rel_ci(samples, level: float = LEVEL) -> float | None:
    """Half-width of the median's interval over the median."""
    return median_interval(samples, level).rel_halfwidth


def round_ratios(round_medians: list[dict]) -> dict[str, list[float]]:
    """Per-round ratios to the round's fastest: ``round_medians`` is one ``{name: seconds}`` per round
    (a name missing from a round, or without a positive time, is skipped in that round)."""
    out: dict[str, list[float]] = {}
    for times in round_medians:
        valid = {k: v for k, v in times.items() if v is not None and v > 0}
        if not valid:
            continue
        fastest = min(valid.values())
        for name, value in valid.items():
            out.setdefault(name, []).append(value / fastest)
    return out


def bootstrap_ratio(a, b, level: float = LEVEL, resamples: int = 2000, seed: int = 0) -> Interval:
    """median(b) / median(a) with a seeded percentile-bootstrap interval (independent sample sets)."""
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("no samples to compare")
    rng = np.random.default_rng(seed)
    ma = np.median(rng.choice(a, size=(resamples, a.size)), axis=1)
    mb = np.median(rng.choice(b, size=(resamples, b.size)), axis=1)
    ratios = mb / ma
    tail = (1 - level) / 2
    lo, hi = np.quantile(ratios, [tail, 1 - tail])
    return Interval(float(np.median(b) / np.median(a)), float(lo), float(hi), level, "bootstrap")


def mann_whitney_p(a, b) -> float:
    """Two-sided Mann-Whitney U p-value of ``a`` against ``b`` (1.0 when either set has one value
    repeated and both are identical, where the test is undefined)."""
    from scipy.stats import mannwhitneyu

    if len(a) == 0 or len(b) == 0:
        raise ValueError("no samples to compare")
    if len(set(a)) == 1 and set(a) == set(b):
        return 1.0
    return float(mannwhitneyu(list(b), list(a), alternative="two-sided").pvalue)


@dataclass(frozen=True)
class Change:
    """B against A: ``ratio`` (median B / median A, > 1 is slower for a time), its interval, the
    Mann-Whitney p-value and the verdict ``faster``, ``slower`` or ``same``."""

    ratio: float
    lo: float
    hi: float
    p_value: float
    verdict: str


def timing_change(a, b, threshold: float = 0.05, alpha: float = ALPHA, seed: int = 0) -> Change:
    """Compare two sets of per-call seconds. ``slower`` needs p < ``alpha`` *and* the ratio beyond
    ``1 + threshold``; ``faster`` p < ``alpha`` and the ratio below ``1 / (1 + threshold)``."""
    interval = bootstrap_ratio(a, b, seed=seed)
    p = mann_whitney_p(a, b)
    verdict = "same"
    if p < alpha and interval.center > 1 + threshold:
        verdict = "slower"
    elif p < alpha and interval.center < 1 / (1 + threshold):
        verdict = "faster"
    return Change(interval.center, interval.lo, interval.hi, p, verdict)


def format_pm(median: float, interval: list | tuple | None) -> str:
    """``±x%``: the larger side of the interval around ``median``, as a percentage (empty if unknown)."""
    if not interval or not median or interval[0] is None or interval[1] is None:
        return ""
    half = max(median - interval[0], interval[1] - median) / abs(median)
    return f"±{100 * half:.1f}%" if half < 0.095 else f"±{100 * half:.0f}%"
