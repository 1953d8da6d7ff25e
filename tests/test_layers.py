"""Stacked and bidirectional encoders (rnnbench.layers, docs/design.md §2.6): the layout, the NumPy
reference against an independent per-sequence construction and finite differences, and a planted
bug (the backward direction reversing the padded width instead of each sequence's length) caught.

Tolerances: float64 throughout; 1e-12 against the per-sequence construction (the same single-layer
arithmetic, only batched differently), 1e-6 against finite differences (gradcheck's bound).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnbench import layers, parity
from rnnbench.backend import state_keys
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import relative_error
from rnnbench.model import ModelSpec, init_model_params, model_param_shapes
from rnnbench.plugins import get_backend

CELLS = ("rnn", "lstm", "gru")


def test_layout_names_and_shapes():
    shapes = layers.layered_param_shapes("lstm", 5, 3, num_layers=2, bidirectional=True)
    assert list(shapes)[:3] == ["l0.fw.W_x", "l0.fw.W_h", "l0.fw.b"]
    assert shapes["l0.bw.W_x"] == (5, 12) and shapes["l1.fw.W_x"] == (6, 12) and shapes["l1.bw.W_h"] == (3, 12)
    assert len(shapes) == 12
    # one layer, forward only: the flat names, exactly as before
    assert layers.layered_param_shapes("gru", 5, 3) == {"W_x": (5, 9), "W_h": (3, 9), "b_x": (9,), "b_h": (9,)}
    spec = ModelSpec(cell="gru", hidden_size=3, num_outputs=2, vocab_size=7, embed_size=4, num_layers=3)
    assert "encoder.l2.fw.W_x" in model_param_shapes(spec) and "encoder.l0.bw.W_x" not in model_param_shapes(spec)


def test_init_keeps_the_first_unit_and_seeds_the_others_apart():
    from rnnbench.params import init_params

    params = layers.init_layered_params("lstm", 5, 4, 2, True, seed=3, dtype="float64")
    first = init_params("lstm", 5, 4, seed=3, dtype="float64")
    assert all(np.array_equal(params[f"l0.fw.{k}"], v) for k, v in first.items())
    assert not np.array_equal(params["l0.fw.W_x"], params["l0.bw.W_x"])
    assert np.all(params["l1.bw.b"][4:8] == 1.0)  # forget-gate bias of every unit


def test_reverse_index_reverses_within_each_length():
    index = layers.reverse_index(np.array([4, 2, 0]), 4)
    assert index.tolist() == [[3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 2, 3]]


def test_bad_layering_is_one_line():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RnnbenchError, match="num_layers must be an integer >= 1"):
            layers.check_layering(bad, False)
    with pytest.raises(RnnbenchError, match="bidirectional must be True or False"):
        layers.check_layering(1, "yes")
    backend = get_backend("numpy")
    case = parity.sequence_case("lstm")
    with pytest.raises(RnnbenchError, match=r"parameters named l<i>\.<fw\|bw>\.<name>"):
        backend.sequence_forward("lstm", case.params, case.inputs["x"], num_layers=2)
    layered = parity.sequence_case("lstm", num_layers=2, bidirectional=True)
    with pytest.raises(RnnbenchError, match="missing"):
        backend.sequence_forward("lstm", layered.params, layered.inputs["x"], num_layers=3, bidirectional=True)
    with pytest.raises(RnnbenchError, match="initial state for a layered lstm needs key 'l1.bw.c'"):
        state = {k: v for k, v in layered.inputs["state"].items() if k != "l1.bw.c"}
        backend.sequence_forward(
            "lstm",
            layered.params,
            layered.inputs["x"],
            layered.inputs["lengths"],
            state,
            num_layers=2,
            bidirectional=True,
        )


def per_sequence(backend, cell, params, x, lengths, state, num_layers, bidirectional):
    """The layered encoder built one sequence at a time from the single-layer contract: row b is cut
    to its own length L, and the backward direction runs on that cut, reversed (``[::-1]``)."""
    B, T, _ = x.shape
    H = params["l0.fw.W_h"].shape[0]
    y = np.zeros((B, T, layers.output_size(H, bidirectional)))
    final = {}
    for b, L in enumerate(lengths):
        inputs = x[b : b + 1, :L]
        for layer in range(num_layers):
            outs = []
            for direction in layers.directions(bidirectional):
                prefix = f"l{layer}.{direction}."
                unit_x = inputs if direction == "fw" else inputs[:, ::-1]
                s = {k: state[prefix + k][b : b + 1] for k in state_keys(cell)}
                out, fin = backend.sequence_forward(cell, layers.unit_params(params, prefix), unit_x, None, s)
                outs.append(out if direction == "fw" else out[:, ::-1])
                for k, v in fin.items():
                    final.setdefault(prefix + k, np.zeros((B, H)))[b] = v[0]
            inputs = np.concatenate(outs, axis=2)
        y[b, :L] = inputs[0]
    return y, final


def _against_per_sequence(cell, bidirectional=True, num_layers=2):
    backend = get_backend("numpy")
    case = parity.sequence_case(cell, num_layers=num_layers, bidirectional=bidirectional)
    x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
    y, final = backend.sequence_forward(cell, case.params, x, lengths, state, **case.layering)
    want_y, want_final = per_sequence(backend, cell, case.params, x, lengths, state, num_layers, bidirectional)
    errors = {"y": relative_error(y, want_y)}
    errors.update({k: relative_error(final[k], want_final[k]) for k in want_final})
    return errors


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_layered_equals_the_per_sequence_construction(cell):
    """The backward direction reads each sequence's own last step first; its final state is after step 1."""
    errors = _against_per_sequence(cell)
    assert max(errors.values()) < 1e-12, errors


