"""Trainable jax models for :class:`rnnbench.model.ModelSpec` and :class:`rnnbench.tree_model.TreeModelSpec`.

The update is :func:`rnnbench.optim.apply_update` run on jax arrays with
:class:`JaxOps` (never optax), so the same seed, data and initial weights give
the NumPy reference's loss curve. A sequence model's whole step (loss,
gradient, update) is one jitted call; its step count is a traced array, so
Adam's bias correction does not recompile every step. Sequence batches are
padded to a few lengths (:func:`padded_steps`), which masking makes exact, so
a bucketed epoch compiles a handful of times rather than once per length. A
tree model differentiates level-batched jitted compositions (:mod:`.tree`).
Batches are checked on the NumPy side first, with rnnbench's own messages.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rnnbench.model import check_model_batch, check_model_params, check_model_targets, encoder_params
from rnnbench.optim import apply_update, init_state, l2_penalty
from rnnbench.params import resolve_dtype
from rnnbench.tree_model import check_tree_model_batch, check_tree_model_labels

from . import sequence
from .backend import to_numpy
from .tree import TreePlan, tree_states


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


_jit_update = jax.jit(_update, static_argnums=0)


def xent(logits, targets):
    """Mean softmax cross-entropy over the targets that are not -1."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    scored = targets >= 0
    picked = jnp.take_along_axis(logp, jnp.where(scored, targets, 0)[..., None], axis=-1)[..., 0]
    return -jnp.sum(jnp.where(scored, picked, 0)) / jnp.sum(scored)


class _Trainable:
    """Parameters as jax arrays on the backend's device, the L2 term and the shared update."""

    def __init__(self, spec, params: dict, backend):
        self.spec = spec
        self.backend = backend
        self.dtype = resolve_dtype(spec.dtype)
        check_model_params(spec, params)
        with self._scope():
            self.params = backend.put_all(params, self.dtype)
            self.opt_state = init_state(spec, self.params, jnp.zeros_like)
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

    def loss_and_grads(self, inputs, lengths, targets) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        batch = self._device_batch(inputs, lengths, targets)
        with self._scope():
            loss, grads = _loss_and_grads(self.spec, self.params, *batch)
            return float(loss), {k: to_numpy(v) for k, v in grads.items()}

    def train_step(self, inputs, lengths, targets) -> float:
        """One optimizer step; returns the loss before it (L2 penalty included)."""
        batch = self._device_batch(inputs, lengths, targets)
        with self._scope():
            loss, self.params, self.opt_state = _train_step(self.spec, self.params, self.opt_state, *batch)
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


# -- the sequence model's functions (spec static: a frozen dataclass, hashable) ---------------------

def _embedded(spec, params, inputs):
    return inputs if spec.vocab_size is None else params["embedding"][inputs]


def _pool(kind, y, lengths):
    B, T, _ = y.shape
    if kind == "steps":
        return y
    if kind == "last":
        return y[jnp.arange(B), lengths - 1]
    real = (jnp.arange(T)[None, :] < lengths[:, None])[:, :, None]
    if kind == "mean":
        return jnp.sum(jnp.where(real, y, 0), axis=1) / lengths[:, None].astype(y.dtype)
    return jnp.max(jnp.where(real, y, -jnp.inf), axis=1)


def _encode(spec, params, inputs, lengths, probe=None):
    x = _embedded(spec, params, inputs)
    B, H = x.shape[0], spec.hidden_size
    state = {k: jnp.zeros((B, H), x.dtype) for k in (("h", "c") if spec.cell == "lstm" else ("h",))}
    y, _ = sequence.run(spec.cell, spec.activation, encoder_params(params), x, lengths, state, probe)
    return _pool(spec.pooling, y, lengths) @ params["head.W"] + params["head.b"]


@partial(jax.jit, static_argnums=0)
def _outputs(spec, params, inputs, lengths):
    return _encode(spec, params, inputs, lengths)


def _loss(spec, outputs, targets):
    if spec.loss == "xent":
        return xent(outputs, targets)
    diff = outputs - targets
    return jnp.mean(jnp.sum(diff * diff, axis=1))


def _data_loss(spec, params, inputs, lengths, targets, probe=None):
    return _loss(spec, _encode(spec, params, inputs, lengths, probe), targets)


@partial(jax.jit, static_argnums=0)
def _loss_and_grads(spec, params, inputs, lengths, targets):
    full = lambda p: _data_loss(spec, p, inputs, lengths, targets) + l2_penalty(spec, p, JaxOps)  # noqa: E731
    return jax.value_and_grad(full)(params)


@partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def _train_step(spec, params, state, inputs, lengths, targets):
    data_loss, grads = jax.value_and_grad(lambda p: _data_loss(spec, p, inputs, lengths, targets))(params)
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
    """A :class:`~rnnbench.tree_model.TreeModelSpec` model: softmax at every node; NumPy in, NumPy out."""

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        plan, ids = self._batch(leaf_ids, trees)
        with self._scope():
            return to_numpy(self._logits(self.params, ids, plan))[:plan.num_nodes]

    def loss_and_grads(self, leaf_ids, trees, labels) -> tuple[float, dict]:
        plan, ids = self._batch(leaf_ids, trees)
        labels = self._labels(labels, trees, plan)
        with self._scope():
            full = lambda p: self._data_loss(p, ids, plan, labels) + l2_penalty(self.spec, p, JaxOps)  # noqa: E731
            loss, grads = jax.value_and_grad(full)(self.params)
            return float(loss), {k: to_numpy(v) for k, v in grads.items()}

    def train_step(self, leaf_ids, trees, labels) -> float:
        plan, ids = self._batch(leaf_ids, trees)
        labels = self._labels(labels, trees, plan)
        with self._scope():
            data_loss, grads = jax.value_and_grad(lambda p: self._data_loss(p, ids, plan, labels))(self.params)
            loss = float(data_loss) + float(l2_penalty(self.spec, self.params, JaxOps))
            self.params, self.opt_state = _jit_update(self.spec, self.params, grads, self.opt_state)
            return loss

    def _logits(self, params, ids, plan):
        x = params["embedding"][ids]
        h = tree_states(self.spec.cell, encoder_params(params), x, plan, self.backend.put)["h"]
        return h @ params["head.W"] + params["head.b"]

    def _data_loss(self, params, ids, plan, labels):
        return xent(self._logits(params, ids, plan), labels)

    def _batch(self, leaf_ids, trees):
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        plan = TreePlan.of(trees)
        with self._scope():
            return plan, self.backend.put(plan.pad_leaves(ids))

    def _labels(self, labels, trees, plan):
        labels = check_tree_model_labels(self.spec, labels, trees)
        padded = np.full(plan.padded_nodes, -1, np.int64)
        padded[:plan.num_nodes] = labels
        with self._scope():
            return self.backend.put(padded)
