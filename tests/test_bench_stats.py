"""rnnbench/bench/stats.py against distributions whose answer is known: do the 95% intervals cover the truth
about 95% of the time over many seeded draws, and does the change test say what was planted?

Lognormal samples stand in for timing noise (skewed, only positive); the true median of
``exp(N(mu, sigma))`` is ``exp(mu)``, so every interval's coverage can be counted exactly. Nothing is timed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnbench.bench import stats


def _draws(seed, count, n, sigma=0.1, mu=0.0):
    return np.exp(np.random.default_rng(seed).normal(mu, sigma, size=(count, n)))


def test_median_interval_covers_the_true_median_about_95_percent_of_the_time():
    draws = _draws(0, 2000, 20)
    covered = 0
    for samples in draws:
        interval = stats.median_interval(samples)
        covered += interval.lo <= 1.0 <= interval.hi  # exp(0): the true median
    assert interval.coverage == pytest.approx(0.9586, abs=1e-4)  # ranks 6 and 15 of 20
    assert 0.93 <= covered / len(draws) <= 0.985, covered / len(draws)


@pytest.mark.parametrize("n", [3, 5, 6, 9, 50])
def test_median_interval_says_the_coverage_its_ranks_give(n):
    """Below 6 samples no rank pair reaches 95%: the range, with the coverage it has; counted over draws."""
    draws = _draws(n, 3000, n, sigma=0.5)
    intervals = [stats.median_interval(samples) for samples in draws]
    stated = intervals[0].coverage
    assert (stated < 0.95) == (n < 6)
    assert stated == pytest.approx(1 - 2 * sum(math.comb(n, k) for k in range(stats.median_ranks(n)[0])) / 2**n)
    observed = sum(i.lo <= 1.0 <= i.hi for i in intervals) / len(intervals)
    assert abs(observed - stated) < 0.02, (observed, stated)
    assert all(i.lo <= i.center <= i.hi for i in intervals)


def test_rel_ci_is_the_half_width_over_the_median():
    interval = stats.median_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    assert (interval.center, interval.lo, interval.hi) == (5.0, 2.0, 8.0)  # ranks 2 and 8 of 9
    assert stats.rel_ci([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]) == pytest.approx(0.6)
    assert interval.as_list() == [2.0, 8.0]


def test_bootstrap_ratio_covers_the_true_ratio_in_roughly_95_percent_of_draws():
    true_ratio = 1.1
    a, b = _draws(1, 300, 20), _draws(2, 300, 20, mu=math.log(true_ratio))
    intervals = [stats.bootstrap_ratio(x, y, resamples=1000) for x, y in zip(a, b)]
    covered = [i.lo <= true_ratio <= i.hi for i in intervals]
    assert 0.92 <= np.mean(covered) <= 0.985, np.mean(covered)  # 0.96 here; a 90% interval gives 0.90


def test_bootstrap_ratio_is_seeded_and_centred_on_the_ratio_of_medians():
    a, b = _draws(3, 2, 15)
    first, again = stats.bootstrap_ratio(a, b), stats.bootstrap_ratio(a, b)
    assert first == again
    assert first.center == pytest.approx(np.median(b) / np.median(a))
    assert first.lo < first.center < first.hi and first.method == "bootstrap"


def test_mann_whitney_p_is_calibrated_under_no_change():
    a, b = _draws(8, 1000, 20), _draws(9, 1000, 20)
    p = np.array([stats.mann_whitney_p(x, y) for x, y in zip(a, b)])
    assert 0.003 <= np.mean(p < 0.01) <= 0.02 and 0.03 <= np.mean(p < 0.05) <= 0.07


def test_timing_change_false_alarms_are_rare_and_a_25_percent_slowdown_is_found():
    """No change: 'same' in about 99% of draws or more (alpha 0.01, the threshold on top); 25% slower: found."""
    a, b = _draws(4, 200, 20), _draws(5, 200, 20)
    verdicts = [stats.timing_change(x, y).verdict for x, y in zip(a, b)]
    assert verdicts.count("same") >= 194  # 2 expected at most; 6 would be 3%
    slower = [stats.timing_change(x, 1.25 * y).verdict for x, y in zip(a[:50], b[:50])]
    assert slower.count("slower") == 50


def test_timing_change_needs_both_significance_and_size():
    a = _draws(6, 1, 30, sigma=0.002)[0]
    small = stats.timing_change(a, 1.02 * _draws(7, 1, 30, sigma=0.002)[0])
    assert small.p_value < 1e-6 and small.verdict == "same"  # significant, but under the 5% threshold
    assert stats.timing_change(a, 1.02 * _draws(7, 1, 30, sigma=0.002)[0], threshold=0.01).verdict == "slower"
    few = stats.timing_change([1.0, 1.01, 0.99], [1.5, 1.51, 1.49])
    assert few.ratio == pytest.approx(1.5) and few.p_value >= 0.01 and few.verdict == "same"  # 3 a side: p >= 0.1
    faster = stats.timing_change(a, 0.8 * a)
    assert faster.verdict == "faster" and faster.ratio == pytest.approx(0.8)


def test_mann_whitney_identical_constant_sets_and_empty_sets():
    assert stats.mann_whitney_p([1.0, 1.0], [1.0, 1.0]) == 1.0
    with pytest.raises(ValueError):
        stats.mann_whitney_p([], [1.0])


def test_round_ratios_and_format_pm():
    ratios = stats.round_ratios([{"a": 1.0, "b": 2.0}, {"a": 2.0, "b": 2.0, "c": None}, {"a": 0.0}])
    assert ratios == {"a": [1.0, 1.0], "b": [2.0, 1.0]}
    assert stats.format_pm(10.0, [9.79, 10.1]) == "±2.1%"
    assert stats.format_pm(10.0, [8.0, 10.5]) == "±20%"
    assert stats.format_pm(10.0, None) == ""