def test_planted_bug_reversing_the_padded_width_is_caught(monkeypatch):
    """Reversing ``[::-1]`` over the padded width (the bug a backend could make) must fail the check above
    and parity: the ragged case (lengths 7, 3, 0, 5) puts padding first in the backward direction."""
    reference = parity.evaluate(get_backend("numpy"), parity.make_case("lstm-L2-bi"), "float64")
    monkeypatch.setattr(
        layers, "reverse_index", lambda lengths, steps: np.broadcast_to(np.arange(steps)[::-1], (len(lengths), steps))
    )
    errors = _against_per_sequence("lstm")
    assert max(errors.values()) > 1e-2, errors
    buggy = parity.evaluate(get_backend("numpy"), parity.make_case("lstm-L2-bi"), "float64")
    worst = max(d.max_rel for d in parity.compare(reference, buggy))
    assert worst > parity.TOLERANCE["float32"] * 100


@pytest.mark.parametrize("label", parity.LAYERED_CASE_LABELS)
def test_numpy_layered_gradients_match_finite_differences(label):
    """Every unit's parameters, the input and every unit's initial state (check.reference_rows)."""
    from rnnbench.check import FINITE_DIFFERENCE_TOLERANCE, reference_rows

    (row,) = reference_rows([label])
    assert row.passed and row.max_rel <= FINITE_DIFFERENCE_TOLERANCE, row


def test_one_layer_unidirectional_is_the_flat_call():
    """``num_layers=1, bidirectional=False`` is the single-layer call, names and numbers unchanged."""
    backend = get_backend("numpy")
    case = parity.make_case("gru")
    y1, f1 = backend.sequence_forward(
        "gru", case.params, case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
    )
    y2, f2 = backend.sequence_forward(
        "gru",
        case.params,
        case.inputs["x"],
        case.inputs["lengths"],
        case.inputs["state"],
        num_layers=1,
        bidirectional=False,
    )
    assert np.array_equal(y1, y2) and np.array_equal(f1["h"], f2["h"])


