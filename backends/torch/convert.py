"""Canonical layout <-> torch's native recurrent-layer layout, written once.

torch keeps ``weight_ih (gates*H, D)``, ``weight_hh (gates*H, H)`` and two biases
``bias_ih``, ``bias_hh``; its LSTM gate order (i, f, g, o) and GRU order (r, z, n,
with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``) are the canonical ones, so
converting is a transpose plus a bias split:

- gru: ``b_x`` is ``bias_ih`` and ``b_h`` is ``bias_hh`` (the two enter differently);
- rnn, lstm: the canonical single bias ``b`` becomes ``bias_ih`` with ``bias_hh = 0``;
  back, ``b = bias_ih + bias_hh`` (only their sum is a function of the weights).

The functions work on NumPy arrays and on torch tensors alike (differentiably for
tensors), so the backend can run canonical leaves straight through them.
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.params import SEQUENCE_CELLS

#: torch's parameter names for a one-layer, one-direction recurrent module.
TORCH_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _transpose(a):
    """A contiguous transpose of a 2-D array or tensor."""
    if isinstance(a, np.ndarray):
        return np.ascontiguousarray(a.T)
    return a.t().contiguous()


def _zeros_like(a):
    if isinstance(a, np.ndarray):
        return np.zeros_like(a)
    return a.new_zeros(a.shape)


def _check_cell(cell):
    if cell not in SEQUENCE_CELLS:
        raise RnnbenchError(f"torch converters cover sequence cells {', '.join(SEQUENCE_CELLS)}, not {cell!r}")


def to_torch_rnn_weights(cell: str, params: dict) -> dict:
    """Canonical ``params`` -> ``{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}``."""
    _check_cell(cell)
    if cell == "gru":
        bias_ih, bias_hh = params["b_x"], params["b_h"]
    else:
        bias_ih, bias_hh = params["b"], _zeros_like(params["b"])
    return {
        "weight_ih_l0": _transpose(params["W_x"]),
        "weight_hh_l0": _transpose(params["W_h"]),
        "bias_ih_l0": bias_ih,
        "bias_hh_l0": bias_hh,
    }


def from_torch_rnn_weights(cell: str, weights: dict) -> dict:
    """torch-layout ``weights`` -> canonical params computing the same function."""
    _check_cell(cell)
    params = {"W_x": _transpose(weights["weight_ih_l0"]), "W_h": _transpose(weights["weight_hh_l0"])}
    if cell == "gru":
        params["b_x"], params["b_h"] = weights["bias_ih_l0"], weights["bias_hh_l0"]
    else:
        params["b"] = weights["bias_ih_l0"] + weights["bias_hh_l0"]
    return params


def canonical_grads_from_torch(cell: str, weight_grads: dict) -> dict:
    """Gradients w.r.t. the torch weights of :func:`to_torch_rnn_weights` -> w.r.t. canonical params.

    Not :func:`from_torch_rnn_weights` applied to gradients: for rnn/lstm ``b`` feeds
    ``bias_ih`` alone (``bias_hh`` is a constant zero), so ``d b = d bias_ih``, not the sum.
    """
    _check_cell(cell)
    grads = {"W_x": _transpose(weight_grads["weight_ih_l0"]), "W_h": _transpose(weight_grads["weight_hh_l0"])}
    if cell == "gru":
        grads["b_x"], grads["b_h"] = weight_grads["bias_ih_l0"], weight_grads["bias_hh_l0"]
    else:
        grads["b"] = weight_grads["bias_ih_l0"]
    return grads


# -- stacked and bidirectional modules (docs/design.md §2.6) --------------------------------------------


def _torch_suffix(layer: int, direction: str) -> str:
    """torch's name suffix of a unit: ``_l{i}`` forward, ``_l{i}_reverse`` backward."""
    return f"_l{layer}" + ("_reverse" if direction == "bw" else "")


def _rename(weights: dict, suffix: str) -> dict:
    return {name.replace("_l0", suffix): value for name, value in weights.items()}


def to_torch_layered_weights(cell: str, params: dict, num_layers: int, bidirectional: bool) -> dict:
    """Canonical units (``l{i}.{fw|bw}.W_x`` ...) -> the weights of ``nn.LSTM(num_layers=..., bidirectional=...)``."""
    from rnnbench.layers import unit_params, units

    weights = {}
    for layer, direction, prefix in units(num_layers, bidirectional):
        unit = to_torch_rnn_weights(cell, unit_params(params, prefix))
        weights.update(_rename(unit, _torch_suffix(layer, direction)))
    return weights


def from_torch_layered_weights(cell: str, weights: dict, num_layers: int, bidirectional: bool) -> dict:
    """The weights of a multi-layer (bidirectional) torch module -> canonical units computing the same function."""
    from rnnbench.layers import units

    params = {}
    for layer, direction, prefix in units(num_layers, bidirectional):
        suffix = _torch_suffix(layer, direction)
        unit = {name: weights[name.replace("_l0", suffix)] for name in TORCH_NAMES}
        params.update({prefix + k: v for k, v in from_torch_rnn_weights(cell, unit).items()})
    return params


def canonical_grads_from_torch_layered(cell: str, weight_grads: dict, num_layers: int, bidirectional: bool) -> dict:
    """Gradients w.r.t. :func:`to_torch_layered_weights`' weights -> w.r.t. the canonical units."""
    from rnnbench.layers import units

    grads = {}
    for layer, direction, prefix in units(num_layers, bidirectional):
        suffix = _torch_suffix(layer, direction)
        unit = {name: weight_grads[name.replace("_l0", suffix)] for name in TORCH_NAMES}
        grads.update({prefix + k: v for k, v in canonical_grads_from_torch(cell, unit).items()})
    return grads
