"""The TensorFlow backend: Keras 3 recurrent layers, or a step loop of TF ops (optionally XLA).

Implementations (``impl``):

* ``native``: ``keras.layers.SimpleRNN`` / ``LSTM`` / ``GRU(reset_after=True)``
  with a mask for ragged lengths (cuDNN on a GPU, Keras's generic loop on a CPU);
* ``loop``: an explicit ``tf.while_loop`` over steps inside ``tf.function``;
* ``xla``: the same loop compiled with ``jit_compile=True``.

NumPy goes in and comes out; tensors never leave. Gradients come from one
``GradientTape`` per call with the upstream gradients as ``output_gradients``.
Tree cells run level by level (:mod:`.tree`) in every impl.
"""

from __future__ import annotations

import functools
import os
import re

import numpy as np

from rnnbench import layers
from rnnbench.backend import (
    Backend,
    check_sequence_cotangents,
    check_sequence_inputs,
    check_tree_cotangents,
    check_tree_inputs,
    state_keys,
)
from rnnbench.errors import RnnbenchError

IMPLS = ("native", "loop", "xla")

# .tensors first: TensorFlow loads quietly there.
from .tensors import check_xla, hidden_size, quiet_native_stderr, tensors, tf  # noqa: E402, I001
from . import sequence, tree  # noqa: E402


