"""Stability verdicts of issue 20 (rnnbench/bench/verdict.py): each reason a row or a record can be unstable,
on synthetic rows, the best recorded peak of a host, and settle() with fed loads and a fake clock (no sleeping)."""

from __future__ import annotations

import json

import pytest

from rnnbench.bench import verdict
from rnnbench.bench.verdict import best_recorded_peaks, record_verdict, row_verdict, settle
from rnnbench.machine import cpu_flags, cpu_level, machine_identity, machine_info, machine_label

TIGHT = [0.0100 + 0.00001 * (i % 5) for i in range(20)]  # ±0.1%: well inside 3%
QUIET_CPU = {"wall_s": 2.0, "own_cpu_s": 3.9, "other_cpus": 0.02, "steal_fraction": 0.0, "load": [0.1, 0.3]}


def _row(**changes) -> dict:
    return {"status": "ok", "error": None, "samples_s": list(TIGHT), "cpu": dict(QUIET_CPU), **changes}


# ------------------------------------------------------------------------------------------------ rows


def test_a_clean_row_is_stable():
    assert row_verdict(_row()) == (True, [])
    assert row_verdict(_row(cpu=None)) == (True, [])  # an older row, without cpu: judged on what it has


def test_a_row_that_did_not_run_is_unstable_and_says_why():
    assert row_verdict(_row(status="failed", error="worker died")) == (False, ["failed: worker died"])
    assert row_verdict(_row(status="failed", error=None)) == (False, ["failed"])
    stable, reasons = row_verdict(_row(status="unavailable", error="torch is not installed"))
    assert not stable and reasons == ["unavailable: torch is not installed"]
    assert row_verdict(_row(samples_s=[])) == (False, ["no timing samples"])


def test_a_wide_interval_is_named_with_its_width_and_the_target():
    wide = [0.010 * (1 + 0.1 * (i % 7)) for i in range(30)]
    stable, reasons = row_verdict(_row(samples_s=wide))
    assert not stable and len(reasons) == 1
    assert reasons[0].startswith("interval ±") and reasons[0].endswith(", wider than the 3% target")
    assert row_verdict(_row(samples_s=wide), target_ci=0.5) == (True, [])
    # The row's own rel_ci wins over recomputing it from the samples.
    assert row_verdict(_row(rel_ci=0.072)) == (False, ["interval ±7.2%, wider than the 3% target"])
    assert row_verdict(_row(rel_ci=0.072), target_ci=0.025)[1] == ["interval ±7.2%, wider than the 2.5% target"]
    assert row_verdict(_row(rel_ci=verdict.TARGET_CI)) == (True, [])


def test_fewer_than_six_samples_cannot_reach_95_percent():
    stable, reasons = row_verdict(_row(samples_s=TIGHT[:5]))
    assert not stable
    assert reasons == ["only 5 samples: the interval covers the median with probability 94%, below 95%"]
    assert row_verdict(_row(samples_s=TIGHT[:6])) == (True, [])


def test_other_processes_and_steal_are_named_with_their_numbers():
    busy = dict(QUIET_CPU, other_cpus=1.9, load=[3.1, 3.9])
    stable, reasons = row_verdict(_row(cpu=busy), cpus=2)
    assert not stable
    assert reasons == ["other processes used 1.9 CPUs while it was sampled (1-min load 3.9 on 2 usable CPUs)"]
    assert row_verdict(_row(cpu=dict(busy, load=[None, None])))[1] == [
        "other processes used 1.9 CPUs while it was sampled"
    ]
    assert row_verdict(_row(cpu=dict(QUIET_CPU, other_cpus=verdict.OTHER_CPUS_LIMIT))) == (True, [])
    stolen = dict(QUIET_CPU, steal_fraction=0.083)
    assert row_verdict(_row(cpu=stolen)) == (False, ["8.3% of CPU time stolen by the hypervisor"])
    assert row_verdict(_row(cpu=dict(QUIET_CPU, steal_fraction=verdict.STEAL_LIMIT))) == (True, [])
    # Values the OS did not tell are no reason either way.
    unknown = {"wall_s": 1.0, "own_cpu_s": None, "other_cpus": None, "steal_fraction": None, "load": [None, None]}
    assert row_verdict(_row(cpu=unknown)) == (True, [])


def test_every_reason_at_once():
    row = _row(samples_s=[0.01, 0.02, 0.03], cpu=dict(QUIET_CPU, other_cpus=1.0, steal_fraction=0.2))
    stable, reasons = row_verdict(row, cpus=2)
    assert not stable and len(reasons) == 4


