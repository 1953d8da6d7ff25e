"""Interleaved rounds (issue 20): seeded shuffled visits, per-round ratios, adaptive stopping, faults, and
every new row field end to end. Fake workers answer with planted times; nothing asserts a speed.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import textwrap

import pytest

from rnnbench import cli
from rnnbench.bench import record, stats, sweep, table
from rnnbench.bench.rounds import comparisons
from rnnbench.bench.sweep import run_configs
from rnnbench.bench.timing import TimingPolicy
from rnnbench.records import read_records

from cli_helpers import one_line_error

#: A serving worker that plays back planted seconds per call: ``config["fake"]`` is a list (one value a
#: visit, cycled) and ``config["fault"]`` = [visit, "crash" | "hang" | "garbage" | "error"] plants a fault.
#: Every request is logged to $FAKE_LOG as [pid, op, id].
FAKE_WORKER = textwrap.dedent("""
    import json, os, sys, time
    log = open(os.environ["FAKE_LOG"], "a")
    rows = {}
    for line in iter(sys.stdin.readline, ""):
        request = json.loads(line)
        op, key = request["op"], request.get("id")
        log.write(json.dumps([os.getpid(), op, key]) + "\\n"); log.flush()
        if op == "quit":
            break
        if op == "prepare":
            config = request["config"]
            rows[key] = {"config": config, "visits": 0}
            answer = {"row": {"impl": config["impl"] or "native", "flops": 1000, "threads": 1},
                      "loops": 2, "call_s": 0.001, "warmup_calls": 2, "slow": False, "first_call_s": 0.5,
                      "items": 10}
        elif op == "sample":
            row = rows[key]
            row["visits"] += 1
            fault = row["config"].get("fault")
            if fault and fault[0] == row["visits"]:
                if fault[1] == "crash":
                    print("segfault, say", file=sys.stderr); sys.exit(3)
                if fault[1] == "hang":
                    time.sleep(60)
                if fault[1] == "garbage":
                    print("this is not json", flush=True); continue
                if fault[1] == "error":
                    print(json.dumps({"error": "RuntimeError: planted"}), flush=True); continue
            times = row["config"]["fake"]
            value = times[(row["visits"] - 1) % len(times)]
            answer = {"samples_s": [value] * request["samples"]}
        elif op == "finish":
            rows.pop(key)
            answer = {"cpu": {"wall_s": 1.0, "own_cpu_s": 1.0, "other_cpus": 0.0, "steal_fraction": 0.0,
                              "load": [0.1, 0.1]}, "peak_bytes": 4096, "peak_method": "vmhwm"}
        else:
            rows.pop(key, None)
            answer = {}
        print(json.dumps(answer), flush=True)