class TensorflowBackend(Backend):
    name = "tensorflow"
    impls = IMPLS

    def __init__(self, impl=None, device=None, threads=None):
        impl = impl or "native"
        if impl not in IMPLS:
            raise RnnbenchError(f"unknown tensorflow impl {impl!r}; valid: {', '.join(IMPLS)}")
        _set_intra_op_threads(threads)
        self._tf_device = _resolve_device(device)
        super().__init__(impl, device or "cpu", threads)
        if impl == "xla":
            check_xla(self._tf_device, self.device)
        self._functions = {}

    def info(self) -> dict:
        import keras

        configured = tf.config.threading.get_intra_op_parallelism_threads()
        return {
            "framework": "tensorflow",
            "version": tf.__version__,
            "keras_version": keras.__version__,
            "impl": self.impl,
            "device": self.device,
            "tf_device": self._tf_device,
            # 0 means TensorFlow's default: one thread per schedulable core.
            "threads": configured or _schedulable_cores(),
            "threads_requested": self.threads,
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or _schedulable_cores(),
        }

    def sequence_timer(
        self, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            from .layered import sequence_timer as layered_timer

            return layered_timer(self, cell, params, x, lengths, backward, activation, num_layers, bidirectional)
        from .bench import sequence_timer

        return sequence_timer(self, cell, params, x, lengths, backward, activation)

    def tree_timer(self, cell, params, x_leaves, trees, backward=False):
        from .bench import tree_timer

        return tree_timer(self, cell, params, x_leaves, trees, backward)

    has_bare_timer = True
    has_plain_train_step = True

    def bare_sequence_timer(self, cell, params, x, backward=False):
        from .bench import bare_sequence_timer

        return bare_sequence_timer(self, cell, params, x, backward)

    def plain_train_step(self, spec, params):
        from .bench import plain_train_step

        return plain_train_step(self, spec, params)

    def build_model(self, spec, params):
        from rnnbench.tree_model import TreeModelSpec

        if isinstance(spec, TreeModelSpec):
            from .tree_model import TensorflowTreeModel

            return TensorflowTreeModel(spec, params, self)
        from .model import TensorflowModel

        return TensorflowModel(spec, params, self)

    # -- sequences ---------------------------------------------------------------------------------

    layered = True

    def sequence_forward(
        self, cell, params, x, lengths=None, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            return self._layered(cell, params, x, lengths, state, activation, num_layers, bidirectional)
        x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
        B, T, _ = x.shape
        H = hidden_size(params)
        if B == 0 or T == 0:
            return np.zeros((B, T, H), dtype), _initial_state(cell, state, B, H, dtype)
        forward, _ = self._sequence_functions(cell, activation, x.shape[2], H, dtype)
        with tf.device(self._tf_device):
            y, h, c = forward(*self._sequence_args(cell, params, x, lengths, state, dtype))
        final = {"h": h.numpy()}
        if cell == "lstm":
            final["c"] = c.numpy()
        return y.numpy(), final

    def sequence_backward(
        self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            return self._layered(
                cell, params, x, lengths, state, activation, num_layers, bidirectional, backward=(dy, dfinal)
            )
        x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
        B, T, _ = x.shape
        H = hidden_size(params)
        keys = state_keys(cell)
        dy, dfinal = check_sequence_cotangents(cell, dy, dfinal, B, T, H, dtype)
        dy = np.zeros((B, T, H), dtype) if dy is None else dy
        dstate = {k: dfinal.get(k, np.zeros((B, H), dtype)) for k in keys}
        if B == 0 or T == 0:  # nothing runs: the final state is the initial state
            grads = {k: np.zeros_like(np.asarray(v, dtype)) for k, v in params.items()}
            grads["x"] = np.zeros_like(x)
        else:
            _, vjp = self._sequence_functions(cell, activation, x.shape[2], H, dtype)
            with tf.device(self._tf_device):
                args = self._sequence_args(cell, params, x, lengths, state, dtype)
                upstream = (
                    tf.constant(dy),
                    tf.constant(dstate["h"]),
                    tf.constant(dstate["c"]) if cell == "lstm" else None,
                )
                grads = {k: v.numpy() for k, v in vjp(*args, *upstream).items()}
        if state is None:
            grads.pop("h0", None)
            grads.pop("c0", None)
        elif B == 0 or T == 0:
            grads.update({f"{k}0": dstate[k] for k in keys})
        return grads

    def _layered(self, cell, params, x, lengths, state, activation, num_layers, bidirectional, backward=None):
        """A stacked/bidirectional call (:mod:`.layered`): forward, or with ``backward=(dy, dfinal)`` the VJP."""
        x, lengths, dtype, H = layers.check_layered_inputs(
            cell, params, x, lengths, state, activation, num_layers, bidirectional
        )
        B, T, D = x.shape
        keys = [p + k for _, _, p in layers.units(num_layers, bidirectional) for k in state_keys(cell)]
        initial = {k: (np.zeros((B, H), dtype) if state is None else np.array(state[k], dtype)) for k in keys}
        width = layers.output_size(H, bidirectional)
        if backward is not None:
            dy, dfinal = layers.check_layered_cotangents(cell, *backward, B, T, H, dtype, num_layers, bidirectional)
            dy = np.zeros((B, T, width), dtype) if dy is None else dy
            dfinal = {k: dfinal.get(k, np.zeros((B, H), dtype)) for k in keys}
        if B == 0 or T == 0:
            if backward is None:
                return np.zeros((B, T, width), dtype), initial
            grads = {k: np.zeros_like(np.asarray(v, dtype)) for k, v in params.items()}
            grads["x"] = np.zeros_like(x)
            if state is not None:
                grads.update({f"{k}0": dfinal[k] for k in keys})
            return grads
        forward, vjp = self._layered_functions(cell, activation, D, H, dtype, num_layers, bidirectional)
        with tf.device(self._tf_device):
            args = (
                tensors(params, dtype),
                tf.constant(x),
                tf.constant(lengths.astype(np.int32)),
                {k: tf.constant(v) for k, v in initial.items()},
            )
            if backward is None:
                y, final = forward(*args)
                return y.numpy(), {k: v.numpy() for k, v in final.items()}
            grads = {
                k: v.numpy()
                for k, v in vjp(*args, tf.constant(dy), {k: tf.constant(v) for k, v in dfinal.items()}).items()
            }
        if state is None:
            grads = {k: v for k, v in grads.items() if k in params or k == "x"}
        return grads

    def _layered_functions(self, cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional):
        """``(forward, vjp)`` tf.functions of a layered configuration, built once and reused."""
        key = ("layered", cell, activation, input_size, hidden_size, np.dtype(dtype).name, num_layers, bidirectional)
        if key not in self._functions:
            from . import layered

            with tf.device(self._tf_device):
                encode = layered.make_layered_encoder(
                    self.impl, cell, activation, input_size, hidden_size, dtype, num_layers, bidirectional
                )
            options = dict(reduce_retracing=True, jit_compile=(self.impl == "xla") or None)
            self._functions[key] = (
                tf.function(functools.partial(_layered_forward, encode), **options),
                tf.function(functools.partial(_layered_vjp, encode), **options),
            )
        return self._functions[key]

    def _sequence_args(self, cell, params, x, lengths, state, dtype):
        B, H = x.shape[0], hidden_size(params)
        initial = _initial_state(cell, state, B, H, dtype)
        c0 = tf.constant(initial["c"]) if cell == "lstm" else None
        return (
            tensors(params, dtype),
            tf.constant(x),
            tf.constant(lengths.astype(np.int32)),
            tf.constant(initial["h"]),
            c0,
        )

    def _sequence_functions(self, cell, activation, input_size, hidden_size, dtype):
        """``(forward, vjp)`` tf.functions for one configuration, built once and reused."""
        key = (cell, activation, input_size, hidden_size, np.dtype(dtype).name)
        if key not in self._functions:
            with tf.device(self._tf_device):
                encode = sequence.make_encoder(self.impl, cell, activation, input_size, hidden_size, dtype)
            self._functions[key] = _compile_sequence(encode, cell, jit=self.impl == "xla")
        return self._functions[key]

    # -- trees -------------------------------------------------------------------------------------

    def tree_forward(self, cell, params, x_leaves, trees):
        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        with tf.device(self._tf_device):
            states = tree.forward(cell, tensors(params, dtype), tf.constant(x_leaves), trees)
            return {k: v.numpy() for k, v in states.items()}

    def tree_backward(self, cell, params, x_leaves, trees, dstates):
        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        shape = (trees.num_nodes, hidden_size(params) // 2)  # tree cells' W is [2H, ...]
        dstates = check_tree_cotangents(cell, dstates, *shape, dtype)
        upstream = {k: dstates.get(k, np.zeros(shape, dtype)) for k in state_keys(cell)}
        with tf.device(self._tf_device):
            sources = {"params": tensors(params, dtype), "x": tf.constant(x_leaves)}
            with tf.GradientTape() as tape:
                tape.watch(sources)
                states = tree.forward(cell, sources["params"], sources["x"], trees)
            keys = sorted(states)
            grads = tape.gradient(
                [states[k] for k in keys],
                sources,
                output_gradients=[tf.constant(upstream[k]) for k in keys],
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
            result = {k: v.numpy() for k, v in grads["params"].items()}
            result["x"] = grads["x"].numpy()
        return result


# -- compiled functions --------------------------------------------------------------------------------


def _compile_sequence(encode, cell, jit):
    """tf.functions for the forward pass and its vector-Jacobian product.

    Each wraps a ``partial`` (not a closure) so that TensorFlow's retracing
    detector counts every configuration on its own instead of all together.
    """
    options = dict(reduce_retracing=True, jit_compile=jit or None)
    return (
        tf.function(functools.partial(_sequence_forward, encode), **options),
        tf.function(functools.partial(_sequence_vjp, encode, cell), **options),
    )


def _sequence_forward(encode, params, x, lengths, h0, c0):
    return encode(params, x, lengths, h0, c0)


def _sequence_vjp(encode, cell, params, x, lengths, h0, c0, dy, dh, dc):
    sources = {"params": params, "x": x, "h0": h0}
    if cell == "lstm":
        sources["c0"] = c0
    with tf.GradientTape() as tape:
        tape.watch(sources)
        y, h, c = encode(params, x, lengths, h0, c0)
    outputs, cotangents = [y, h], [dy, dh]
    if cell == "lstm":
        outputs.append(c)
        cotangents.append(dc)
    grads = tape.gradient(
        outputs, sources, output_gradients=cotangents, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return {**grads.pop("params"), **grads}


def _layered_forward(encode, params, x, lengths, h0):
    return encode(params, x, lengths, h0)


def _layered_vjp(encode, params, x, lengths, h0, dy, dfinal):
    sources = {"params": params, "x": x, "h0": h0}
    with tf.GradientTape() as tape:
        tape.watch(sources)
        y, final = encode(params, x, lengths, h0)
    keys = sorted(dfinal)
    grads = tape.gradient(
        [y] + [final[k] for k in keys],
        sources,
        output_gradients=[dy] + [dfinal[k] for k in keys],
        unconnected_gradients=tf.UnconnectedGradients.ZERO,
    )
    result = {**grads["params"], "x": grads["x"]}
    result.update({f"{k}0": v for k, v in grads["h0"].items()})
    return result


# -- helpers ---------------------------------------------------------------------------------------------


def _initial_state(cell, state, B, H, dtype) -> dict:
    return {k: (np.zeros((B, H), dtype) if state is None else np.array(state[k], dtype)) for k in state_keys(cell)}


def _schedulable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _set_intra_op_threads(threads) -> None:
    """Set TensorFlow's intra-op pool size; only possible before its runtime starts."""
    if threads is None:
        return
    n = int(threads)
    if n < 1:
        raise RnnbenchError(f"threads must be >= 1, got {threads}")
    current = tf.config.threading.get_intra_op_parallelism_threads()
    if current == n:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
    except RuntimeError as exc:
        if current == 0 and n == _schedulable_cores():
            return  # the default pool already has exactly the requested size
        in_effect = current or f"the default ({_schedulable_cores()})"
        raise RnnbenchError(
            f"TensorFlow's runtime already started with {in_effect} intra-op threads; threads={n} must be "
            "set before the first TensorFlow operation (use a fresh process for each thread count)"
        ) from exc


def _resolve_device(device) -> str:
    """``cpu`` / ``gpu`` / ``gpu:N`` (``cuda[:N]`` accepted) -> a TensorFlow device name."""
    if device is None or device in ("cpu", "cpu:0"):
        return "/CPU:0"
    match = re.fullmatch(r"(gpu|cuda)(?::(\d+))?", str(device))
    if not match:
        raise RnnbenchError(f"unknown device {device!r} for tensorflow; use cpu, gpu or gpu:N")
    index = int(match.group(2) or 0)
    with quiet_native_stderr():
        gpus = tf.config.list_physical_devices("GPU")
    if index >= len(gpus):
        why = (
            "this TensorFlow build has no CUDA support"
            if not tf.test.is_built_with_cuda()
            else f"TensorFlow sees {len(gpus)} GPU(s)"
        )
        raise RnnbenchError(f"device {device!r} is not available to tensorflow: {why}")
    return f"/GPU:{index}"
