"""Regression benchmarks: the callables ``rnnbench bench`` times, under pytest-benchmark.

One group per configuration (cell, size, pass) with a row per backend, at a size
small enough for the whole file to take about a minute, so that ``make pytest-bench-save``
(store a baseline) and ``make pytest-bench-compare`` (fail on a median more than 10% slower
than the baseline of this machine) are cheap enough to run before every merge.
The timed callables are the backends' own timers
(:meth:`rnnbench.backend.Backend.sequence_timer` / ``tree_timer``): data converted
once, the device synchronised inside. Thread counts are fixed at one, so the
comparison does not depend on what else the machine is running on its other cores.

Not collected by the default test run (``testpaths = tests``, ``--benchmark-disable``).
"""

from __future__ import annotations

import importlib.util

import pytest

from rnnbench.bench.inputs import sequence_inputs, tree_inputs
from rnnbench.bench.treedata import load_tree_batch, tree_source

BACKENDS = ("numpy", "torch", "tensorflow")
SIZE = (16, 50, 64, 128)  # batch, steps, input, hidden
TREES = (32, 100, 100)  # trees, input, hidden
PASSES = ("forward", "forward+backward")
THREADS = 1

pytestmark = pytest.mark.benchmark(min_rounds=5, max_time=1.0, warmup=True, warmup_iterations=2)


@pytest.fixture(scope="module")
def backends():
    """One backend object per framework, one thread each (torch imported before TensorFlow)."""
    from rnnbench.plugins import get_backend

    made = {}
    for name in BACKENDS:
        if name == "numpy" or importlib.util.find_spec(name) is not None:
            made[name] = get_backend(name, threads=THREADS)
    return made


def _backend(backends, name):
    if name not in backends:
        pytest.skip(f"{name} is not installed")
    return backends[name]


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("cell", ("rnn", "lstm", "gru"))
@pytest.mark.parametrize("name", BACKENDS)
def test_sequence_timer(benchmark, backends, name, cell, pass_):
    backend = _backend(backends, name)
    B, T, D, H = SIZE
    params, x = sequence_inputs(cell, B, T, D, H)
    run = backend.sequence_timer(cell, params, x, backward=pass_ == "forward+backward")
    benchmark.group = f"{cell} {B}x{T}x{D}x{H} {pass_}"
    benchmark.extra_info.update(backend=name, impl=backend.impl, threads=THREADS, dtype="float32")
    benchmark(run)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("cell", ("recursive", "treelstm"))
@pytest.mark.parametrize("name", BACKENDS)
def test_tree_timer(benchmark, backends, name, cell, pass_):
    backend = _backend(backends, name)
    n, D, H = TREES
    source = tree_source()
    batch = load_tree_batch(source, n)
    params, x = tree_inputs(cell, batch.num_leaves, H if cell == "recursive" else D, H)
    run = backend.tree_timer(cell, params, x, batch, backward=pass_ == "forward+backward")
    benchmark.group = f"tree {cell} {n} trees H={H} {pass_} ({source['source']})"
    benchmark.extra_info.update(
        backend=name, nodes=batch.num_nodes, threads=THREADS, dtype="float32", tree_source=source["source"]
    )
    benchmark(run)
