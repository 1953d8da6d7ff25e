"""`rnnbench bench`: FLOP counts, timing statistics, the worker, the record, and every bad input.

Nothing here asserts a speed (the CI machine is shared): timings run on a fake
clock, and the real runs check structure, counts and status only.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from rnnbench import cli
from rnnbench.bench import flops, record, timing
from rnnbench.bench.grid import ROW_FIELDS
from rnnbench.bench.run_config import run_config
from rnnbench.bench.sweep import call_worker, run_configs
from rnnbench.bench.treedata import one_node_per_level, synthetic_trees
from rnnbench.errors import RnnbenchError
from rnnbench.records import read_records
from rnnbench.trees import TreeBatch

from cli_helpers import one_line_error

ROW_KEYS = set(ROW_FIELDS) | {
    "samples_s",
    "median_s",
    "iqr_s",
    "min_s",
    "count",
    "flops",
    "gflops_per_s",
    "peak_fraction",
    "items_per_s",
    "ratio_to_fastest",
    "warnings",
    "status",
    "error",
    "kernel",
    "kernel_warnings",
    "ci95_s",
    "rel_ci",
    "ci_coverage",
    "rounds",
    "ratio_ci95",
    "stop_reason",
    "first_call_s",
    "peak_bytes",
    "peak_method",
    "cpu",
    "stable",
    "unstable_reasons",
}
RECORD_KEYS = {
    "schema",
    "task",
    "dataset",
    "backend",
    "seed",
    "status",
    "started_at",
    "finished_at",
    "config",
    "machine",
    "versions",
    "git",
    "load_average",
    "peak",
    "rows",
    "kernels",
    "warnings",
    "fastest",
    "cpu_flags",
    "pinned",
    "stable",
    "unstable_reasons",
    "settle",
}
QUICK = timing.TimingPolicy(
    warmup_calls=1, warmup_s=0.0, min_sample_s=0.001, min_samples=3, max_samples=3, budget_s=0.0
)


# ------------------------------------------------------------------------------------------ FLOPs


@pytest.mark.parametrize(
    "cell, expected",
    [
        # D=3, H=2: products 2*(D+H)*G*H, plus the elementwise count per hidden unit times H
        ("rnn", 2 * 5 * 1 * 2 + 3 * 2),  # 26
        ("lstm", 2 * 5 * 4 * 2 + 17 * 2),  # 114
        ("gru", 2 * 5 * 3 * 2 + 17 * 2),  # 94
    ],
)
def test_sequence_step_flops_by_hand(cell, expected):
    assert flops.sequence_step_flops(cell, 3, 2) == expected
    # 2 sequences x 4 steps; backward counted twice the forward
    assert flops.sequence_flops(cell, 2, 4, 3, 2, "forward") == 8 * expected
    assert flops.sequence_flops(cell, 2, 4, 3, 2, "forward+backward") == 3 * 8 * expected


def test_lstm_flops_at_a_suite_size():
    # 64x100x512x512 forward: 6400 steps x (2*1024*2048 + 17*512)
    assert flops.sequence_flops("lstm", 64, 100, 512, 512, "forward") == 6400 * (4_194_304 + 8_704)


def test_tree_flops_by_hand():
    # 3 leaves, 2 internal nodes, D=3, H=2
    assert flops.tree_node_flops("recursive", 2, 2) == (0, 2 * 4 * 2 + 2 * 2)  # (0, 20)
    assert flops.tree_node_flops("treelstm", 3, 2) == (2 * 3 * 6 + 9 * 2, 2 * 4 * 10 + 17 * 2)  # (54, 114)
    assert flops.tree_flops("recursive", 3, 5, 2, 2, "forward") == 2 * 20
    assert flops.tree_flops("treelstm", 3, 5, 3, 2, "forward") == 3 * 54 + 2 * 114
    assert flops.tree_flops("treelstm", 3, 5, 3, 2, "forward+backward") == 3 * (3 * 54 + 2 * 114)


def test_flops_reject_unknown_names():
    with pytest.raises(RnnbenchError, match="cell"):
        flops.sequence_step_flops("transformer", 3, 2)
    with pytest.raises(RnnbenchError, match="pass"):
        flops.sequence_flops("lstm", 1, 1, 3, 2, "backward")


# ------------------------------------------------------------------------------------------ timing


class FakeClock:
    """A clock that only moves when the timed callable runs: each call costs the next duration."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = iter(durations)
        self.calls = 0

    def __call__(self):
        return self.now

    def work(self):
        self.now += next(self.durations)
        self.calls += 1


def _repeat(value):
    while True:
        yield value


