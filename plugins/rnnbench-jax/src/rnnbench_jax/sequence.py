"""Recurrent layers as ``lax.scan`` under ``jit``; gradients are ``jax.vjp`` of the same forward.

The input projection of every step is one matrix product hoisted out of the
scan; each step then does ``h @ W_h`` and the gate math. Masking follows the
contract: a finished sequence's state is frozen with ``jnp.where`` (so the
final state is the state after step ``length``) and its outputs are zero.
All functions take and return jax arrays; :mod:`.backend` converts at the edge.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax


def _cell(cell, activation, xw_t, h, c, W_h, b_h):
    """One step's new ``(h, c)`` from the hoisted input projection ``xw_t``."""
    if cell == "rnn":
        pre = xw_t + h @ W_h
        return (jnp.tanh(pre) if activation == "tanh" else jax.nn.relu(pre)), c
    if cell == "lstm":
        i, f, g, o = jnp.split(xw_t + h @ W_h, 4, axis=1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c_new), c_new
    xr, xz, xn = jnp.split(xw_t, 3, axis=1)
    hr, hz, hn = jnp.split(h @ W_h + b_h, 3, axis=1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return (1 - z) * n + z * h, c


def run(cell, activation, params, x, lengths, state, probe=None):
    """``(y [B,T,H], final)`` of one layer; ``state`` is ``{"h", "c" (lstm)}`` (never None here).

    ``probe`` (``[T,B,H]`` zeros, or None) is added to the state after every step and ``y_t``
    is read off that sum, so ``d loss / d probe[t]`` is the total derivative ``dL/dh_t``
    (the gradient-flow diagnostic of :meth:`rnnbench.model` models).
    """
    B, T, D = x.shape
    bias = params["b_x"] if cell == "gru" else params["b"]
    xw = (x.reshape(B * T, D) @ params["W_x"] + bias).reshape(B, T, params["W_x"].shape[1])
    live = jnp.arange(T)[None, :] < lengths[:, None]
    W_h, b_h = params["W_h"], params.get("b_h")

    def step(carry, inputs):
        h, c = carry
        xw_t, live_t = inputs[0], inputs[1][:, None]
        h_new, c_new = _cell(cell, activation, xw_t, h, c, W_h, b_h)
        h_next = jnp.where(live_t, h_new, h)
        c_next = None if c is None else jnp.where(live_t, c_new, c)
        if probe is None:
            return (h_next, c_next), jnp.where(live_t, h_new, jnp.zeros_like(h_new))
        h_next = h_next + inputs[2]
        return (h_next, c_next), jnp.where(live_t, h_next, jnp.zeros_like(h_next))

    xs = (jnp.swapaxes(xw, 0, 1), live.T) + (() if probe is None else (probe,))
    (h, c), ys = lax.scan(step, (state["h"], state.get("c")), xs)
    final = {"h": h} if c is None else {"h": h, "c": c}
    return jnp.swapaxes(ys, 0, 1), final


@partial(jax.jit, static_argnames=("cell", "activation"))
def forward(params, x, lengths, state, *, cell, activation):
    return run(cell, activation, params, x, lengths, state)


@partial(jax.jit, static_argnames=("cell", "activation"))
def backward(params, x, lengths, state, dy, dfinal, *, cell, activation):
    """``(dparams, dx, dstate)``: the VJP of :func:`run` for upstream ``dy`` and ``dfinal`` (full dicts)."""
    _, vjp = jax.vjp(lambda p, xs, s: run(cell, activation, p, xs, lengths, s), params, x, state)
    return vjp((dy, dfinal))


@partial(jax.jit, static_argnames=("cell", "activation"))
def grads_for_dy(params, x, lengths, state, dy, *, cell, activation):
    """Parameter and input gradients for an upstream ``dy`` alone: what ``rnnbench bench`` times."""
    _, vjp = jax.vjp(lambda p, xs: run(cell, activation, p, xs, lengths, state)[0], params, x)
    return vjp(dy)
