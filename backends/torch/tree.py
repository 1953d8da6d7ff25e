"""Recursive networks over a level-batched :class:`~rnnbench.trees.TreeBatch`, in torch.

One batched composition per height: gather the children's states with
``index_select``, compose, and write the parents into the node-state buffer with
an out-of-place ``index_copy`` (so autograd sees every version of the buffer).
Never a call per node.
"""
from __future__ import annotations

import torch


def _leaf_treelstm(params, x_leaves):
    i, o, u = (x_leaves @ params["W_leaf"] + params["b_leaf"]).chunk(3, dim=1)
    c = torch.sigmoid(i) * torch.tanh(u)
    return torch.sigmoid(o) * torch.tanh(c), c


def tree_states(cell, params, x_leaves, trees):
    """Node states ``{"h": [N,H], "c": [N,H] (treelstm)}`` as tensors on ``x_leaves``' device."""
    device = x_leaves.device
    H = params["W"].shape[1] if cell == "recursive" else params["W"].shape[1] // 5
    N, L = trees.num_nodes, trees.num_leaves
    leaf_ids = torch.arange(L, device=device)
    h = x_leaves.new_zeros((N, H))
    if cell == "recursive":
        h = h.index_copy(0, leaf_ids, x_leaves)
        c = None
    else:
        h_leaf, c_leaf = _leaf_treelstm(params, x_leaves)
        h = h.index_copy(0, leaf_ids, h_leaf)
        c = x_leaves.new_zeros((N, H)).index_copy(0, leaf_ids, c_leaf)
    for level in trees.levels:
        ids = torch.arange(level.start, level.stop, device=device)
        left = torch.as_tensor(level.left, dtype=torch.int64, device=device)
        right = torch.as_tensor(level.right, dtype=torch.int64, device=device)
        children = torch.cat([h.index_select(0, left), h.index_select(0, right)], dim=1)
        pre = children @ params["W"] + params["b"]
        if cell == "recursive":
            h = h.index_copy(0, ids, torch.tanh(pre))
            continue
        i, fl, fr, o, u = pre.chunk(5, dim=1)
        c_new = (torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(fl) * c.index_select(0, left)
                 + torch.sigmoid(fr) * c.index_select(0, right))
        h = h.index_copy(0, ids, torch.sigmoid(o) * torch.tanh(c_new))
        c = c.index_copy(0, ids, c_new)
    return {"h": h} if c is None else {"h": h, "c": c}
