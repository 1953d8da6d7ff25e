"""Seeded inputs and upstream gradients of a timed call, the same arrays for every backend.

Backends build their timers (:meth:`rnnbench.backend.Backend.sequence_timer`) from
these, so a forward+backward timing feeds every framework the same numbers.
"""

from __future__ import annotations

import numpy as np

from rnnbench.backend import state_keys
from rnnbench.params import init_params

SEED = 0


def _normal(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def sequence_inputs(
    cell: str,
    batch: int,
    steps: int,
    input_size: int,
    hidden_size: int,
    dtype="float32",
    num_layers: int = 1,
    bidirectional: bool = False,
):
    """``(params, x [B,T,D])`` for a timing run: seeded parameters (every unit's, when layered) and unit-normal
    inputs."""
    from rnnbench.layers import init_layered_params

    return (
        init_layered_params(cell, input_size, hidden_size, num_layers, bidirectional, seed=SEED, dtype=dtype),
        _normal((batch, steps, input_size), dtype, SEED + 1),
    )


def tree_inputs(cell: str, num_leaves: int, input_size: int, hidden_size: int, dtype="float32"):
    """``(params, x_leaves [L,D])`` for a timing run."""
    return (
        init_params(cell, input_size, hidden_size, seed=SEED, dtype=dtype),
        _normal((num_leaves, input_size), dtype, SEED + 1),
    )


def sequence_cotangent(batch: int, steps: int, hidden_size: int, dtype) -> np.ndarray:
    """The fixed upstream ``dy [B,T,H]`` of a timed backward pass (no gradient on the final state)."""
    return _normal((batch, steps, hidden_size), dtype, SEED + 2)


def tree_cotangents(cell: str, num_nodes: int, hidden_size: int, dtype) -> dict:
    """Fixed upstream gradients on every node state (``h``, and ``c`` for treelstm)."""
    return {key: _normal((num_nodes, hidden_size), dtype, SEED + 2 + k) for k, key in enumerate(state_keys(cell))}
