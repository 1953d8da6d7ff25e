"""The TensorFlow model: embedding -> encoder -> pooling -> head -> loss, gradients by GradientTape.

The encoder is the backend's own implementation (Keras layer, step loop or
XLA), the optimizer the shared formula of :mod:`rnnbench.optim` run on
tensors through :class:`TfOps` (never a Keras optimizer), so that the same
seed, data and initial weights give the NumPy model's loss curve. A train step
(forward, gradients, update) is one ``tf.function``, jit-compiled for xla. The
gradient-flow diagnostic runs eagerly, step by step, since neither a fused
layer nor a ``while_loop`` lets a tape see each step's state.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from rnnbench.dropout import MASK_NAMES, check_masks
from rnnbench.model import ModelSpec, TrainableModel, check_model_batch, check_model_targets, encoder_params
from rnnbench.optim import apply_update, init_state, is_regularised, is_trained, l2_penalty

from . import sequence


class TfOps:
    """The three array operations of :mod:`rnnbench.optim`, for tensors."""

    sqrt = staticmethod(tf.sqrt)
    maximum = staticmethod(tf.maximum)

    @staticmethod
    def sum_squares(a):
        return tf.reduce_sum(a * a)


def init_variables(model, spec, params: dict, backend) -> None:
    """Give a TensorFlow model (sequence or tree) its parameter and optimizer-state variables.

    The base (:class:`rnnbench.model.TrainableModel`) checks ``params`` and sets ``spec`` and ``dtype``;
    this sets ``_device``, ``_vars`` (one variable a parameter), ``_slots`` (the optimizer's moments) and
    ``_step``: the step count lives in a variable of the parameters' dtype, so that ``beta ** t`` inside a
    traced step sees the current step.
    """
    TrainableModel.__init__(model, spec, params)
    model._device = backend._tf_device
    with tf.device(model._device):
        model._vars = {
            k: tf.Variable(np.array(v, dtype=model.dtype), name=k.replace(".", "_")) for k, v in params.items()
        }
        slots = init_state(spec, model._vars, lambda v: tf.Variable(tf.zeros_like(v)))
        model._step = tf.Variable(tf.zeros([], model.dtype))
        model._slots = {name: slot for name, slot in slots.items() if name != "t"}


class TensorflowModel(TrainableModel):
    """A trainable model for a :class:`~rnnbench.model.ModelSpec`; NumPy in, NumPy out."""

    def __init__(self, spec: ModelSpec, params: dict, backend):
        init_variables(self, spec, params, backend)
        with tf.device(self._device):
            if spec.layered:
                self._encode = _layered_model_encoder(backend.impl, spec, self.dtype)
            else:
                self._encode = sequence.make_encoder(
                    backend.impl, spec.cell, spec.activation, spec.encoder_input_size, spec.hidden_size, self.dtype
                )
        options = dict(reduce_retracing=True, jit_compile=(backend.impl == "xla") or None)
        # partials, not bound methods: TensorFlow's retracing detector counts each model apart.
        self._train_fn = tf.function(functools.partial(_train_step, self), **options)
        self._grads_fn = tf.function(functools.partial(_loss_and_grads, self), **options)
        self._predict_fn = tf.function(functools.partial(_outputs, self), **options)

    # -- public interface (rnnbench.model) ---------------------------------------------------

    def predict(self, inputs, lengths) -> np.ndarray:
        """Logits ``[B, C]`` (outputs, for ``mse``); ``[B, T, C]`` for pooling ``steps``."""
        with tf.device(self._device):
            return self._predict_fn(self._vars, *self._check_inputs(inputs, lengths)).numpy()

    def loss_and_grads(self, inputs, lengths, targets, masks=None) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        masks = _mask_tensors(check_masks(self.spec, (inputs, lengths), masks))
        inputs, lengths = self._check_inputs(inputs, lengths)
        with tf.device(self._device):
            loss, grads = self._grads_fn(inputs, lengths, self._check_targets(targets, lengths.shape[0]), masks)
            return float(loss), {k: g.numpy() for k, g in grads.items()}

    def train_step(self, inputs, lengths, targets, masks=None) -> float:
        """One optimizer step; returns the loss before it (L2 penalty included).

        ``masks``: the step's dropout masks (:mod:`rnnbench.dropout`), tensors fed to the traced
        step (never captured constants, so a new mask each step does not retrace); None: no dropout.
        """
        masks = _mask_tensors(check_masks(self.spec, (inputs, lengths), masks))
        inputs, lengths = self._check_inputs(inputs, lengths)
        with tf.device(self._device):
            return float(self._train_fn(inputs, lengths, self._check_targets(targets, lengths.shape[0]), masks))

    def get_params(self) -> dict:
        return {k: v.numpy().copy() for k, v in self._vars.items()}

    def state_gradient_norms(self, inputs, lengths, targets) -> np.ndarray:
        """``[T]``: the batch mean of ``||dL/dh_t||`` (data loss), by GradientTape.

        Each state ``h_t`` is one watched tensor, the one that both step
        ``t+1`` and the head read, so its gradient is the total derivative.
        """
        inputs, lengths = self._check_inputs(inputs, lengths)
        targets = self._check_targets(targets, lengths.shape[0])
        spec = self.spec
        with tf.device(self._device):
            params = {k: v.read_value() for k, v in self._vars.items()}
            with tf.GradientTape() as tape:
                x = tf.gather(params["embedding"], inputs) if spec.vocab_size is not None else inputs
                if spec.layered:
                    states, y = _layered_stepwise_states(spec, encoder_params(params), x, lengths, tape)
                else:
                    states, y = _stepwise_states(spec, encoder_params(params), x, lengths, tape)
                loss = _loss_of_outputs(spec, _head(params, _pool(spec.pooling, y, lengths, _half(spec))), targets)
            grads = tape.gradient(loss, states, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return tf.reduce_mean(tf.norm(tf.stack(grads, axis=1), axis=2), axis=0).numpy()

    # -- validation (NumPy side, before anything reaches a device) ------------------------------

    def _check_inputs(self, inputs, lengths):
        inputs, lengths = check_model_batch(self.spec, inputs, lengths)
        return tf.constant(inputs), tf.constant(lengths.astype(np.int32))

    def _check_targets(self, targets, batch):
        return tf.constant(check_model_targets(self.spec, targets, batch))


def _mask_tensors(masks):
    """Checked dropout masks as constants to feed a traced step (a tuple in MASK_NAMES order), or None."""
    return None if masks is None else tuple(tf.constant(masks[name]) for name in MASK_NAMES)


# -- the computation (traced by tf.function; ``model`` is bound by functools.partial) ---------------


def _outputs(model, params, inputs, lengths, masks=None):
    """Logits ``[B, C]``: embed, encode from a zero state, pool over real steps, project.

    ``masks`` (dropout): ``(input, head)``, multiplying the encoder's input and the pooled output.
    """
    spec = model.spec
    x = tf.gather(params["embedding"], inputs) if spec.vocab_size is not None else inputs
    if masks is not None:
        x = x * masks[0]
    h0 = tf.zeros([tf.shape(x)[0], spec.hidden_size], x.dtype)
    y, _, _ = model._encode(encoder_params(params), x, lengths, h0, h0 if spec.cell == "lstm" else None)
    pooled = _pool(spec.pooling, y, lengths, _half(spec))
    if masks is not None:
        pooled = pooled * masks[1]
    return _head(params, pooled)


def _half(spec):
    """Where a bidirectional encoder's backward units start in ``y`` (None: one direction)."""
    return spec.hidden_size if spec.bidirectional else None


def _layered_model_encoder(impl, spec, dtype):
    """The stacked/bidirectional encoder (:mod:`.layered`) behind the single-layer signature, from zero states."""
    from .layered import make_layered_encoder, zero_states

    encode = make_layered_encoder(
        impl,
        spec.cell,
        spec.activation,
        spec.encoder_input_size,
        spec.hidden_size,
        dtype,
        spec.num_layers,
        spec.bidirectional,
    )

    def run(params, x, lengths, h0, c0=None):
        zeros = zero_states(spec.cell, spec.num_layers, spec.bidirectional, tf.shape(x)[0], spec.hidden_size, x.dtype)
        y, _ = encode(params, x, lengths, zeros)
        return y, None, None

    return run


def _layered_stepwise_states(spec, params, x, lengths, tape):
    """As :func:`_stepwise_states` for a layered encoder: the probed states are the top layer's forward
    unit's (as in the NumPy reference); every other unit runs the ``loop`` implementation."""
    from rnnbench.layers import compose, top_forward_prefix, unit_params

    from .layered import TensorflowLayerOps

    unit = sequence.make_encoder("loop", spec.cell, spec.activation, None, spec.hidden_size, x.dtype)
    h0 = tf.zeros([tf.shape(x)[0], spec.hidden_size], x.dtype)
    probed = {}

    def run_unit(prefix, unit_x):
        if prefix == top_forward_prefix(spec.num_layers):
            probed["states"], y = _stepwise_states(spec, unit_params(params, prefix), unit_x, lengths, tape)
        else:
            y, _, _ = unit(unit_params(params, prefix), unit_x, lengths, h0, h0)
        return y, None

    y, _ = compose(TensorflowLayerOps(lengths), run_unit, x, spec.num_layers, spec.bidirectional)
    return probed["states"], y


def _head(params, pooled):
    """The linear head on ``[B,H]``, or on every step of ``[B,T,H]``."""
    if pooled.shape.rank == 3:
        return tf.einsum("bth,hc->btc", pooled, params["head.W"]) + params["head.b"]
    return pooled @ params["head.W"] + params["head.b"]


def _pool(kind, y, lengths, backward_half=None):
    """Pool ``y [B,T,H]`` (zero past each length) over each sequence's real steps; ``steps`` keeps them all.

    ``backward_half``: where a bidirectional encoder's backward units start (their ``last`` is step 0).
    """
    if kind == "steps":
        return y
    if kind == "last" and backward_half is not None:
        last = tf.gather(y[:, :, :backward_half], lengths - 1, axis=1, batch_dims=1)
        return tf.concat([last, y[:, 0, backward_half:]], axis=1)
    if kind == "mean":
        return tf.reduce_sum(y, axis=1) / tf.cast(lengths, y.dtype)[:, None]
    if kind == "last":
        return tf.gather(y, lengths - 1, axis=1, batch_dims=1)
    # max: the gradient goes to the first maximal step, as in the NumPy model (argmax, not a tie split)
    real = tf.sequence_mask(lengths, tf.shape(y)[1])[:, :, None]
    steps = tf.argmax(tf.where(real, y, tf.constant(-np.inf, y.dtype)), axis=1, output_type=tf.int32)
    return tf.gather(tf.transpose(y, [0, 2, 1]), steps, axis=2, batch_dims=2)


def _data_loss(model, params, inputs, lengths, targets, masks=None):
    """Batch-mean loss without the L2 penalty."""
    return _loss_of_outputs(model.spec, _outputs(model, params, inputs, lengths, masks), targets)


def _loss_of_outputs(spec, outputs, targets):
    """Batch-mean data loss; for ``steps``, the mean cross-entropy over the scored (``>= 0``) positions."""
    if spec.pooling == "steps":
        scored = targets >= 0
        per_step = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(targets, 0), outputs)
        weights = tf.cast(scored, outputs.dtype)
        return tf.reduce_sum(per_step * weights) / tf.reduce_sum(weights)
    if spec.loss == "xent":
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(targets, outputs))
    diff = outputs - targets
    return tf.reduce_mean(tf.reduce_sum(diff * diff, axis=1))