# ------------------------------------------------------------------------------------------------ records


def _record(rows, peak=219.0, load_start=(0.2, 1.0, 1.0), load_end=(0.4, 1.0, 1.0), **extra) -> dict:
    return {
        "schema": "rnnbench.bench/1",
        "machine": {"hostname": "vm", "cpu_model": "AMD EPYC", "logical_cpus": 2, "usable_cpus": 2},
        "config": {"timing": {"target_ci": 0.03}},
        "peaks": {"float32": {"gflops": peak, "dtype": "float32"}},
        "load_average": {"start": list(load_start), "end": list(load_end)},
        "rows": rows,
        **extra,
    }


def test_a_clean_record_is_stable():
    assert record_verdict(_record([_row(), _row()]), {"float32": 219.0}) == (True, [])
    assert record_verdict(_record([_row()]), None) == (True, [])


def test_unstable_rows_are_counted_and_failed_rows_are_left_to_the_status():
    rows = [_row(), _row(samples_s=TIGHT[:3]), _row(stable=False, unstable_reasons=["x"]), _row(status="failed")]
    assert record_verdict(_record(rows)) == (False, ["2 of 3 rows unstable"])
    # A row's own verdict is trusted as given.
    assert record_verdict(_record([_row(samples_s=TIGHT[:3], stable=True)])) == (True, [])
    # Rows are judged against the record's own target.
    wide = _row(rel_ci=0.05)
    assert record_verdict(_record([wide]))[1] == ["1 of 1 rows unstable"]
    loose = _record([wide])
    loose["config"]["timing"]["target_ci"] = 0.1
    assert record_verdict(loose) == (True, [])


def test_a_peak_far_below_the_best_recorded_one_makes_the_record_unstable():
    stable, reasons = record_verdict(_record([_row()], peak=57.0), {"float32": 219.0})
    assert not stable
    assert reasons == ["peak GEMM 57 GFLOP/s is 26% of this machine's best recorded 219 GFLOP/s"]
    assert record_verdict(_record([_row()], peak=0.71 * 219), {"float32": 219.0}) == (True, [])
    assert record_verdict(_record([_row()], peak=57.0), {"float64": 219.0}) == (True, [])  # no best of that dtype
    # Older records with one "peak" and no "peaks".
    old = _record([_row()], peak=57.0)
    old["peak"] = old.pop("peaks")["float32"]
    assert record_verdict(old, {"float32": 219.0})[1] == reasons
    double = _record([_row()])
    double["peaks"]["float64"] = {"gflops": 20.0}
    assert record_verdict(double, {"float32": 219.0, "float64": 100.0})[1] == [
        "float64 peak GEMM 20 GFLOP/s is 20% of this machine's best recorded 100 GFLOP/s"
    ]


def test_the_record_load_counts_only_when_the_rows_have_no_cpu_of_their_own():
    rows = [_row(cpu=None)]
    busy = _record(rows, load_start=(3.9, 2.0, 1.0), load_end=(6.2, 3.0, 2.0))
    assert record_verdict(busy) == (False, ["1-min load 3.9 at the start and 6.2 at the end, above the 2 usable CPUs"])
    assert record_verdict(_record(rows, load_end=(2.2, 1.0, 1.0)))[1] == [
        "1-min load 2.2 at the end, above the 2 usable CPUs"
    ]
    with_cpu = _record([_row()], load_start=(3.9, 2.0, 1.0), load_end=(6.2, 3.0, 2.0))
    assert record_verdict(with_cpu) == (True, [])


def test_a_malformed_record_is_judged_on_what_it_has():
    assert record_verdict({}) == (True, [])
    assert record_verdict(
        {"rows": "x", "machine": [], "peaks": {"float32": "fast"}, "load_average": 3, "config": {"timing": None}},
        {"float32": "x"},
    ) == (True, [])


def test_best_recorded_peaks_of_a_host(tmp_path):
    def write(name, record):
        (tmp_path / name).write_text(json.dumps(record))

    write("a.json", _record([], peak=219.0))  # the best first: a reader that keeps the last one fails
    write("b.json", _record([], peak=100.0))
    other = _record([], peak=500.0)
    other["machine"] = dict(other["machine"], hostname="big")
    write("c.json", other)
    same_name = _record([], peak=400.0)
    same_name["machine"] = dict(same_name["machine"], cpu_model="Intel Xeon")
    write("0.json", same_name)
    old = _record([], peak=300.0)
    old["peak"] = dict(old.pop("peaks")["float32"], dtype="float64")
    write("e.json", old)
    write("f.json", {"schema": "rnnbench.run/1", "machine": {"hostname": "vm"}, "peaks": {"float32": 999}})
    (tmp_path / "broken.json").write_text("{not json")
    write("g.json", _record([], peak=float("nan")))  # json writes NaN, and reads it back
    write("h.json", ["not", "a", "record"])
    assert best_recorded_peaks(tmp_path, "vm") == {"float32": 400.0, "float64": 300.0}
    assert best_recorded_peaks(tmp_path, _record([])) == {"float32": 219.0, "float64": 300.0}
    assert best_recorded_peaks(tmp_path, "nobody") == {}
    assert best_recorded_peaks(tmp_path / "missing", "vm") == {}


