"""Central finite differences: the arbiter of every hand-written backward pass.

A backward pass is a vector-Jacobian product. To check it we contract the
forward outputs with fixed random cotangents into a scalar, perturb every
element of every input by ±eps, and compare the slope with what the backward
pass returned. In float64 with eps=1e-6 the truncation and rounding errors are
both near 1e-10, so a relative error above 1e-6 is a bug, not noise.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def relative_error(analytic, numeric) -> float:
    """Norm-wise relative error ``max|a-n| / max(max|a|, max|n|)`` (0 when both are 0).

    Norm-wise rather than element-wise, so that an entry that is zero up to
    rounding does not divide by nothing; a gradient taken from the wrong step
    or gate moves the largest entries and still shows as O(1).
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {n.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - n)) / scale)


def numeric_grads(
    scalar_fn: Callable[[dict], float], arrays: dict[str, np.ndarray], eps: float = 1e-6, names=None
) -> dict[str, np.ndarray]:
    """d scalar_fn / d arrays[name] for each name, by central differences.

    ``scalar_fn`` receives the dict with one element perturbed (arrays are
    modified in place and restored, so it must not keep references).
    """
    grads = {}
    for name in names if names is not None else arrays:
        value = arrays[name]
        grad = np.zeros(value.shape, dtype=np.float64)
        flat = value.reshape(-1)
        gflat = grad.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = scalar_fn(arrays)
            flat[i] = original - eps
            minus = scalar_fn(arrays)
            flat[i] = original
            gflat[i] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


def contract(outputs: dict[str, np.ndarray], cotangents: dict[str, np.ndarray]) -> float:
    """``sum_k sum(outputs[k] * cotangents[k])``: the scalar whose gradient is the VJP."""
    return float(sum(np.sum(np.asarray(outputs[k], np.float64) * cotangents[k]) for k in cotangents))
