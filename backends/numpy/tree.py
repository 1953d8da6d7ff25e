"""Backpropagation through structure, by hand, level-batched.

A :class:`~rnnbench.trees.TreeBatch` groups internal nodes by height, so every
node of one level has both children already computed. Forward: per level,
gather the children's rows, one GEMM ``[h_left, h_right] @ W``, write the
level's contiguous id range. Backward: the same levels in reverse; a node's
gradient is complete when its level is reached, because its only parent sits
on a higher level. The weight gradients need no order, so they are one GEMM
over every internal node at the end, on the children rows forward gathered.

Scattering children's gradients uses plain fancy-index ``+=``: every node has
at most one parent, and a parent's two children differ, so within one level
the ``left`` and ``right`` ids are all distinct and no ``np.add.at`` is needed.

Equations (docs/design.md §2): recursive ``p = tanh([h_l, h_r] W + b)``, a leaf's
state is its input; treelstm (Tai et al. 2015, binary constituency) leaf
``[i, o, u] = x W_leaf + b_leaf``, ``c = σ(i) tanh(u)``, ``h = σ(o) tanh(c)``;
internal ``[i, fl, fr, o, u] = [h_l, h_r] W + b``,
``c = σ(i) tanh(u) + σ(fl) c_l + σ(fr) c_r``, ``h = σ(o) tanh(c)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnbench.backend import state_keys
from rnnbench.errors import RnnbenchError
from rnnbench.trees import TreeBatch


@dataclass
class TreeCache:
    """What backward needs from forward: inputs, every node's state and the gate activations."""

    cell: str
    params: dict
    x: np.ndarray  # [L, D]
    trees: TreeBatch
    states: dict  # "h" (and "c") [N, H]
    children: np.ndarray  # [h_left, h_right] of every internal node [N - L, 2H], gathered once by forward
    gates: np.ndarray | None = None  # treelstm: activated i, fl, fr, o, u of internal nodes [N - L, 5H]
    leaf_gates: np.ndarray | None = None  # treelstm: activated i, o, u of leaves [L, 3H]
    tanh_c: np.ndarray | None = None  # treelstm: tanh(c) of every node [N, H]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function that never overflows in exp (for large |z| in float32)."""
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def _gather_children(h: np.ndarray, level, out: np.ndarray) -> np.ndarray:
    """Write ``[h_left, h_right]`` of one level into ``out`` ``[n, 2H]``: the input of its one GEMM."""
    hidden = h.shape[1]
    out[:, :hidden] = h[level.left]
    out[:, hidden:] = h[level.right]
    return out