""")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("FAKE_LOG", str(log))

    def requests():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return (sys.executable, str(script)), requests


def _config(backend="numpy", impl=None, fake=(0.001,), cell="lstm", **extra):
    config = dict(
        kind="sequence",
        cell=cell,
        backend=backend,
        impl=impl,
        device="cpu",
        dtype="float32",
        threads=1,
        batch=2,
        steps=3,
        input=4,
        hidden=5,
        fake=list(fake),
        **extra,
    )
    config["pass"] = "forward"
    return config


def _policy(**changes):
    base = dict(
        warmup_calls=1,
        warmup_s=0.0,
        min_sample_s=0.001,
        min_samples=1,
        max_samples=5,
        budget_s=100.0,
        min_rounds=4,
        max_rounds=4,
        visit_samples=1,
        target_ci=0.03,
        idle_wait=False,
    )
    return TimingPolicy(**{**base, **changes})


def _run(command, configs, isolation="config", policy=None, timeout=30.0, progress=None):
    return run_configs(
        configs,
        threads=1,
        policy=policy or _policy(),
        isolation=isolation,
        timeout=timeout,
        command=command,
        progress=progress,
    )


def _alive(pid: int) -> bool:
    """True while ``pid`` exists (a zombie too: only reaping removes it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ------------------------------------------------------------------------------------------ rounds


def test_rounds_visit_every_row_once_a_round_in_a_seeded_shuffled_order(fake):
    command, requests = fake
    configs = [_config(b) for b in ("numpy", "torch", "tensorflow", "jax")]
    rows = _run(command, configs, policy=_policy(min_rounds=6, max_rounds=6))
    visits = [int(key) for _, op, key in requests() if op == "sample"]
    assert len(visits) == 6 * 4
    rounds = [visits[k : k + 4] for k in range(0, len(visits), 4)]
    rng, expected = random.Random(0), []  # the first comparison's seed is 0
    for _ in rounds:
        order = [0, 1, 2, 3]
        rng.shuffle(order)
        expected.append(order)
    assert rounds == expected
    assert len({tuple(r) for r in rounds}) > 1  # shuffled, not one fixed order
    assert all(sorted(r) == [0, 1, 2, 3] for r in rounds)
    assert {row["round_seed"] for row in rows} == {0} and {row["rounds"] for row in rows} == {6}
    # a second comparison gets the next seed
    more = _run(command, configs[:1] + [_config("numpy", cell="gru")])
    assert [row["round_seed"] for row in more] == [0, 1]


def test_per_round_ratios_give_ratio_to_fastest_and_its_interval(fake):
    command, _ = fake
    # Drift between rounds: A 1, 2, 3 ms; B 3, 2, 9 ms. Per round B/A is 3, 1, 3 (median 3); the ratio of the
    # pooled medians would be 3 / 2 = 1.5, so this tells the two apart.
    configs = [_config("numpy", fake=[0.001, 0.002, 0.003]), _config("torch", fake=[0.003, 0.002, 0.009])]
    rows = _run(command, configs, policy=_policy(min_rounds=3, max_rounds=3))
    a, b = rows
    assert a["ratio_to_fastest"] == 1.0 and a["ratio_ci95"] == [1.0, 1.0]
    assert b["ratio_to_fastest"] == pytest.approx(3.0)
    assert b["ratio_ci95"] == pytest.approx([1.0, 3.0])  # 3 rounds: the interval is their range
    assert b["median_s"] / a["median_s"] == pytest.approx(1.5)
    record.annotate(rows, {})  # keeps the rounds' ratios
    assert b["ratio_to_fastest"] == pytest.approx(3.0)
    fastest = {f["backend"]: f for f in record.fastest_impls(rows)}
    assert fastest["torch"]["ratio_to_best"] == pytest.approx(3.0)
    assert fastest["torch"]["ratio_ci95"] == pytest.approx([1.0, 3.0])
    # the row fields of the measurement
    assert b["samples_s"] == [0.003, 0.002, 0.009] and b["count"] == 3 and b["median_s"] == 0.003
    interval = stats.median_interval(b["samples_s"])
    assert b["ci95_s"] == interval.as_list() and b["rel_ci"] == interval.rel_halfwidth
    assert b["ci_coverage"] == interval.coverage
    assert (b["first_call_s"], b["peak_bytes"], b["peak_method"], b["loops"]) == (0.5, 4096, "vmhwm", 2)
    assert b["cpu"]["other_cpus"] == 0.0 and b["status"] == "ok" and b["error"] is None


def test_a_single_round_has_no_ratio_interval(fake):
    command, _ = fake
    rows = _run(command, [_config("numpy"), _config("torch", fake=[0.002])], policy=_policy(min_rounds=1, max_rounds=1))
    assert [r["ratio_to_fastest"] for r in rows] == [1.0, 2.0]
    assert [r["ratio_ci95"] for r in rows] == [None, None]


def test_sampling_stops_at_the_target(fake):
    command, _ = fake
    steady = [_config("numpy", fake=[0.001]), _config("torch", fake=[0.002])]
    rows = _run(command, steady, policy=_policy(min_rounds=5, max_rounds=40))
    assert {(r["stop_reason"], r["rounds"]) for r in rows} == {("target", 5)}
    assert all(r["rel_ci"] <= 0.03 for r in rows)


def test_sampling_stops_when_the_budget_is_spent_or_at_max_rounds(fake):
    command, _ = fake
    noisy = [_config("numpy", fake=[0.001, 0.0015]), _config("torch", fake=[0.002, 0.003])]  # never within 3%
    # each round samples 2 rows x 1 sample x 2 loops: 2*(1 or 1.5 ms) + 2*(2 or 3 ms) = 6 to 9 ms; budget 2 x 10 ms
    rows = _run(command, noisy, policy=_policy(min_rounds=2, max_rounds=40, budget_s=0.010))
    assert {r["stop_reason"] for r in rows} == {"budget"}
    assert {r["rounds"] for r in rows} == {3}  # 6 + 9 = 15 ms after 2 rounds, 21 ms after 3 (>= 20)
    rows = _run(command, noisy, policy=_policy(min_rounds=2, max_rounds=7, budget_s=100.0))
    assert {(r["stop_reason"], r["rounds"]) for r in rows} == {("max_rounds", 7)}
    assert all(r["rel_ci"] > 0.03 for r in rows)


def test_a_comparison_stops_at_the_target_only_when_its_ratios_are_within_it_too(fake):
    command, _ = fake
    policy = _policy(min_rounds=6, max_rounds=12, target_ci=0.06)
    # each row alternates 1.0/1.1 or 2.0/2.2: every median interval is the range, +-4.8%, inside 6%
    together = [_config("numpy", fake=[0.001, 0.0011]), _config("torch", fake=[0.002, 0.0022])]
    rows = _run(command, together, policy=policy)
    assert {(r["stop_reason"], r["rounds"]) for r in rows} == {("target", 6)}
    assert rows[1]["ratio_ci95"] == pytest.approx([2.0, 2.0])
    # the same samples, but torch slow when numpy is fast: per-round ratios 2.2 and 1.82, +-9.5%
    apart = [_config("numpy", fake=[0.001, 0.0011]), _config("torch", fake=[0.0022, 0.002])]
    rows = _run(command, apart, policy=policy)
    assert {(r["stop_reason"], r["rounds"]) for r in rows} == {("max_rounds", 12)}
    assert all(r["rel_ci"] <= 0.06 for r in rows)
    lo, hi = rows[1]["ratio_ci95"]
    assert hi / rows[1]["ratio_to_fastest"] - 1 > 0.06


def test_each_preparation_and_visit_waits_for_its_worker_to_go_idle(fake, monkeypatch):
    from rnnbench.bench import rounds

    command, requests = fake
    waited = []
    monkeypatch.setattr(rounds, "wait_idle", lambda pid: waited.append(pid))
    configs = [_config("numpy"), _config("torch")]
    _run(command, configs, isolation="impl", policy=_policy(min_rounds=3, max_rounds=3, idle_wait=True))
    served = [pid for pid, op, _ in requests() if op in ("prepare", "sample")]
    assert waited == served and len(waited) == 2 + 3 * 2  # the worker just asked, each time
    waited.clear()
    _run(command, configs, isolation="impl", policy=_policy(min_rounds=3, max_rounds=3))
    assert waited == []


def test_min_samples_raise_the_minimum_rounds(fake):
    command, _ = fake
    rows = _run(
        command, [_config("numpy")], policy=_policy(min_rounds=2, max_rounds=40, min_samples=9, visit_samples=3)
    )
    assert rows[0]["rounds"] == 3 and rows[0]["count"] == 9


def test_comparisons_group_what_compares():
    configs = [
        _config("numpy"),
        _config("torch"),
        _config("numpy", cell="gru"),
        _config("torch", impl="loop"),
        _config("numpy", layers=2, bidirectional=True),
        _config("torch", layers=2, bidirectional=True),
    ]
    assert comparisons(range(6), configs) == [[0, 1, 3], [2], [4, 5]]  # a stacked BiLSTM is its own comparison


# ------------------------------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("crash", "worker exited with status 3: segfault, say"),
        ("hang", "worker timed out after 3 s"),
        ("garbage", "worker answered no JSON"),
        ("error", "RuntimeError: planted"),
    ],
)
def test_a_worker_dying_mid_round_fails_only_its_row(fake, fault, reason):
    command, requests = fake
    configs = [_config("numpy"), _config("torch", fake=[0.002], fault=[3, fault]), _config("tensorflow")]
    rows = _run(command, configs, policy=_policy(min_rounds=5, max_rounds=5), timeout=3.0)
    numpy_row, torch_row, tf_row = rows
    assert torch_row["status"] == "failed" and reason in torch_row["error"]
    assert torch_row["samples_s"] == [0.002, 0.002] and torch_row["rounds"] == 2  # what it measured is kept
    assert torch_row["ratio_to_fastest"] is None
    for row in (numpy_row, tf_row):
        assert row["status"] == "ok" and row["rounds"] == 5 and row["ratio_to_fastest"] == 1.0
    pids = {pid for pid, _, _ in requests()}
    assert len(pids) == 3 and not any(_alive(pid) for pid in pids)  # every worker reaped, no zombie


