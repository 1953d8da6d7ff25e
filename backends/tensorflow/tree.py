"""Tree cells (recursive, treelstm) over a level-batched TreeBatch, in TensorFlow ops.

Each height of the :class:`~rnnbench.trees.TreeBatch` is one batched
composition: gather the children's states, one matmul, and append the parents
to the node-state buffer. Appending works because each level is a contiguous
id range that starts where the previous one stopped, so the buffer is built
functionally (``tf.concat``) and a ``GradientTape`` sees every step.
Runs eagerly: a level schedule differs per batch, so a traced graph would be
rebuilt for every batch.
"""

from __future__ import annotations

import tensorflow as tf

from rnnbench.errors import RnnbenchError


def forward(cell, params, x_leaves, trees):
    """Node states ``{"h": [N,H]}`` (plus ``"c"`` for treelstm) as tensors."""
    check_schedule(trees)
    h, c = leaf_states(cell, params, x_leaves)
    for level in trees.levels:
        h_new, c_new = compose(cell, params, h, c, level.left, level.right)
        h = tf.concat([h, h_new], axis=0)
        c = None if c_new is None else tf.concat([c, c_new], axis=0)
    return {"h": h} if c is None else {"h": h, "c": c}


def leaf_states(cell, params, x):
    """``(h, c)`` of the leaves ``[L, H]``; ``c`` is None for ``recursive`` (a leaf's state is its input)."""
    if cell == "recursive":
        return x, None
    i, o, u = tf.split(x @ params["W_leaf"] + params["b_leaf"], 3, axis=-1)
    c = tf.sigmoid(i) * tf.tanh(u)
    return tf.sigmoid(o) * tf.tanh(c), c


def compose(cell, params, h, c, left, right):
    """``(h, c)`` of the parents of children ``left``/``right`` (ids into ``h``, ``c``) ``[n, H]``.

    The eager contract's (:func:`forward`) composition; the traced tree model
    (:func:`.tree_model._levels`) writes the same equations over the rows of one
    ``[N, H]`` buffer, with its gradient by hand, and the parity tests hold the two together.
    """
    children = tf.concat([tf.gather(h, left), tf.gather(h, right)], axis=1)
    if cell == "recursive":
        return tf.tanh(children @ params["W"] + params["b"]), None
    i, f_left, f_right, o, u = tf.split(children @ params["W"] + params["b"], 5, axis=-1)
    c_new = (
        tf.sigmoid(i) * tf.tanh(u) + tf.sigmoid(f_left) * tf.gather(c, left) + tf.sigmoid(f_right) * tf.gather(c, right)
    )
    return tf.sigmoid(o) * tf.tanh(c_new), c_new


def check_schedule(trees):
    """The buffer is appended level by level, so levels must tile ids leaves..N in order."""
    expected = trees.num_leaves
    for level in trees.levels:
        if level.start != expected or level.stop < level.start:
            raise RnnbenchError(
                f"TreeBatch levels must be contiguous id ranges in order; "
                f"a level starts at {level.start}, expected {expected}"
            )
        if len(level.left) != level.stop - level.start or len(level.right) != level.stop - level.start:
            raise RnnbenchError(
                f"TreeBatch level {level.start}..{level.stop} has "
                f"{len(level.left)} left / {len(level.right)} right children"
            )
        expected = level.stop
    if expected != trees.num_nodes:
        raise RnnbenchError(f"TreeBatch levels cover {expected} nodes, but num_nodes is {trees.num_nodes}")
