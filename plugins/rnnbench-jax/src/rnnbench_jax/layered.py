"""Stacked and bidirectional encoders (rnnbench's docs/design.md §2.6) as jax functions.

Each (layer, direction) unit runs :func:`.sequence.run`; the backward direction reads its
input reversed within each row's length (a gather; padding stays in place) and its
outputs are reversed back, so it reads each sequence's own last real step first.
Layer i+1 reads layer i's ``[fw, bw]`` outputs. Parameters and states use rnnbench's
unit names (``l0.fw.W_x``, ``l1.bw.h``). Gradients are ``jax.vjp`` of the same forward.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from rnnbench import layer_directions, unit_params

from . import sequence


def reverse_within(a, lengths):
    """``a [B,T,...]`` reversed within each row's length."""
    T = a.shape[1]
    t = jnp.arange(T)[None, :]
    L = lengths[:, None]
    index = jnp.where(t < L, L - 1 - t, t)
    return jnp.take_along_axis(a, index.reshape(index.shape + (1,) * (a.ndim - 2)), axis=1)


def run(cell, activation, params, x, lengths, state, num_layers, bidirectional, probe=None):
    """``(y [B,T,H·dirs], final {prefixed key})``; ``probe`` goes to the top layer's forward unit."""
    keys = ("h", "c") if cell == "lstm" else ("h",)
    final, inputs = {}, x
    for layer in range(num_layers):
        outputs = []
        for direction in layer_directions(bidirectional):
            prefix = f"l{layer}.{direction}."
            unit_x = inputs if direction == "fw" else reverse_within(inputs, lengths)
            top_fw = layer == num_layers - 1 and direction == "fw"
            y, unit_final = sequence.run(cell, activation, unit_params(params, prefix), unit_x, lengths,
                                         {k: state[prefix + k] for k in keys}, probe if top_fw else None)
            outputs.append(y if direction == "fw" else reverse_within(y, lengths))
            final.update({prefix + k: v for k, v in unit_final.items()})
        inputs = outputs[0] if len(outputs) == 1 else jnp.concatenate(outputs, axis=2)
    return inputs, final


STATIC = ("cell", "activation", "num_layers", "bidirectional")


@partial(jax.jit, static_argnames=STATIC)
def forward(params, x, lengths, state, *, cell, activation, num_layers, bidirectional):
    return run(cell, activation, params, x, lengths, state, num_layers, bidirectional)


@partial(jax.jit, static_argnames=STATIC)
def backward(params, x, lengths, state, dy, dfinal, *, cell, activation, num_layers, bidirectional):
    """``(dparams, dx, dstate)`` for upstream ``dy`` and ``dfinal`` (full dicts)."""
    _, vjp = jax.vjp(lambda p, xs, s: run(cell, activation, p, xs, lengths, s, num_layers, bidirectional),
                     params, x, state)
    return vjp((dy, dfinal))


@partial(jax.jit, static_argnames=STATIC)
def grads_for_dy(params, x, lengths, state, dy, *, cell, activation, num_layers, bidirectional):
    """Parameter and input gradients for an upstream ``dy`` alone (what ``rnnbench bench`` times)."""
    _, vjp = jax.vjp(lambda p, xs: run(cell, activation, p, xs, lengths, state, num_layers, bidirectional)[0],
                     params, x)
    return vjp(dy)
