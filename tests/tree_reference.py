"""Node-by-node tree evaluation: the slow, plainly correct twin of the level-batched NumPy backend.

It walks :class:`~rnnbench.trees.Tree` objects recursively, one composition
call per node, with the equations written out again (sigmoid as
``1 / (1 + exp(-z))``, children as two separate products), and numbers the nodes
itself from the order documented on :class:`~rnnbench.trees.TreeBatch`
(leaves tree by tree left to right; internal nodes by height, then tree, then
post-order). Agreement with the backend therefore checks the TreeBatch builder,
the batching and the algebra at once. Used by tests/test_numpy_tree.py and by
benchmarks/test_bench_trees.py as the unbatched baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnbench.trees import Tree


@dataclass
class NodePlan:
    """The evaluation schedule of a list of binary trees: leaf ids, then internal nodes in post-order."""

    num_leaves: int = 0
    num_nodes: int = 0
    internal: list = field(default_factory=list)  # (node id, left id, right id), children before parents


def plan_trees(trees: list[Tree]) -> NodePlan:
    plan = NodePlan()
    pending = []  # (height, tree index, post-order index, left ref, right ref); refs: ("leaf", id) or ("int", k)

    def visit(node: Tree, tree_index: int):
        if node.is_leaf:
            plan.num_leaves += 1
            return ("leaf", plan.num_leaves - 1), 0
        assert len(node.children) == 2, "the reference evaluates binary trees only"
        left, left_height = visit(node.children[0], tree_index)
        right, right_height = visit(node.children[1], tree_index)
        height = 1 + max(left_height, right_height)
        pending.append((height, tree_index, len(pending), left, right))
        return ("int", len(pending) - 1), height

    for tree_index, tree in enumerate(trees):
        visit(tree, tree_index)
    ranked = sorted(range(len(pending)), key=lambda k: (pending[k][0], pending[k][1], pending[k][2]))
    node_id = {k: plan.num_leaves + r for r, k in enumerate(ranked)}

    def resolve(ref):
        return ref[1] if ref[0] == "leaf" else node_id[ref[1]]

    plan.internal = [(node_id[k], resolve(left), resolve(right)) for k, (_, _, _, left, right) in enumerate(pending)]
    plan.num_nodes = plan.num_leaves + len(pending)
    return plan


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(cell: str, params: dict, x: np.ndarray, plan: NodePlan):
    """Node states in the TreeBatch numbering, plus per-node caches for :func:`backward`."""
    if cell == "recursive":
        H = params["W"].shape[1]
    else:
        H = params["W"].shape[0] // 2
    dtype = params["W"].dtype
    h = np.zeros((plan.num_nodes, H), dtype)
    c = np.zeros((plan.num_nodes, H), dtype)
    node_cache = {}
    for leaf in range(plan.num_leaves):
        if cell == "recursive":
            h[leaf] = x[leaf]
        else:
            h[leaf], c[leaf], node_cache[leaf] = _treelstm_leaf(params, x[leaf])
    for node, left, right in plan.internal:
        if cell == "recursive":
            h[node] = _recursive_node(params, h[left], h[right])
        else:
            h[node], c[node], node_cache[node] = _treelstm_node(params, h[left], h[right], c[left], c[right])
    states = {"h": h} if cell == "recursive" else {"h": h, "c": c}
    return states, node_cache


def backward(
    cell: str, params: dict, x: np.ndarray, plan: NodePlan, states: dict, node_cache: dict, dstates: dict
) -> dict:
    """Vector-Jacobian product, one node at a time, parents before children."""
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dh = np.array(dstates["h"], copy=True)
    dc = np.array(dstates["c"], copy=True) if cell == "treelstm" else None
    h = states["h"]
    for node, left, right in reversed(plan.internal):
        if cell == "recursive":
            dl, dr = _recursive_node_backward(params, grads, h[left], h[right], h[node], dh[node])
            dh[left] += dl
            dh[right] += dr
        else:
            c = states["c"]
            dhl, dhr, dcl, dcr = _treelstm_node_backward(
                params, grads, h[left], h[right], c[left], c[right], node_cache[node], dh[node], dc[node]
            )
            dh[left] += dhl
            dh[right] += dhr
            dc[left] += dcl
            dc[right] += dcr
    if cell == "recursive":
        grads["x"] = dh[: plan.num_leaves].copy()
        return grads
    grads["x"] = np.zeros_like(x)
    for leaf in range(plan.num_leaves):
        grads["x"][leaf] = _treelstm_leaf_backward(params, grads, x[leaf], node_cache[leaf], dh[leaf], dc[leaf])
    return grads


def _recursive_node(params, hl, hr):
    H = hl.shape[0]
    W = params["W"]
    return np.tanh(hl @ W[:H] + hr @ W[H:] + params["b"])


def _recursive_node_backward(params, grads, hl, hr, p, dp):
    H = hl.shape[0]
    W = params["W"]
    dz = dp * (1 - p**2)
    grads["W"][:H] += np.outer(hl, dz)
    grads["W"][H:] += np.outer(hr, dz)
    grads["b"] += dz
    return W[:H] @ dz, W[H:] @ dz


def _treelstm_leaf(params, x):
    H = params["W"].shape[0] // 2
    z = x @ params["W_leaf"] + params["b_leaf"]
    i, o, u = _sigmoid(z[:H]), _sigmoid(z[H : 2 * H]), np.tanh(z[2 * H :])
    c = i * u
    return o * np.tanh(c), c, (i, o, u, c)


def _treelstm_leaf_backward(params, grads, x, cache, dh, dc):
    i, o, u, c = cache
    tc = np.tanh(c)
    dc = dc + dh * o * (1 - tc**2)
    dz = np.concatenate([dc * u * i * (1 - i), dh * tc * o * (1 - o), dc * i * (1 - u**2)])
    grads["W_leaf"] += np.outer(x, dz)
    grads["b_leaf"] += dz
    return params["W_leaf"] @ dz


def _treelstm_node(params, hl, hr, cl, cr):
    H = hl.shape[0]
    W = params["W"]
    z = hl @ W[:H] + hr @ W[H:] + params["b"]
    i, fl, fr, o = (_sigmoid(z[k * H : (k + 1) * H]) for k in range(4))
    u = np.tanh(z[4 * H :])
    c = i * u + fl * cl + fr * cr
    return o * np.tanh(c), c, (i, fl, fr, o, u, c)


def _treelstm_node_backward(params, grads, hl, hr, cl, cr, cache, dh, dc):
    H = hl.shape[0]
    W = params["W"]
    i, fl, fr, o, u, c = cache
    tc = np.tanh(c)
    dc = dc + dh * o * (1 - tc**2)
    dz = np.concatenate(
        [
            dc * u * i * (1 - i),
            dc * cl * fl * (1 - fl),
            dc * cr * fr * (1 - fr),
            dh * tc * o * (1 - o),
            dc * i * (1 - u**2),
        ]
    )
    grads["W"][:H] += np.outer(hl, dz)
    grads["W"][H:] += np.outer(hr, dz)
    grads["b"] += dz
    return W[:H] @ dz, W[H:] @ dz, dc * fl, dc * fr
