"""Timers for ``rnnbench bench``: the backend's own ``tf.function``s, on tensors made once.

Sequences call the same traced forward / vector-Jacobian-product functions as the
contract (built once per configuration by the backend); trees run the path the tree
model trains with: the schedule as tensors and a ``tf.while_loop`` over levels, traced
once for every batch (the eager contract functions would time Python dispatch instead). The callable
ends by materialising its smallest result on the host (``.numpy()`` waits for the
work that produced it), after ``tf.experimental.sync_devices`` where the build has it,
so the clock sees finished work on a GPU too.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from rnnbench.backend import check_sequence_inputs, check_tree_inputs
from rnnbench.bench.inputs import sequence_cotangent, tree_cotangents

from .tensors import hidden_size, tensors


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
    H = hidden_size(params)
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
    """The tree model's path: the schedule as tensors and one ``tf.while_loop`` over levels, traced
    once for every batch (:func:`.tree_model.node_states`), forward or with its gradient."""
    from .tree_model import schedule_tensors

    x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
    device = backend._tf_device
    forward, vjp = _tree_functions(backend, cell, params, x_leaves.shape[1], dtype)
    with tf.device(device):
        p = tensors(params, dtype)
        xt = tf.constant(x_leaves)
        schedule = schedule_tensors(trees)
        if backward:
            hidden = hidden_size(params) // 2  # tree cells' W is [2H, ...]
            upstream = tree_cotangents(cell, trees.num_nodes, hidden, dtype)
            dh = tf.constant(upstream["h"])
            dc = tf.constant(upstream["c"]) if cell == "treelstm" else tf.zeros([0, hidden], dtype)
    if not backward:

        def run_forward():
            with tf.device(device):
                h, _ = forward(p, xt, *schedule)
            _finish(h)

        return run_forward

    def run_forward_backward():
        with tf.device(device):
            grads = vjp(p, xt, *schedule, dh, dc)
        _finish(_smallest(list(grads.values())))

    return run_forward_backward


def _tree_functions(backend, cell, params, input_size, dtype):
    """``(forward, vjp)`` tf.functions with an input signature: one trace serves every TreeBatch."""
    key = ("tree", cell, input_size, tuple(sorted((k, np.shape(v)) for k, v in params.items())), np.dtype(dtype).name)
    if key not in backend._functions:
        tf_dtype = tf.as_dtype(np.dtype(dtype))
        p_spec = {k: tf.TensorSpec(np.shape(v), tf_dtype) for k, v in params.items()}
        hidden = hidden_size(params) // 2
        index = tf.TensorSpec([None], tf.int32)
        common = (p_spec, tf.TensorSpec([None, input_size], tf_dtype), index, index, index)
        state = tf.TensorSpec([None, hidden], tf_dtype)
        backend._functions[key] = (
            tf.function(functools.partial(_tree_forward, cell), input_signature=common),
            tf.function(functools.partial(_tree_vjp, cell), input_signature=(*common, state, state)),
        )
    return backend._functions[key]


def _tree_forward(cell, params, x, left, right, level_stops):
    from .tree_model import node_states

    return node_states(cell, params, x, left, right, level_stops, with_cells=True)


def _tree_vjp(cell, params, x, left, right, level_stops, dh, dc):
    from .tree_model import node_states

    sources = {"params": params, "x": x}
    with tf.GradientTape() as tape:
        tape.watch(sources)
        h, c = node_states(cell, params, x, left, right, level_stops, with_cells=True)
    outputs, cotangents = ([h, c], [dh, dc]) if cell == "treelstm" else ([h], [dh])
    grads = tape.gradient(
        outputs, sources, output_gradients=cotangents, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return {**grads["params"], "x": grads["x"]}


def bare_sequence_timer(backend, cell, params, x, backward=False):
    """A plain Keras layer holding the same weights, called inside a ``tf.function``: the loop a
    Keras user would time by hand, against which ``rnnbench bench --overhead`` measures the harness."""
    from .convert import to_keras_weights
    from .sequence import keras_layer

    B, T, D = x.shape
    H = hidden_size(params)
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


def plain_train_step(backend, spec, params):
    """The training step a Keras user writes for the textclf model, holding the same initial weights:
    a ``keras.Model`` of ``Embedding(mask_zero=True)``, ``LSTM`` (GRU/SimpleRNN) returning sequences,
    the masked mean (``GlobalAveragePooling1D`` reads the mask), ``Dense``, compiled with
    ``Adam(global_clipnorm=...)`` and run with ``train_on_batch`` (which returns the loss)."""
    import keras

    from rnnbench.model import encoder_params

    from .convert import to_keras_weights

    if spec.vocab_size is None or spec.pooling != "mean" or spec.loss != "xent" or spec.optimizer.name != "adam":
        return None
    dtype = np.dtype(spec.dtype).name
    layer = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[spec.cell]
    with tf.device(backend._tf_device):
        ids = keras.Input((None,), dtype="int64")
        embedding = keras.layers.Embedding(spec.vocab_size, spec.embed_size, mask_zero=True, dtype=dtype)
        extra = {"reset_after": True} if spec.cell == "gru" else {}
        rnn = layer(spec.hidden_size, return_sequences=True, dtype=dtype, **extra)
        head = keras.layers.Dense(spec.num_outputs, dtype=dtype)
        outputs = head(keras.layers.GlobalAveragePooling1D(dtype=dtype)(rnn(embedding(ids))))
        model = keras.Model(ids, outputs)
        embedding.set_weights([np.asarray(params["embedding"])])
        rnn.set_weights(to_keras_weights(spec.cell, encoder_params(params)))
        head.set_weights([np.asarray(params["head.W"]), np.asarray(params["head.b"])])
        opt = spec.optimizer
        clip = {"global_clipnorm": spec.clip_norm} if spec.clip_norm is not None else {}
        model.compile(
            optimizer=keras.optimizers.Adam(opt.lr, beta_1=opt.beta1, beta_2=opt.beta2, epsilon=opt.eps, **clip),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    device = backend._tf_device

    def step(batch):
        inputs, _, targets = batch
        with tf.device(device):
            return model.train_on_batch(inputs, targets)

    step.method = (
        f"keras.Model: Embedding(mask_zero=True) + {layer.__name__} + masked mean + Dense, "
        "Adam(global_clipnorm), train_on_batch"
    )
    return step
