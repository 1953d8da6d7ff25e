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
    _check_schedule(trees)
    if cell == "recursive":
        h = x_leaves  # a leaf's state is its input vector
        for level in trees.levels:
            children = _children(h, level)
            h = tf.concat([h, tf.tanh(children @ params["W"] + params["b"])], axis=0)
        return {"h": h}
    i, o, u = tf.split(x_leaves @ params["W_leaf"] + params["b_leaf"], 3, axis=-1)
    c = tf.sigmoid(i) * tf.tanh(u)
    h = tf.sigmoid(o) * tf.tanh(c)
    for level in trees.levels:
        i, f_left, f_right, o, u = tf.split(_children(h, level) @ params["W"] + params["b"], 5, axis=-1)
        c_new = (tf.sigmoid(i) * tf.tanh(u) + tf.sigmoid(f_left) * tf.gather(c, level.left)
                 + tf.sigmoid(f_right) * tf.gather(c, level.right))
        h = tf.concat([h, tf.sigmoid(o) * tf.tanh(c_new)], axis=0)
        c = tf.concat([c, c_new], axis=0)
    return {"h": h, "c": c}


def _children(h, level):
    """``[h_left, h_right]`` of one level's nodes: ``[n, 2H]``."""
    return tf.concat([tf.gather(h, level.left), tf.gather(h, level.right)], axis=1)


def _check_schedule(trees):
    """The buffer is appended level by level, so levels must tile ids leaves..N in order."""
    expected = trees.num_leaves
    for level in trees.levels:
        if level.start != expected or level.stop < level.start:
            raise RnnbenchError(f"TreeBatch levels must be contiguous id ranges in order; "
                                f"a level starts at {level.start}, expected {expected}")
        if len(level.left) != level.stop - level.start or len(level.right) != level.stop - level.start:
            raise RnnbenchError(f"TreeBatch level {level.start}..{level.stop} has "
                                f"{len(level.left)} left / {len(level.right)} right children")
        expected = level.stop
    if expected != trees.num_nodes:
        raise RnnbenchError(f"TreeBatch levels cover {expected} nodes, but num_nodes is {trees.num_nodes}")
