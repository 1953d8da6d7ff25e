"""The TensorFlow tree model: embedding -> tree encoder -> softmax at every node, gradients by GradientTape.

Every batch of trees has its own level schedule, and a ``tf.function`` that
looped over ``trees.levels`` in Python would be traced again for each batch
(seconds per batch with the gradient graph). So the schedule travels as
tensors instead, and one trace serves every batch: ``left``/``right`` hold the
children of every internal node in id order (levels are contiguous id ranges,
in order, starting after the leaves) and ``level_stops`` where each level ends
in them. A ``tf.while_loop`` over levels gathers the children's states,
composes them with the equations of :mod:`.tree`, and appends the parents to
the node-state buffer.

The buffer grows from loop to loop, which XLA cannot compile (it needs static
shapes), so the tree model runs as a plain graph in every impl, ``xla``
included. The update is :func:`rnnbench.optim.apply_update` through
:func:`~rnnbench.backends.tensorflow.model.update` (the sequence model's), never a Keras optimizer,
so that the same seed, trees and weights give the NumPy tree model's loss curve.
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from rnnbench.dropout import MASK_NAMES, check_masks
from rnnbench.model import encoder_params
from rnnbench.tree_model import TreeModelSpec, check_tree_model_batch, check_tree_model_labels

from .model import init_variables, update, with_l2
from .tree import check_schedule, compose, leaf_states

_SCHEDULE = (tf.TensorSpec([None], tf.int64, name="leaf_ids"),
             tf.TensorSpec([None], tf.int32, name="left"),
             tf.TensorSpec([None], tf.int32, name="right"),
             tf.TensorSpec([None], tf.int32, name="level_stops"))
_LABELS = tf.TensorSpec([None], tf.int64, name="labels")


class TensorflowTreeModel:
    """A trainable model for a :class:`~rnnbench.tree_model.TreeModelSpec`; NumPy in, NumPy out."""

    def __init__(self, spec: TreeModelSpec, params: dict, backend):
        init_variables(self, spec, params, backend)
        # partials, not bound methods: TensorFlow's retracing detector counts each model apart.
        self._train_fn = tf.function(functools.partial(_train_step, self), input_signature=(*_SCHEDULE, _LABELS))
        self._grads_fn = tf.function(functools.partial(_loss_and_grads, self),
                                     input_signature=(*_SCHEDULE, _LABELS))
        # with dropout: the masks are inputs of the traced step (one trace serves every step's masks)
        masks = tuple(tf.TensorSpec([None, None], tf.as_dtype(self.dtype), name=f"{name}_mask")
                      for name in MASK_NAMES)
        self._masked_train_fn = tf.function(functools.partial(_train_step, self),
                                            input_signature=(*_SCHEDULE, _LABELS, *masks))
        self._masked_grads_fn = tf.function(functools.partial(_loss_and_grads, self),
                                            input_signature=(*_SCHEDULE, _LABELS, *masks))
        self._predict_fn = tf.function(functools.partial(_predict, self), input_signature=_SCHEDULE)

    # -- public interface (rnnbench.tree_model) ------------------------------------------------

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        schedule = self._schedule(leaf_ids, trees)
        with tf.device(self._device):
            return self._predict_fn(*schedule).numpy()

    def loss_and_grads(self, leaf_ids, trees, labels, masks=None) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        masks = check_masks(self.spec, (leaf_ids, trees), masks)
        schedule = self._schedule(leaf_ids, trees)
        labels = tf.constant(check_tree_model_labels(self.spec, labels, trees))
        with tf.device(self._device):
            if masks is None:
                loss, grads = self._grads_fn(*schedule, labels)
            else:
                loss, grads = self._masked_grads_fn(*schedule, labels, *(masks[k] for k in MASK_NAMES))
            return float(loss), {k: g.numpy() for k, g in grads.items()}

    def train_step(self, leaf_ids, trees, labels, masks=None) -> float:
        """One optimizer step on the data gradient (the update adds L2); returns the loss before it.

        ``masks``: the step's dropout masks (:mod:`rnnbench.dropout`), or None for no dropout.
        """
        masks = check_masks(self.spec, (leaf_ids, trees), masks)
        schedule = self._schedule(leaf_ids, trees)
        labels = tf.constant(check_tree_model_labels(self.spec, labels, trees))
        with tf.device(self._device):
            if masks is None:
                return float(self._train_fn(*schedule, labels))
            return float(self._masked_train_fn(*schedule, labels, *(masks[k] for k in MASK_NAMES)))

    def get_params(self) -> dict:
        return {k: v.numpy().copy() for k, v in self._vars.items()}

    # -- the schedule as tensors (NumPy side, checked before anything reaches a device) ---------

    def _schedule(self, leaf_ids, trees):
        """``(leaf ids, left, right, level stops)``: one trace of the graph fits every TreeBatch."""
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        return (tf.constant(ids), *schedule_tensors(trees))


def schedule_tensors(trees):
    """``(left, right, level stops)`` int32 tensors of a TreeBatch (checked): the schedule as data."""
    check_schedule(trees)
    empty = np.zeros(0, np.int64)
    left = np.concatenate([empty, *(level.left for level in trees.levels)])
    right = np.concatenate([empty, *(level.right for level in trees.levels)])
    stops = np.array([level.stop for level in trees.levels], np.int64) - trees.num_leaves
    return (tf.constant(left.astype(np.int32)), tf.constant(right.astype(np.int32)),
            tf.constant(stops.astype(np.int32)))


# -- the encoder, one level at a time ------------------------------------------------------------

def node_states(cell, params, x_leaves, left, right, level_stops, with_cells=False):
    """``h [N, H]`` of every node: leaves, then each level appended in a ``tf.while_loop``
    (``(h, c)`` with ``with_cells``; ``c`` is ``[0, H]`` for the recursive cell)."""
    h, c = leaf_states(cell, params, x_leaves)
    if c is None:
        c = tf.zeros([0, tf.shape(h)[1]], h.dtype)  # a loop variable must be a tensor
    starts = tf.concat([[0], level_stops[:-1]], axis=0)

    def body(k, h, c):
        lo, hi = starts[k], level_stops[k]
        h_new, c_new = compose(cell, params, h, c, left[lo:hi], right[lo:hi])
        return k + 1, tf.concat([h, h_new], axis=0), c if c_new is None else tf.concat([c, c_new], axis=0)

    hidden = tf.TensorShape([None, h.shape[1]])
    _, h, c = tf.while_loop(lambda k, h, c: k < tf.size(level_stops), body, (tf.constant(0), h, c),
                            shape_invariants=(tf.TensorShape([]), hidden, hidden))
    return (h, c) if with_cells else h


# -- the computation (traced once by tf.function; ``model`` is bound by functools.partial) --------

def _logits(model, params, leaf_ids, left, right, level_stops, input_mask=None, head_mask=None):
    """Logits of every node; dropout masks, if given, multiply the leaf embeddings and the node states."""
    x = tf.gather(params["embedding"], leaf_ids)
    if input_mask is not None:
        x = x * input_mask
    h = node_states(model.spec.cell, encoder_params(params), x, left, right, level_stops)
    if head_mask is not None:
        h = h * head_mask
    return h @ params["head.W"] + params["head.b"]


def _predict(model, leaf_ids, left, right, level_stops):
    return _logits(model, model._vars, leaf_ids, left, right, level_stops)


def _data_loss_and_grads(model, leaf_ids, left, right, level_stops, labels, input_mask=None, head_mask=None):
    """Mean cross-entropy over the scored nodes (label >= 0; no L2) and its gradient, densified."""
    scored = tf.where(labels >= 0)[:, 0]
    with tf.GradientTape() as tape:
        logits = tf.gather(_logits(model, model._vars, leaf_ids, left, right, level_stops, input_mask, head_mask),
                           scored)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.gather(labels, scored), logits))
    grads = tape.gradient(loss, model._vars, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    # the embedding's gradient arrives as IndexedSlices: densify (duplicate ids summed)
    return loss, {k: tf.convert_to_tensor(g) for k, g in grads.items()}


def _loss_and_grads(model, *batch):
    return with_l2(model, *_data_loss_and_grads(model, *batch))


def _train_step(model, *batch):
    return update(model, *_data_loss_and_grads(model, *batch))
