"""The PyTorch backend against the NumPy reference: every impl, cell and dtype, trees, converters, models.

Tolerances are norm-wise relative errors (:func:`rnnbench.gradcheck.relative_error`)
against the float64 NumPy reference: 1e-10 for float64 and 1e-4 for float32
(:data:`rnnbench.parity.TOLERANCE`), 1e-8 for 50-step float64 loss curves.
The ``compiled`` impl runs one small case only (torch.compile takes tens of seconds).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnbench import parity  # noqa: E402
from rnnbench.backend import state_keys  # noqa: E402
from rnnbench.backends.numpy.backend import NumpyBackend  # noqa: E402
from rnnbench.backends.torch import convert, sequence  # noqa: E402
from rnnbench.backends.torch.backend import TorchBackend  # noqa: E402
from rnnbench.errors import RnnbenchError  # noqa: E402
from rnnbench.gradcheck import contract, numeric_grads, relative_error  # noqa: E402
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params  # noqa: E402
from rnnbench.params import init_params  # noqa: E402

SEQUENCE_LABELS = ("rnn", "rnn-relu", "lstm", "gru")
CURVE_TOL = 1e-8


@pytest.fixture(scope="module")
def references():
    """float64 NumPy results of every parity case (ragged lengths with a 0, an initial state)."""
    numpy_backend = NumpyBackend()
    return {label: parity.evaluate(numpy_backend, parity.make_case(label), "float64") for label in parity.CASE_LABELS}


def assert_agrees(reference, result, dtype, what):
    assert set(result) == set(reference), f"{what}: arrays {sorted(result)} vs {sorted(reference)}"
    for name, value in result.items():
        assert type(value) is np.ndarray and value.dtype == np.dtype(dtype), f"{what}: {name} is {type(value)}"
        error = relative_error(value, reference[name])
        assert error <= parity.TOLERANCE[dtype], f"{what}: {name} relative error {error:.2e}"


# ---------------------------------------------------------------- sequences


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("label", SEQUENCE_LABELS)
@pytest.mark.parametrize("impl", ["native", "loop"])
def test_sequence_agrees_with_numpy(references, impl, label, dtype):
    result = parity.evaluate(TorchBackend(impl), parity.make_case(label), dtype)
    assert_agrees(references[label], result, dtype, f"{impl} {label} {dtype}")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method:DeprecationWarning")  # inside torch's inductor
def test_compiled_agrees_with_numpy(references):
    """One small case: ragged lengths with a zero, an initial state, every gradient."""
    result = parity.evaluate(TorchBackend("compiled"), parity.make_case("lstm"), "float64")
    assert_agrees(references["lstm"], result, "float64", "compiled lstm float64")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_full_lengths_take_the_unpacked_path(cell):
    """lengths=None runs the fused layer without packing; the results must not change."""
    case = parity.sequence_case(cell)
    case.inputs["lengths"] = np.full(len(case.inputs["lengths"]), case.inputs["x"].shape[1])
    reference = parity.evaluate(NumpyBackend(), case, "float64")
    assert_agrees(reference, parity.evaluate(TorchBackend("native"), case, "float64"), "float64", cell)


@pytest.mark.parametrize("impl", ["native", "loop"])
def test_zero_steps_give_the_initial_state(impl):
    backend = TorchBackend(impl)
    params = init_params("lstm", 3, 4, dtype="float64")
    state = {"h": np.full((2, 4), 0.5), "c": np.full((2, 4), -0.5)}
    x = np.zeros((2, 0, 3))
    y, final = backend.sequence_forward("lstm", params, x, None, state)
    assert y.shape == (2, 0, 4)
    np.testing.assert_array_equal(final["h"], state["h"])
    np.testing.assert_array_equal(final["c"], state["c"])
    dh = np.arange(8.0).reshape(2, 4)
    grads = backend.sequence_backward("lstm", params, x, None, np.zeros((2, 0, 4)), {"h": dh}, state)
    np.testing.assert_array_equal(grads["h0"], dh)
    assert not grads["c0"].any() and not grads["W_h"].any()


def test_gradients_match_finite_differences():
    """Independent of the NumPy reference: a small ragged GRU with an initial state, float64."""
    backend = TorchBackend("loop")
    rng = np.random.default_rng(3)
    params = init_params("gru", 2, 3, seed=3, dtype="float64")
    arrays = {**params, "x": rng.normal(size=(3, 4, 2)), "h0": rng.normal(size=(3, 3))}
    lengths = np.array([4, 0, 2])
    dy, dh = rng.normal(size=(3, 4, 3)), rng.normal(size=(3, 3))

    def scalar(a):
        p = {k: a[k] for k in params}
        y, final = backend.sequence_forward("gru", p, a["x"], lengths, {"h": a["h0"]})
        return contract({"y": y, "h": final["h"]}, {"y": dy, "h": dh})

    numeric = numeric_grads(scalar, arrays)
    analytic = backend.sequence_backward("gru", params, arrays["x"], lengths, dy, {"h": dh}, {"h": arrays["h0"]})
    for name in arrays:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name


# ---------------------------------------------------------------- trees


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", ["recursive", "treelstm"])
def test_tree_agrees_with_numpy(references, cell, dtype):
    result = parity.evaluate(TorchBackend(), parity.make_case(cell), dtype)
    assert_agrees(references[cell], result, dtype, f"{cell} {dtype}")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("no_levels", [False, True], ids=["levels", "leaves-only"])
@pytest.mark.parametrize("cell", ["recursive", "treelstm"])
def test_tree_training_path_gradient_equals_numpy(cell, no_levels):
    """The path the tree model trains and ``bench`` times (:func:`tree_states`, whose levels run under a
    hand-written backward) against NumPy's backward, with upstream gradients on ``h`` and ``c``."""
    from rnnbench.backends.numpy import tree as numpy_tree
    from rnnbench.backends.torch.tree import tree_states
    from rnnbench.trees import TreeBatch, parse_tree

    case = parity.make_case(cell)
    trees = TreeBatch.from_trees([parse_tree("(1 a)"), parse_tree("(2 b)")]) if no_levels else case.inputs["trees"]
    rng = np.random.default_rng(3)
    H = case.params["W"].shape[0] // 2
    x = rng.normal(size=(trees.num_leaves, case.inputs["x_leaves"].shape[1]))
    up = {k: rng.normal(size=(trees.num_nodes, H)) for k in state_keys(cell)}
    params = {k: torch.tensor(v, requires_grad=True) for k, v in case.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    states = tree_states(cell, params, xt, trees)
    keys = list(up)
    grads = torch.autograd.grad([states[k] for k in keys], [*params.values(), xt], [torch.tensor(up[k]) for k in keys])
    grads = dict(zip([*params, "x"], grads))
    expected_states, cache = numpy_tree.forward(cell, case.params, x, trees)
    expected = numpy_tree.backward(cache, up)
    for k in keys:
        np.testing.assert_allclose(states[k].detach().numpy(), expected_states[k], rtol=1e-12, atol=1e-12)
    assert set(grads) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name].numpy(), value, rtol=1e-10, atol=1e-10, err_msg=name)


