"""Canonical layout <-> Keras 3 recurrent-layer weights, written once.

Keras stores the weights of ``SimpleRNN``, ``LSTM`` and ``GRU(reset_after=True)``
as ``[kernel (D,G), recurrent_kernel (H,G), bias]``, row-major ``x @ W`` like the
canonical layout. Two differences need care:

* GRU blocks are ordered ``z, r, h`` in Keras and ``r, z, n`` canonically;
* the GRU bias is one ``(2, 3H)`` array ``[input bias; recurrent bias]`` that
  holds ``b_x`` and ``b_h`` (each reordered to ``z, r, h``).

LSTM (``i, f, c, o`` = canonical ``i, f, g, o``) and SimpleRNN need no change.
``GRU(reset_after=False)`` applies the reset gate *before* the recurrent matmul:
a different function, which no converter here accepts.

Every conversion is a permutation of entries, so the same functions map
gradients: the gradient of the Keras weights, passed through
:func:`from_keras_weights`, is the gradient of the canonical parameters.
The converters run on NumPy arrays and, through :func:`to_keras_tensors`, on
TensorFlow tensors inside a ``GradientTape`` (so the tape maps gradients back).
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import RnnbenchError

#: Canonical GRU block index of each Keras block (Keras z, r, h = canonical z, r, n).
_GRU_KERAS_FROM_CANONICAL = (1, 0, 2)
#: Keras block index of each canonical block (canonical r, z, n).
_GRU_CANONICAL_FROM_KERAS = (1, 0, 2)

KERAS_LAYERS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


class _NumpyArrays:
    split = staticmethod(lambda a, n: np.split(a, n, axis=-1))
    concat = staticmethod(lambda parts: np.concatenate(parts, axis=-1))
    stack = staticmethod(np.stack)


class _TensorArrays:
    @staticmethod
    def split(a, n):
        import tensorflow as tf

        return tf.split(a, n, axis=-1)

    @staticmethod
    def concat(parts):
        import tensorflow as tf

        return tf.concat(parts, axis=-1)

    @staticmethod
    def stack(parts):
        import tensorflow as tf

        return tf.stack(parts)


def _reorder(a, order, xp):
    """Permute the three gate blocks along the last axis."""
    blocks = xp.split(a, 3)
    return xp.concat([blocks[i] for i in order])


def _to_keras(cell, params, xp):
    if cell not in KERAS_LAYERS:
        raise RnnbenchError(f"no Keras layer for cell {cell!r}; valid: {', '.join(KERAS_LAYERS)}")
    if cell != "gru":
        return [params["W_x"], params["W_h"], params["b"]]
    order = _GRU_KERAS_FROM_CANONICAL
    bias = xp.stack([_reorder(params["b_x"], order, xp), _reorder(params["b_h"], order, xp)])
    return [_reorder(params["W_x"], order, xp), _reorder(params["W_h"], order, xp), bias]


def to_keras_weights(cell: str, params: dict) -> list:
    """Canonical NumPy params -> the list ``layer.set_weights`` takes (copies)."""
    return [np.array(w) for w in _to_keras(cell, {k: np.asarray(v) for k, v in params.items()}, _NumpyArrays)]


def to_keras_tensors(cell: str, params: dict) -> list:
    """Canonical tensors -> Keras weight tensors, with TF ops (differentiable, for ``stateless_call``)."""
    return _to_keras(cell, params, _TensorArrays)


def from_keras_weights(cell: str, weights) -> dict:
    """Keras weight list (or its gradients) -> canonical NumPy params (or their gradients)."""
    if cell not in KERAS_LAYERS:
        raise RnnbenchError(f"no Keras layer for cell {cell!r}; valid: {', '.join(KERAS_LAYERS)}")
    if len(weights) != 3:
        raise RnnbenchError(
            f"a Keras {KERAS_LAYERS[cell]} with bias has 3 weights (kernel, recurrent_kernel, bias), got {len(weights)}"
        )
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    if cell != "gru":
        return {"W_x": kernel.copy(), "W_h": recurrent.copy(), "b": bias.copy()}
    if bias.ndim != 2 or bias.shape[0] != 2:
        raise RnnbenchError(
            f"GRU bias of shape {bias.shape} is Keras GRU(reset_after=False), which applies the reset "
            "gate before the recurrent matmul: a different function from the canonical GRU; "
            "only reset_after=True (bias shape (2, 3H)) converts"
        )
    order = _GRU_CANONICAL_FROM_KERAS
    xp = _NumpyArrays
    return {
        "W_x": _reorder(kernel, order, xp),
        "W_h": _reorder(recurrent, order, xp),
        "b_x": _reorder(bias[0], order, xp),
        "b_h": _reorder(bias[1], order, xp),
    }


def cell_of_keras_layer(layer) -> tuple[str, str]:
    """``(cell, activation)`` of a Keras recurrent layer, refusing anything the canonical cells are not."""
    kind = type(layer).__name__
    cells = {v: k for k, v in KERAS_LAYERS.items()}
    if kind not in cells:
        raise RnnbenchError(f"cannot convert Keras {kind}; convertible layers: {', '.join(cells)}")
    cell = cells[kind]
    if not layer.use_bias:
        raise RnnbenchError(f"Keras {kind}(use_bias=False) has no canonical equivalent (canonical cells have biases)")
    activation = getattr(layer.activation, "__name__", str(layer.activation))
    allowed = ("tanh", "relu") if cell == "rnn" else ("tanh",)
    if activation not in allowed:
        raise RnnbenchError(f"Keras {kind} activation {activation!r} is not canonical; allowed: {', '.join(allowed)}")
    if cell != "rnn":
        recurrent = getattr(layer.recurrent_activation, "__name__", str(layer.recurrent_activation))
        if recurrent != "sigmoid":
            raise RnnbenchError(f"Keras {kind} recurrent_activation {recurrent!r} is not canonical (sigmoid)")
    if cell == "gru" and not layer.reset_after:
        raise RnnbenchError(
            "Keras GRU(reset_after=False) applies the reset gate before the recurrent matmul: a different "
            "function from the canonical GRU; use reset_after=True"
        )
    return cell, activation


def from_keras_layer(layer) -> tuple[str, str, dict]:
    """``(cell, activation, canonical params)`` of a built Keras recurrent layer."""
    cell, activation = cell_of_keras_layer(layer)
    return cell, activation, from_keras_weights(cell, layer.get_weights())


# -- stacked and bidirectional layers (docs/design.md §2.6) ----------------------------------------------


def to_keras_layered_weights(cell: str, params: dict, num_layers: int, bidirectional: bool) -> list:
    """Canonical units -> one ``set_weights`` list per Keras layer (a ``Bidirectional`` takes forward then backward)."""
    from rnnbench.layers import directions, unit_params

    return [
        [w for d in directions(bidirectional) for w in to_keras_weights(cell, unit_params(params, f"l{i}.{d}."))]
        for i in range(num_layers)
    ]


def from_keras_layered(layers) -> tuple[str, str, dict]:
    """``(cell, activation, canonical units)`` of a stack of built Keras recurrent layers, each plain or
    wrapped in ``Bidirectional`` (all alike); one layer, plain, gives the flat single-layer names."""
    bidirectional = {type(layer).__name__ == "Bidirectional" for layer in layers}
    if len(bidirectional) != 1:
        raise RnnbenchError("a stack mixes Bidirectional and one-direction layers; the canonical layout has one kind")
    bidirectional = bidirectional.pop()
    if len(layers) == 1 and not bidirectional:
        return from_keras_layer(layers[0])
    params, kinds = {}, set()
    for i, layer in enumerate(layers):
        parts = {"fw": layer.forward_layer, "bw": layer.backward_layer} if bidirectional else {"fw": layer}
        if bidirectional and getattr(layer, "merge_mode", "concat") != "concat":
            raise RnnbenchError(f"Bidirectional(merge_mode={layer.merge_mode!r}): the canonical layout concatenates")
        for direction, part in parts.items():
            cell, activation, unit = from_keras_layer(part)
            kinds.add((cell, activation))
            params.update({f"l{i}.{direction}.{k}": v for k, v in unit.items()})
    if len(kinds) != 1:
        raise RnnbenchError(f"a stack mixes cells {sorted(kinds)}; the canonical layout has one cell")
    cell, activation = kinds.pop()
    return cell, activation, params