def _data_loss_and_grads(model, inputs, lengths, targets, masks=None):
    with tf.GradientTape() as tape:
        loss = _data_loss(model, model._vars, inputs, lengths, targets, masks)
    grads = tape.gradient(loss, model._vars)
    # the embedding's gradient arrives as IndexedSlices: densify (duplicates summed)
    return loss, {k: tf.convert_to_tensor(g) for k, g in grads.items()}


def _loss_and_grads(model, inputs, lengths, targets, masks=None):
    return with_l2(model, *_data_loss_and_grads(model, inputs, lengths, targets, masks))


def _train_step(model, inputs, lengths, targets, masks=None):
    return update(model, *_data_loss_and_grads(model, inputs, lengths, targets, masks))


def with_l2(model, loss, grads):
    """The full loss and gradient from the data ones: the L2 penalty and ``l2 * w`` added.

    Shared by every TensorFlow model (``model._vars``, ``model.spec``), inside its traced functions.
    """
    params = {k: v.read_value() for k, v in model._vars.items()}
    l2 = model.spec.l2
    if l2:
        grads = {k: g + l2 * params[k] if is_regularised(model.spec, k) else g for k, g in grads.items()}
    return loss + l2_penalty(model.spec, params, TfOps), grads


def update(model, loss, grads):
    """One shared-formula step from the data loss and gradient; returns the loss before it (L2 included).

    The data-only gradient goes to apply_update, which adds L2 itself; the
    optimizer state lives in ``model._step`` and ``model._slots``. The penalty
    reads the parameters before the step (automatic control dependencies order
    the update's writes after these reads).
    """
    params = {k: v.read_value() for k, v in model._vars.items()}
    loss = loss + l2_penalty(model.spec, params, TfOps)
    _fused_update(model)(grads)
    return loss


