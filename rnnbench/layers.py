"""Stacked and bidirectional recurrent encoders: the canonical layout and the composition (docs/design.md §2.6).

A layered encoder is ``num_layers`` layers of one cell, each with a forward
(``fw``) and, when ``bidirectional``, a backward (``bw``) direction. Every
(layer, direction) is a *unit*: one ordinary single-layer parameter set, named
with the prefix ``l{i}.{fw|bw}.`` (``l0.fw.W_x``, ``l1.bw.b_h`` ...). Layer 0 reads
``x`` (width D); layer i+1 reads layer i's outputs, the directions concatenated
``[fw, bw]`` (width 2H, or H unidirectional). ``y`` is the top layer's outputs.

The backward direction reads each sequence's *own* last real step first: its
input is ``x`` reversed within each length (not the padded width), its outputs
are reversed back, so ``y[:, t, H:]`` belongs to step t; its final state is the
state after step 1. Initial and final states and their gradients carry the
unit prefix too (``l0.bw.h``, gradient ``l0.bw.h0``).

``num_layers=1, bidirectional=False`` is not layered: the flat single-layer
names and calls of §2.2, unchanged. Everything here is NumPy; the backends
compose their framework's tensors the same way (and autograd does the rest),
while the NumPy reference composes its hand-written single-layer passes with
:func:`forward` and :func:`backward` (no second BPTT).
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.params import SEQUENCE_CELLS, init_params, param_shapes

DIRECTIONS = ("fw", "bw")


def check_layering(num_layers, bidirectional) -> tuple[int, bool]:
    """``(num_layers, bidirectional)`` validated: an int >= 1 and a bool."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
        raise RnnbenchError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise RnnbenchError(f"bidirectional must be True or False, got {bidirectional!r}")
    return int(num_layers), bool(bidirectional)


def is_layered(num_layers=1, bidirectional=False) -> bool:
    """True unless this is the plain single-layer, forward-only encoder (flat names)."""
    num_layers, bidirectional = check_layering(num_layers, bidirectional)
    return num_layers > 1 or bidirectional


def directions(bidirectional: bool) -> tuple[str, ...]:
    """``("fw", "bw")``, or ``("fw",)`` for one direction."""
    return DIRECTIONS if bidirectional else DIRECTIONS[:1]


def units(num_layers=1, bidirectional=False) -> list[tuple[int, str, str]]:
    """``(layer, direction, prefix)`` of every unit, in canonical order (prefix ``""`` when not layered)."""
    if not is_layered(num_layers, bidirectional):
        return [(0, "fw", "")]
    return [(i, d, f"l{i}.{d}.") for i in range(num_layers) for d in directions(bidirectional)]


def output_size(hidden_size: int, bidirectional=False) -> int:
    """Width of ``y``: H, or 2H with both directions."""
    return hidden_size * (2 if bidirectional else 1)


def layered_param_shapes(cell, input_size, hidden_size, num_layers=1, bidirectional=False) -> dict:
    """Names and shapes of every unit's parameters (flat names when not layered)."""
    if cell not in SEQUENCE_CELLS and (num_layers != 1 or bidirectional):
        raise RnnbenchError(f"layers and directions apply to sequence cells {', '.join(SEQUENCE_CELLS)}, not {cell!r}")
    shapes = {}
    for layer, _, prefix in units(num_layers, bidirectional):
        width = input_size if layer == 0 else output_size(hidden_size, bidirectional)
        shapes.update({prefix + k: v for k, v in param_shapes(cell, width, hidden_size).items()})
    return shapes


def init_layered_params(
    cell, input_size, hidden_size, num_layers=1, bidirectional=False, seed=0, dtype="float32"
) -> dict:
    """Seeded canonical parameters of every unit; layer 0's forward unit is ``init_params(..., seed)``.

    Other units draw from the stream ``[seed, layer, direction]``, so adding a
    layer or a direction never changes the units that were there.
    """
    params = {}
    for layer, direction, prefix in units(num_layers, bidirectional):
        width = input_size if layer == 0 else output_size(hidden_size, bidirectional)
        unit_seed = seed if (layer, direction) == (0, "fw") else [seed, layer, DIRECTIONS.index(direction)]
        params.update(
            {prefix + k: v for k, v in init_params(cell, width, hidden_size, seed=unit_seed, dtype=dtype).items()}
        )
    return params


def unit_params(params: dict, prefix: str) -> dict:
    """The single-layer parameters of one unit, prefix stripped."""
    if not prefix:
        return params
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def unit_state(state, prefix: str, keys):
    """One unit's initial state (None: zeros) from a layered state dict."""
    if state is None:
        return None
    return {k: state[prefix + k] for k in keys}


