"""Timers for ``rnnbench bench``: the backend's own jitted paths, on device arrays made once.

jax dispatches asynchronously, so each callable ends with ``jax.block_until_ready``
on what it computed: the clock then sees finished work, on a CPU as on a GPU.
Forward+backward is the jitted VJP of every parameter and the input for a fixed,
seeded upstream ``dy``, as in the other backends.
"""

from __future__ import annotations

import jax
import numpy as np

from rnnbench import (
    check_layered_inputs,
    check_sequence_inputs,
    check_tree_inputs,
    layered_output_size,
    sequence_cotangent,
    state_keys,
    tree_cotangents,
)

from . import sequence
from .tree import TreePlan, unrolled_tree_states


def sequence_timer(
    backend, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
):
    if num_layers != 1 or bidirectional:
        return _layered_timer(backend, cell, params, x, lengths, backward, activation, num_layers, bidirectional)
    x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, None, activation)
    B, T, _ = x.shape
    H = np.shape(params["W_h"])[0]
    scope = backend.precision
    with scope(dtype):
        p, xt, lt = backend.put_all(params, dtype), backend.put(x), backend.put(lengths)
        state = {k: backend.put(np.zeros((B, H), dtype)) for k in state_keys(cell)}
        dy = backend.put(sequence_cotangent(B, T, H, dtype))

    if not backward:

        def run_forward():
            with scope(dtype):
                jax.block_until_ready(sequence.forward(p, xt, lt, state, cell=cell, activation=activation))

        return run_forward

    def run_forward_backward():
        with scope(dtype):
            jax.block_until_ready(sequence.grads_for_dy(p, xt, lt, state, dy, cell=cell, activation=activation))

    return run_forward_backward


def _layered_timer(backend, cell, params, x, lengths, backward, activation, num_layers, bidirectional):
    """As :func:`sequence_timer` for a stacked/bidirectional encoder (:mod:`.layered`)."""
    from . import layered

    x, lengths, dtype, H = check_layered_inputs(cell, params, x, lengths, None, activation, num_layers, bidirectional)
    B, T, _ = x.shape
    static = dict(cell=cell, activation=activation, num_layers=num_layers, bidirectional=bidirectional)
    scope = backend.precision
    with scope(dtype):
        p, xt, lt = backend.put_all(params, dtype), backend.put(x), backend.put(lengths)
        state = backend._layered_state(cell, None, B, H, dtype, num_layers, bidirectional)
        dy = backend.put(sequence_cotangent(B, T, layered_output_size(H, bidirectional), dtype))

    if not backward:

        def run_forward():
            with scope(dtype):
                jax.block_until_ready(layered.forward(p, xt, lt, state, **static))

        return run_forward

    def run_forward_backward():
        with scope(dtype):
            jax.block_until_ready(layered.grads_for_dy(p, xt, lt, state, dy, **static))

    return run_forward_backward


def tree_timer(backend, cell, params, x_leaves, trees, backward=False):
    """One jitted call over the batch's levels, unrolled (compiled once, in the warm-up), forward or
    forward+VJP under NumPy's backward (:func:`.tree.unrolled_tree_states`). Op-by-op level calls under
    ``jax.vjp`` were 7x NumPy's recursive net: dispatch, and whole ``[N, H]`` buffers per level."""
    x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
    plan = TreePlan.of(trees)
    H = np.shape(params["W"])[0] // 2
    scope = backend.precision
    with scope(dtype):
        p, xt = backend.put_all(params, dtype), backend.put(plan.pad_leaves(x_leaves))
        leaf_ids = backend.put(plan.leaf_ids)
        levels = tuple(tuple(backend.put(a) for a in level) for level in plan.levels)
        upstream = {}
        for key, value in tree_cotangents(cell, trees.num_nodes, H, dtype).items():
            padded = np.zeros((plan.padded_nodes, H), dtype)
            padded[: plan.num_nodes] = value
            upstream[key] = backend.put(padded)

    def states(q, x, ids, lv):
        return unrolled_tree_states(cell, q, x, ids, lv, plan.padded_nodes)

    if not backward:
        forward = jax.jit(states)

        def run_forward():
            with scope(dtype):
                jax.block_until_ready(forward(p, xt, leaf_ids, levels))

        return run_forward

    forward_backward = jax.jit(lambda q, x, ids, lv, up: jax.vjp(lambda a, b: states(a, b, ids, lv), q, x)[1](up))

    def run_forward_backward():
        with scope(dtype):
            jax.block_until_ready(forward_backward(p, xt, leaf_ids, levels, upstream))

    return run_forward_backward