def test_summarize_median_iqr_min_count():
    stats = timing.summarize([4.0, 1.0, 3.0, 100.0, 2.0])
    assert stats["median_s"] == 3.0
    assert stats["iqr_s"] == pytest.approx(2.0)  # quartiles 2 and 4 (linear interpolation)
    assert (stats["min_s"], stats["max_s"], stats["count"]) == (1.0, 100.0, 5)
    assert timing.summarize([0.5])["iqr_s"] == 0.0


def test_steady_callable_has_no_warnings():
    clock = FakeClock(_repeat(0.010))
    policy = timing.TimingPolicy(
        warmup_calls=2, warmup_s=0.0, min_sample_s=0.05, min_samples=5, max_samples=8, budget_s=0.3
    )
    result = timing.measure(clock.work, policy, clock=clock, load=lambda: 0.1, cpus=2)
    assert result.loops == 5  # 5 x 10 ms reaches the 50 ms a sample must last
    assert result.median_s == pytest.approx(0.010)
    assert result.iqr_s == pytest.approx(0.0, abs=1e-12)
    assert 5 <= result.count <= 8
    assert result.count == len(result.samples_s)
    assert result.warnings == []


def test_budget_and_sample_limits_bound_the_count():
    ms = 2.0**-10  # about a millisecond, exact in binary so the fake clock adds up exactly
    clock = FakeClock(_repeat(ms))
    policy = timing.TimingPolicy(
        warmup_calls=1, warmup_s=0.0, min_sample_s=8 * ms, min_samples=3, max_samples=1000, budget_s=80 * ms
    )
    result = timing.measure(clock.work, policy, clock=clock, load=lambda: None, cpus=1)
    assert result.loops == 8
    assert result.count == 10  # 10 samples of 8 calls use up the budget of 80 calls
    slow = FakeClock(_repeat(1.0))
    result = timing.measure(slow.work, policy, clock=slow, load=lambda: None, cpus=1)
    assert result.loops == 1 and result.count == 3  # the minimum count, however long each call takes


def test_planted_spread_is_flagged():
    # A warm-up call and a calibration trial of 10 ms each, then samples alternating 10 ms / 30 ms:
    # IQR and range far above the thresholds.
    durations = [0.010, 0.010] + [0.010, 0.030] * 5
    clock = FakeClock(iter(durations))
    policy = timing.TimingPolicy(
        warmup_calls=1, warmup_s=0.0, min_sample_s=0.005, min_samples=10, max_samples=10, budget_s=0.0
    )
    result = timing.measure(clock.work, policy, clock=clock, load=lambda: 0.0, cpus=2)
    assert result.loops == 1 and result.count == 10
    assert result.median_s == pytest.approx(0.020)
    assert result.iqr_s == pytest.approx(0.020)
    assert any("IQR is 100%" in w for w in result.warnings), result.warnings
    assert any("max - min is 100%" in w for w in result.warnings), result.warnings


def test_one_outlier_moves_the_range_but_not_the_median():
    samples = [0.010] * 9 + [0.020]
    warnings = timing.spread_warnings(samples)
    assert timing.summarize(samples)["median_s"] == 0.010
    assert warnings == ["unstable: max - min is 100% of the median (> 50%)"]


def test_busy_machine_and_short_samples_are_flagged():
    clock = FakeClock(_repeat(0.0001))
    policy = timing.TimingPolicy(
        warmup_calls=1, warmup_s=0.0, min_sample_s=0.0002, min_samples=3, max_samples=3, budget_s=0.0
    )
    result = timing.measure(clock.work, policy, clock=clock, load=lambda: 5.0, cpus=2)
    assert any(w.startswith("short samples") for w in result.warnings)
    assert any("load average 5.00 on 2" in w for w in result.warnings)


def test_calibration_loops():
    assert timing.calibrate_loops(0.001, 0.05) == 50
    assert timing.calibrate_loops(2.0, 0.05) == 1
    assert timing.calibrate_loops(0.0, 0.05, max_loops=100) == 100


def test_calibration_recovers_from_a_slow_warm_up():
    # The only warm-up call is slow (tracing, say): the trial sample falls short and loops are raised.
    ms = 2.0**-10
    clock = FakeClock([64 * ms] + [ms] * 10_000)
    policy = timing.TimingPolicy(
        warmup_calls=1, warmup_s=0.0, min_sample_s=16 * ms, min_samples=3, max_samples=3, budget_s=0.0
    )
    result = timing.measure(clock.work, policy, clock=clock, load=lambda: None, cpus=1)
    assert result.loops == 16
    assert result.median_s == ms


# ------------------------------------------------------------------------------------------ trees


