"""The local executor on the smoke sweep: one record per configuration, resume, failures, Ctrl-C and SIGTERM."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deaf_run import deaf_env

from rnnbench.cli import main

from proc_helpers import catches_sigterm, find_descendant, wait_for

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "sweeps" / "smoke.toml"
#: The smoke sweep runs numpy and torch; a NumPy-only install runs the other tests here.
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="the smoke sweep runs torch, which is not installed"
)


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _keys(records) -> list:
    return sorted((r["backend"], r["seed"]) for r in records)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """The smoke sweep run once with --jobs 2 (about 10 s): its records and its output."""
    folder = tmp_path_factory.mktemp("smoke") / "results"
    process = subprocess.run(
        [sys.executable, "-m", "rnnbench.cli", "sweep", str(SMOKE), "--jobs", "2", "--results-dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return folder, process


@needs_torch
def test_smoke_sweep_writes_one_ok_record_per_configuration(smoke_results):
    folder, process = smoke_results
    assert process.returncode == 0, process.stderr
    records = _records(folder)
    assert _keys(records) == [("numpy", 0), ("numpy", 1), ("torch", 0), ("torch", 1)]
    assert {r["status"] for r in records} == {"ok"}
    assert {r["dataset"] for r in records} == {"adding-T10"} and {r["config"]["threads"] for r in records} == {1}
    assert all(r["command"].startswith("rnnbench run --backend ") for r in records)
    # one line per finished run, the counts and the accuracy table of the records
    assert process.stdout.count("\nok ") + process.stdout.startswith("ok ") == 4
    assert "sweep: 4 ok, 0 failed, 0 diverged, 0 interrupted, 0 skipped (4 configurations)" in process.stdout
    assert "adding-T10" in process.stdout and "test mse" in process.stdout
    # the same seeds give the same numbers on both backends (float64): the runs are the runs
    by_key = {(r["backend"], r["seed"]): r["best"]["test"] for r in records}
    assert by_key[("numpy", 0)] == pytest.approx(by_key[("torch", 0)], rel=1e-6)


@needs_torch
def test_second_run_skips_all_and_a_deleted_record_is_redone(smoke_results, tmp_path, capsys):
    folder, _ = smoke_results
    copy = tmp_path / "results"
    copy.mkdir()
    for path in folder.glob("*.json"):
        (copy / path.name).write_bytes(path.read_bytes())
    before = sorted(p.name for p in copy.glob("*.json"))
    # --any-version: others commit to this checkout while tests run (the commit check has its own test)
    assert main(["sweep", str(SMOKE), "--jobs", "2", "--any-version", "--results-dir", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "sweep: 0 ok, 0 failed, 0 diverged, 0 interrupted, 4 skipped (4 configurations)" in out
    assert sorted(p.name for p in copy.glob("*.json")) == before  # nothing ran, nothing was rewritten

    gone = next(p for p in copy.glob("*torch*seed1.json"))
    gone.unlink()
    assert main(["sweep", str(SMOKE), "--dry-run", "--any-version", "--results-dir", str(copy)]) == 0
    dry = capsys.readouterr().out
    assert "4 configurations: 3 done, 1 to run" in dry
    assert re.search(r"\n4\s+to run\s+longrange adding-T10 torch gru seed 1\s*\n", dry), dry
    assert main(["sweep", str(SMOKE), "--any-version", "--results-dir", str(copy)]) == 0
    assert "sweep: 1 ok, 0 failed, 0 diverged, 0 interrupted, 3 skipped (4 configurations)" in capsys.readouterr().out
    assert _keys(_records(copy)) == [("numpy", 0), ("numpy", 1), ("torch", 0), ("torch", 1)]


def test_a_failing_configuration_leaves_a_failed_record_and_the_rest_finish(tmp_path, capsys):
    broken = tmp_path / "broken.tsv"
    broken.write_text("words\tcategory\nsome text\tpos\nmore text\tneg\n")  # no text/label columns
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(_textclf_failure(broken))  # valid names and options: it fails only when it reads the file
    results = tmp_path / "results"
    assert main(["sweep", str(sweep), "--jobs", "2", "--results-dir", str(results)]) == 1
    out = capsys.readouterr().out
    records = {r["task"]: r for r in _records(results)}
    assert records["longrange"]["status"] == "ok"
    failed = records["textclf"]
    assert failed["status"] == "failed" and failed["schema"] == "rnnbench.run/1"
    assert "exited with status 2" in failed["error"] and "rnnbench: error:" in failed["error"]
    assert failed["dataset"] == str(broken) and failed["model"] == "gru" and failed["seed"] == 0
    assert failed["metric"] == "unknown"  # no textclf run here names it: the data was never read
    _readable_by_the_report(results)
    assert "sweep: 1 ok, 1 failed, 0 diverged, 0 interrupted, 0 skipped (2 configurations)" in out
    # a failed run is never done: the next sweep tries it again
    assert main(["sweep", str(sweep), "--dry-run", "--any-version", "--results-dir", str(results)]) == 0
    assert "2 configurations: 1 done, 1 to run" in capsys.readouterr().out


def _readable_by_the_report(results: Path) -> None:
    """Every record, the sweep's stand-ins included, is a row of ``rnnbench report`` (no file skipped)."""
    import warnings

    from rnnbench.report.frame import load_results

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = load_results(results)
    assert len(frame) == len(list(results.glob("*.json")))