def test_one_layer_bidirectional_forward_half_is_the_single_layer():
    backend = get_backend("numpy")
    case = parity.sequence_case("lstm", num_layers=1, bidirectional=True)
    x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
    y, final = backend.sequence_forward("lstm", case.params, x, lengths, state, **case.layering)
    fw = layers.unit_params(case.params, "l0.fw.")
    y1, f1 = backend.sequence_forward("lstm", fw, x, lengths, {k: state["l0.fw." + k] for k in ("h", "c")})
    assert np.array_equal(y[:, :, :6], y1) and np.array_equal(final["l0.fw.h"], f1["h"])


# -- models ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["mean", "last", "max"])
def test_layered_model_gradients_match_finite_differences(pooling):
    from rnnbench.backends.numpy.model import NumpyModel
    from rnnbench.gradcheck import numeric_grads

    spec = ModelSpec(
        cell="lstm",
        hidden_size=3,
        num_outputs=3,
        vocab_size=6,
        embed_size=3,
        pooling=pooling,
        l2=0.05,
        dtype="float64",
        num_layers=2,
        bidirectional=True,
    )
    rng = np.random.default_rng(2)
    params = init_model_params(spec, seed=2)
    params["embedding"] = rng.normal(0.0, 0.8, size=params["embedding"].shape)
    ids = rng.integers(0, 5, size=(4, 6))
    lengths = np.array([6, 4, 1, 5])
    targets = rng.integers(0, 3, size=4)
    _, analytic = NumpyModel(spec, params).loss_and_grads(ids, lengths, targets)
    numeric = numeric_grads(
        lambda p: NumpyModel(spec, p).loss_and_grads(ids, lengths, targets)[0], {k: v.copy() for k, v in params.items()}
    )
    errors = {k: relative_error(analytic[k], numeric[k]) for k in params}
    assert max(errors.values()) < 1e-6, errors


def test_last_pooling_reads_forward_last_and_backward_first():
    from rnnbench.backends.numpy.model import _pool_forward

    y = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    pooled, _ = _pool_forward("last", y, np.array([3, 1]), backward_half=2)
    assert pooled.tolist() == [[8, 9, 2, 3], [16, 17, 18, 19]]


def test_compose_runs_units_in_order_and_gathers_prefixed_finals():
    """The one composition every backend drives: unit order, what each unit reads, the prefixed finals."""

    class Ops(layers.LayerOps):
        def reverse(self, a):
            return ("rev", a)

        def concat(self, parts):
            return ("cat", *parts)

    calls = []

    def run_unit(prefix, unit_x):
        calls.append((prefix, unit_x))
        return f"y:{prefix}", {"h": f"h:{prefix}"}

    y, final = layers.compose(Ops(), run_unit, "x", 2, True)
    assert calls == [
        ("l0.fw.", "x"),
        ("l0.bw.", ("rev", "x")),
        ("l1.fw.", ("cat", "y:l0.fw.", ("rev", "y:l0.bw."))),
        ("l1.bw.", ("rev", ("cat", "y:l0.fw.", ("rev", "y:l0.bw.")))),
    ]
    assert y == ("cat", "y:l1.fw.", ("rev", "y:l1.bw."))
    assert final == {f"l{i}.{d}.h": f"h:l{i}.{d}." for i in (0, 1) for d in ("fw", "bw")}
    assert layers.compose(None, run_unit, "x", 1, False) == ("y:l0.fw.", {"l0.fw.h": "h:l0.fw."})
    assert layers.top_forward_prefix(3) == "l2.fw."


def test_no_backend_writes_its_own_layer_loop():
    """Stacking and reversal are composed once (rnnbench.layers.compose): a backend supplies LayerOps and a
    unit call, never its own loop over layers and directions (a copy would drift from the contract)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("backends/*/*.py"), *root.glob("plugins/*/src/*/*.py")]
    assert len(sources) > 20
    loops = [str(p.relative_to(root)) for p in sources if "for direction in" in p.read_text(encoding="utf-8")]
    assert loops == [], f"a layer/direction loop outside rnnbench.layers.compose: {loops}"