def test_a_worker_holding_several_rows_fails_them_and_is_restarted_for_the_next_comparison(fake):
    command, requests = fake
    configs = [
        _config("numpy", impl="native", fault=[2, "crash"]),
        _config("numpy", impl="other"),
        _config("torch"),
        _config("numpy", impl="native", cell="gru"),
    ]
    rows = _run(command, configs, isolation="backend", policy=_policy(min_rounds=3, max_rounds=3))
    assert [r["status"] for r in rows] == ["failed", "failed", "ok", "ok"]
    assert "status 3" in rows[0]["error"]
    assert rows[1]["error"].startswith("its worker died while timing another row: worker exited with status 3")
    by_key = {}
    for pid, op, key in requests():
        if op == "prepare":
            by_key[int(key)] = pid
    assert by_key[0] == by_key[1] != by_key[3]  # the numpy worker was restarted for the gru comparison
    assert not any(_alive(pid) for pid in by_key.values())


def test_impl_isolation_keeps_one_worker_per_backend_and_impl_for_the_grid(fake):
    command, requests = fake
    configs = [_config("numpy"), _config("torch"), _config("numpy", cell="gru"), _config("torch", cell="gru")]
    rows = _run(command, configs, isolation="impl")
    assert {r["status"] for r in rows} == {"ok"}
    prepared = {int(key): pid for pid, op, key in requests() if op == "prepare"}
    assert prepared[0] == prepared[2] != prepared[1] == prepared[3]
    freed = [int(key) for _, op, key in requests() if op == "finish"]
    assert sorted(freed) == [0, 1, 2, 3]  # each row's timer freed after its comparison


