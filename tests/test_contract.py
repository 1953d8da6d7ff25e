"""The contract suite: the same checks over every backend, builtin or third-party.

Each backend must agree with the float64 NumPy reference (tolerances in
:data:`rnnbench.parity.TOLERANCE`: 1e-10 in float64, 1e-4 in float32, norm-wise
relative), return plain NumPy arrays of the requested dtype, and honour the
masking rules. A backend whose framework is missing is skipped with the reason
(a failure where RNNBENCH_REQUIRE_BACKENDS names it).
"""
from __future__ import annotations

import numpy as np
import pytest

from plugin_fixtures import FakeEntryPoint, registry_with
from rnnbench import parity, plugins
from rnnbench.backend import state_keys
from rnnbench.errors import RnnbenchError
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params

BACKENDS = ["numpy", "torch", "tensorflow", "fakenp"]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    name = request.param
    if name == "fakenp":
        entry = registry_with(monkeypatch, FakeEntryPoint("fake", "fake_backend_plugin")).backend(name)
    else:
        entry = plugins.get_registry().backend(name)
    if not entry.available:
        pytest.skip(f"backend {name}: {entry.unavailable_reason()}")
    return entry.load()()


@pytest.fixture(scope="module")
def references():
    numpy_backend = plugins.get_backend("numpy")
    return {label: parity.evaluate(numpy_backend, parity.make_case(label), "float64")
            for label in parity.CASE_LABELS}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("label", parity.CASE_LABELS)
def test_agrees_with_reference(backend, references, label, dtype):
    result = parity.evaluate(backend, parity.make_case(label), dtype)
    for diff in parity.compare(references[label], result):
        assert diff.max_rel <= parity.TOLERANCE[dtype], f"{backend.name} {label} {dtype}: {diff}"
    for name, value in result.items():
        assert type(value) is np.ndarray, f"{name} is {type(value)}, not a NumPy array"
        assert value.dtype == np.dtype(dtype), f"{name} has dtype {value.dtype}"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_masking_rules(backend, cell):
    case = parity.sequence_case(cell)
    x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
    y, final = backend.sequence_forward(cell, case.params, x, lengths, state)
    for b, length in enumerate(lengths):
        assert not y[b, length:].any(), f"outputs past length {length} are not zero"
        alone_y, alone = backend.sequence_forward(cell, case.params, x[b:b + 1, :max(length, 1)],
                                                  [length], {k: v[b:b + 1] for k, v in state.items()})
        for key in state_keys(cell):
            np.testing.assert_allclose(final[key][b], alone[key][0], rtol=1e-12, atol=1e-12)
    zero = int(np.flatnonzero(lengths == 0)[0])
    for key in state_keys(cell):
        np.testing.assert_array_equal(final[key][zero], state[key][zero])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_names(backend, cell):
    case = parity.sequence_case(cell)
    x, lengths = case.inputs["x"], case.inputs["lengths"]
    y, _ = backend.sequence_forward(cell, case.params, x, lengths)
    grads = backend.sequence_backward(cell, case.params, x, lengths, np.ones_like(y), None)
    assert set(grads) == set(case.params) | {"x"}
    with_state = backend.sequence_backward(cell, case.params, x, lengths, np.ones_like(y), None,
                                           case.inputs["state"])
    assert set(with_state) == set(case.params) | {"x"} | {f"{k}0" for k in state_keys(cell)}


def test_bad_input_is_a_clear_error(backend):
    case = parity.sequence_case("lstm")
    with pytest.raises(RnnbenchError, match=r"x must be \[batch, steps, features\]"):
        backend.sequence_forward("lstm", case.params, case.inputs["x"][0])
    with pytest.raises(RnnbenchError, match="lengths must lie in"):
        backend.sequence_forward("lstm", case.params, case.inputs["x"], [99, 1, 1, 1])
    with pytest.raises(RnnbenchError, match="unknown sequence cell"):
        backend.sequence_forward("lstmx", case.params, case.inputs["x"])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_trains_and_predicts(backend, cell):
    spec = ModelSpec(cell=cell, hidden_size=4, num_outputs=3, vocab_size=10, embed_size=3,
                     optimizer=OptimizerSpec("adam", lr=0.05), dtype="float64")
    params = init_model_params(spec, seed=0)
    model = backend.build_model(spec, params)
    tokens = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    lengths = np.array([3, 2])
    targets = np.array([0, 2])
    losses = [model.train_step(tokens, lengths, targets) for _ in range(20)]
    assert all(isinstance(loss, float) and np.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0]
    logits = model.predict(tokens, lengths)
    assert type(logits) is np.ndarray and logits.shape == (2, 3)
    assert set(model.get_params()) == set(params)


def test_bad_cotangents_are_clear_errors(backend):
    case = parity.sequence_case("gru")
    x, lengths = case.inputs["x"], case.inputs["lengths"]
    y, _ = backend.sequence_forward("gru", case.params, x, lengths)
    with pytest.raises(RnnbenchError, match=r"dfinal has key 'c', but gru has h"):
        backend.sequence_backward("gru", case.params, x, lengths, y, {"c": y[:, 0]})
    with pytest.raises(RnnbenchError, match=r"upstream\['dy'\] must have shape"):
        backend.sequence_backward("gru", case.params, x, lengths, y[:, :2], None)
    tree = parity.tree_case("recursive")
    with pytest.raises(RnnbenchError, match=r"dstates\['h'\] must have shape"):
        backend.tree_backward("recursive", tree.params, tree.inputs["x_leaves"], tree.inputs["trees"],
                              {"h": np.ones((1, 6))})
