"""The TensorFlow tree model: embedding -> tree encoder -> softmax at every node, gradients by GradientTape.

Every batch of trees has its own level schedule, and a ``tf.function`` that
looped over ``trees.levels`` in Python would be traced again for each batch
(seconds per batch with the gradient graph). So the schedule travels as
tensors instead, and one trace serves every batch: ``left``/``right`` hold the
children of every internal node in id order (levels are contiguous id ranges,
in order, starting after the leaves) and ``level_stops`` where each level ends
in them. A ``tf.while_loop`` over levels gathers the children's states,
composes them with the equations of :mod:`.tree` (written out again here,
where the states are rows of one ``[N, H]`` buffer), and writes the parents' rows in place; the
gradient is written out too, NumPy's backpropagation through structure
(:func:`_levels` says why: TensorFlow's own copied an ``[N, H]`` buffer per level).

The node count differs per batch and XLA compiles per static shape, so the
tree model runs as a plain graph in every impl, ``xla`` included. The update
is :func:`rnnbench.optim.apply_update` through
:func:`~rnnbench.backends.tensorflow.model.update` (the sequence model's), never a Keras optimizer,
so that the same seed, trees and weights give the NumPy tree model's loss curve.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from rnnbench.dropout import MASK_NAMES, check_masks
from rnnbench.model import TrainableModel, encoder_params
from rnnbench.tree_model import TreeModelSpec, check_tree_model_batch, check_tree_model_labels

from .model import init_variables, update, with_l2
from .tree import check_schedule, leaf_states

_SCHEDULE = (
    tf.TensorSpec([None], tf.int64, name="leaf_ids"),
    tf.TensorSpec([None], tf.int32, name="left"),
    tf.TensorSpec([None], tf.int32, name="right"),
    tf.TensorSpec([None], tf.int32, name="level_stops"),
)
_LABELS = tf.TensorSpec([None], tf.int64, name="labels")


class TensorflowTreeModel(TrainableModel):
    """A trainable model for a :class:`~rnnbench.tree_model.TreeModelSpec`; NumPy in, NumPy out."""

    def __init__(self, spec: TreeModelSpec, params: dict, backend):
        init_variables(self, spec, params, backend)
        # partials, not bound methods: TensorFlow's retracing detector counts each model apart.
        self._train_fn = tf.function(functools.partial(_train_step, self), input_signature=(*_SCHEDULE, _LABELS))
        self._grads_fn = tf.function(functools.partial(_loss_and_grads, self), input_signature=(*_SCHEDULE, _LABELS))
        # with dropout: the masks are inputs of the traced step (one trace serves every step's masks)
        masks = tuple(tf.TensorSpec([None, None], tf.as_dtype(self.dtype), name=f"{name}_mask") for name in MASK_NAMES)
        self._masked_train_fn = tf.function(
            functools.partial(_train_step, self), input_signature=(*_SCHEDULE, _LABELS, *masks)
        )
        self._masked_grads_fn = tf.function(
            functools.partial(_loss_and_grads, self), input_signature=(*_SCHEDULE, _LABELS, *masks)
        )
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
    return (
        tf.constant(left.astype(np.int32)),
        tf.constant(right.astype(np.int32)),
        tf.constant(stops.astype(np.int32)),
    )


# -- the encoder, one level at a time ------------------------------------------------------------


def node_states(cell, params, x_leaves, left, right, level_stops, with_cells=False):
    """``h [N, H]`` of every node: leaves, then each level in a ``tf.while_loop``
    (``(h, c)`` with ``with_cells``; ``c`` is ``[0, H]`` for the recursive cell).

    The levels run under a hand-written gradient (:func:`_levels`), as NumPy's do;
    the leaves' states are differentiated by TensorFlow.
    """
    h, c = leaf_states(cell, params, x_leaves)
    if c is None:
        c = tf.zeros([0, h.shape[1]], h.dtype)
    # tensors, not variables, into the custom gradient: the variables' reads carry the gradient on
    h, c = _levels(
        cell, h, c, tf.convert_to_tensor(params["W"]), tf.convert_to_tensor(params["b"]), left, right, level_stops
    )
    return (h, c) if with_cells else h


def _levels(cell, h0, c0, W, b, left, right, level_stops):
    """``(h, c)`` of every node from the leaves' ``(h0, c0)``, with backpropagation through structure by hand.

    Profiled (64 SST trees, 24 levels, forward+backward), TensorFlow's own
    gradient of a loop that appends each level to a growing ``[N, H]`` buffer
    spent most of its time on that buffer: per level a ``concat`` copy forward
    and, backward, a dense ``UnsortedSegmentSum`` of the gather's gradient, an
    ``AddN`` and a ``Slice``, all ``[N, H]``, plus one weight-gradient matmul per
    level. Here every state lives in one ``[N, H]`` buffer written in place
    (:func:`_write_rows`, :func:`_add_rows`: O(level) per level), the backward loop
    adds the children's gradients into rows the same way, and the weight gradient
    is one matmul over every internal node (on the children gathered again from
    the final states): NumPy's algorithm (:mod:`rnnbench.backends.numpy.tree`).
    ``TensorArray`` rows did the same at O(level) but paid an allocation per row
    per read and write, the largest cost left; ``tensor_scatter_nd_update``
    copies the whole buffer each level. The children are read as one
    interleaved gather (``left[0], right[0], left[1], ...``) reshaped to
    ``[n, 2H]``, the same values as ``[h[left], h[right]]`` in one op. A parent's
    two children differ and every node has one parent, so within a level the
    children ids are distinct and a read-add-write of their rows is exact.
    Each level's children and ids are split once before the loops and read with
    one op each (a level is a handful of microsecond ops).
    """
    treelstm = cell == "treelstm"
    H = W.shape[0] // 2
    dtype = h0.dtype
    L = tf.shape(h0)[0]
    N = L + tf.size(left)
    num_levels = tf.size(level_stops)

    def buffer(first):
        """A fresh ``[N, H]`` buffer, ``first`` in its first rows, zeros after: this function's own to write."""
        return tf.concat([first, tf.zeros([N - tf.shape(first)[0], H], dtype)], axis=0)

    def per_level(width):
        return tf.TensorArray(dtype, size=num_levels, element_shape=[None, width], infer_shape=False)

    def per_level_ids():
        return tf.TensorArray(tf.int32, size=num_levels, element_shape=[None], infer_shape=False)

    sizes = level_stops - tf.concat([[0], level_stops], axis=0)[:-1]  # empty with no levels
    pairs = tf.reshape(tf.stack([left, right], axis=1), [-1])  # children, interleaved, level after level
    # each level's children and node ids, split once: one read per level in the loops (no slicing ops)
    kids_ta = per_level_ids().split(pairs, 2 * sizes)
    ids_ta = per_level_ids().split(tf.range(L, N), sizes)

    def level(k):
        return kids_ta.read(k), ids_ta.read(k)

    @tf.custom_gradient
    def run(h0, c0, W, b):
        def body(k, hs, *lstm):
            kids, ids = level(k)
            h_kids = tf.gather(hs, kids)
            z = tf.reshape(h_kids, [-1, 2 * H]) @ W + b
            if not treelstm:
                return k + 1, _write_rows(hs, ids, tf.tanh(z), after=[h_kids])
            cs, gates_ta = lstm
            i, f_left, f_right, o, u = tf.split(z, 5, axis=-1)
            i, f_left, f_right, o, u = (
                tf.sigmoid(i),
                tf.sigmoid(f_left),
                tf.sigmoid(f_right),
                tf.sigmoid(o),
                tf.tanh(u),
            )
            c_kids = tf.gather(cs, kids)
            c_left, c_right = tf.split(tf.reshape(c_kids, [-1, 2 * H]), 2, axis=1)
            c_new = i * u + f_left * c_left + f_right * c_right
            h_new = o * tf.tanh(c_new)
            return (
                k + 1,
                _write_rows(hs, ids, h_new, after=[h_kids]),
                _write_rows(cs, ids, c_new, after=[c_kids]),
                gates_ta.write(k, tf.concat([i, f_left, f_right, o, u], axis=1)),
            )

        lstm = (buffer(c0), per_level(5 * H)) if treelstm else ()
        _, h, *lstm = tf.while_loop(lambda k, *_: k < num_levels, body, (tf.constant(0), buffer(h0), *lstm))
        children = tf.reshape(tf.gather(h, pairs), [-1, 2 * H])  # the rows forward read, in one gather
        c, gates_ta = (lstm[0], lstm[1]) if treelstm else (c0, None)

        def grad(dh, dc):
            def back(k, dhs, dz_ta, *dcs):  # k: the levels in reverse
                kids, ids = level(k)
                dh_level = tf.gather(dhs, ids)
                if not treelstm:
                    p = tf.gather(h, ids)
                    dz = dh_level * (1.0 - p * p)
                else:
                    (dcs,) = dcs
                    i, f_left, f_right, o, u = tf.split(gates_ta.read(k), 5, axis=-1)
                    tanh_c = tf.tanh(tf.gather(c, ids))
                    c_left, c_right = tf.split(tf.reshape(tf.gather(c, kids), [-1, 2 * H]), 2, axis=1)
                    dc_level = tf.gather(dcs, ids)
                    dc_total = dc_level + dh_level * o * (1.0 - tanh_c * tanh_c)
                    dz = tf.concat(
                        [
                            dc_total * u * (i * (1.0 - i)),
                            dc_total * c_left * (f_left * (1.0 - f_left)),
                            dc_total * c_right * (f_right * (1.0 - f_right)),
                            dh_level * tanh_c * (o * (1.0 - o)),
                            dc_total * i * (1.0 - u * u),
                        ],
                        axis=1,
                    )
                    dc_kids = tf.reshape(tf.concat([dc_total * f_left, dc_total * f_right], axis=1), [-1, H])
                    dcs = (_add_rows(dcs, kids, dc_kids, after=[dc_level]),)
                dh_kids = tf.reshape(tf.matmul(dz, W, transpose_b=True), [-1, H])
                return (k - 1, _add_rows(dhs, kids, dh_kids, after=[dh_level]), dz_ta.write(k, dz), *dcs)

            # the upstream gradients may be the caller's tensors: the loops add into copies
            dh = tf.zeros_like(h) if dh is None else tf.raw_ops.DeepCopy(x=dh)
            dcs = ((tf.zeros_like(c) if dc is None else tf.raw_ops.DeepCopy(x=dc)),) if treelstm else ()
            _, dhs, dz_ta, *dcs = tf.while_loop(
                lambda k, *_: k >= 0, back, (num_levels - 1, dh, per_level(5 * H if treelstm else H), *dcs)
            )
            dz = _concat_levels(dz_ta, 5 * H if treelstm else H, dtype)
            dc0 = dcs[0][:L] if treelstm else tf.zeros_like(c0)
            return dhs[:L], dc0, tf.matmul(children, dz, transpose_a=True), tf.reduce_sum(dz, axis=0)

        return (h, c), grad

    return run(h0, c0, W, b)


