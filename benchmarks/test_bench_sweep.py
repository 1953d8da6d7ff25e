"""What a sweep costs beyond its runs: the --jobs 2 / --jobs 1 wall-time ratio and the per-run overhead.

Twelve small configurations (the adding problem at T=10: rnn, lstm and gru on
numpy and torch, two seeds, one thread each) run once with one job and once
with two. Overhead per configuration is the run's wall time as the sweep sees
it (process start to exit) less the training time its record reports: process
start, imports, the registry, data preparation, the backend's set-up and
writing the record. Run with ``make bench`` (about a minute on 2 cores).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

from rnnbench.sweep.local import run_local, usable_cpus
from rnnbench.sweep.spec import load_sweep

SWEEP = """
[matrix]
backend = ["numpy", "torch"]
model = ["rnn", "lstm", "gru"]
seed = [0, 1]

[options]
task = "longrange"
seq_len = 10
hidden_size = 16
batch_size = 16
max_steps = 40
steps_per_epoch = 20
dev_size = 64
test_size = 64
probe_steps = "none"
threads = 1
"""


def _sweep(configs, folder, jobs: int):
    finished = []
    started = time.perf_counter()
    run_local(configs, folder, jobs, finished.append)
    return time.perf_counter() - started, finished


def _seconds(code: list[str]) -> float:
    """Wall time of one fresh interpreter running ``code``: the parts a run's overhead is made of."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *code], check=True, capture_output=True)
    return time.perf_counter() - started


def test_sweep_jobs2_against_jobs1(benchmark, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "bench.toml"
    path.write_text(SWEEP)
    configs = load_sweep(path).configurations
    assert len(configs) == 12
    one_wall, one = _sweep(configs, tmp_path / "jobs1", 1)
    benchmark.group = "sweep: 12 small configurations"
    two_wall, two = benchmark.pedantic(_sweep, args=(configs, tmp_path / "jobs2", 2), rounds=1, iterations=1)
    assert all(f.record["status"] == "ok" for f in one + two)
    ratio = two_wall / one_wall
    overhead = {
        backend: statistics.median(f.seconds - f.record["wall_seconds"] for f in one if f.config.backend == backend)
        for backend in ("numpy", "torch")
    }
    training = statistics.median(f.record["wall_seconds"] for f in one)
    parts = {
        "cli_start_s": _seconds(["-m", "rnnbench.cli", "--help"]),
        "import_numpy_s": _seconds(["-c", "import numpy"]),
        "import_torch_s": _seconds(["-c", "import torch"]),
    }
    benchmark.extra_info.update(
        jobs1_seconds=round(one_wall, 2),
        jobs2_seconds=round(two_wall, 2),
        ratio=round(ratio, 3),
        usable_cpus=usable_cpus(),
        overhead_numpy_s=round(overhead["numpy"], 2),
        overhead_torch_s=round(overhead["torch"], 2),
        training_median_s=round(training, 2),
        **{k: round(v, 2) for k, v in parts.items()},
    )
    print(
        f"\nsweep of 12: --jobs 1 {one_wall:.1f} s, --jobs 2 {two_wall:.1f} s, ratio {ratio:.2f} "
        f"({usable_cpus()} usable CPUs); per configuration: training {training:.2f} s (median), overhead "
        f"{overhead['numpy']:.2f} s numpy, {overhead['torch']:.2f} s torch (process, imports, data, set-up); of "
        f"which a bare CLI start {parts['cli_start_s']:.2f} s, import numpy {parts['import_numpy_s']:.2f} s, "
        f"import torch {parts['import_torch_s']:.2f} s"
    )
    if usable_cpus() >= 2:
        assert ratio < 1.0  # two jobs on two CPUs must beat one, even on a busy machine