def _fused_update(model):
    """:func:`rnnbench.optim.apply_update` on the model's variables as one XLA cluster (built once a model).

    Run op by op, the shared formulas make about fifteen full passes over every parameter
    a step, each writing a new tensor (over a 20k-word embedding, most of a step's update
    time); XLA fuses the elementwise chain into one loop that reads each parameter, its
    gradient and its slots once. The cluster reads and assigns the variables itself: XLA
    then writes the new parameters and moments into the variables' own buffers, where
    assigning its results outside it allocated and filled fresh ones (update 14-16 ms ->
    6-7 ms on the textclf model; Keras's Adam 10-12 ms). The operations and their order
    are the formulas' (XLA:CPU does not reassociate; it does fuse a multiply and an add into
    one FMA where the CPU has it, which rounds once instead of twice: float32 parameters
    differ from op by op in their last bits, float64 trajectories still agree with NumPy's
    to 1e-15). Where XLA cannot compile, the same function runs op by op.
    """
    fused = getattr(model, "_fused_update_fn", None)
    if fused is None:
        spec = model.spec
        trained = [k for k in model._vars if is_trained(spec, k)]  # a frozen parameter and its slots stay as they are

        def run(grads):
            params = {k: v.read_value() for k, v in model._vars.items()}
            state = {"t": model._step.read_value()}
            state.update({name: {k: v.read_value() for k, v in slot.items()} for name, slot in model._slots.items()})
            new = apply_update(spec, params, grads, state, TfOps)
            model._step.assign(state["t"])
            for k in trained:
                for name, slot in model._slots.items():
                    slot[k].assign(state[name][k])
                model._vars[k].assign(new[k])

        fused = model._fused_update_fn = tf.function(run, jit_compile=_xla_usable(model._device) or None)
    return fused


