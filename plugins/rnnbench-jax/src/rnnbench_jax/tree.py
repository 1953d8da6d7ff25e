"""Recursive networks over a level-batched :class:`rnnbench.trees.TreeBatch`, in jax.

One batched composition per height: gather both children's rows, one matrix
product, scatter the results into the node-state buffer (functionally, so
``jax.vjp`` sees every version of it). Each level is a jitted call.

Every tree batch has its own shape, and jit compiles once per shape, so
:class:`TreePlan` pads the buffer, the leaves and every level to a power of two:
padded slots gather row 0 and scatter to an out-of-range id, which
``mode="drop"`` discards, so they change neither a state nor a gradient, and a
whole SST epoch needs a few dozen compilations instead of one per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

#: Nodes a step of the tree model's scan composes (:meth:`TreePlan.stacked`): small enough that a
#: level's last, padded step wastes little, large enough that a step is a real matrix product.
STEP_ROWS = 32


def bucket(n: int) -> int:
    """The padded size for ``n``: the next power of two (at least 8)."""
    return max(8, 1 << (int(n) - 1).bit_length())


@dataclass(frozen=True)
class TreePlan:
    """A TreeBatch as padded index arrays (NumPy): what the jitted steps see."""

    num_nodes: int
    num_leaves: int
    padded_nodes: int
    padded_leaves: int
    leaf_ids: np.ndarray  # int32 [padded_leaves]: node id of each leaf row, out of range for padding
    levels: tuple  # (ids, left, right) int32 [bucket(width)] per level

    @classmethod
    def of(cls, trees) -> "TreePlan":
        N, L = trees.num_nodes, trees.num_leaves
        Np, Lp = bucket(N), bucket(L)
        leaf_ids = np.full(Lp, Np, np.int32)
        leaf_ids[:L] = np.arange(L)
        levels = []
        for level in trees.levels:
            width = bucket(level.stop - level.start)
            ids, left, right = np.full(width, Np, np.int32), np.zeros(width, np.int32), np.zeros(width, np.int32)
            ids[: level.stop - level.start] = np.arange(level.start, level.stop)
            left[: len(level.left)] = level.left
            right[: len(level.right)] = level.right
            levels.append((ids, left, right))
        return cls(N, L, Np, Lp, leaf_ids, tuple(levels))

    def stacked(self, rows: int | None = None):
        """``(ids, left, right)`` int32 ``[steps, rows]``, a scan's input: each level cut into steps of
        ``rows`` nodes (:data:`STEP_ROWS`; the last step of a level padded), the levels in order, and the
        step count padded to a power of two with steps of padding alone.

        A level's nodes are independent of each other, so its steps may run one after another, and every
        step only reads levels below it. Padding every level to the widest instead made a 25-tree SST
        batch compose some 16 times its nodes (24 levels of 256 rows for about 500 internal nodes).
        """
        rows = STEP_ROWS if rows is None else int(rows)
        steps = []
        for level_ids, level_left, level_right in self.levels:
            width = int(np.count_nonzero(level_ids < self.padded_nodes))
            steps += [
                (level_ids[s : s + rows], level_left[s : s + rows], level_right[s : s + rows])
                for s in range(0, width, rows)
            ]
        count = bucket(len(steps))
        ids = np.full((count, rows), self.padded_nodes, np.int32)
        left, right = np.zeros((count, rows), np.int32), np.zeros((count, rows), np.int32)
        for k, (step_ids, step_left, step_right) in enumerate(steps):
            ids[k, : len(step_ids)], left[k, : len(step_ids)], right[k, : len(step_ids)] = (
                step_ids,
                step_left,
                step_right,
            )
        return ids, left, right

    def pad_leaves(self, x: np.ndarray) -> np.ndarray:
        """``x [L, ...]`` with zero rows up to ``padded_leaves``."""
        return np.concatenate([x, np.zeros((self.padded_leaves - len(x),) + x.shape[1:], x.dtype)])


@partial(jax.jit, static_argnames=("cell", "padded_nodes"))
def _leaf_states(params, x, leaf_ids, *, cell, padded_nodes):
    H = params["W"].shape[1] if cell == "recursive" else params["W"].shape[1] // 5
    h = jnp.zeros((padded_nodes, H), x.dtype)
    if cell == "recursive":
        return h.at[leaf_ids].set(x, mode="drop"), None
    i, o, u = jnp.split(x @ params["W_leaf"] + params["b_leaf"], 3, axis=1)
    c = jax.nn.sigmoid(i) * jnp.tanh(u)
    return (
        h.at[leaf_ids].set(jax.nn.sigmoid(o) * jnp.tanh(c), mode="drop"),
        jnp.zeros((padded_nodes, H), x.dtype).at[leaf_ids].set(c, mode="drop"),
    )


@partial(jax.jit, static_argnames=("cell",))
def _level(params, h, c, ids, left, right, *, cell):
    pre = jnp.concatenate([h[left], h[right]], axis=1) @ params["W"] + params["b"]
    if cell == "recursive":
        return h.at[ids].set(jnp.tanh(pre), mode="drop"), None
    i, fl, fr, o, u = jnp.split(pre, 5, axis=1)
    c_new = jax.nn.sigmoid(i) * jnp.tanh(u) + jax.nn.sigmoid(fl) * c[left] + jax.nn.sigmoid(fr) * c[right]
    return (h.at[ids].set(jax.nn.sigmoid(o) * jnp.tanh(c_new), mode="drop"), c.at[ids].set(c_new, mode="drop"))


def scanned_tree_states(cell, params, x_padded, leaf_ids, ids, left, right, padded_nodes):
    """:func:`tree_states` as one ``lax.scan`` over :meth:`TreePlan.stacked` steps, for use inside ``jit``.

    Each step composes a fixed number of nodes of one level, so a whole training
    step compiles once per padded shape (node count and step count, powers of
    two) and runs as one call: what a tree model needs (a step of op-by-op level
    calls is mostly dispatch).
    """
    h, c = _leaf_states(params, x_padded, leaf_ids, cell=cell, padded_nodes=padded_nodes)

    def step(carry, level):
        return _level(params, *carry, *level, cell=cell), None

    (h, c), _ = jax.lax.scan(step, (h, c), (ids, left, right))
    return {"h": h} if c is None else {"h": h, "c": c}


def tree_states(cell, params, x_padded, plan: TreePlan, put):
    """Node states ``{"h", "c" (treelstm)}`` as jax arrays ``[padded_nodes, H]`` (rows past N are zero).

    ``x_padded`` is ``[padded_leaves, D]``; ``put`` moves a NumPy index array to the device.
    """
    h, c = _leaf_states(params, x_padded, put(plan.leaf_ids), cell=cell, padded_nodes=plan.padded_nodes)
    for ids, left, right in plan.levels:
        h, c = _level(params, h, c, put(ids), put(left), put(right), cell=cell)
    return {"h": h} if c is None else {"h": h, "c": c}


def _gather(a, rows):
    """Rows of ``a``; an out-of-range id (a padded slot) reads zeros."""
    return a.at[rows].get(mode="fill", fill_value=0)


def _unrolled_forward(cell, params, x, leaf_ids, levels, padded_nodes):
    """Forward over every level (a Python loop, unrolled by jit): the states and what backward needs."""
    h, c = _leaf_states(params, x, leaf_ids, cell=cell, padded_nodes=padded_nodes)
    children, acts = [], []
    for ids, left, right in levels:
        ch = jnp.concatenate([h[left], h[right]], axis=1)
        pre = ch @ params["W"] + params["b"]
        children.append(ch)
        if cell == "recursive":
            p = jnp.tanh(pre)
            h = h.at[ids].set(p, mode="drop")
            acts.append(p)
            continue
        H = h.shape[1]
        g = jnp.concatenate([jax.nn.sigmoid(pre[:, : 4 * H]), jnp.tanh(pre[:, 4 * H :])], axis=1)
        c_new = g[:, :H] * g[:, 4 * H :] + g[:, H : 2 * H] * c[left] + g[:, 2 * H : 3 * H] * c[right]
        h = h.at[ids].set(g[:, 3 * H : 4 * H] * jnp.tanh(c_new), mode="drop")
        c = c.at[ids].set(c_new, mode="drop")
        acts.append(g)
    return (h, c), (children, acts)


@partial(jax.custom_vjp, nondiff_argnums=(0, 5))
def _unrolled(cell, params, x, leaf_ids, levels, padded_nodes):
    return _unrolled_forward(cell, params, x, leaf_ids, levels, padded_nodes)[0]


def _unrolled_fwd(cell, params, x, leaf_ids, levels, padded_nodes):
    states, (children, acts) = _unrolled_forward(cell, params, x, leaf_ids, levels, padded_nodes)
    return states, (params, x, leaf_ids, levels, states, children, acts)


def _unrolled_bwd(cell, padded_nodes, res, dstates):
    """NumPy's backward (``backends/numpy/tree.py``): levels in reverse, the children's gradients
    added into their rows, the weight gradients one matmul over every internal node."""
    params, x, leaf_ids, levels, (h, c), children, acts = res
    dh, dc = dstates
    W = params["W"]
    H = h.shape[1]
    dzs = []
    for (ids, left, right), g in zip(reversed(levels), reversed(acts)):
        if cell == "recursive":
            d = _gather(dh, ids) * (1 - g * g)
        else:
            i, fl, fr, o, u = (g[:, k * H : (k + 1) * H] for k in range(5))
            tc = jnp.tanh(_gather(c, ids))
            dh_s = _gather(dh, ids)
            dc_total = _gather(dc, ids) + dh_s * o * (1 - tc * tc)
            d = jnp.concatenate(
                [
                    dc_total * u * i * (1 - i),
                    dc_total * c[left] * fl * (1 - fl),
                    dc_total * c[right] * fr * (1 - fr),
                    dh_s * tc * o * (1 - o),
                    dc_total * i * (1 - u * u),
                ],
                axis=1,
            )
            dc = dc.at[left].add(dc_total * fl).at[right].add(dc_total * fr)
        dch = d @ W.T
        dh = dh.at[left].add(dch[:, :H]).at[right].add(dch[:, H:])  # padded slots add zeros to row 0
        dzs.append(d)
    grads = {}
    if levels:
        dz, ch = jnp.concatenate(dzs[::-1], axis=0), jnp.concatenate(children, axis=0)
        grads["W"], grads["b"] = ch.T @ dz, dz.sum(axis=0)
    else:
        grads["W"], grads["b"] = jnp.zeros_like(W), jnp.zeros_like(params["b"])
    dh_leaf = _gather(dh, leaf_ids)
    if cell == "recursive":
        return grads, dh_leaf, None, None
    gl = x @ params["W_leaf"] + params["b_leaf"]
    i, o, u = jax.nn.sigmoid(gl[:, :H]), jax.nn.sigmoid(gl[:, H : 2 * H]), jnp.tanh(gl[:, 2 * H :])
    tc = jnp.tanh(i * u)
    dc_total = _gather(dc, leaf_ids) + dh_leaf * o * (1 - tc * tc)
    dz_leaf = jnp.concatenate(
        [dc_total * u * i * (1 - i), dh_leaf * tc * o * (1 - o), dc_total * i * (1 - u * u)], axis=1
    )
    grads.update({"W_leaf": x.T @ dz_leaf, "b_leaf": dz_leaf.sum(axis=0)})
    return {k: grads[k] for k in params}, dz_leaf @ params["W_leaf"].T, None, None


_unrolled.defvjp(_unrolled_fwd, _unrolled_bwd)


def unrolled_tree_states(cell, params, x_padded, leaf_ids, levels, padded_nodes):
    """:func:`tree_states` for use inside ``jit``: the levels unrolled (``levels`` a tuple of
    :attr:`TreePlan.levels` arrays), under NumPy's backward written out.

    Under autodiff each level's functional scatter and gathers otherwise cost whole
    ``[padded_nodes, H]`` buffers (zeros, scatter-add, add) per level.
    """
    h, c = _unrolled(cell, params, x_padded, leaf_ids, tuple(levels), padded_nodes)
    return {"h": h} if cell == "recursive" else {"h": h, "c": c}
