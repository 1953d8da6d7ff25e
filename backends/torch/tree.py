"""Recursive networks over a level-batched :class:`~rnnbench.trees.TreeBatch`, in torch.

One batched composition per height: gather the children's states with
``index_select``, compose, and write the parents in place into the node-state
buffers, under a backward pass written out as NumPy's is (:class:`_RecursiveTree`,
:class:`_TreeLSTMTree`): autograd's view of a per-level buffer update copies the
whole buffer every level. Never a call per node.
"""

from __future__ import annotations

import torch


class _RecursiveTree(torch.autograd.Function):
    """The recursive cell over a whole TreeBatch with its backward pass written out, as NumPy's is.

    Each node's state is written once into one ``[N, H]`` buffer, in place; autograd's view of
    the level loop (an out-of-place ``index_copy`` per level, so every version of the buffer
    stays valid) copies the whole buffer at every level forward and again backward, which made
    the recursive net slower in torch than the NumPy reference. Backward runs the levels in
    reverse: ``d = dh * (1 - h^2)``, and the children's ``dh`` receive ``d W^T`` by
    ``index_add_``; ``dW`` is one matmul over every internal node's children (gathered by
    forward) and ``d`` at the end, ``db`` one sum (a matmul per level cost 12%). The same
    mathematics as autograd's graph; double backward is not supported.
    """

    @staticmethod
    def forward(ctx, x_leaves, W, b, schedule):
        N, H = schedule[0], W.shape[1]
        L = x_leaves.shape[0]
        h = x_leaves.new_empty((N, H))
        h[:L] = x_leaves
        children = x_leaves.new_empty((N - L, 2 * H))  # kept for the one weight-gradient matmul
        for start, stop, left, right in schedule[1]:
            ch = children[start - L : stop - L]
            torch.cat([h.index_select(0, left), h.index_select(0, right)], dim=1, out=ch)
            torch.tanh(torch.addmm(b, ch, W), out=h[start:stop])
        ctx.save_for_backward(h, W, children)
        ctx.schedule = schedule[1]
        ctx.leaves = L
        return h

    @staticmethod
    def backward(ctx, dh_out):
        h, W, children = ctx.saved_tensors
        H, L = W.shape[1], ctx.leaves
        dh = dh_out.clone(memory_format=torch.contiguous_format)
        dz = torch.empty_like(h[L:])  # pre-tanh gradient of every internal node
        W_t = W.t().contiguous()
        for start, stop, left, right in reversed(ctx.schedule):
            hk = h[start:stop]
            d = dz[start - L : stop - L]
            torch.mul(dh[start:stop], 1 - hk * hk, out=d)
            dchildren = d @ W_t
            dh.index_add_(0, left, dchildren[:, :H])
            dh.index_add_(0, right, dchildren[:, H:])
        # The weight gradient needs no level order: one matmul over every internal node.
        return dh[:L], children.t() @ dz, dz.sum(dim=0), None


