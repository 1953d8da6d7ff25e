"""Sequence encoders (rnn, lstm, gru) as plain functions of TensorFlow tensors.

An encoder is ``encode(params, x, lengths, h0, c0) -> (y, h, c)``: ``params``
canonical tensors, ``x [B,T,D]``, ``lengths [B]`` int, ``h0``/``c0 [B,H]``
(``c0`` and ``c`` are None except for lstm). ``y`` is zero past each length and
``(h, c)`` is the state after step ``length`` (the initial state for length 0).
Encoders are differentiable and side-effect free, so the backend and the model
wrap the same function in ``tf.function`` (and ``jit_compile`` for xla) and take
gradients with one ``GradientTape``.

``native`` runs the Keras 3 layer through ``stateless_call`` with the weights
converted from canonical tensors inside the tape, so gradients flow back to
the canonical names with no second conversion. ``loop`` is an explicit
``tf.while_loop`` over steps that freezes finished sequences.
"""

from __future__ import annotations

import tensorflow as tf

from . import convert

IMPLS = ("native", "loop", "xla")


def make_encoder(impl, cell, activation, input_size, hidden_size, dtype):
    """The encoder function of ``impl`` for one cell configuration (builds a Keras layer for native)."""
    if impl == "native":
        layer = keras_layer(cell, input_size, hidden_size, activation, dtype)
        return _native_encoder(layer, cell)
    return _loop_encoder(cell, activation)


def keras_layer(cell, input_size, hidden_size, activation, dtype):
    """A built Keras layer computing the canonical cell (GRU with ``reset_after=True``)."""
    import keras

    common = dict(return_sequences=True, return_state=True, dtype=tf.as_dtype(dtype).name)
    if cell == "rnn":
        layer = keras.layers.SimpleRNN(hidden_size, activation=activation, **common)
    elif cell == "lstm":
        layer = keras.layers.LSTM(hidden_size, **common)
    else:
        layer = keras.layers.GRU(hidden_size, reset_after=True, **common)
    layer.build((None, None, input_size))
    convert.cell_of_keras_layer(layer)  # the layer must be one the converters claim to match
    return layer


def _native_encoder(layer, cell):
    def encode(params, x, lengths, h0, c0=None):
        steps = tf.shape(x)[1]
        # Keras needs at least one real step per row (cuDNN rejects empty
        # sequences): run length-0 rows for one step, then restore their state.
        mask = tf.sequence_mask(tf.maximum(lengths, 1), steps)
        initial = [h0, c0] if cell == "lstm" else [h0]
        frozen = [v.value for v in layer.non_trainable_variables]
        outputs, _ = layer.stateless_call(
            convert.to_keras_tensors(cell, params), frozen, x, mask=mask, initial_state=initial
        )
        y, h = outputs[0], outputs[1]
        # Keras repeats the last output at masked steps; the contract has zeros there.
        y = tf.where(tf.sequence_mask(lengths, steps)[:, :, None], y, tf.zeros_like(y))
        empty = (lengths == 0)[:, None]
        h = tf.where(empty, h0, h)
        c = tf.where(empty, c0, outputs[2]) if cell == "lstm" else None
        return y, h, c

    return encode


def _loop_encoder(cell, activation):
    step = _STEPS[cell]

    def encode(params, x, lengths, h0, c0=None):
        steps = tf.shape(x)[1]
        # One matmul projects every step's input (bias included); the loop adds h @ W_h.
        bias = params["b_x"] if cell == "gru" else params["b"]
        projected = tf.einsum("btd,dg->tbg", x, params["W_x"]) + bias
        lengths = lengths[:, None]
        c_init = c0 if cell == "lstm" else tf.zeros_like(h0)
        outputs = tf.TensorArray(x.dtype, size=steps, element_shape=h0.shape)

        def body(t, h, c, outputs):
            h_new, c_new = step(params, projected[t], h, c, activation)
            running = t < lengths
            h = tf.where(running, h_new, h)
            c = tf.where(running, c_new, c)
            outputs = outputs.write(t, tf.where(running, h_new, tf.zeros_like(h_new)))
            return t + 1, h, c, outputs

        _, h, c, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), h0, c_init, outputs), maximum_iterations=steps
        )  # XLA needs a bound
        y = tf.transpose(outputs.stack(), [1, 0, 2])
        return y, h, (c if cell == "lstm" else None)

    return encode


def _rnn_step(params, projected, h, c, activation):
    a = projected + h @ params["W_h"]
    return (tf.tanh(a) if activation == "tanh" else tf.nn.relu(a)), c


def _lstm_step(params, projected, h, c, activation):
    i, f, g, o = tf.split(projected + h @ params["W_h"], 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def _gru_step(params, projected, h, c, activation):
    x_r, x_z, x_n = tf.split(projected, 3, axis=-1)
    h_r, h_z, h_n = tf.split(h @ params["W_h"] + params["b_h"], 3, axis=-1)
    r = tf.sigmoid(x_r + h_r)
    z = tf.sigmoid(x_z + h_z)
    n = tf.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h, c


_STEPS = {"rnn": _rnn_step, "lstm": _lstm_step, "gru": _gru_step}
