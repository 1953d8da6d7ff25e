"""Conversion at the edge: what leaves the JAX backend is NumPy (no jax import here, so the backend's module,
which must not import jax when it is loaded, and the models share it)."""

from __future__ import annotations

import numpy as np


def to_numpy(array) -> np.ndarray:
    """A NumPy copy owned by the caller (never a view of device memory)."""
    return np.array(array, copy=True)
