"""Timers for ``rnnbench bench``: the reference's own forward and backward functions, nothing around them.

The inputs are validated and cast once; the callable then runs exactly what
:class:`~rnnbench.backends.numpy.backend.NumpyBackend` runs per call (including
the forward pass building its cache, which a forward-only call then drops).
NumPy computes synchronously, so no synchronisation is needed.
"""

from __future__ import annotations

from rnnbench.backend import check_sequence_inputs, check_tree_inputs
from rnnbench.bench.inputs import sequence_cotangent, tree_cotangents

from . import sequence, tree


def sequence_timer(cell, params, x, lengths=None, backward=False, activation="tanh"):
    x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, None, activation)
    if not backward:

        def run_forward():
            sequence.forward(cell, params, x, lengths, None, activation)

        return run_forward
    B, T, _ = x.shape
    dy = sequence_cotangent(B, T, params["W_h"].shape[0], dtype)

    def run_forward_backward():
        _, _, cache = sequence.forward(cell, params, x, lengths, None, activation)
        sequence.backward(cache, dy, None)

    return run_forward_backward


def tree_timer(cell, params, x_leaves, trees, backward=False):
    x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
    if not backward:

        def run_forward():
            tree.forward(cell, params, x_leaves, trees)

        return run_forward
    dstates = tree_cotangents(cell, trees.num_nodes, params["W"].shape[0] // 2, dtype)

    def run_forward_backward():
        _, cache = tree.forward(cell, params, x_leaves, trees)
        tree.backward(cache, dstates)  # copies dstates, so every call sees the same upstream

    return run_forward_backward
