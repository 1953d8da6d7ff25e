"""Canonical parameter layout (docs/design.md §2) and seeded initialisation.

Every backend receives and returns parameters in this layout: row-major,
``x @ W`` as Keras stores kernels, one name per array. Initial weights are
drawn here, in NumPy, from a PCG64 stream that is identical on every machine,
so that all backends start from bit-identical weights for a given seed.
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import RnnbenchError

SEQUENCE_CELLS = ("rnn", "lstm", "gru")
TREE_CELLS = ("recursive", "treelstm")
CELLS = SEQUENCE_CELLS + TREE_CELLS

#: Gate blocks, in the order they are stacked along the last axis.
GATES = {
    "rnn": ("h",),
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "recursive": ("h",),
    # Tai et al. (2015) binary constituency Tree-LSTM. Leaves read their input
    # vector through W_leaf (blocks i, o, u; a leaf has no children, hence no
    # forget gate); internal nodes read [h_left, h_right] through W (blocks i,
    # f_left, f_right, o, u): one forget gate per child.
    "treelstm_leaf": ("i", "o", "u"),
    "treelstm": ("i", "fl", "fr", "o", "u"),
}


def param_shapes(cell: str, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``cell``'s parameters, in canonical (draw) order."""
    D, H = input_size, hidden_size
    if cell == "rnn":
        return {"W_x": (D, H), "W_h": (H, H), "b": (H,)}
    if cell == "lstm":
        return {"W_x": (D, 4 * H), "W_h": (H, 4 * H), "b": (4 * H,)}
    if cell == "gru":
        return {"W_x": (D, 3 * H), "W_h": (H, 3 * H), "b_x": (3 * H,), "b_h": (3 * H,)}
    if cell == "recursive":
        if D != H:
            raise RnnbenchError(
                f"recursive cell: a leaf's state is its input vector, so input_size ({D}) must equal hidden_size ({H})"
            )
        return {"W": (2 * H, H), "b": (H,)}
    if cell == "treelstm":
        return {"W_leaf": (D, 3 * H), "b_leaf": (3 * H,), "W": (2 * H, 5 * H), "b": (5 * H,)}
    raise RnnbenchError(f"unknown cell {cell!r}; valid cells: {', '.join(CELLS)}")


def resolve_dtype(dtype) -> np.dtype:
    """Accept ``np.float32``, ``"float64"`` and friends; reject anything that is not a float."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise RnnbenchError(f"unknown dtype {dtype!r}; use float32 or float64") from exc
    if resolved not in (np.float32, np.float64):
        raise RnnbenchError(f"unsupported dtype {resolved.name}; use float32 or float64")
    return resolved


def init_params(cell: str, input_size: int, hidden_size: int, seed: int = 0, dtype="float32") -> dict[str, np.ndarray]:
    """Seeded canonical parameters for ``cell``.

    Weights are uniform in ±1/sqrt(hidden_size) (PyTorch's default for its
    recurrent layers), biases zero except the LSTM forget gate (one, so that
    memory is kept from the first step; Jozefowicz et al. 2015) and the
    Tree-LSTM child forget gates (one, for the same reason). Values are drawn
    in float64 and then cast, so float32 and float64 parameters of one seed
    agree to float32 precision.
    """
    resolved = resolve_dtype(dtype)
    if int(input_size) < 1 or int(hidden_size) < 1:
        raise RnnbenchError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
    shapes = param_shapes(cell, int(input_size), int(hidden_size))
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden_size)
    params = {}
    for name, shape in shapes.items():
        if name.startswith("W"):
            params[name] = rng.uniform(-bound, bound, size=shape)
        else:
            params[name] = np.zeros(shape)
    H = int(hidden_size)
    if cell == "lstm":
        params["b"][H : 2 * H] = 1.0
    if cell == "treelstm":
        params["b"][H : 3 * H] = 1.0
    return {name: value.astype(resolved) for name, value in params.items()}
