"""Speed of the NumPy LSTM/GRU forward+backward beside torch.nn.LSTM/GRU.

Run with ``python -m pytest benchmarks/test_bench_sequence.py --benchmark-enable``
(``benchmarks/`` is outside ``testpaths``, so the default test run never times
anything). Each (cell, size) is one benchmark group, so pytest-benchmark's table
shows the NumPy and torch rows of a size together with their ratio in brackets.

Fairness: both sides do one float32 forward and backward over the same input
(torch: ``batch_first``, input requiring grad, ``output.sum().backward()``;
NumPy: ``dy`` all ones, the same vector-Jacobian product), and torch gets as
many intra-op threads as NumPy's BLAS has; the count goes into
``extra_info``. A thread pool that has just worked keeps spinning for a while,
so each benchmark lets the other library's threads go idle before timing.
The target (set for this suite alone; docs/design.md §7 sets none): NumPy at most 1.0x, 1.0x, 1.2x
torch at the three sizes below.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import pytest

from rnnbench.backend import check_sequence_inputs
from rnnbench.backends.numpy import sequence
from rnnbench.params import init_params

#: (batch, steps, input size, hidden size) -> the NumPy/torch time ratio aimed at.
SIZES = {(64, 100, 128, 256): 1.0, (64, 100, 512, 512): 1.0, (16, 100, 128, 128): 1.2}
CELLS = ("lstm", "gru")
GATES = {"lstm": 4, "gru": 3}
SETTLE_S = 0.3  # longer than OpenBLAS's and OpenMP's idle spin after a parallel region

pytestmark = pytest.mark.benchmark(min_rounds=7, max_time=2.0, warmup=True, warmup_iterations=1)


def blas_threads() -> int:
    """The thread count NumPy's BLAS actually uses (threadpoolctl when present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(var, "").isdigit():
                return int(os.environ[var])
        return os.cpu_count() or 1
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    return pools[0]["num_threads"] if pools else 1


def _size_id(size):
    return "B{}-T{}-D{}-H{}".format(*size)


def _describe(benchmark, framework, cell, size, threads):
    B, T, D, H = size
    benchmark.group = f"{cell} {_size_id(size)}"
    benchmark.extra_info.update(
        {
            "framework": framework,
            "cell": cell,
            "batch": B,
            "steps": T,
            "input_size": D,
            "hidden_size": H,
            "dtype": "float32",
            "threads": threads,
            "numpy": np.__version__,
            "machine": platform.processor(),
            "target_ratio_numpy_over_torch": SIZES[size],
            # forward GEMMs 2*B*T*(D+H)*G*H, backward twice that (input and weight gradients)
            "gflop": 3 * 2 * B * T * (D + H) * GATES[cell] * H / 1e9,
            "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
        }
    )


def _inputs(size):
    B, T, D, _ = size
    return np.random.default_rng(0).normal(size=(B, T, D)).astype(np.float32)


@pytest.mark.parametrize("size", list(SIZES), ids=_size_id)
@pytest.mark.parametrize("cell", CELLS)
def test_numpy_forward_backward(benchmark, cell, size):
    B, T, D, H = size
    params = init_params(cell, D, H, seed=0, dtype="float32")
    x = _inputs(size)
    dy = np.ones((B, T, H), np.float32)

    def forward_backward():
        xs, lengths, _ = check_sequence_inputs(cell, params, x)
        _, _, cache = sequence.forward(cell, params, xs, lengths, None, "tanh")
        return sequence.backward(cache, dy, None)

    _describe(benchmark, "numpy", cell, size, blas_threads())
    time.sleep(SETTLE_S)
    grads = benchmark(forward_backward)
    assert grads["W_h"].dtype == np.float32


@pytest.mark.parametrize("size", list(SIZES), ids=_size_id)
@pytest.mark.parametrize("cell", CELLS)
def test_torch_forward_backward(benchmark, cell, size):
    torch = pytest.importorskip("torch")
    B, T, D, H = size
    threads = blas_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, batch_first=True)
    x = torch.from_numpy(_inputs(size)).requires_grad_(True)

    def forward_backward():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        output, _ = layer(x)
        output.sum().backward()
        return x.grad

    _describe(benchmark, "torch", cell, size, torch.get_num_threads())
    benchmark.extra_info["torch"] = torch.__version__
    time.sleep(SETTLE_S)
    grad = benchmark(forward_backward)
    assert grad.shape == (B, T, D)
