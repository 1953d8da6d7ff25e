"""Trainable jax models for :class:`rnnbench.model.ModelSpec` and :class:`rnnbench.tree_model.TreeModelSpec`.

The update is :func:`rnnbench.optim.apply_update` run on jax arrays with
:class:`JaxOps` (never optax), so the same seed, data and initial weights give
the NumPy reference's loss curve. A sequence model's whole step (loss,
gradient, update) is one jitted call; its step count is a traced array, so
Adam's bias correction does not recompile every step. Sequence batches are
padded to a few lengths (:func:`padded_steps`), which masking makes exact, so
a bucketed epoch compiles a handful of times rather than once per length. A
tree model's step is one jitted call too, over its levels cut into fixed-size steps.
Batches are checked on the NumPy side first, with rnnbench's own messages.

Dropout: ``train_step`` and ``loss_and_grads`` take the runner's masks
(``masks=``, :mod:`rnnbench.dropout`), padded like the batch and passed to the
jitted step as arguments (a new mask each step compiles nothing); ``masks=None``
traces the step without them, exactly as before.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rnnbench import (
    TrainableModel,
    apply_update,
    check_dropout_masks,
    check_model_batch,
    check_model_targets,
    check_tree_model_batch,
    check_tree_model_labels,
    encoder_params,
    init_optimizer_state,
    l2_penalty,
    layer_units,
)

from . import sequence
from .arrays import to_numpy
from .tree import TreePlan, scanned_tree_states


class JaxOps:
    """The three operations :mod:`rnnbench.optim` needs, on jax arrays."""

    sqrt = staticmethod(jnp.sqrt)
    maximum = staticmethod(jnp.maximum)

    @staticmethod
    def sum_squares(a):
        return jnp.sum(a * a)


def padded_steps(steps: int) -> int:
    """Batches are run at a multiple of 8 steps (of 32 past 64): few shapes, little padding."""
    quantum = 8 if steps <= 64 else 32
    return -(-steps // quantum) * quantum


def _update(spec, params, grads, state):
    """One shared optimizer step on copies (apply_update mutates its state dict)."""
    state = {k: dict(v) if isinstance(v, dict) else v for k, v in state.items()}
    return apply_update(spec, params, grads, state, JaxOps), state


def xent(logits, targets):
    """Mean softmax cross-entropy over the targets that are not -1."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    scored = targets >= 0
    picked = jnp.take_along_axis(logp, jnp.where(scored, targets, 0)[..., None], axis=-1)[..., 0]
    return -jnp.sum(jnp.where(scored, picked, 0)) / jnp.sum(scored)


class _Trainable(TrainableModel):
    """Parameters as jax arrays on the backend's device, the L2 term and the shared update."""

    def __init__(self, spec, params: dict, backend):
        super().__init__(spec, params)
        self.backend = backend
        with self._scope():
            self.params = backend.put_all(params, self.dtype)
            self.opt_state = init_optimizer_state(spec, self.params, jnp.zeros_like)
            self.opt_state["t"] = backend.put(np.int32(0))

    def _scope(self):
        return self.backend.precision(self.dtype)

    def get_params(self) -> dict:
        return {k: to_numpy(v) for k, v in self.params.items()}


class JaxModel(_Trainable):
    """A :class:`~rnnbench.model.ModelSpec` model; NumPy in, NumPy out."""

    def predict(self, inputs, lengths) -> np.ndarray:
        """Logits ``[B, C]`` (outputs, for ``mse``); ``[B, T, C]`` for pooling ``steps``."""
        T = np.shape(inputs)[1]
        inputs, lengths = self._batch(inputs, lengths)
        with self._scope():
            out = to_numpy(_outputs(self.spec, self.params, self._put(inputs), self._put(lengths)))
        return out[:, :T] if self.spec.pooling == "steps" else out

    def loss_and_grads(self, inputs, lengths, targets, masks=None) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        masks = self._masks(inputs, lengths, masks)
        batch = self._device_batch(inputs, lengths, targets)
        with self._scope():
            loss, grads = _loss_and_grads(self.spec, self.params, *batch, masks)
            return float(loss), {k: to_numpy(v) for k, v in grads.items()}

    def train_step(self, inputs, lengths, targets, masks=None) -> float:
        """One optimizer step; returns the loss before it (L2 penalty included).

        ``masks``: the step's dropout masks (:mod:`rnnbench.dropout`), or None for no dropout.
        """
        masks = self._masks(inputs, lengths, masks)
        batch = self._device_batch(inputs, lengths, targets)
        with self._scope():
            loss, self.params, self.opt_state = _train_step(self.spec, self.params, self.opt_state, *batch, masks)
            return float(loss)

    def state_gradient_norms(self, inputs, lengths, targets) -> np.ndarray:
        """``[T]``: the batch mean of ``||dL/dh_t||`` (data loss), from ``jax.vjp`` through the scan."""
        T = np.shape(inputs)[1]
        batch = self._device_batch(inputs, lengths, targets)
        with self._scope():
            return to_numpy(_state_gradient_norms(self.spec, self.params, *batch))[:T]

    # -- batches: checked in NumPy, padded to a bucketed length, then put on the device ----------

    def _batch(self, inputs, lengths):
        inputs, lengths = check_model_batch(self.spec, inputs, lengths)
        T = inputs.shape[1]
        pad = [(0, 0), (0, padded_steps(T) - T)] + [(0, 0)] * (inputs.ndim - 2)
        return np.pad(inputs, pad), lengths  # token id 0 / zero features: masked out

    def _device_batch(self, inputs, lengths, targets):
        B, T = np.shape(inputs)[:2]
        targets = check_model_targets(self.spec, targets, B)
        inputs, lengths = self._batch(inputs, lengths)
        if self.spec.pooling == "steps":
            targets = np.pad(targets, [(0, 0), (0, inputs.shape[1] - T)], constant_values=-1)
        with self._scope():
            return self._put(inputs), self._put(lengths), self._put(targets)

    def _put(self, array):
        return self.backend.put(array)

    def _masks(self, inputs, lengths, masks):
        """Checked masks ``(input, head)`` padded to the batch's padded steps (zeros: padding), on the device."""
        masks = check_dropout_masks(self.spec, (inputs, lengths), masks)
        if masks is None:
            return None
        T = np.shape(inputs)[1]
        extra = padded_steps(T) - T
        padded = [np.pad(masks["input"], [(0, 0), (0, extra), (0, 0)])]
        head = masks["head"]
        padded.append(np.pad(head, [(0, 0), (0, extra), (0, 0)]) if head.ndim == 3 else head)
        with self._scope():
            return tuple(self._put(m) for m in padded)