def test_synthetic_trees_are_seeded_and_sst_shaped():
    first, again = synthetic_trees(300, seed=0), synthetic_trees(300, seed=0)
    assert [t.to_ptb() for t in first] == [t.to_ptb() for t in again]
    lengths = np.array([len(t.leaves()) for t in first])
    heights = np.array([t.height for t in first])
    assert lengths.min() >= 2 and lengths.max() <= 56
    assert 16 < lengths.mean() < 22  # SST train: 19.1
    assert 8.3 < heights.mean() < 11.3  # SST train: 9.8


def test_node_by_node_schedule_computes_the_same_states():
    from rnnbench.params import init_params
    from rnnbench.plugins import get_backend

    batch = TreeBatch.from_trees(synthetic_trees(5, seed=1))
    single = one_node_per_level(batch)
    assert len(single.levels) == batch.num_nodes - batch.num_leaves
    params = init_params("treelstm", 4, 3, dtype="float64")
    x = np.random.default_rng(0).normal(size=(batch.num_leaves, 4))
    numpy_backend = get_backend("numpy")
    batched = numpy_backend.tree_forward("treelstm", params, x, batch)
    one_by_one = numpy_backend.tree_forward("treelstm", params, x, single)
    for key in ("h", "c"):
        np.testing.assert_allclose(one_by_one[key], batched[key], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------ timers

TIMER_BACKENDS = ["numpy", "torch", "tensorflow"]


@pytest.mark.parametrize("backend_name", TIMER_BACKENDS)
def test_every_backend_has_timers(backend_name):
    if backend_name != "numpy":
        pytest.importorskip(backend_name)
    from rnnbench.bench.inputs import sequence_inputs, tree_inputs
    from rnnbench.plugins import get_backend

    backend = get_backend(backend_name)
    params, x = sequence_inputs("gru", 2, 3, 4, 5)
    batch = TreeBatch.from_trees(synthetic_trees(2))
    tree_params, leaves = tree_inputs("treelstm", batch.num_leaves, 4, 5)
    for backward in (False, True):
        assert backend.sequence_timer("gru", params, x, backward=backward)() is None
        assert backend.tree_timer("treelstm", tree_params, leaves, batch, backward=backward)() is None


def test_base_backend_without_timers_says_so():
    from rnnbench.backend import Backend

    # a backend that implements the contract (whatever the base class requires) but no timers
    required = getattr(Backend, "__abstractmethods__", ())
    bare = type("Bare", (Backend,), {name: lambda *a, **k: None for name in required})
    with pytest.raises(RnnbenchError, match="cannot be timed"):
        bare().sequence_timer("lstm", {}, np.zeros((1, 1, 1)))


# ------------------------------------------------------------------------------------------ worker


def _config(**changes):
    config = dict(
        kind="sequence",
        cell="lstm",
        backend="numpy",
        impl=None,
        device="cpu",
        dtype="float32",
        threads=1,
        batch=2,
        steps=3,
        input=4,
        hidden=5,
    )
    config["pass"] = "forward+backward"
    config.update(changes)
    return config


def test_worker_times_one_numpy_config_in_a_subprocess():
    answer = call_worker({"mode": "time", "threads": 1, "policy": QUICK.as_dict(), "configs": [_config()]}, timeout=120)
    (row,) = answer["rows"]
    assert row["status"] == "ok", row["error"]
    assert row["impl"] == "native" and row["threads"] == 1
    assert row["count"] == 3 == len(row["samples_s"])
    assert row["min_s"] <= row["median_s"] and row["median_s"] > 0
    assert row["flops"] == flops.sequence_flops("lstm", 2, 3, 4, 5, "forward+backward")
    assert row["gflops_per_s"] == pytest.approx(row["flops"] / row["median_s"] / 1e9)
    assert row["items_per_s"] == pytest.approx(6 / row["median_s"])


class _BrokenBackend:
    impl = "native"

    def info(self):
        return {"threads": 1}

    def sequence_timer(self, *args, **kwargs):
        raise MemoryError("cannot allocate 80 GB\nsecond line")


def test_a_failing_config_is_a_failed_row():
    row = run_config(_config(backend="broken"), QUICK, {("broken", None, "cpu", 1): _BrokenBackend()})
    assert row["status"] == "failed"
    assert row["error"] == "MemoryError: cannot allocate 80 GB"
    assert ROW_KEYS - {"ratio_to_fastest"} <= set(row)


def test_a_crashing_worker_gives_failed_rows_and_the_sweep_goes_on():
    configs = [_config(), _config(cell="gru")]
    crash = (sys.executable, "-c", "import sys; print('segfault, say', file=sys.stderr); sys.exit(3)")
    rows = run_configs(configs, threads=1, policy=QUICK, command=crash)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all("status 3: segfault, say" in r["error"] for r in rows)


def test_an_uninstalled_backend_gives_unavailable_rows_without_a_process():
    rows = run_configs(
        [_config(backend="ghost")],
        threads=1,
        policy=QUICK,
        unavailable={"ghost": "ghost not installed (pip install ghost)"},
        command=(sys.executable, "-c", "raise SystemExit(1)"),
    )
    assert rows[0]["status"] == "unavailable" and "not installed" in rows[0]["error"]


def test_annotate_ratio_and_peak_fraction():
    rows = [
        dict(_config(backend=b), status="ok", median_s=m, gflops_per_s=g)
        for b, m, g in (("numpy", 2.0, 5.0), ("torch", 1.0, 10.0))
    ]
    rows.append(dict(_config(backend="tensorflow"), status="failed", median_s=None, gflops_per_s=None))
    record.annotate(rows, {"float32": {"gflops": 40.0}})
    assert [r["ratio_to_fastest"] for r in rows] == [2.0, 1.0, None]
    assert [r["peak_fraction"] for r in rows] == [0.125, 0.25, None]


# ------------------------------------------------------------------------------------------ command


def test_smoke_suite_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "no-data"))  # no SST here: synthetic trees
    results = tmp_path / "results"
    code = cli.main(
        [
            "bench",
            "--suite",
            "smoke",
            "--backends",
            "numpy",
            "--threads",
            "1",
            "--peak-frameworks",
            "numpy",
            "--settle",
            "0",
            "--results-dir",
            str(results),
            "--format",
            "json",
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    ((path, rec),) = read_records(results, schemas=(record.SCHEMA,))
    assert rec == printed
    assert RECORD_KEYS <= set(rec)
    assert (rec["schema"], rec["task"], rec["dataset"], rec["backend"], rec["status"]) == (
        "rnnbench.bench/1",
        "bench",
        "smoke",
        "numpy",
        "ok",
    )
    assert rec["peak"]["gflops"] > 0 and rec["peak"]["dtype"] == "float32" and rec["peak"]["threads"] == 1
    assert rec["peak"]["framework"] == "numpy" and rec["peak"]["kernels"]["numpy"]["blas"]
    assert rec["kernels"]["numpy"]["blas"] and isinstance(rec["warnings"], list)
    assert {(f["cell"], f["pass"], f["impl"]) for f in rec["fastest"]} >= {("lstm", "forward", "native")}
    assert rec["config"]["tree_source"]["source"] == "synthetic"
    assert set(rec["load_average"]) == {"start", "end"}
    cells = {(r["kind"], r["cell"], r["impl"], r["pass"]) for r in rec["rows"]}
    assert len(cells) == len(rec["rows"]) == 3 * 2 + 2 * 2 * 2  # 3 sequence cells, 2 tree cells x 2 schedules
    for row in rec["rows"]:
        assert ROW_KEYS <= set(row), ROW_KEYS - set(row)
        assert row["status"] == "ok", row["error"]
        assert row["count"] == len(row["samples_s"]) >= 3
        assert 0 < row["peak_fraction"]
        assert row["ratio_to_fastest"] >= 1.0
        if row["kind"] == "tree":
            assert row["nodes"] > row["trees"] == 4
    node_by_node = [r for r in rec["rows"] if r["impl"] == "node-by-node"]
    assert node_by_node and all(r["steps"] == r["nodes"] - r["leaves"] for r in node_by_node)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sizes", "64x100"], "is not BATCHxSTEPSxINPUTxHIDDEN"),
        (["--sizes", "64x100x0x8"], "positive integers"),
        (["--cells", "lstm,transformer"], "unknown cell 'transformer'"),
        (["--backends", "nosuch"], "unknown backend 'nosuch'"),
        (["--pass", "backward"], "unknown pass 'backward'"),
        (["--dtype", "float16"], "unknown dtype 'float16'"),
        (["--impls", "turbo"], "no selected backend has impl 'turbo'"),
        (["--suite", "deepbench"], "sized for a GPU"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--budget", "-1"], "--budget must not be negative, got -1"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(argv, message, tmp_path, capsys):
    code = cli.main(
        ["bench", "--backends", "numpy", *argv, "--results-dir", str(tmp_path)]
        if "--backends" not in argv
        else ["bench", *argv, "--results-dir", str(tmp_path)]
    )
    one_line_error(code, capsys.readouterr().err, message)
    assert not list(tmp_path.glob("*.json"))  # nothing ran, nothing was written
