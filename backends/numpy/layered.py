"""Stacked and bidirectional encoders in NumPy: the timer of ``rnnbench bench`` (docs/design.md §2.6).

The reference itself is :func:`rnnbench.layers.forward`/:func:`~rnnbench.layers.backward` over the
hand-written single-layer passes of :mod:`.sequence`; this module times exactly that composition.
"""

from __future__ import annotations

from rnnbench import layers
from rnnbench.bench.inputs import sequence_cotangent

from . import sequence


def sequence_timer(cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False):
    x, lengths, dtype, H = layers.check_layered_inputs(
        cell, params, x, lengths, None, activation, num_layers, bidirectional
    )

    def run_forward():
        return layers.forward(sequence.forward, cell, params, x, lengths, None, activation, num_layers, bidirectional)

    if not backward:

        def run_forward_only():
            run_forward()

        return run_forward_only
    B, T, _ = x.shape
    dy = sequence_cotangent(B, T, layers.output_size(H, bidirectional), dtype)

    def run_forward_backward():
        _, _, tape = run_forward()
        layers.backward(sequence.backward, tape, dy, {}, H)

    return run_forward_backward