def test_an_interrupted_bench_stops_every_worker(fake):
    command, requests = fake
    configs = [_config("numpy"), _config("torch"), _config("numpy", cell="gru")]

    def interrupt(done, total, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(command, configs, isolation="impl", progress=interrupt)
    pids = {pid for pid, _, _ in requests()}
    assert len(pids) == 2 and not any(_alive(pid) for pid in pids)


# ------------------------------------------------------------------------------------------ table


def _row(backend, median, ci, ratio, ratio_ci, **extra):
    return {
        "kind": "sequence",
        "cell": "lstm",
        "backend": backend,
        "impl": "native",
        "device": "cpu",
        "dtype": "float32",
        "threads": 2,
        "batch": 64,
        "steps": 100,
        "input": 128,
        "hidden": 256,
        "pass": "forward",
        "status": "ok",
        "median_s": median,
        "ci95_s": ci,
        "count": 20,
        "ratio_to_fastest": ratio,
        "ratio_ci95": ratio_ci,
        "round_seed": 0,
        "gflops_per_s": 1.0,
        "peak_bytes": 3 * 2**20,
        "first_call_s": 2.5,
        "warnings": [],
        **extra,
    }


def test_the_table_shows_intervals_memory_first_call_and_what_is_not_stable():
    rows = [
        _row("numpy", 0.0100, [0.0098, 0.0102], 1.0, [1.0, 1.0], stable=True, unstable_reasons=[]),
        _row(
            "torch",
            0.0132,
            [0.0125, 0.0135],
            1.32,
            [1.28, 1.36],
            stable=False,
            unstable_reasons=["interval ±5.3%, wider than the 3% target"],
        ),
    ]
    text = table.format_rows(rows, {})
    assert "10 ±2.0%" in text and "13.2 ±5.3%" in text
    assert "1.32× [1.28–1.36]" in text and "1.00× [1.00–1.00]" in text
    assert "peak MiB" in text and "3" in text and "first call" in text and "2.5 s" in text
    summary = table.format_summary(rows)
    assert "torch:1.32× [1.28–1.36]" in summary and "13.2 ±5.3%" in summary
    unstable = table.format_unstable(rows, ["peak GEMM 57 GFLOP/s is 26% of this machine's best"])
    assert "torch native lstm 64x100x128x256 forward: interval ±5.3%, wider than the 3% target" in unstable
    assert "numpy native" not in unstable and "record: peak GEMM 57" in unstable
    assert table.format_unstable(rows[:1], []) == ""


# ------------------------------------------------------------------------------------------ command, real workers

NEW_ROW_FIELDS = {
    "ci95_s",
    "rel_ci",
    "ci_coverage",
    "rounds",
    "ratio_to_fastest",
    "ratio_ci95",
    "stop_reason",
    "first_call_s",
    "peak_bytes",
    "peak_method",
    "cpu",
    "stable",
    "unstable_reasons",
    "samples_s",
}
CPU_FIELDS = {"wall_s", "own_cpu_s", "other_cpus", "steal_fraction", "load"}


def _bench(tmp_path, capsys, *argv):
    results = tmp_path / "results"
    code = cli.main(
        [
            "bench",
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
            *argv,
        ]
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def _check_row(row, policy_target=0.03):
    assert NEW_ROW_FIELDS <= set(row), NEW_ROW_FIELDS - set(row)
    assert row["status"] == "ok", row["error"]
    lo, hi = row["ci95_s"]
    assert lo <= row["median_s"] <= hi and row["count"] == len(row["samples_s"])
    assert row["rel_ci"] == pytest.approx((hi - lo) / 2 / row["median_s"])
    assert 0 < row["ci_coverage"] <= 1 and row["rounds"] >= 3
    assert row["stop_reason"] in ("target", "budget", "max_rounds")
    assert row["ratio_to_fastest"] >= 1.0 or row["ratio_to_fastest"] == pytest.approx(1.0)
    assert row["ratio_ci95"][0] <= row["ratio_to_fastest"] <= row["ratio_ci95"][1]
    assert row["first_call_s"] > 0 and row["peak_method"] in ("vmhwm", "rss-sampling")
    assert isinstance(row["peak_bytes"], int) and row["peak_bytes"] >= 0
    assert set(row["cpu"]) == CPU_FIELDS and row["cpu"]["wall_s"] > 0 and len(row["cpu"]["load"]) == 2
    assert isinstance(row["stable"], bool) and isinstance(row["unstable_reasons"], list)
    assert row["stable"] == (not row["unstable_reasons"])


def test_a_custom_grid_end_to_end_has_every_new_field(tmp_path, capsys):
    backends = "numpy,torch" if __import__("importlib.util").util.find_spec("torch") else "numpy"
    code, rec, err = _bench(
        tmp_path,
        capsys,
        "--backends",
        backends,
        "--cells",
        "lstm",
        "--sizes",
        "4x5x8x16",
        "--pass",
        "forward",
        "--min-samples",
        "3",
        "--budget",
        "0.05",
        "--target-ci",
        "2.5",
    )
    assert code == 0, err
    assert rec["config"]["timing"]["target_ci"] == 0.025 and rec["config"]["timing"]["interleaved"] is True
    assert len(rec["rows"]) == len(backends.split(","))
    for row in rec["rows"]:
        _check_row(row)
    assert min(r["ratio_to_fastest"] for r in rec["rows"]) == 1.0
    assert len({r["round_seed"] for r in rec["rows"]}) == 1  # one comparison, one seed
    assert all("ratio_ci95" in f for f in rec["fastest"])
    assert isinstance(rec["stable"], bool) and isinstance(rec["unstable_reasons"], list)
    assert set(rec["settle"]) == {"waited_s", "load_before", "load_after", "settled", "limit_s"}
    assert rec["settle"]["limit_s"] == 0
    ((_, saved),) = read_records(tmp_path / "results", schemas=(record.SCHEMA,))
    assert saved == rec


def test_the_smoke_suite_end_to_end_has_every_new_field(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "no-data"))  # synthetic trees
    code, rec, err = _bench(tmp_path, capsys, "--suite", "smoke", "--backends", "numpy")
    assert code == 0, err
    assert len(rec["rows"]) == 3 * 2 + 2 * 2 * 2
    for row in rec["rows"]:
        _check_row(row)
    trees = [r for r in rec["rows"] if r["kind"] == "tree"]
    assert {r["round_seed"] for r in trees if r["impl"] == "node-by-node"} == {
        r["round_seed"] for r in trees if r["impl"] == "level-batched"
    }  # schedules compare, interleaved


def _plant_verdict(monkeypatch, unstable_cell):
    from rnnbench.bench import verdict

    def row_verdict(row, target_ci=0.03, cpus=None):
        if row.get("cell") == unstable_cell:
            return False, ["planted: other processes used 1.9 CPUs"]
        return True, []

    monkeypatch.setattr(verdict, "row_verdict", row_verdict)
    monkeypatch.setattr(verdict, "best_recorded_peaks", lambda results_dir, host: {})
    monkeypatch.setattr(sweep, "measure_peak", lambda **kwargs: {"gflops": None, "error": "not measured here"})


@pytest.mark.parametrize(
    "unstable_cell, require, code_expected", [("gru", True, 1), ("gru", False, 0), ("none", True, 0)]
)
def test_require_stable_exits_1_on_an_unstable_row(
    tmp_path, capsys, monkeypatch, unstable_cell, require, code_expected
):
    _plant_verdict(monkeypatch, unstable_cell)
    code, rec, err = _bench(
        tmp_path,
        capsys,
        "--backends",
        "numpy",
        "--cells",
        "rnn,gru",
        "--sizes",
        "2x3x4x5",
        "--pass",
        "forward",
        "--min-samples",
        "3",
        "--budget",
        "0",
        *(["--require-stable"] if require else []),
    )
    assert code == code_expected, err
    gru = next(r for r in rec["rows"] if r["cell"] == "gru")
    assert gru["stable"] is (unstable_cell != "gru")
    assert rec["stable"] is (unstable_cell != "gru")
    if code_expected:
        (line,) = [x for x in err.splitlines() if x.startswith("rnnbench:")]
        assert line == ("rnnbench: not stable (--require-stable): 1 row(s) unstable (numpy native gru 2x3x4x5 forward)")
        assert "1 of 2 rows unstable" in rec["unstable_reasons"]


def test_new_options_refuse_bad_values_in_one_line(tmp_path, capsys):
    for argv, message in (
        (["--target-ci", "0"], "--target-ci must lie in (0, 100], got 0"),
        (["--target-ci", "nan"], "--target-ci must be a finite number, got nan"),
        (["--settle", "-1"], "--settle must not be negative, got -1"),
    ):
        code = cli.main(["bench", "--backends", "numpy", *argv, "--results-dir", str(tmp_path)])
        one_line_error(code, capsys.readouterr().err, message)


def test_statistics_of_a_row_use_stats_module():
    samples = [0.010, 0.011, 0.012, 0.009, 0.010, 0.013, 0.010]
    interval = stats.median_interval(samples)
    assert interval.center == statistics.median(samples)


def test_sigterm_of_the_bench_process_reaps_its_workers(fake, tmp_path):
    """A real SIGTERM to a parent blocked on a hung worker: it exits 143 and no worker outlives it."""
    import signal
    import subprocess
    import time

    command, requests = fake
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        from rnnbench import signals
        from rnnbench.bench.sweep import run_configs
        from rnnbench.bench.timing import TimingPolicy
        configs = {[_config("numpy"), _config("torch", fault=[1, "hang"])]!r}
        try:
            with signals.handled():
                run_configs(configs, threads=1, policy=TimingPolicy(min_rounds=2, max_rounds=2, visit_samples=1),
                            isolation="impl", timeout=60.0, command={list(command)!r})
        except KeyboardInterrupt as exc:
            sys.exit(signals.exit_status(exc))
    """)
    )
    parent = subprocess.Popen([sys.executable, str(script)], env=os.environ)
    deadline = time.monotonic() + 60
    while not any(op == "sample" and key == "1" for _, op, key in requests()):  # the torch worker now hangs
        assert time.monotonic() < deadline and parent.poll() is None, "the hung visit never started"
        time.sleep(0.05)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 143
    pids = {pid for pid, _, _ in requests()}
    assert len(pids) == 2
    deadline = time.monotonic() + 10  # the workers were children of the parent: init reaps what it killed
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


@pytest.mark.parametrize("slow, untimed", [(False, 1), (True, 0)])
def test_each_visit_wakes_its_timer_with_one_untimed_call_unless_calls_are_slow(slow, untimed):
    """Other workers ran since a row's last visit (cold caches, a sleeping thread pool): one call before the
    samples pays for that, so the samples measure the call and not the interleaving. Seconds-long calls skip it."""
    from rnnbench.bench.serve import Session

    calls = []
    session = Session()
    session.rows["7"] = {"timer": lambda: calls.append(1), "loops": 3, "windows": [], "slow": slow}
    answer = session.sample("7", 2)
    assert len(answer["samples_s"]) == 2
    assert len(calls) == untimed + 2 * 3  # the untimed call, then 2 samples of 3 loops