# -- the sequence model's functions (spec static: a frozen dataclass, hashable) ---------------------


def _embedded(spec, params, inputs):
    return inputs if spec.vocab_size is None else params["embedding"][inputs]


def _pool(kind, y, lengths, backward_half=None):
    B, T, _ = y.shape
    if kind == "steps":
        return y
    if kind == "last" and backward_half is not None:  # bidirectional: the backward units' last is step 0
        return jnp.concatenate([y[jnp.arange(B), lengths - 1, :backward_half], y[:, 0, backward_half:]], axis=1)
    if kind == "last":
        return y[jnp.arange(B), lengths - 1]
    real = (jnp.arange(T)[None, :] < lengths[:, None])[:, :, None]
    if kind == "mean":
        return jnp.sum(jnp.where(real, y, 0), axis=1) / lengths[:, None].astype(y.dtype)
    return jnp.max(jnp.where(real, y, -jnp.inf), axis=1)


def _encode(spec, params, inputs, lengths, probe=None, masks=None):
    """Outputs of the head; ``masks`` (dropout): ``(input, head)`` multiply the encoder's input and the pooled
    output."""
    x = _embedded(spec, params, inputs)
    if masks is not None:
        x = x * masks[0]
    B, H = x.shape[0], spec.hidden_size
    keys = ("h", "c") if spec.cell == "lstm" else ("h",)
    if getattr(spec, "layered", False):  # stacked/bidirectional (.layered); the probe is the top forward unit's
        from . import layered

        state = {
            p + k: jnp.zeros((B, H), x.dtype)
            for _, _, p in layer_units(spec.num_layers, spec.bidirectional)
            for k in keys
        }
        y, _ = layered.run(
            spec.cell,
            spec.activation,
            encoder_params(params),
            x,
            lengths,
            state,
            spec.num_layers,
            spec.bidirectional,
            probe,
        )
        pooled = _pool(spec.pooling, y, lengths, H if spec.bidirectional else None)
    else:
        state = {k: jnp.zeros((B, H), x.dtype) for k in keys}
        y, _ = sequence.run(spec.cell, spec.activation, encoder_params(params), x, lengths, state, probe)
        pooled = _pool(spec.pooling, y, lengths)
    if masks is not None:
        pooled = pooled * masks[1]
    return pooled @ params["head.W"] + params["head.b"]


@partial(jax.jit, static_argnums=0)
def _outputs(spec, params, inputs, lengths):
    return _encode(spec, params, inputs, lengths)


def _loss(spec, outputs, targets):
    if spec.loss == "xent":
        return xent(outputs, targets)
    diff = outputs - targets
    return jnp.mean(jnp.sum(diff * diff, axis=1))


def _data_loss(spec, params, inputs, lengths, targets, probe=None, masks=None):
    return _loss(spec, _encode(spec, params, inputs, lengths, probe, masks), targets)


@partial(jax.jit, static_argnums=0)
def _loss_and_grads(spec, params, inputs, lengths, targets, masks=None):
    def full(p):
        return _data_loss(spec, p, inputs, lengths, targets, masks=masks) + l2_penalty(spec, p, JaxOps)

    return jax.value_and_grad(full)(params)


@partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def _train_step(spec, params, state, inputs, lengths, targets, masks=None):
    data_loss, grads = jax.value_and_grad(lambda p: _data_loss(spec, p, inputs, lengths, targets, masks=masks))(params)
    loss = data_loss + l2_penalty(spec, params, JaxOps)
    params, state = _update(spec, params, grads, state)
    return loss, params, state


@partial(jax.jit, static_argnums=0)
def _state_gradient_norms(spec, params, inputs, lengths, targets):
    B, T = inputs.shape[:2]
    dtype = params["head.W"].dtype
    probe = jnp.zeros((T, B, spec.hidden_size), dtype)
    grads = jax.grad(lambda z: _data_loss(spec, params, inputs, lengths, targets, z))(probe)
    return jnp.mean(jnp.sqrt(jnp.sum(grads * grads, axis=2)), axis=1)


# -- trees -------------------------------------------------------------------------------------------


class JaxTreeModel(_Trainable):
    """A :class:`~rnnbench.tree_model.TreeModelSpec` model: softmax at every node; NumPy in, NumPy out.

    Each step is one jitted call over the batch's levels cut into fixed-size
    steps (:meth:`TreePlan.stacked`, :func:`scanned_tree_states`): compiled once
    per padded shape, a handful per SST epoch.
    """

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        N = trees.num_nodes
        batch = self._batch(leaf_ids, trees)
        with self._scope():
            return to_numpy(_tree_logits(self.spec, self.params, *batch))[:N]

    def loss_and_grads(self, leaf_ids, trees, labels, masks=None) -> tuple[float, dict]:
        masks = self._masks(leaf_ids, trees, masks)
        batch = self._batch(leaf_ids, trees, labels)
        with self._scope():
            loss, grads = _tree_loss_and_grads(self.spec, self.params, tuple(batch), masks)
            return float(loss), {k: to_numpy(v) for k, v in grads.items()}

    def train_step(self, leaf_ids, trees, labels, masks=None) -> float:
        """One optimizer step; ``masks``: the step's dropout masks (:mod:`rnnbench.dropout`), or None."""
        masks = self._masks(leaf_ids, trees, masks)
        batch = self._batch(leaf_ids, trees, labels)
        with self._scope():
            loss, self.params, self.opt_state = _tree_train_step(
                self.spec, self.params, self.opt_state, tuple(batch), masks
            )
            return float(loss)

    def _masks(self, leaf_ids, trees, masks):
        """Checked masks ``(input [padded leaves, E], head [padded nodes, H])``, zero rows for padding."""
        masks = check_dropout_masks(self.spec, (leaf_ids, trees), masks)
        if masks is None:
            return None
        plan = TreePlan.of(trees)
        head = np.zeros((plan.padded_nodes, self.spec.hidden_size), masks["head"].dtype)
        head[: plan.num_nodes] = masks["head"]
        with self._scope():
            return self.backend.put(plan.pad_leaves(masks["input"])), self.backend.put(head)

    def _batch(self, leaf_ids, trees, labels=None):
        """Device arrays: padded word ids, leaf node ids, stacked levels (and padded labels, -1 unscored)."""
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        plan = TreePlan.of(trees)
        arrays = [plan.pad_leaves(ids), plan.leaf_ids, *plan.stacked()]
        if labels is not None:
            padded = np.full(plan.padded_nodes, -1, np.int64)
            padded[: plan.num_nodes] = check_tree_model_labels(self.spec, labels, trees)
            arrays.append(padded)
        else:
            arrays.append(np.zeros(plan.padded_nodes, np.int64))  # its shape carries the padded node count
        with self._scope():
            return [self.backend.put(a) for a in arrays]


def _tree_logits_of(spec, params, word_ids, leaf_ids, ids, left, right, nodes_like, masks=None):
    """Logits of every (padded) node; ``masks`` (dropout): ``(input, head)``, on leaf embeddings and node states."""
    x = params["embedding"][word_ids]
    if masks is not None:
        x = x * masks[0]
    h = scanned_tree_states(spec.cell, encoder_params(params), x, leaf_ids, ids, left, right, nodes_like.shape[0])["h"]
    if masks is not None:
        h = h * masks[1]
    return h @ params["head.W"] + params["head.b"]


@partial(jax.jit, static_argnums=0)
def _tree_logits(spec, params, *batch):
    return _tree_logits_of(spec, params, *batch)


@partial(jax.jit, static_argnums=0)
def _tree_loss_and_grads(spec, params, batch, masks=None):
    def full(p):
        return xent(_tree_logits_of(spec, p, *batch, masks=masks), batch[-1]) + l2_penalty(spec, p, JaxOps)

    return jax.value_and_grad(full)(params)


@partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def _tree_train_step(spec, params, state, batch, masks=None):
    data_loss, grads = jax.value_and_grad(lambda p: xent(_tree_logits_of(spec, p, *batch, masks=masks), batch[-1]))(
        params
    )
    loss = data_loss + l2_penalty(spec, params, JaxOps)
    params, state = _update(spec, params, grads, state)
    return loss, params, state
