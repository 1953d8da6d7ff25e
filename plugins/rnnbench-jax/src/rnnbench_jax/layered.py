"""Stacked and bidirectional encoders (rnnbench's docs/design.md §2.6) as jax functions.

rnnbench's ``compose_layers`` runs each (layer, direction) unit as :func:`.sequence.run`;
the backward direction reads its input reversed within each row's length (a gather;
padding stays in place) and its outputs are reversed back, so it reads each sequence's
own last real step first. Layer i+1 reads layer i's ``[fw, bw]`` outputs. Parameters
and states use rnnbench's unit names (``l0.fw.W_x``, ``l1.bw.h``). Gradients are
``jax.vjp`` of the same forward.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from rnnbench import LayerOps, compose_layers, top_forward_prefix, unit_params

from . import sequence


def reverse_within(a, lengths):
    """``a [B,T,...]`` reversed within each row's length."""
    T = a.shape[1]
    t = jnp.arange(T)[None, :]
    L = lengths[:, None]
    index = jnp.where(t < L, L - 1 - t, t)
    return jnp.take_along_axis(a, index.reshape(index.shape + (1,) * (a.ndim - 2)), axis=1)


class JaxLayerOps(LayerOps):
    """rnnbench's :class:`LayerOps` on jax arrays: a gather by the lengths, concatenation on the last axis."""

    def __init__(self, lengths):
        self.lengths = lengths

    def reverse(self, a):
        return reverse_within(a, self.lengths)

    def concat(self, parts):
        return jnp.concatenate(parts, axis=2)


def run(cell, activation, params, x, lengths, state, num_layers, bidirectional, probe=None):
    """``(y [B,T,H·dirs], final {prefixed key})``; ``probe`` goes to the top layer's forward unit."""
    keys = ("h", "c") if cell == "lstm" else ("h",)

    def run_unit(prefix, unit_x):
        unit_probe = probe if prefix == top_forward_prefix(num_layers) else None
        return sequence.run(
            cell,
            activation,
            unit_params(params, prefix),
            unit_x,
            lengths,
            {k: state[prefix + k] for k in keys},
            unit_probe,
        )

    return compose_layers(JaxLayerOps(lengths), run_unit, x, num_layers, bidirectional)


STATIC = ("cell", "activation", "num_layers", "bidirectional")


@partial(jax.jit, static_argnames=STATIC)
def forward(params, x, lengths, state, *, cell, activation, num_layers, bidirectional):
    return run(cell, activation, params, x, lengths, state, num_layers, bidirectional)


@partial(jax.jit, static_argnames=STATIC)
def backward(params, x, lengths, state, dy, dfinal, *, cell, activation, num_layers, bidirectional):
    """``(dparams, dx, dstate)`` for upstream ``dy`` and ``dfinal`` (full dicts)."""
    _, vjp = jax.vjp(
        lambda p, xs, s: run(cell, activation, p, xs, lengths, s, num_layers, bidirectional), params, x, state
    )
    return vjp((dy, dfinal))


@partial(jax.jit, static_argnames=STATIC)
def grads_for_dy(params, x, lengths, state, dy, *, cell, activation, num_layers, bidirectional):
    """Parameter and input gradients for an upstream ``dy`` alone (what ``rnnbench bench`` times)."""
    _, vjp = jax.vjp(
        lambda p, xs: run(cell, activation, p, xs, lengths, state, num_layers, bidirectional)[0], params, x
    )
    return vjp(dy)
