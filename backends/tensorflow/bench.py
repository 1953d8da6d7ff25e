"""Timers for ``rnnbench bench``: the backend's own ``tf.function``s, on tensors made once.

Sequences call the same traced forward / vector-Jacobian-product functions as the
contract (built once per configuration by the backend); trees run the eager
level-by-level code with a ``GradientTape``, as ``tree_backward`` does. The callable
ends by materialising its smallest result on the host (``.numpy()`` waits for the
work that produced it), after ``tf.experimental.sync_devices`` where the build has it,
so the clock sees finished work on a GPU too.
"""
from __future__ import annotations

import tensorflow as tf

from rnnbench.backend import check_sequence_inputs, check_tree_inputs, state_keys
from rnnbench.bench.inputs import sequence_cotangent, tree_cotangents

from . import tree
from .backend import _hidden, _tensors


def _finish(smallest) -> None:
    sync = getattr(tf.experimental, "sync_devices", None)
    if sync is not None:
        sync()
    smallest.numpy()


def _smallest(tensors):
    return min(tensors, key=lambda t: t.shape.num_elements())


def sequence_timer(backend, cell, params, x, lengths=None, backward=False, activation="tanh"):
    x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, None, activation)
    B, T, D = x.shape
    H = _hidden(params)
    forward, vjp = backend._sequence_functions(cell, activation, D, H, dtype)
    device = backend._tf_device
    with tf.device(device):
        args = backend._sequence_args(cell, params, x, lengths, None, dtype)
        if backward:
            zeros = tf.zeros((B, H), dtype)
            upstream = (tf.constant(sequence_cotangent(B, T, H, dtype)), zeros, zeros if cell == "lstm" else None)
    if not backward:
        def run_forward():
            with tf.device(device):
                _, h, _ = forward(*args)
            _finish(h)
        return run_forward

    def run_forward_backward():
        with tf.device(device):
            grads = vjp(*args, *upstream)
        _finish(_smallest(list(grads.values())))
    return run_forward_backward


def tree_timer(backend, cell, params, x_leaves, trees, backward=False):
    x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
    device = backend._tf_device
    with tf.device(device):
        p = _tensors(params, dtype)
        xt = tf.constant(x_leaves)
        if backward:
            hidden = _hidden(params) // 2  # tree cells' W is [2H, ...]
            upstream = tree_cotangents(cell, trees.num_nodes, hidden, dtype)
            upstream = [tf.constant(upstream[k]) for k in state_keys(cell)]
    if not backward:
        def run_forward():
            with tf.device(device):
                states = tree.forward(cell, p, xt, trees)
            _finish(states["h"])
        return run_forward

    sources = {"params": p, "x": xt}

    def run_forward_backward():
        with tf.device(device):
            with tf.GradientTape() as tape:
                tape.watch(sources)
                states = tree.forward(cell, p, xt, trees)
            grads = tape.gradient([states[k] for k in state_keys(cell)], sources, output_gradients=upstream,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        _finish(_smallest(list(grads["params"].values())))
    return run_forward_backward


def bare_sequence_timer(backend, cell, params, x, backward=False):
    """A plain Keras layer holding the same weights, called inside a ``tf.function``: the loop a
    Keras user would time by hand, against which ``rnnbench bench --overhead`` measures the harness."""
    from .convert import to_keras_weights
    from .sequence import keras_layer

    B, T, D = x.shape
    H = _hidden(params)
    device = backend._tf_device
    with tf.device(device):
        layer = keras_layer(cell, D, H, "tanh", x.dtype)
        layer.set_weights(to_keras_weights(cell, params))
        xt = tf.constant(x)
        dy = tf.constant(sequence_cotangent(B, T, H, x.dtype))

    @tf.function
    def forward(inputs):
        return layer(inputs)[0]

    @tf.function
    def forward_backward(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs)[0]
        return tape.gradient(y, [*layer.trainable_variables, inputs], output_gradients=dy)

    def run():
        with tf.device(device):
            out = forward_backward(xt) if backward else [forward(xt)]
        _finish(_smallest(out))
    run.method = f"keras.layers.{type(layer).__name__} in tf.function"
    return run