def reverse_index(lengths, steps: int) -> np.ndarray:
    """``[B,T]`` int64: row b's step t is read from step ``L_b-1-t`` for t < L_b, from t past it.

    Reversal *within each length*: padding stays where it is, so an input
    reversed this way and an output reversed back line up with the real steps.
    The map is its own inverse.
    """
    t = np.arange(steps)[None, :]
    lengths = np.asarray(lengths, dtype=np.int64)[:, None]
    return np.where(t < lengths, lengths - 1 - t, t)


def reverse_within(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``a [B,T,...]`` reversed within each length (``index`` from :func:`reverse_index`), a new array."""
    return np.ascontiguousarray(np.take_along_axis(a, index.reshape(index.shape + (1,) * (a.ndim - 2)), axis=1))


# -- validation (once for all backends) ----------------------------------------------------------


def check_layered_inputs(cell, params, x, lengths, state, activation, num_layers, bidirectional):
    """Validate a layered call; return ``(x, lengths, dtype, hidden_size)`` as check_sequence_inputs does."""
    from rnnbench.backend import check_sequence_inputs, param_dtype, state_keys

    num_layers, bidirectional = check_layering(num_layers, bidirectional)
    if cell not in SEQUENCE_CELLS:
        raise RnnbenchError(f"unknown sequence cell {cell!r}; valid: {', '.join(SEQUENCE_CELLS)}")
    first = "l0.fw."
    if f"{first}W_h" not in params:
        raise RnnbenchError(
            f"a {num_layers}-layer{' bidirectional' if bidirectional else ''} {cell} takes "
            f"parameters named l<i>.<fw|bw>.<name> (docs/design.md §2.6); got {sorted(params)[:4]}"
        )
    H = int(np.shape(params[f"{first}W_h"])[0])
    x = np.asarray(x)
    if x.ndim != 3:
        raise RnnbenchError(f"x must be [batch, steps, features], got shape {x.shape}")
    expected = layered_param_shapes(cell, x.shape[2], H, num_layers, bidirectional)
    if set(params) != set(expected):
        missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
        raise RnnbenchError(
            f"{num_layers}-layer{' bidirectional' if bidirectional else ''} {cell} parameters: "
            f"missing {missing[:3]}, unexpected {extra[:3]}"
        )
    for name, shape in expected.items():
        if np.shape(params[name]) != shape:
            raise RnnbenchError(f"{cell} parameter {name} must have shape {shape}, got {np.shape(params[name])}")
    param_dtype(params)
    if state is not None:
        keys = [prefix + k for _, _, prefix in units(num_layers, bidirectional) for k in state_keys(cell)]
        unknown = sorted(set(state) - set(keys))
        if unknown:
            raise RnnbenchError(f"initial state has key {unknown[0]!r}; a layered {cell} takes {', '.join(keys)}")
        for key in keys:
            if key not in state:
                raise RnnbenchError(f"initial state for a layered {cell} needs key {key!r}")
    # the rest (x, lengths, each unit's state shapes) by the single-layer check on layer 0's forward unit
    x, lengths, dtype = check_sequence_inputs(
        cell, unit_params(params, first), x, lengths, unit_state(state, first, state_keys(cell)), activation
    )
    B = x.shape[0]
    for key in state or {}:
        if np.shape(state[key]) != (B, H):
            raise RnnbenchError(f"state[{key!r}] must have shape ({B}, {H}), got {np.shape(state[key])}")
    return x, lengths, dtype, H


def check_layered_cotangents(cell, dy, dfinal, batch, steps, hidden, dtype, num_layers, bidirectional):
    """Upstream gradients of a layered call: ``(dy or None, {prefixed key: array})`` (absent = zero)."""
    from rnnbench.backend import cotangents, state_keys

    width = output_size(hidden, bidirectional)
    checked = cotangents(cell, {"dy": dy}, {"dy": (batch, steps, width)}, dtype, "upstream")
    shapes = {
        prefix + k: (batch, hidden) for _, _, prefix in units(num_layers, bidirectional) for k in state_keys(cell)
    }
    return checked.get("dy"), cotangents(cell, dfinal, shapes, dtype, "dfinal")


# -- the composition, written once ----------------------------------------------------------------


class LayerOps:
    """The two tensor operations :func:`compose` needs, on one backend's tensors for one batch.

    A backend subclasses it once, in its ``layered`` module, holding whatever
    its reversal needs (an index, the lengths): the loop over layers and
    directions, the order of units and the reversal rule live in :func:`compose`
    alone, so every backend stacks and reverses the same way.
    """

    def reverse(self, a):
        """``a [B,T,...]`` reversed within each row's length (padding stays where it is); its own inverse."""
        raise NotImplementedError

    def concat(self, parts):
        """The directions' outputs ``[fw, bw]`` joined along the last axis."""
        raise NotImplementedError


def compose(ops: LayerOps, run_unit, x, num_layers: int, bidirectional: bool):
    """The layered encoder from one single-layer call a unit; return ``(y, final)``.

    ``run_unit(prefix, unit_x) -> (y, unit_final)`` runs one (layer, direction)
    unit (``prefix`` ``l{i}.{fw|bw}.``) on its input; ``unit_final`` (a dict of
    the unit's final states by state key, or None) is gathered into ``final``
    under the prefixed keys. The backward unit reads its input reversed within
    each length and its outputs are reversed back (``ops.reverse``); layer i+1
    reads layer i's ``ops.concat([fw, bw])``. What else a unit makes (a NumPy
    cache, probed states) its ``run_unit`` keeps itself.
    """
    final = {}
    inputs = x
    for layer in range(num_layers):
        outputs = []
        for direction in directions(bidirectional):
            prefix = f"l{layer}.{direction}."
            reverse = direction == "bw"
            y, unit_final = run_unit(prefix, ops.reverse(inputs) if reverse else inputs)
            outputs.append(ops.reverse(y) if reverse else y)
            final.update({prefix + k: v for k, v in (unit_final or {}).items()})
        inputs = outputs[0] if len(outputs) == 1 else ops.concat(outputs)
    return inputs, final


def top_forward_prefix(num_layers: int) -> str:
    """The unit whose per-step states a gradient-flow probe reads: the top layer's forward direction."""
    return f"l{num_layers - 1}.fw."


class NumpyLayerOps(LayerOps):
    """:class:`LayerOps` on NumPy arrays: a gather by :func:`reverse_index`, computed once a batch."""

    def __init__(self, lengths, steps):
        self.index = reverse_index(lengths, steps)

    def reverse(self, a):
        return reverse_within(a, self.index)

    def concat(self, parts):
        return np.concatenate(parts, axis=2)


# -- the NumPy reference over its hand-written single-layer passes ---------------------------------


def forward(unit_forward, cell, params, x, lengths, state, activation, num_layers, bidirectional):
    """Run the layered encoder from single-layer passes; return ``(y, final, tape)``.

    ``unit_forward(cell, params, x, lengths, state, activation) -> (y, final, cache)``
    is one layer in one direction (``x`` C-contiguous, ``lengths`` int64). ``tape``
    is what :func:`backward` needs: each unit's cache and the reversal.
    """
    from rnnbench.backend import state_keys

    ops = NumpyLayerOps(lengths, x.shape[1]) if bidirectional else None
    caches = {}

    def run_unit(prefix, unit_x):
        y, unit_final, caches[prefix] = unit_forward(
            cell, unit_params(params, prefix), unit_x, lengths, unit_state(state, prefix, state_keys(cell)), activation
        )
        return y, unit_final

    y, final = compose(ops, run_unit, x, num_layers, bidirectional)
    return (
        y,
        final,
        {
            "caches": caches,
            "ops": ops,
            "num_layers": num_layers,
            "bidirectional": bidirectional,
            "has_state": state is not None,
        },
    )


def backward(unit_backward, tape, dy, dfinal, hidden, state_grads=None):
    """Vector-Jacobian product of :func:`forward` from the single-layer ones.

    ``unit_backward(cache, dy, dfinal, state_grads) -> grads`` is one unit's VJP.
    The gradient reaching a layer's output is split by direction (the backward
    half reversed within each length), sent through that unit, and the units'
    input gradients (reversed back) summed into the layer below. ``state_grads``
    ``[B,T,H]``, if given, receives the top layer's forward-direction ``dL/dh_t``.
    """
    ops, num_layers, bidirectional = tape["ops"], tape["num_layers"], tape["bidirectional"]
    grads = {}
    doutputs = dy
    for layer in reversed(range(num_layers)):
        dinputs = None
        for k, direction in enumerate(directions(bidirectional)):
            prefix = f"l{layer}.{direction}."
            part = None if doutputs is None else doutputs[:, :, k * hidden : (k + 1) * hidden]
            if part is not None and direction == "bw":
                part = ops.reverse(part)
            unit_dfinal = {k2[len(prefix) :]: v for k2, v in dfinal.items() if k2.startswith(prefix)}
            probe = state_grads if prefix == top_forward_prefix(num_layers) else None
            unit = unit_backward(tape["caches"][prefix], part, unit_dfinal, probe)
            dx = unit.pop("x")
            if direction == "bw":
                dx = ops.reverse(dx)
            dinputs = dx if dinputs is None else dinputs + dx
            grads.update({prefix + name: g for name, g in unit.items()})
        doutputs = dinputs
    grads["x"] = doutputs
    return grads