def _textclf_failure(broken: Path) -> str:
    return f"""
[[include]]
task = "longrange"
backend = "numpy"
model = "gru"
seq_len = 10
hidden_size = 8
max_steps = 10
steps_per_epoch = 10
dev_size = 32
test_size = 32
threads = 1

[[include]]
task = "textclf"
backend = "numpy"
model = "gru"
dataset = "{broken}"
threads = 1
"""


LONG = """
[options]
task = "longrange"
backend = "numpy"
model = "gru"
seq_len = 10
hidden_size = 8
max_steps = 200000
steps_per_epoch = 100000
dev_size = 32
test_size = 32
threads = 1

[matrix]
seed = [0, 1]
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_interrupts_the_running_run_and_starts_nothing_new(tmp_path, signum, code):
    sweep = tmp_path / "long.toml"
    sweep.write_text(LONG)
    results = tmp_path / "results"
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnbench.cli", "sweep", str(sweep), "--results-dir", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run = find_descendant(process.pid, ["--seeds"], timeout=60)
        wait_for(lambda: catches_sigterm(run), 60, "the run to enter its command")  # imports are slow under load
        time.sleep(1.5)  # into the training loop
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err
    records = _records(results)
    assert [(r["seed"], r["status"]) for r in records] == [(0, "interrupted")]  # seed 1 never started
    assert "sweep: 0 ok, 0 failed, 0 diverged, 1 interrupted, 0 skipped, 1 not started (2 configurations)" in out


@pytest.mark.parametrize("deaf_to_sigterm, ended_by", [(False, "SIGTERM"), (True, "SIGKILL")])
def test_a_run_that_ignores_ctrl_c_still_ends_and_its_record_says_interrupted(tmp_path, deaf_to_sigterm, ended_by):
    sweep = tmp_path / "long.toml"
    sweep.write_text(LONG)
    results = tmp_path / "results"
    env = deaf_env(tmp_path / "site", deaf_to_sigterm)
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnbench.cli", "sweep", str(sweep), "--results-dir", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    run = None
    try:
        run = find_descendant(process.pid, ["--seeds"], timeout=60)
        if not deaf_to_sigterm:
            wait_for(lambda: catches_sigterm(run), 60, "the run to enter its command")
        time.sleep(1.5)  # into the training loop
        process.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        out, err = process.communicate(timeout=60)  # SIGTERM after 2 s, SIGKILL 2 s later
        took = time.monotonic() - stopped
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
        if run is not None and Path(f"/proc/{run}").exists():  # no deaf run left behind by a failure here
            os.kill(run, signal.SIGKILL)
    assert process.returncode == 130, err
    assert 2 <= took < 30
    records = _records(results)
    assert [(r["seed"], r["status"]) for r in records] == [(0, "interrupted")]  # seed 1 never started
    assert ended_by in json.dumps(records[0])
    assert "sweep: 0 ok, 0 failed, 0 diverged, 1 interrupted, 0 skipped, 1 not started (2 configurations)" in out
