"""This machine's own matrix-multiply peak, measured in the session that uses it.

GFLOP/s alone cannot be compared across machines; a fraction of the machine's own
square-matrix product speed can. It runs in a worker process with the same thread
count as the timed configurations (so both see the same cores) and tries every
candidate available there: on a CPU NumPy's ``matmul`` (its BLAS) and ``torch.mm``,
on a GPU ``torch.mm`` (or TensorFlow's ``matmul`` without torch). A candidate's speed
is its *fastest* sample: a peak is what the machine can do, and other load can only
slow a sample down (so a busy machine cannot make every timed row look close to a
depressed peak; rows are read by their median, so the fraction errs low). The best
candidate is the peak; every candidate is kept in the record, medians too. A square
product of size ``n`` is counted as ``2 n^3`` FLOPs, as in :mod:`rnnbench.bench.flops`.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from rnnbench.bench.timing import TimingPolicy, measure


def measure_peak(device: str, threads: int, sizes, dtype: str, policy: TimingPolicy) -> dict:
    """``{"gflops", "dtype", "threads", "size", "method", "candidates": [...]}`` for this machine."""
    candidates = []
    for size in sizes:
        for method, make in _candidates(device, threads):
            try:
                run = make(size, dtype)
            except Exception as exc:  # noqa: BLE001  (a candidate that cannot run is skipped, with why)
                candidates.append({"method": method, "size": size, "error": f"{type(exc).__name__}: {exc}"})
                continue
            timing = measure(run, policy)
            candidates.append({"method": method, "size": size, "median_s": timing.median_s, "min_s": timing.min_s,
                               "gflops": 2 * size ** 3 / timing.min_s / 1e9,
                               "gflops_median": 2 * size ** 3 / timing.median_s / 1e9, "warnings": timing.warnings})
    measured = [c for c in candidates if "gflops" in c]
    if not measured:
        errors = "; ".join(c.get("error", "") for c in candidates) or "no candidate for this device"
        raise RuntimeError(f"no matrix-multiply peak could be measured on {device}: {errors}")
    best = max(measured, key=lambda c: c["gflops"])
    return {"gflops": best["gflops"], "dtype": dtype, "threads": threads, "size": best["size"],
            "method": best["method"], "device": device, "statistic": "fastest sample", "candidates": candidates}


def _candidates(device: str, threads: int):
    if device == "cpu":
        yield "numpy.matmul", lambda n, dtype: _numpy_matmul(n, dtype, threads)
    if importlib.util.find_spec("torch") is not None:
        yield "torch.mm", lambda n, dtype: _torch_mm(n, dtype, device, threads)
    elif device != "cpu" and importlib.util.find_spec("tensorflow") is not None:
        yield "tf.linalg.matmul", lambda n, dtype: _tf_matmul(n, dtype)


def _operands(n, dtype):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)


def _numpy_matmul(n, dtype, threads):
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    a, b = _operands(n, dtype)
    out = np.empty((n, n), dtype)
    return lambda: np.matmul(a, b, out=out)


def _torch_mm(n, dtype, device, threads):
    import torch

    torch.set_num_threads(threads)
    target = torch.device("cuda" if device == "gpu" else device)
    a, b = (torch.from_numpy(m).to(target) for m in _operands(n, dtype))
    out = torch.empty((n, n), dtype=a.dtype, device=target)
    if target.type == "cuda":
        def run():
            torch.mm(a, b, out=out)
            torch.cuda.synchronize(target)
        return run
    return lambda: torch.mm(a, b, out=out)


def _tf_matmul(n, dtype):
    import tensorflow as tf

    with tf.device("/GPU:0"):
        a, b = (tf.constant(m) for m in _operands(n, dtype))

    def run():
        with tf.device("/GPU:0"):
            tf.linalg.matmul(a, b).numpy()  # .numpy() waits for the product (and copies n^2 values back)
    return run
