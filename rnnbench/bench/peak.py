"""This machine's own matrix-multiply peak, measured in the session that uses it.

GFLOP/s alone cannot be compared across machines; a fraction of the machine's own
square-matrix product speed can. The peak is the fastest float32 (or the timed
dtype's) GEMM any installed framework offers at the thread count of the timed
configurations: NumPy's ``matmul`` (its BLAS: OpenBLAS or MKL), ``torch.mm`` (MKL /
oneDNN) and TensorFlow's ``matmul`` (oneDNN or Eigen), each measured in a worker
process of its own (:func:`rnnbench.bench.sweep.measure_peak`), as the suite times
each framework, at every size of the suite's ``peak_sizes`` (large enough for the
GEMM to reach its steady state; a rate still rising at the largest size is flagged).
A candidate's speed is its *fastest* sample: a peak is what the machine can do, and
other load can only slow a sample down (rows are read by their median, so the
fraction errs low). The best candidate is the peak; every candidate is kept in the
record, medians too, with the kernel its library ran (:mod:`rnnbench.bench.kernels`).
A square product of size ``n`` is counted as ``2 n^3`` FLOPs, as in :mod:`rnnbench.bench.flops`.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from rnnbench.bench.timing import TimingPolicy, measure

#: Frameworks that can offer a peak candidate, in the order they are measured.
FRAMEWORKS = ("numpy", "torch", "tensorflow")
#: A rate this much higher at the largest size than at the one before means no steady state yet.
STEADY_TOLERANCE = 0.05


def measure_candidates(
    device: str, threads: int, sizes, dtype: str, policy: TimingPolicy, framework: str = "numpy"
) -> dict:
    """``{"candidates": [...], "kernel": {...}}``: one framework's GEMM at every size, in this process."""
    from rnnbench.bench.kernels import kernel_info

    candidates = []
    for size in sizes:
        for method, make in _candidates(device, threads, framework):
            try:
                run = make(size, dtype)
            except Exception as exc:  # noqa: BLE001  (a candidate that cannot run is skipped, with why)
                candidates.append(
                    {"method": method, "framework": framework, "size": size, "error": f"{type(exc).__name__}: {exc}"}
                )
                continue
            timing = measure(run, policy)
            candidates.append(
                {
                    "method": method,
                    "framework": framework,
                    "size": size,
                    "median_s": timing.median_s,
                    "min_s": timing.min_s,
                    "gflops": 2 * size**3 / timing.min_s / 1e9,
                    "gflops_median": 2 * size**3 / timing.median_s / 1e9,
                    "warnings": timing.warnings,
                }
            )
    return {"candidates": candidates, "kernel": kernel_info(framework if framework != "numpy" else None)}


def combine(candidates: list[dict], kernels: dict, device: str, threads: int, dtype: str) -> dict:
    """The peak record from every framework's candidates: the best, all of them, kernels and warnings."""
    from rnnbench.bench.kernels import kernel_warnings

    measured = [c for c in candidates if "gflops" in c]
    if not measured:
        errors = "; ".join(c.get("error", "") for c in candidates) or "no candidate for this device"
        raise RuntimeError(f"no matrix-multiply peak could be measured on {device}: {errors}")
    best = max(measured, key=lambda c: c["gflops"])
    warnings = []
    for framework, info in kernels.items():
        warnings += [w for w in kernel_warnings(info, framework) if w not in warnings]
    for method in dict.fromkeys(c["method"] for c in measured):
        rates = sorted(((c["size"], c["gflops"]) for c in measured if c["method"] == method))
        if len(rates) >= 2 and rates[-1][1] > (1 + STEADY_TOLERANCE) * rates[-2][1]:
            warnings.append(
                f"{method}: {rates[-1][1]:.0f} GFLOP/s at {rates[-1][0]}^2 against "
                f"{rates[-2][1]:.0f} at {rates[-2][0]}^2: still rising, a larger size may be faster"
            )
    return {
        "gflops": best["gflops"],
        "dtype": dtype,
        "threads": threads,
        "size": best["size"],
        "method": best["method"],
        "framework": best.get("framework"),
        "device": device,
        "statistic": "fastest sample",
        "candidates": candidates,
        "kernels": kernels,
        "warnings": warnings,
    }


def measure_peak(device: str, threads: int, sizes, dtype: str, policy: TimingPolicy, frameworks=None) -> dict:
    """Every framework's candidates measured in this one process (tests; the suite uses one process each)."""
    candidates, kernels = [], {}
    for framework in frameworks or available_frameworks(device):
        part = measure_candidates(device, threads, sizes, dtype, policy, framework)
        candidates += part["candidates"]
        kernels[framework] = part["kernel"]
    return combine(candidates, kernels, device, threads, dtype)


def available_frameworks(device: str, wanted=FRAMEWORKS) -> list[str]:
    """Frameworks of ``wanted`` installed here that can multiply on ``device`` (imports none of them)."""
    found = []
    for name in wanted:
        if name == "numpy":
            if device == "cpu":
                found.append(name)
        elif importlib.util.find_spec(name) is not None:
            found.append(name)
    return found


def _candidates(device: str, threads: int, framework: str):
    if framework == "numpy" and device == "cpu":
        yield "numpy.matmul", lambda n, dtype: _numpy_matmul(n, dtype, threads)
    elif framework == "torch":
        yield "torch.mm", lambda n, dtype: _torch_mm(n, dtype, device, threads)
    elif framework == "tensorflow":
        yield "tf.linalg.matmul", lambda n, dtype: _tf_matmul(n, dtype, device, threads)


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


def _tf_matmul(n, dtype, device, threads):
    from rnnbench.plugins import get_backend

    backend = get_backend("tensorflow", device=device, threads=threads)  # sets the intra-op pool first
    import tensorflow as tf

    name = backend._tf_device
    with tf.device(name):
        a, b = (tf.constant(m) for m in _operands(n, dtype))

    def run():
        with tf.device(name):
            product = tf.linalg.matmul(a, b)
        product[0, 0].numpy()  # waits for the product without copying n^2 values back

    return run