class _TreeLSTMTree(torch.autograd.Function):
    """The Tree-LSTM over a whole TreeBatch with its backward pass written out, as NumPy's is.

    Profiled (torch.profiler, 64 SST trees): autograd's view of the level loop (out-of-place
    ``index_copy`` of the ``h`` and ``c`` buffers per level; ``index_select`` backward zero-filling
    and adding whole ``[N, H]`` buffers) spent about a third of forward+backward in ``copy_``,
    ``fill_`` and ``add_`` of those buffers, and ran a weight-gradient matmul per level. Here the
    states are rows written once in place; backward runs the levels in reverse (NumPy's
    ``_treelstm_backward``), adds the children's ``dh``/``dc`` into their rows by ``index_add_``,
    and takes the weight gradients as one matmul over every internal node and one over the leaves.
    Double backward is not supported.
    """

    @staticmethod
    def forward(ctx, x_leaves, W_leaf, b_leaf, W, b, schedule):
        N, levels = schedule
        H = W.shape[1] // 5
        L = x_leaves.shape[0]
        h, c, tanh_c = (x_leaves.new_empty((N, H)) for _ in range(3))
        leaf_gates = torch.addmm(b_leaf, x_leaves, W_leaf)
        leaf_gates[:, : 2 * H].sigmoid_()  # i, o
        leaf_gates[:, 2 * H :].tanh_()  # u
        torch.mul(leaf_gates[:, :H], leaf_gates[:, 2 * H :], out=c[:L])
        torch.tanh(c[:L], out=tanh_c[:L])
        torch.mul(leaf_gates[:, H : 2 * H], tanh_c[:L], out=h[:L])
        gates = x_leaves.new_empty((N - L, 5 * H))
        children = x_leaves.new_empty((N - L, 2 * H))
        for start, stop, left, right in levels:
            ch = children[start - L : stop - L]
            torch.cat([h.index_select(0, left), h.index_select(0, right)], dim=1, out=ch)
            g = gates[start - L : stop - L]
            torch.addmm(b, ch, W, out=g)
            g[:, : 4 * H].sigmoid_()  # i, fl, fr, o
            g[:, 4 * H :].tanh_()  # u
            c_level = c[start:stop]
            torch.mul(g[:, :H], g[:, 4 * H :], out=c_level)
            c_level.addcmul_(g[:, H : 2 * H], c.index_select(0, left))
            c_level.addcmul_(g[:, 2 * H : 3 * H], c.index_select(0, right))
            torch.tanh(c_level, out=tanh_c[start:stop])
            torch.mul(g[:, 3 * H : 4 * H], tanh_c[start:stop], out=h[start:stop])
        ctx.save_for_backward(x_leaves, W_leaf, W, c, tanh_c, gates, children, leaf_gates)
        ctx.levels = levels
        return h, c

    @staticmethod
    def backward(ctx, dh_out, dc_out):
        x, W_leaf, W, c, tanh_c, gates, children, leaf_gates = ctx.saved_tensors
        H = W.shape[1] // 5
        L = x.shape[0]
        dh = dh_out.clone(memory_format=torch.contiguous_format)
        dc = dc_out.clone(memory_format=torch.contiguous_format)
        dz = torch.empty_like(gates)  # pre-activation gradients of every internal node: i, fl, fr, o, u
        W_t = W.t().contiguous()
        for start, stop, left, right in reversed(ctx.levels):
            g = gates[start - L : stop - L]
            i, fl, fr, o, u = (g[:, k * H : (k + 1) * H] for k in range(5))
            d = dz[start - L : stop - L]
            dh_s, tc = dh[start:stop], tanh_c[start:stop]
            dc_total = dc[start:stop] + dh_s * o * (1 - tc * tc)
            torch.mul(dc_total * u, i * (1 - i), out=d[:, :H])
            torch.mul(dc_total * c.index_select(0, left), fl * (1 - fl), out=d[:, H : 2 * H])
            torch.mul(dc_total * c.index_select(0, right), fr * (1 - fr), out=d[:, 2 * H : 3 * H])
            torch.mul(dh_s * tc, o * (1 - o), out=d[:, 3 * H : 4 * H])
            torch.mul(dc_total * i, 1 - u * u, out=d[:, 4 * H :])
            dchildren = d @ W_t
            dh.index_add_(0, left, dchildren[:, :H])
            dh.index_add_(0, right, dchildren[:, H:])
            dc.index_add_(0, left, dc_total * fl)
            dc.index_add_(0, right, dc_total * fr)
        i, o, u = leaf_gates[:, :H], leaf_gates[:, H : 2 * H], leaf_gates[:, 2 * H :]
        tc = tanh_c[:L]
        dc_total = dc[:L] + dh[:L] * o * (1 - tc * tc)
        dz_leaf = torch.cat([dc_total * u * i * (1 - i), dh[:L] * tc * o * (1 - o), dc_total * i * (1 - u * u)], dim=1)
        # Weight gradients need no level order: one matmul over every internal node, one over the leaves.
        return (dz_leaf @ W_leaf.t(), x.t() @ dz_leaf, dz_leaf.sum(dim=0), children.t() @ dz, dz.sum(dim=0), None)


def _schedule(trees, device):
    """``(N, [(start, stop, left, right)])`` with index tensors on ``device``: made once a call."""
    return trees.num_nodes, [
        (
            level.start,
            level.stop,
            torch.as_tensor(level.left, dtype=torch.int64, device=device),
            torch.as_tensor(level.right, dtype=torch.int64, device=device),
        )
        for level in trees.levels
    ]


def tree_states(cell, params, x_leaves, trees):
    """Node states ``{"h": [N,H], "c": [N,H] (treelstm)}`` as tensors on ``x_leaves``' device."""
    schedule = _schedule(trees, x_leaves.device)
    if cell == "recursive":
        return {"h": _RecursiveTree.apply(x_leaves, params["W"], params["b"], schedule)}
    h, c = _TreeLSTMTree.apply(x_leaves, params["W_leaf"], params["b_leaf"], params["W"], params["b"], schedule)
    return {"h": h, "c": c}
