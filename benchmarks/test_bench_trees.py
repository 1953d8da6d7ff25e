"""What level batching buys: the NumPy tree cells, level-batched vs one composition call per node.

Forward + backward (every node's state gets a cotangent) on the first 64 SST
train trees (2770 nodes, 1417 leaves, 24 levels), float32, hidden size 100 (and
25, where per-call overhead dominates), one BLAS thread. Building the TreeBatch
and the node plan is outside the timed region (it is done once per batch).
The node-by-node twin is tests/tree_reference.py.

Run with ``python -m pytest benchmarks/test_bench_trees.py --benchmark-enable``;
each pair's speed-up is printed and stored in ``extra_info``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from rnnbench.backends.numpy import tree as numpy_tree
from rnnbench.params import init_params
from rnnbench.trees import TreeBatch, read_trees

import tree_reference  # tests/ is on pythonpath (pyproject.toml)

NUM_TREES = 64
DTYPE = "float32"
CELLS = ("recursive", "treelstm")
IMPLS = ("level_batched", "node_by_node")
_FINISHED: dict = {}


@pytest.fixture(scope="module")
def sst_trees():
    data = os.environ.get("RNNBENCH_DATA_DIR")
    if not data:
        pytest.skip("RNNBENCH_DATA_DIR is not set: the SST trees live in $RNNBENCH_DATA_DIR/sst")
    return read_trees(os.path.join(data, "sst", "train.txt"))[:NUM_TREES]


@pytest.fixture(scope="module")
def blas_threads():
    """One BLAS thread, set explicitly: a GEMM-heavy side must not borrow cores the other lacks."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield 1


def _inputs(cell, hidden, batch):
    rng = np.random.default_rng(0)
    params = init_params(cell, hidden, hidden, seed=0, dtype=DTYPE)
    x = rng.normal(size=(batch.num_leaves, hidden)).astype(DTYPE)
    keys = ("h", "c") if cell == "treelstm" else ("h",)
    cotangents = {key: rng.normal(size=(batch.num_nodes, hidden)).astype(DTYPE) for key in keys}
    return params, x, cotangents


@pytest.mark.parametrize("hidden", [100, 25])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("impl", IMPLS)
def test_tree_forward_backward(benchmark, sst_trees, blas_threads, impl, cell, hidden):
    batch = TreeBatch.from_trees(sst_trees)
    plan = tree_reference.plan_trees(sst_trees)
    params, x, cotangents = _inputs(cell, hidden, batch)

    def level_batched():
        _, cache = numpy_tree.forward(cell, params, x, batch)
        return numpy_tree.backward(cache, cotangents)

    def node_by_node():
        states, node_cache = tree_reference.forward(cell, params, x, plan)
        return tree_reference.backward(cell, params, x, plan, states, node_cache, cotangents)

    # Both sides compute the same thing (float32: agree within 1e-4 relative).
    fast, slow = level_batched(), node_by_node()
    for name in fast:
        scale = max(np.abs(slow[name]).max(), 1e-30)
        assert np.abs(fast[name] - slow[name]).max() / scale < 1e-4, name

    benchmark.group = f"tree {cell} fwd+bwd, H={hidden}, {NUM_TREES} SST trees, {DTYPE}"
    benchmark.extra_info.update(
        {
            "cell": cell,
            "impl": impl,
            "hidden": hidden,
            "dtype": DTYPE,
            "trees": NUM_TREES,
            "nodes": batch.num_nodes,
            "levels": len(batch.levels),
            "blas_threads": blas_threads,
        }
    )
    if impl == "level_batched":
        benchmark.pedantic(level_batched, rounds=30, warmup_rounds=2)
    else:
        benchmark.pedantic(node_by_node, rounds=5, warmup_rounds=1)
    _record_speedup((cell, hidden), impl, benchmark)


def _record_speedup(key, impl, benchmark):
    """Once both sides of a pair have run, store node-by-node median / level-batched median on both."""
    if benchmark.stats is None:  # --benchmark-disable: the function ran once, untimed
        return
    pair = _FINISHED.setdefault(key, {})
    pair[impl] = benchmark
    if len(pair) == len(IMPLS):
        ratio = pair["node_by_node"].stats.stats.median / pair["level_batched"].stats.stats.median
        for bench in pair.values():
            bench.extra_info["speedup_level_batched_vs_node_by_node"] = round(ratio, 2)
        print(f"\n{key[0]} H={key[1]}: level-batched is {ratio:.1f}x faster than node-by-node")
