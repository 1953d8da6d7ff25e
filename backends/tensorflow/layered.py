"""Stacked and bidirectional encoders on TensorFlow tensors (docs/design.md §2.6, :mod:`rnnbench.layers`).

A layered encoder is ``encode(params, x, lengths, h0) -> (y, final)`` with ``params`` the
canonical units (``l0.fw.W_x`` ...), ``h0`` and ``final`` dicts by prefixed state key.

- ``native``: one Keras layer a layer, ``keras.layers.Bidirectional`` around the
  SimpleRNN/LSTM/GRU when both directions are asked for, run with a mask through
  ``stateless_call`` with our weights converted inside the tape. With a mask, Keras's
  backward layer reverses the padded width but holds its state through the leading
  (masked) padding, so it reads each sequence's own last step first, as the contract says.
- ``loop``/``xla``: the single-layer step loop composed unit by unit; the backward
  direction reads ``tf.reverse_sequence`` of its input (reversed within each length)
  and its outputs are reversed back the same way.
"""

from __future__ import annotations

import tensorflow as tf

from rnnbench.backend import state_keys
from rnnbench.layers import LayerOps, compose, directions, unit_params, units

from . import convert, sequence


def reverse_within(a, lengths):
    """``a [B,T,...]`` reversed within each row's length (padding stays where it is)."""
    return tf.reverse_sequence(a, tf.cast(lengths, tf.int64), seq_axis=1, batch_axis=0)


class TensorflowLayerOps(LayerOps):
    """:class:`rnnbench.layers.LayerOps` on TensorFlow tensors: ``tf.reverse_sequence`` by the lengths."""

    def __init__(self, lengths):
        self.lengths = lengths

    def reverse(self, a):
        return reverse_within(a, self.lengths)

    def concat(self, parts):
        return tf.concat(parts, axis=2)


def make_layered_encoder(impl, cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional):
    """The layered encoder of ``impl`` for one configuration (builds Keras layers for native)."""
    if impl == "native":
        return _native_encoder(cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional)
    return _composed_encoder(
        sequence.make_encoder(impl, cell, activation, None, hidden_size, dtype), cell, num_layers, bidirectional
    )


def _composed_encoder(unit_encode, cell, num_layers, bidirectional):
    """``encode`` from single-layer ``unit_encode`` calls (:func:`rnnbench.layers.compose`)."""
    keys = state_keys(cell)

    def encode(params, x, lengths, h0):
        def run_unit(prefix, unit_x):
            y, h, c = unit_encode(unit_params(params, prefix), unit_x, lengths, h0[prefix + "h"], h0.get(prefix + "c"))
            return y, ({"h": h, "c": c} if "c" in keys else {"h": h})

        return compose(TensorflowLayerOps(lengths), run_unit, x, num_layers, bidirectional)

    return encode


def keras_layers(cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional):
    """One built Keras layer per layer (``Bidirectional`` around the cell's layer when both directions)."""
    import keras

    built = []
    width = input_size
    for _ in range(num_layers):
        layer = sequence.keras_layer(cell, width, hidden_size, activation, dtype)
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, merge_mode="concat", dtype=tf.as_dtype(dtype).name)
            layer.build((None, None, width))
        built.append(layer)
        width = hidden_size * (2 if bidirectional else 1)
    return built


def _native_encoder(cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional):
    built = keras_layers(cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional)
    keys = state_keys(cell)

    def encode(params, x, lengths, h0):
        steps = tf.shape(x)[1]
        # as for one layer: a length-0 row runs one step (Keras needs one), then is restored below
        mask = tf.sequence_mask(tf.maximum(lengths, 1), steps)
        inputs, final = x, {}
        for layer, keras_layer in enumerate(built):
            prefixes = [f"l{layer}.{d}." for d in directions(bidirectional)]
            weights = [w for p in prefixes for w in convert.to_keras_tensors(cell, unit_params(params, p))]
            initial = [h0[p + k] for p in prefixes for k in keys]
            frozen = [v.value for v in keras_layer.non_trainable_variables]
            outputs, _ = keras_layer.stateless_call(weights, frozen, inputs, mask=mask, initial_state=initial)
            states = outputs[1:]
            for n, p in enumerate(prefixes):
                for m, k in enumerate(keys):
                    final[p + k] = states[n * len(keys) + m]
            inputs = outputs[0]
        y = tf.where(tf.sequence_mask(lengths, steps)[:, :, None], inputs, tf.zeros_like(inputs))
        empty = (lengths == 0)[:, None]
        final = {k: tf.where(empty, h0[k], v) for k, v in final.items()}
        return y, final

    return encode


def zero_states(cell, num_layers, bidirectional, batch, hidden, dtype) -> dict:
    return {
        p + k: tf.zeros([batch, hidden], dtype)
        for _, _, p in units(num_layers, bidirectional)
        for k in state_keys(cell)
    }


def sequence_timer(
    backend, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
):
    """As :func:`.bench.sequence_timer` for a layered encoder: the backend's traced functions, tensors made once."""
    import numpy as np

    from rnnbench import layers
    from rnnbench.bench.inputs import sequence_cotangent

    from .tensors import tensors

    x, lengths, dtype, H = layers.check_layered_inputs(
        cell, params, x, lengths, None, activation, num_layers, bidirectional
    )
    B, T, D = x.shape
    forward, vjp = backend._layered_functions(cell, activation, D, H, dtype, num_layers, bidirectional)
    device = backend._tf_device
    with tf.device(device):
        states = zero_states(cell, num_layers, bidirectional, B, H, dtype)
        args = (tensors(params, dtype), tf.constant(x), tf.constant(lengths.astype(np.int32)), states)
        if backward:
            dy = tf.constant(sequence_cotangent(B, T, layers.output_size(H, bidirectional), dtype))
            dfinal = {k: tf.zeros_like(v) for k, v in states.items()}
    if not backward:

        def run_forward():
            with tf.device(device):
                _, final = forward(*args)
            _finish(final)

        return run_forward

    def run_forward_backward():
        with tf.device(device):
            grads = vjp(*args, dy, dfinal)
        _finish(grads)

    return run_forward_backward


def _finish(tensors: dict) -> None:
    sync = getattr(tf.experimental, "sync_devices", None)
    if sync is not None:
        sync()
    min(tensors.values(), key=lambda t: t.shape.num_elements()).numpy()
