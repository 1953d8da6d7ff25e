"""Stacked and bidirectional encoders on TensorFlow (docs/design.md §2.6) against the NumPy reference.

Tolerances: :data:`rnnbench.parity.TOLERANCE` (norm-wise relative, 1e-10 float64, 1e-4 float32);
1e-12 for Keras layers with their own weights against NumPy with the converted ones. The planted
bug (the backward direction reversing the padded width) must push the error past 1e-2.
(The native impl runs in the contract kit, tests/test_contract.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from rnnbench import parity  # noqa: E402
from rnnbench.backends.numpy.backend import NumpyBackend  # noqa: E402
from rnnbench.backends.tensorflow import convert, layered  # noqa: E402
from rnnbench.backends.tensorflow.backend import TensorflowBackend  # noqa: E402
from rnnbench.gradcheck import relative_error  # noqa: E402


def _worst(backend, label="lstm-L2-bi", dtype="float64"):
    reference = parity.evaluate(NumpyBackend(), parity.make_case(label), "float64")
    return max(d.max_rel for d in parity.compare(reference, parity.evaluate(backend, parity.make_case(label), dtype)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("impl", ["loop", "xla"])
def test_layered_agrees_with_numpy(impl, dtype):
    assert _worst(TensorflowBackend(impl), "lstm-L2-bi", dtype) <= parity.TOLERANCE[dtype]


def test_planted_bug_reversing_the_padded_width_is_caught(monkeypatch):
    monkeypatch.setattr(layered, "reverse_within", lambda a, lengths: tf.reverse(a, axis=[1]))
    assert _worst(TensorflowBackend("loop")) > 1e-2


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_layered_converters_match_keras_layers_both_ways(cell):
    """Keras layers with their own weights -> canonical units -> NumPy gives Keras's outputs; and back."""
    import keras

    layers = layered.keras_layers(cell, "tanh", 3, 4, "float64", 2, True)
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.set_weights([rng.normal(scale=0.4, size=w.shape) for w in layer.get_weights()])
    x = rng.normal(size=(2, 5, 3))
    out = x
    for layer in layers:
        out = layer(out)[0].numpy()
    got_cell, activation, params = convert.from_keras_layered(layers)
    assert (got_cell, activation) == (cell, "tanh")
    y, _ = NumpyBackend().sequence_forward(cell, params, x, num_layers=2, bidirectional=True)
    assert relative_error(out, y) < 1e-12
    back = convert.to_keras_layered_weights(cell, params, 2, True)
    for layer, weights in zip(layers, back):
        assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), weights))
    assert keras  # imported for the layers above
