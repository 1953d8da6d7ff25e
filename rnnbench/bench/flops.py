"""Counted floating-point operations of one timed call, so speed can be read as GFLOP/s.

What is counted (one convention for every backend, so GFLOP/s compare like with like;
an implementation that does less or more work than this is not credited for it):

* A matrix product ``[m,k] @ [k,n]`` is ``2 m n k``.
* An elementwise operation is 1 per element: an add, a multiply, a subtract, a
  bias add, and also a ``tanh``, ``sigmoid`` or ``relu`` (counted as one, though they
  cost more; the matrix products dominate every size worth timing anyway).

Per sequence step and per batch row (``D`` input, ``H`` hidden, ``G`` gate blocks:
rnn 1, gru 3, lstm 4): products ``2 (D + H) G H`` (``x W_x`` and ``h W_h``), plus

* rnn: sum of the two products ``H``, bias ``H``, activation ``H``: ``3H``;
* lstm: sum ``4H``, bias ``4H``, four gate activations ``4H``, ``c' = f*c + i*g``
  ``3H``, ``tanh(c')`` ``H``, ``h' = o*tanh(c')`` ``H``: ``17H``;
* gru: biases ``b_x`` and ``b_h`` ``6H``, the r and z sums ``2H``, ``r*(h W_hn + b_hn)``
  and its sum ``2H``, three activations ``3H``, ``h' = (1-z)*n + z*h`` ``4H``: ``17H``.

Trees, per internal node: recursive ``2 (2H) H`` plus bias and tanh ``2H``; treelstm
``2 (2H)(5H)`` plus bias ``5H``, five activations ``5H``, the cell sum
``σ(i)tanh(u) + σ(fl)c_l + σ(fr)c_r`` ``5H``, ``tanh(c)`` ``H``, ``h = σ(o)tanh(c)`` ``H``
(``17H``). Per treelstm leaf: ``2 D (3H)`` plus bias ``3H``, three activations ``3H``,
``c``, ``tanh(c)`` and ``h`` ``3H`` (``9H``). A recursive leaf costs nothing (its state is its input).

Backward (the vector-Jacobian product for the inputs *and* the weights) is counted as
twice the forward, products and elementwise alike: each forward product ``A W`` has two
backward products (``dA = dZ W^T``, ``dW = A^T dZ``) of the same size, and each elementwise
operation's derivative is taken as two operations (the local slope and its product with the
upstream gradient). ``forward+backward`` is therefore three times ``forward``.
"""

from __future__ import annotations

from rnnbench.errors import RnnbenchError

#: Gate blocks of each sequence cell (the ``G`` above).
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
#: Elementwise operations per hidden unit and step (the ``17H`` etc. above, divided by ``H``).
SEQUENCE_ELEMENTWISE = {"rnn": 3, "lstm": 17, "gru": 17}
PASSES = ("forward", "forward+backward")
#: forward+backward = forward * (1 + BACKWARD_FACTOR)
BACKWARD_FACTOR = 2


def sequence_step_flops(cell: str, input_size: int, hidden_size: int) -> int:
    """Forward FLOPs of one step of one sequence (one batch row)."""
    if cell not in GATE_BLOCKS:
        raise RnnbenchError(f"no FLOP count for sequence cell {cell!r}; valid: {', '.join(GATE_BLOCKS)}")
    D, H = input_size, hidden_size
    return 2 * (D + H) * GATE_BLOCKS[cell] * H + SEQUENCE_ELEMENTWISE[cell] * H


def sequence_flops(cell: str, batch: int, steps: int, input_size: int, hidden_size: int, pass_: str) -> int:
    """FLOPs of one call over ``batch`` sequences of ``steps`` steps each (all full length)."""
    return _with_backward(batch * steps * sequence_step_flops(cell, input_size, hidden_size), pass_)


def layered_sequence_flops(
    cell: str,
    batch: int,
    steps: int,
    input_size: int,
    hidden_size: int,
    pass_: str,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> int:
    """FLOPs of a stacked/bidirectional encoder: every layer and direction counted as its own layer
    (layer 0 reads ``input_size``, the others the layer below: H, or 2H with both directions)."""
    from rnnbench.layers import output_size, units

    return sum(
        sequence_flops(
            cell,
            batch,
            steps,
            input_size if layer == 0 else output_size(hidden_size, bidirectional),
            hidden_size,
            pass_,
        )
        for layer, _, _ in units(num_layers, bidirectional)
    )


def tree_node_flops(cell: str, input_size: int, hidden_size: int) -> tuple[int, int]:
    """Forward FLOPs ``(per leaf, per internal node)`` of a tree cell."""
    D, H = input_size, hidden_size
    if cell == "recursive":
        return 0, 2 * (2 * H) * H + 2 * H
    if cell == "treelstm":
        return 2 * D * 3 * H + 9 * H, 2 * (2 * H) * (5 * H) + 17 * H
    raise RnnbenchError(f"no FLOP count for tree cell {cell!r}; valid: recursive, treelstm")


def tree_flops(cell: str, num_leaves: int, num_nodes: int, input_size: int, hidden_size: int, pass_: str) -> int:
    """FLOPs of one call over a TreeBatch of ``num_nodes`` nodes, ``num_leaves`` of them leaves.

    The count does not depend on the schedule: level-batched and node-by-node do the same work.
    """
    leaf, internal = tree_node_flops(cell, input_size, hidden_size)
    return _with_backward(num_leaves * leaf + (num_nodes - num_leaves) * internal, pass_)


def _with_backward(forward: int, pass_: str) -> int:
    if pass_ not in PASSES:
        raise RnnbenchError(f"unknown pass {pass_!r}; valid: {', '.join(PASSES)}")
    return forward * (1 + BACKWARD_FACTOR) if pass_ == "forward+backward" else forward