def _children_grads(dz: np.ndarray, W: np.ndarray, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """Gradient reaching ``h_left`` and ``h_right`` through ``[h_l, h_r] @ W``."""
    dchildren = dz @ W.T
    return dchildren[:, :hidden], dchildren[:, hidden:]


def forward(cell: str, params: dict, x_leaves: np.ndarray, trees: TreeBatch):
    """Node states ``{"h": [N,H]}`` (recursive) or ``{"h", "c"}`` (treelstm), and the cache for backward.

    Inputs are assumed validated by :func:`rnnbench.backend.check_tree_inputs`.
    """
    x_leaves = np.asarray(x_leaves, dtype=params["W"].dtype)  # gradients come back in the params' dtype
    if cell == "recursive":
        return _recursive_forward(params, x_leaves, trees)
    if cell == "treelstm":
        return _treelstm_forward(params, x_leaves, trees)
    raise RnnbenchError(f"unknown tree cell {cell!r}; valid: recursive, treelstm")


def backward(cache: TreeCache, dstates: dict) -> dict:
    """Vector-Jacobian product of :func:`forward`: every parameter and ``"x"``, in the params' dtype."""
    dstates = _upstream(cache, dstates)
    if cache.cell == "recursive":
        return _recursive_backward(cache, dstates)
    return _treelstm_backward(cache, dstates)


def _upstream(cache: TreeCache, dstates) -> dict:
    """Writable copies of the upstream gradients in the states' dtype; a missing key or None is zero."""
    dtype = cache.states["h"].dtype
    shape = cache.states["h"].shape
    keys = state_keys(cache.cell)
    dstates = {key: value for key, value in (dstates or {}).items() if value is not None}
    unknown = set(dstates) - set(keys)
    if unknown:
        raise RnnbenchError(f"{cache.cell} tree states are {list(keys)}; dstates has {sorted(unknown)}")
    out = {}
    for key in keys:
        value = dstates.get(key)
        if value is None:
            out[key] = np.zeros(shape, dtype=dtype)
            continue
        value = np.asarray(value)
        if value.shape != shape:
            raise RnnbenchError(f"dstates[{key!r}] must have shape {shape}, got {value.shape}")
        out[key] = np.array(value, dtype=dtype, copy=True)
    return out


def _recursive_forward(params, x, trees):
    W, b = params["W"], params["b"]
    L, H = trees.num_leaves, W.shape[1]
    h = np.empty((trees.num_nodes, H), dtype=W.dtype)
    h[:L] = x
    children = np.empty((trees.num_nodes - L, 2 * H), dtype=W.dtype)
    for level in trees.levels:
        p = h[level.start : level.stop]
        np.matmul(_gather_children(h, level, children[level.start - L : level.stop - L]), W, out=p)
        p += b
        np.tanh(p, out=p)
    return {"h": h}, TreeCache("recursive", params, x, trees, {"h": h}, children)


def _recursive_backward(cache, dstates):
    W = cache.params["W"]
    L, H = cache.trees.num_leaves, W.shape[1]
    h = cache.states["h"]
    dh = dstates["h"]
    dz = np.empty((cache.trees.num_nodes - L, H), dtype=W.dtype)  # pre-tanh gradient of every internal node
    for level in reversed(cache.trees.levels):
        p = h[level.start : level.stop]
        dz_level = dz[level.start - L : level.stop - L]
        np.multiply(dh[level.start : level.stop], 1.0 - p * p, out=dz_level)
        dleft, dright = _children_grads(dz_level, W, H)
        dh[level.left] += dleft  # ids distinct within a level: see the module docstring
        dh[level.right] += dright
    # The weight gradient needs no level order: one GEMM over every internal node.
    return {"W": cache.children.T @ dz, "b": dz.sum(axis=0), "x": dh[:L].copy()}


def _sigmoid_(z: np.ndarray) -> np.ndarray:
    """In-place :func:`_sigmoid`."""
    z *= 0.5
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5
    return z


def _treelstm_forward(params, x, trees):
    W_leaf, b_leaf, W, b = params["W_leaf"], params["b_leaf"], params["W"], params["b"]
    dtype = W.dtype
    H = W.shape[0] // 2
    L, N = trees.num_leaves, trees.num_nodes
    h = np.empty((N, H), dtype=dtype)
    c = np.empty((N, H), dtype=dtype)
    tanh_c = np.empty((N, H), dtype=dtype)

    leaf_gates = x @ W_leaf
    leaf_gates += b_leaf
    _sigmoid_(leaf_gates[:, : 2 * H])  # i, o
    np.tanh(leaf_gates[:, 2 * H :], out=leaf_gates[:, 2 * H :])  # u
    np.multiply(leaf_gates[:, :H], leaf_gates[:, 2 * H :], out=c[:L])
    np.tanh(c[:L], out=tanh_c[:L])
    np.multiply(leaf_gates[:, H : 2 * H], tanh_c[:L], out=h[:L])

    gates = np.empty((N - L, 5 * H), dtype=dtype)
    children = np.empty((N - L, 2 * H), dtype=dtype)
    for level in trees.levels:
        s = slice(level.start, level.stop)
        g = gates[level.start - L : level.stop - L]
        np.matmul(_gather_children(h, level, children[level.start - L : level.stop - L]), W, out=g)
        g += b
        _sigmoid_(g[:, : 4 * H])  # i, fl, fr, o
        np.tanh(g[:, 4 * H :], out=g[:, 4 * H :])  # u
        c_level = c[s]
        np.multiply(g[:, :H], g[:, 4 * H :], out=c_level)
        c_level += g[:, H : 2 * H] * c[level.left]
        c_level += g[:, 2 * H : 3 * H] * c[level.right]
        np.tanh(c_level, out=tanh_c[s])
        np.multiply(g[:, 3 * H : 4 * H], tanh_c[s], out=h[s])
    states = {"h": h, "c": c}
    return states, TreeCache("treelstm", params, x, trees, states, children, gates, leaf_gates, tanh_c)


def _treelstm_backward(cache, dstates):
    params, trees = cache.params, cache.trees
    W = params["W"]
    H = W.shape[0] // 2
    L = trees.num_leaves
    c, tanh_c = cache.states["c"], cache.tanh_c
    dh, dc = dstates["h"], dstates["c"]
    dz = np.empty_like(cache.gates)  # pre-activation gradients of every internal node, blocks i, fl, fr, o, u
    for level in reversed(trees.levels):
        s = slice(level.start, level.stop)
        g = cache.gates[level.start - L : level.stop - L]
        i, fl, fr, o, u = (g[:, k * H : (k + 1) * H] for k in range(5))
        d = dz[level.start - L : level.stop - L]
        dc_total = dc[s] + dh[s] * o * (1.0 - tanh_c[s] ** 2)
        np.multiply(dc_total * u, i * (1.0 - i), out=d[:, :H])
        np.multiply(dc_total * c[level.left], fl * (1.0 - fl), out=d[:, H : 2 * H])
        np.multiply(dc_total * c[level.right], fr * (1.0 - fr), out=d[:, 2 * H : 3 * H])
        np.multiply(dh[s] * tanh_c[s], o * (1.0 - o), out=d[:, 3 * H : 4 * H])
        np.multiply(dc_total * i, 1.0 - u * u, out=d[:, 4 * H :])
        dleft, dright = _children_grads(d, W, H)
        dh[level.left] += dleft  # ids distinct within a level: see the module docstring
        dh[level.right] += dright
        dc[level.left] += dc_total * fl
        dc[level.right] += dc_total * fr

    g = cache.leaf_gates
    i, o, u = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
    dc_total = dc[:L] + dh[:L] * o * (1.0 - tanh_c[:L] ** 2)
    dz_leaf = np.empty_like(g)  # blocks i, o, u
    np.multiply(dc_total * u, i * (1.0 - i), out=dz_leaf[:, :H])
    np.multiply(dh[:L] * tanh_c[:L], o * (1.0 - o), out=dz_leaf[:, H : 2 * H])
    np.multiply(dc_total * i, 1.0 - u * u, out=dz_leaf[:, 2 * H :])
    # Weight gradients need no level order: one GEMM over every internal node, one over every leaf.
    return {
        "W_leaf": cache.x.T @ dz_leaf,
        "b_leaf": dz_leaf.sum(axis=0),
        "W": cache.children.T @ dz,
        "b": dz.sum(axis=0),
        "x": dz_leaf @ params["W_leaf"].T,
    }