# ---------------------------------------------------------------- converters


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_converter_round_trip(cell):
    params = init_params(cell, 3, 5, seed=2, dtype="float64")
    params = {k: v + 0.1 * np.arange(v.size).reshape(v.shape) for k, v in params.items()}
    weights = convert.to_torch_rnn_weights(cell, params)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    assert weights["weight_ih_l0"].shape == (gates * 5, 3) and weights["weight_hh_l0"].shape == (gates * 5, 5)
    back = convert.from_torch_rnn_weights(cell, weights)
    assert set(back) == set(params)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_converted_torch_module_matches_numpy(cell):
    """A torch layer with its own weights (both biases non-zero) == NumPy with the converted weights."""
    torch.manual_seed(0)
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](3, 5, batch_first=True).double()
    weights = {k: v.detach().numpy() for k, v in layer.named_parameters()}
    params = convert.from_torch_rnn_weights(cell, weights)
    x = np.random.default_rng(1).normal(size=(2, 4, 3))
    y_torch, _ = layer(torch.from_numpy(x))
    y_numpy, _ = NumpyBackend().sequence_forward(cell, params, x)
    assert relative_error(y_torch.detach().numpy(), y_numpy) < 1e-12


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_mapping_from_torch_weights(cell):
    """Gradients w.r.t. torch-layout leaves, mapped back, equal the backend's canonical gradients."""
    case = parity.sequence_case(cell)
    x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
    dy, dfinal = case.cotangents["y"], {k: case.cotangents[f"final.{k}"] for k in state_keys(cell)}
    weights = {
        k: torch.from_numpy(v).requires_grad_() for k, v in convert.to_torch_rnn_weights(cell, case.params).items()
    }
    params = convert.from_torch_rnn_weights(cell, weights)
    y, final = sequence.run_sequence(
        "loop",
        cell,
        params,
        torch.from_numpy(x),
        torch.from_numpy(lengths),
        {k: torch.from_numpy(v) for k, v in state.items()},
        "tanh",
    )
    outputs = [y] + [final[k] for k in dfinal]
    cotangents = [torch.from_numpy(dy)] + [torch.from_numpy(v) for v in dfinal.values()]
    native_grads = dict(zip(weights, torch.autograd.grad(outputs, list(weights.values()), cotangents)))
    mapped = convert.canonical_grads_from_torch(cell, native_grads)
    expected = TorchBackend("loop").sequence_backward(cell, case.params, x, lengths, dy, dfinal, state)
    for name in case.params:
        assert relative_error(mapped[name].numpy(), expected[name]) < 1e-12, name


