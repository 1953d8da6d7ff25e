"""Recursive networks over a level-batched :class:`~rnnbench.trees.TreeBatch`, in torch.

One batched composition per height: gather the children's states with
``index_select``, compose, and write the parents into the node-state buffer.
The recursive cell writes them in place, with its backward pass written out
(:class:`_RecursiveTree`); the Tree-LSTM uses an out-of-place ``index_copy`` (so
autograd sees every version of the buffer). Never a call per node.
"""
from __future__ import annotations

import torch


def _leaf_treelstm(params, x_leaves):
    i, o, u = (x_leaves @ params["W_leaf"] + params["b_leaf"]).chunk(3, dim=1)
    c = torch.sigmoid(i) * torch.tanh(u)
    return torch.sigmoid(o) * torch.tanh(c), c


class _RecursiveTree(torch.autograd.Function):
    """The recursive cell over a whole TreeBatch with its backward pass written out, as NumPy's is.

    Each node's state is written once into one ``[N, H]`` buffer, in place; autograd's view of
    the level loop (an out-of-place ``index_copy`` per level, so every version of the buffer
    stays valid) copies the whole buffer at every level forward and again backward, which made
    the recursive net slower in torch than the NumPy reference. Backward runs the levels in
    reverse: ``d = dh * (1 - h^2)``, ``dW += [h_l; h_r]^T d``, ``db += sum d``, and the
    children's ``dh`` receive ``d W^T`` by ``index_add_`` (duplicates summed). The same
    mathematics as autograd's graph; double backward is not supported.
    """

    @staticmethod
    def forward(ctx, x_leaves, W, b, schedule):
        N, H = schedule[0], W.shape[1]
        L = x_leaves.shape[0]
        h = x_leaves.new_empty((N, H))
        h[:L] = x_leaves
        for start, stop, left, right in schedule[1]:
            children = torch.cat([h.index_select(0, left), h.index_select(0, right)], dim=1)
            torch.tanh(torch.addmm(b, children, W), out=h[start:stop])
        ctx.save_for_backward(h, W)
        ctx.schedule = schedule[1]
        ctx.leaves = L
        return h

    @staticmethod
    def backward(ctx, dh_out):
        h, W = ctx.saved_tensors
        H = W.shape[1]
        dh = dh_out.clone(memory_format=torch.contiguous_format)
        dW = torch.zeros_like(W)
        db = h.new_zeros((H,))
        W_t = W.t().contiguous()
        for start, stop, left, right in reversed(ctx.schedule):
            hk = h[start:stop]
            d = dh[start:stop] * (1 - hk * hk)
            children = torch.cat([h.index_select(0, left), h.index_select(0, right)], dim=1)
            dW.addmm_(children.t(), d)
            db += d.sum(dim=0)
            dchildren = d @ W_t
            dh.index_add_(0, left, dchildren[:, :H])
            dh.index_add_(0, right, dchildren[:, H:])
        return dh[:ctx.leaves], dW, db, None


def _schedule(trees, device):
    """``(N, [(start, stop, left, right)])`` with index tensors on ``device``: made once a call."""
    return trees.num_nodes, [(level.start, level.stop, torch.as_tensor(level.left, dtype=torch.int64, device=device),
                              torch.as_tensor(level.right, dtype=torch.int64, device=device))
                             for level in trees.levels]


def tree_states(cell, params, x_leaves, trees):
    """Node states ``{"h": [N,H], "c": [N,H] (treelstm)}`` as tensors on ``x_leaves``' device."""
    device = x_leaves.device
    if cell == "recursive":
        return {"h": _RecursiveTree.apply(x_leaves, params["W"], params["b"], _schedule(trees, device))}
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
