"""Stacked and bidirectional encoders on torch (docs/design.md §2.6) against the NumPy reference.

Tolerances: :data:`rnnbench.parity.TOLERANCE` (norm-wise relative, 1e-10 float64, 1e-4 float32);
1e-12 for a torch module with its own weights against NumPy with the converted ones. The planted
bugs (the backward direction reversing the padded width) must push the error past 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnbench import parity  # noqa: E402
from rnnbench.backends.numpy.backend import NumpyBackend  # noqa: E402
from rnnbench.backends.torch import convert, layered  # noqa: E402
from rnnbench.backends.torch.backend import TorchBackend  # noqa: E402
from rnnbench.gradcheck import relative_error  # noqa: E402
from rnnbench.layers import init_layered_params  # noqa: E402


def _worst(backend, label="lstm-L2-bi", dtype="float64"):
    reference = parity.evaluate(NumpyBackend(), parity.make_case(label), "float64")
    return max(d.max_rel for d in parity.compare(reference, parity.evaluate(backend, parity.make_case(label), dtype)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("label", parity.LAYERED_CASE_LABELS)
@pytest.mark.parametrize("impl", ["native", "loop"])
def test_layered_agrees_with_numpy(impl, label, dtype):
    assert _worst(TorchBackend(impl), label, dtype) <= parity.TOLERANCE[dtype]


def test_planted_bug_loop_reversing_the_padded_width_is_caught(monkeypatch):
    reference_index = layered.reverse_index
    assert _worst(TorchBackend("loop")) <= parity.TOLERANCE["float64"]
    monkeypatch.setattr(
        layered,
        "reverse_index",
        lambda lengths, steps: np.broadcast_to(np.arange(steps)[::-1], (len(lengths), steps)).copy(),
    )
    assert _worst(TorchBackend("loop")) > 1e-2
    assert reference_index is not layered.reverse_index


def test_planted_bug_native_without_packing_is_caught(monkeypatch):
    """nn.LSTM on the padded batch (no packed sequence): its backward direction starts on padding."""
    monkeypatch.setattr(layered, "packing_needed", lambda lengths, steps: False)
    assert _worst(TorchBackend("native")) > 1e-2


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_layered_converters_round_trip_and_match_a_torch_module(cell):
    torch.manual_seed(0)
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    module = kind(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    weights = {k: v.detach().numpy() for k, v in module.named_parameters()}
    params = convert.from_torch_layered_weights(cell, weights, 2, True)
    assert set(params) == set(init_layered_params(cell, 3, 4, 2, True))
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    y_torch, _ = module(torch.from_numpy(x))
    y_numpy, _ = NumpyBackend().sequence_forward(cell, params, x, num_layers=2, bidirectional=True)
    assert relative_error(y_torch.detach().numpy(), y_numpy) < 1e-12
    back = convert.to_torch_layered_weights(cell, params, 2, True)
    assert set(back) == set(weights)
    if cell == "gru":  # rnn/lstm fold the two biases into one, so only the GRU comes back entry for entry
        assert all(np.array_equal(back[k], weights[k]) for k in weights)


def test_compiled_layered_agrees_with_numpy():
    from rnnbench.backends.torch.sequence import compile_errors

    try:
        worst = _worst(TorchBackend("compiled"), "gru-L2-bi", "float64")
    except compile_errors() as exc:  # pragma: no cover - a machine without a compiler
        pytest.skip(f"torch.compile unavailable: {exc}")
    assert worst <= parity.TOLERANCE["float64"]