# ---------------------------------------------------------------- models

MODEL_CASES = [
    ("rnn", "tanh", "mean", "xent"),
    ("rnn", "relu", "max", "xent"),
    ("lstm", "tanh", "last", "xent"),
    ("gru", "tanh", "max", "mse"),
]


def _model_setup(cell, activation, pooling, loss):
    spec = ModelSpec(
        cell=cell,
        hidden_size=8,
        num_outputs=3,
        vocab_size=20,
        embed_size=5,
        activation=activation,
        pooling=pooling,
        loss=loss,
        optimizer=OptimizerSpec("adam", lr=0.01),
        clip_norm=0.5,
        l2=1e-3,
        dtype="float64",
    )
    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 20, size=(6, 9))
    lengths = np.array([9, 5, 1, 7, 3, 9])
    targets = rng.integers(0, 3, size=6) if loss == "xent" else rng.normal(size=(6, 3))
    return spec, init_model_params(spec, seed=1), tokens, lengths, targets


@pytest.mark.parametrize("impl", ["native", "loop"])
@pytest.mark.parametrize("cell,activation,pooling,loss", MODEL_CASES)
def test_model_follows_numpy_loss_curve(impl, cell, activation, pooling, loss):
    """50 adam steps with clipping and L2: same losses and final weights as NumpyModel."""
    spec, params, tokens, lengths, targets = _model_setup(cell, activation, pooling, loss)
    ours, reference = TorchBackend(impl).build_model(spec, params), NumpyBackend().build_model(spec, params)
    ours_curve = np.array([ours.train_step(tokens, lengths, targets) for _ in range(50)])
    reference_curve = np.array([reference.train_step(tokens, lengths, targets) for _ in range(50)])
    assert reference_curve[-1] < 0.5 * reference_curve[0], "the case must actually learn"
    assert np.max(np.abs(ours_curve - reference_curve) / np.abs(reference_curve)) <= CURVE_TOL
    final, expected = ours.get_params(), reference.get_params()
    assert set(final) == set(expected)
    for name in expected:
        assert relative_error(final[name], expected[name]) <= CURVE_TOL, name
    assert relative_error(ours.predict(tokens, lengths), reference.predict(tokens, lengths)) <= CURVE_TOL