def _write_rows(buffer, ids, values, after):
    """``buffer`` with rows ``ids`` set to ``values``, written into ``buffer``'s own memory.

    ``InplaceUpdate`` aliases its input (no copy, unlike ``tensor_scatter_nd_update``,
    which copies ``[N, H]`` every level), so it is used only on a buffer :func:`_levels`
    made itself and passes along the loop, and only once this iteration's reads of the
    old rows (``after``) have run.
    """
    with tf.control_dependencies(after):
        return tf.raw_ops.InplaceUpdate(x=buffer, i=ids, v=values)


def _add_rows(buffer, ids, values, after):
    """``buffer`` with ``values`` added to rows ``ids`` (distinct), in place, as :func:`_write_rows`."""
    with tf.control_dependencies(after):
        return tf.raw_ops.InplaceAdd(x=buffer, i=ids, v=values)


def _concat_levels(ta, width, dtype):
    """The per-level blocks of ``ta`` as one ``[rows, width]`` tensor (``[0, width]`` for no levels)."""
    return tf.cond(ta.size() > 0, ta.concat, lambda: tf.zeros([0, width], dtype))


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
        logits = tf.gather(
            _logits(model, model._vars, leaf_ids, left, right, level_stops, input_mask, head_mask), scored
        )
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.gather(labels, scored), logits))
    grads = tape.gradient(loss, model._vars, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    # the embedding's gradient arrives as IndexedSlices: densify (duplicate ids summed)
    return loss, {k: tf.convert_to_tensor(g) for k, g in grads.items()}


def _loss_and_grads(model, *batch):
    return with_l2(model, *_data_loss_and_grads(model, *batch))


def _train_step(model, *batch):
    return update(model, *_data_loss_and_grads(model, *batch))