def _xla_usable(device) -> bool:
    """Whether XLA compiles on ``device`` (a build without it runs the update op by op instead)."""
    from rnnbench.errors import RnnbenchError

    from .tensors import check_xla

    try:
        check_xla(device, device)
    except RnnbenchError:
        return False
    return True


def _stepwise_states(spec, params, x, lengths, tape):
    """``(states, y)``: the state after every step (a list of T watched ``[B,H]`` tensors) and ``y [B,T,H]``.

    Eager, with the ``loop`` implementation's step functions; ``y_t`` is read
    off the recorded state (zero past a length), so the state tensor is the
    single path from step ``t`` to everything after it.
    """
    step = sequence._STEPS[spec.cell]
    bias = params["b_x"] if spec.cell == "gru" else params["b"]
    projected = tf.einsum("btd,dg->tbg", x, params["W_x"]) + bias
    live = tf.sequence_mask(lengths, tf.shape(x)[1])
    h = tf.zeros([tf.shape(x)[0], spec.hidden_size], x.dtype)
    c = tf.zeros_like(h)
    states, ys = [], []
    for t in range(int(x.shape[1])):
        h_new, c_new = step(params, projected[t], h, c, spec.activation)
        running = live[:, t, None]
        h = tf.where(running, h_new, h)
        c = tf.where(running, c_new, c)
        tape.watch(h)
        states.append(h)
        ys.append(tf.where(running, h, tf.zeros_like(h)))
    return states, tf.stack(ys, axis=1)