@pytest.mark.parametrize("cell,activation,pooling,loss", MODEL_CASES[:2])
def test_model_loss_and_grads_match_numpy(cell, activation, pooling, loss):
    spec, params, tokens, lengths, targets = _model_setup(cell, activation, pooling, loss)
    ours_loss, ours = TorchBackend().build_model(spec, params).loss_and_grads(tokens, lengths, targets)
    ref_loss, ref = NumpyBackend().build_model(spec, params).loss_and_grads(tokens, lengths, targets)
    assert abs(ours_loss - ref_loss) <= 1e-12 * abs(ref_loss)
    assert set(ours) == set(ref)
    for name in ref:
        assert type(ours[name]) is np.ndarray
        assert relative_error(ours[name], ref[name]) <= 1e-10, name


def test_feature_model_follows_numpy_with_sgd():
    spec = ModelSpec(
        cell="gru",
        hidden_size=4,
        num_outputs=2,
        input_size=3,
        pooling="mean",
        loss="mse",
        optimizer=OptimizerSpec("sgd", lr=0.1),
        dtype="float64",
    )
    rng = np.random.default_rng(2)
    x, lengths, targets = rng.normal(size=(4, 5, 3)), np.array([5, 2, 1, 4]), rng.normal(size=(4, 2))
    params = init_model_params(spec, seed=0)
    ours, reference = TorchBackend().build_model(spec, params), NumpyBackend().build_model(spec, params)
    a = np.array([ours.train_step(x, lengths, targets) for _ in range(20)])
    b = np.array([reference.train_step(x, lengths, targets) for _ in range(20)])
    assert np.max(np.abs(a - b) / np.abs(b)) <= CURVE_TOL


def test_model_rejects_bad_batches():
    spec, params, tokens, lengths, targets = _model_setup("rnn", "tanh", "mean", "xent")
    model = TorchBackend().build_model(spec, params)
    with pytest.raises(RnnbenchError, match="model lengths must lie in"):
        model.train_step(tokens, np.zeros(6, dtype=np.int64), targets)
    with pytest.raises(RnnbenchError, match="token ids must lie in"):
        model.predict(tokens + 100, lengths)


# ---------------------------------------------------------------- construction and errors


def test_unknown_impl_lists_the_valid_ones():
    with pytest.raises(RnnbenchError, match="native, loop, compiled"):
        TorchBackend("fused")


def test_absent_cuda_device_is_a_one_line_error():
    if torch.cuda.is_available():
        device, pattern = f"cuda:{torch.cuda.device_count()}", "CUDA device"
    else:
        device, pattern = "cuda", r"torch\.cuda\.is_available\(\) is False"
    with pytest.raises(RnnbenchError, match=pattern) as info:
        TorchBackend(device=device)
    assert "\n" not in str(info.value)
    with pytest.raises(RnnbenchError, match="unknown torch device"):
        TorchBackend(device="tpu")


def test_compile_failure_is_reported_not_hidden(monkeypatch):
    def broken(key):
        def step(*args):
            raise torch._dynamo.exc.TorchDynamoException("no C++ compiler")

        return step

    monkeypatch.setattr(sequence, "compiled_step", broken)
    case = parity.sequence_case("rnn")
    with pytest.raises(RnnbenchError, match="torch.compile failed.*no C\\+\\+ compiler"):
        TorchBackend("compiled").sequence_forward("rnn", case.params, case.inputs["x"])


def test_info_records_threads_and_versions():
    threads = torch.get_num_threads()  # set to the current value: the setting is process-wide
    info = TorchBackend("loop", "cpu", threads).info()
    assert info["framework"] == "torch" and info["version"] == torch.__version__
    assert info["impl"] == "loop" and info["device"] == "cpu" and info["threads"] == threads
    with pytest.raises(RnnbenchError, match="threads must be a positive integer"):
        TorchBackend(threads=0)