def test_a_machine_of_the_same_name_with_another_isa_level_is_another_machine(tmp_path):
    """The project's VM kept its hostname and CPU model string while moving between CPUs with and without
    AVX-512: its AVX-512 peak must not judge (or be judged by) the AVX2 records."""
    avx2, avx512 = ["sse4_2", "avx", "avx2", "fma"], ["sse4_2", "avx", "avx2", "fma", "avx512f"]
    (tmp_path / "a.json").write_text(json.dumps(_record([], peak=220.0, cpu_flags=avx512)))
    (tmp_path / "b.json").write_text(json.dumps(_record([], peak=150.0, cpu_flags=avx2)))
    assert best_recorded_peaks(tmp_path, _record([], cpu_flags=avx2)) == {"float32": 150.0}
    assert best_recorded_peaks(tmp_path, _record([], cpu_flags=avx512)) == {"float32": 220.0}
    assert machine_label(_record([], cpu_flags=avx512)) == "vm (avx512)" and machine_label(_record([])) == "vm"
    # every record written now says it in its machine (run and check records list no flags of their own)
    assert machine_info()["isa_level"] == cpu_level(cpu_flags())
    run = {"schema": "rnnbench.run/1", "machine": dict(_record([])["machine"], isa_level="avx2")}
    assert machine_label(run) == "vm (avx2)" and machine_identity(run) == machine_identity(_record([], cpu_flags=avx2))


# ------------------------------------------------------------------------------------------------ settle


class _Machine:
    """A fake clock that sleep() advances, and a 1-min load read from a list (the last value repeats)."""

    def __init__(self, loads):
        self.loads, self.now, self.slept, self.said = list(loads), 0.0, [], []

    def load(self):
        return self.loads.pop(0) if len(self.loads) > 1 else self.loads[0]

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def settle(self, limit_s, cpus=2):
        return settle(limit_s, cpus, load=self.load, sleep=self.sleep, clock=lambda: self.now, say=self.said.append)


def test_settle_waits_until_the_load_falls_below_half_the_cpus():
    m = _Machine([1.8, 1.5, 1.2, 0.9, 0.5])
    assert m.settle(30) == {"waited_s": 6.0, "load_before": 1.8, "load_after": 0.9, "settled": True, "limit_s": 30}
    assert m.slept == [2.0, 2.0, 2.0]
    assert m.said == [
        "bench: waiting up to 30 s for the machine to settle (1-min load 1.8 on 2 CPUs)",
        "bench: settled after 6 s (1-min load 0.9)",
    ]


def test_settle_gives_up_at_the_limit_and_says_so():
    m = _Machine([1.8])
    result = m.settle(5)
    assert result == {"waited_s": 5.0, "load_before": 1.8, "load_after": 1.8, "settled": False, "limit_s": 5}
    assert m.slept == [2.0, 2.0, 1.0]
    assert len(m.said) == 2 and m.said[1].startswith("bench: still busy after 5 s (1-min load 1.8 on 2 CPUs)")


def test_settle_returns_at_once_with_limit_zero_a_quiet_machine_or_no_load_average():
    m = _Machine([1.8])
    assert m.settle(0) == {"waited_s": 0.0, "load_before": 1.8, "load_after": 1.8, "settled": False, "limit_s": 0}
    quiet = _Machine([0.3])
    assert quiet.settle(30)["settled"] is True
    unknown = _Machine([None])
    assert unknown.settle(30)["settled"] is False
    for each in (m, quiet, unknown):
        assert each.slept == [] and each.said == []
    assert _Machine([3.0, 1.9]).settle(30, cpus=4)["waited_s"] == 2.0  # half of 4 CPUs is 2


@pytest.mark.parametrize("name", ["TARGET_CI", "OTHER_CPUS_LIMIT", "STEAL_LIMIT", "PEAK_FRACTION_LIMIT"])
def test_every_limit_is_a_fraction(name):
    assert 0 < getattr(verdict, name) < 1
