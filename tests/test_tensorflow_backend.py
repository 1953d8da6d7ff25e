"""The TensorFlow backend against the NumPy reference: every cell, impl and dtype.

Sequence cells run on the shared parity cases (ragged lengths including 0, an
initial state) through ``native`` (Keras layers) and ``loop`` (tf.while_loop),
with ``xla`` on one case; outputs, final states and every gradient must agree
with float64 NumPy to 1e-10 (float64) or 1e-4 (float32), norm-wise. The Keras
weight converters are checked on real Keras layers (GRU block order and its
(2, 3H) bias), and the model's 50-step loss curves must follow NumpyModel's to
1e-8. Compiled functions are reused through module-scoped backends, so the
file stays well under a minute and a half on two cores.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from rnnbench import parity  # noqa: E402
from rnnbench.backend import state_keys  # noqa: E402
from rnnbench.backends.numpy.backend import NumpyBackend  # noqa: E402
from rnnbench.backends.numpy.model import NumpyModel  # noqa: E402
from rnnbench.backends.tensorflow import convert  # noqa: E402
from rnnbench.backends.tensorflow.backend import TensorflowBackend  # noqa: E402
from rnnbench.backends.tensorflow.sequence import keras_layer  # noqa: E402
from rnnbench.errors import RnnbenchError  # noqa: E402
from rnnbench.gradcheck import contract, numeric_grads, relative_error  # noqa: E402
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params  # noqa: E402
from rnnbench.params import init_params  # noqa: E402

from seqcheck import make_problem, relu_margin  # noqa: E402

SEQUENCE_LABELS = ("rnn", "rnn-relu", "lstm", "gru")
CURVE_TOL = 1e-8  # float64 loss curves over 50 steps
FD_TOL = 1e-6  # float64 central differences, eps 1e-6


@pytest.fixture(scope="module")
def backends():
    """One backend per impl for the whole module, so traced functions are reused."""
    return {}


def _backend(backends, impl):
    if impl not in backends:
        backends[impl] = TensorflowBackend(impl)
    return backends[impl]


@pytest.fixture(scope="module")
def references():
    numpy_backend = NumpyBackend()
    return {label: parity.evaluate(numpy_backend, parity.make_case(label), "float64") for label in parity.CASE_LABELS}


def _assert_agrees(reference, result, dtype, context):
    for diff in parity.compare(reference, result):
        assert diff.max_rel <= parity.TOLERANCE[dtype], f"{context}: {diff}"
    for name, value in result.items():
        assert type(value) is np.ndarray, f"{context}: {name} is {type(value)}, not a NumPy array"
        assert value.dtype == np.dtype(dtype), f"{context}: {name} has dtype {value.dtype}"


# -- sequences -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("label", SEQUENCE_LABELS)
@pytest.mark.parametrize("impl", ["native", "loop"])
def test_sequence_agrees_with_numpy(backends, references, impl, label, dtype):
    case = parity.make_case(label)
    result = parity.evaluate(_backend(backends, impl), case, dtype)
    _assert_agrees(references[label], result, dtype, f"{impl} {label} {dtype}")
    # masking, exactly: zeros past each length, the initial state kept at length 0
    lengths, state = case.inputs["lengths"], case.inputs["state"]
    for b, length in enumerate(lengths):
        assert not result["y"][b, length:].any()
    empty = int(np.flatnonzero(lengths == 0)[0])
    for key in state_keys(case.cell):
        np.testing.assert_array_equal(result[f"final.{key}"][empty], state[key][empty].astype(dtype))


def test_xla_agrees_with_numpy(backends, references):
    try:
        backend = _backend(backends, "xla")
    except RnnbenchError as exc:  # an XLA-less build says why; nothing else to check then
        pytest.skip(str(exc))
    result = parity.evaluate(backend, parity.make_case("lstm"), "float64")
    _assert_agrees(references["lstm"], result, "float64", "xla lstm float64")


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")])
def test_native_backward_matches_central_differences(backends, cell, activation):
    """Independent of the NumPy backward: the tape's VJP against central differences of the TF forward."""
    backend = _backend(backends, "native")
    problem = make_problem(
        cell, batch=3, steps=4, input_size=2, hidden_size=2, lengths=[4, 0, 2], seed=5, activation=activation
    )
    if activation == "relu":  # central differences must not straddle the kink
        assert relu_margin(problem) > 1e-4

    def split(arrays):
        params = {k: arrays[k] for k in problem.params}
        return params, arrays["x"], {k: arrays[f"{k}0"] for k in state_keys(cell)}

    def scalar(arrays):
        params, x, state = split(arrays)
        y, final = backend.sequence_forward(cell, params, x, problem.lengths, state, activation)
        return contract({"y": y, **final}, problem.cotangents)

    params, x, state = split(problem.inputs)
    dfinal = {k: problem.cotangents[k] for k in state_keys(cell)}
    analytic = backend.sequence_backward(
        cell, params, x, problem.lengths, problem.cotangents["y"], dfinal, state, activation
    )
    numeric = numeric_grads(scalar, {k: v.copy() for k, v in problem.inputs.items()})
    assert set(analytic) == set(numeric)
    errors = {k: relative_error(analytic[k], numeric[k]) for k in numeric}
    assert max(errors.values()) < FD_TOL, errors


def test_missing_upstream_means_zero(backends):
    case = parity.make_case("lstm")
    backend = _backend(backends, "native")
    x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
    y, _ = backend.sequence_forward("lstm", case.params, x, lengths, state)
    only_y = backend.sequence_backward("lstm", case.params, x, lengths, case.cotangents["y"], None, state)
    explicit = backend.sequence_backward(
        "lstm", case.params, x, lengths, case.cotangents["y"], {"h": np.zeros_like(state["h"]), "c": None}, state
    )
    for name in only_y:
        np.testing.assert_array_equal(only_y[name], explicit[name])


# -- trees ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("label", ["recursive", "treelstm"])
def test_trees_agree_with_numpy(backends, references, label, dtype):
    result = parity.evaluate(_backend(backends, "native"), parity.make_case(label), dtype)
    _assert_agrees(references[label], result, dtype, f"{label} {dtype}")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("no_levels", [False, True], ids=["levels", "leaves-only"])
@pytest.mark.parametrize("cell", ["recursive", "treelstm"])
def test_tree_training_path_gradient_equals_numpy(backends, cell, no_levels):
    """The traced path the tree model trains and ``bench`` times (a while_loop over levels under a
    hand-written gradient) against NumPy's backward, with upstream gradients on ``h`` and ``c``."""
    from rnnbench.backends.numpy import tree as numpy_tree
    from rnnbench.backends.tensorflow.bench import _tree_functions
    from rnnbench.backends.tensorflow.tree_model import schedule_tensors
    from rnnbench.trees import TreeBatch, parse_tree

    case = parity.make_case(cell)
    trees = TreeBatch.from_trees([parse_tree("(1 a)"), parse_tree("(2 b)")]) if no_levels else case.inputs["trees"]
    rng = np.random.default_rng(3)
    H = case.params["W"].shape[0] // 2
    x = rng.normal(size=(trees.num_leaves, case.inputs["x_leaves"].shape[1]))
    up = {k: rng.normal(size=(trees.num_nodes, H)) for k in state_keys(cell)}
    backend = _backend(backends, "native")
    forward, vjp = _tree_functions(backend, cell, case.params, x.shape[1], "float64")
    params = {k: tf.constant(v) for k, v in case.params.items()}
    schedule = schedule_tensors(trees)
    h, c = forward(params, tf.constant(x), *schedule)
    grads = vjp(
        params,
        tf.constant(x),
        *schedule,
        tf.constant(up["h"]),
        tf.constant(up["c"]) if cell == "treelstm" else tf.zeros([0, H], tf.float64),
    )
    states, cache = numpy_tree.forward(cell, case.params, x, trees)
    expected = numpy_tree.backward(cache, up)
    np.testing.assert_allclose(h.numpy(), states["h"], rtol=1e-12, atol=1e-12)
    if cell == "treelstm":
        np.testing.assert_allclose(c.numpy(), states["c"], rtol=1e-12, atol=1e-12)
    assert set(grads) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name].numpy(), value, rtol=1e-10, atol=1e-10, err_msg=name)


# -- Keras weight converters ---------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_converters_round_trip(cell):
    params = init_params(cell, 3, 4, seed=2, dtype="float64")
    params = {k: v + np.random.default_rng(1).normal(size=v.shape) for k, v in params.items()}
    back = convert.from_keras_weights(cell, convert.to_keras_weights(cell, params))
    assert set(back) == set(params)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])
    tensors = convert.to_keras_tensors(cell, {k: tf.constant(v) for k, v in params.items()})
    for got, want in zip(tensors, convert.to_keras_weights(cell, params)):
        np.testing.assert_array_equal(got.numpy(), want)


def test_gru_keras_layout_is_z_r_h_with_stacked_biases():
    H = 2
    params = {
        "W_x": np.arange(6.0)[None].repeat(3, 0),
        "W_h": np.arange(6.0)[None].repeat(2, 0),
        "b_x": np.arange(6.0),
        "b_h": 10 + np.arange(6.0),
    }
    kernel, recurrent, bias = convert.to_keras_weights("gru", params)
    r, z, n = [0, 1], [2, 3], [4, 5]
    assert kernel[0].tolist() == z + r + n and recurrent[0].tolist() == z + r + n
    assert bias.shape == (2, 3 * H)
    assert bias[0].tolist() == z + r + n
    assert bias[1].tolist() == [10 + i for i in z + r + n]


def _keras_run(layer, cell, x, state):
    """A plain Keras call (full lengths): weights from the layer's own variables."""
    return layer(tf.constant(x), initial_state=[tf.constant(state[k]) for k in state_keys(cell)])


@pytest.mark.parametrize("label", SEQUENCE_LABELS)
def test_keras_layer_with_converted_weights_is_the_canonical_cell(label):
    """The converters' claim checked on real Keras layers (set_weights, plain call), not on our tape."""
    case = parity.make_case(label)
    x, state = case.inputs["x"], case.inputs["state"]
    lengths = np.full(len(x), x.shape[1])
    layer = keras_layer(case.cell, x.shape[2], case.params["W_h"].shape[0], case.activation, "float64")
    layer.set_weights(convert.to_keras_weights(case.cell, case.params))
    outputs = _keras_run(layer, case.cell, x, state)
    y, final = NumpyBackend().sequence_forward(case.cell, case.params, x, lengths, state, case.activation)
    assert relative_error(outputs[0].numpy(), y) < 1e-12
    for key, value in zip(state_keys(case.cell), outputs[1:]):
        assert relative_error(value.numpy(), final[key]) < 1e-12
    # gradients of the Keras weights, mapped back, are the canonical gradients
    with tf.GradientTape() as tape:
        outputs = _keras_run(layer, case.cell, x, state)
        scalar = tf.reduce_sum(outputs[0] * case.cotangents["y"])
    mapped = convert.from_keras_weights(case.cell, [g.numpy() for g in tape.gradient(scalar, layer.trainable_weights)])
    expected = NumpyBackend().sequence_backward(
        case.cell, case.params, x, lengths, case.cotangents["y"], None, state, case.activation
    )
    for name in case.params:
        assert relative_error(mapped[name], expected[name]) < 1e-10, name
    cell, activation, params = convert.from_keras_layer(layer)
    assert (cell, activation) == (case.cell, case.activation)
    for name in case.params:
        np.testing.assert_array_equal(params[name], case.params[name])


def test_gru_reset_after_false_is_refused():
    layer = keras.layers.GRU(3, reset_after=False)
    layer.build((None, None, 2))
    with pytest.raises(RnnbenchError, match="reset_after=False"):
        convert.from_keras_layer(layer)
    with pytest.raises(RnnbenchError, match="reset_after=False"):
        convert.from_keras_weights("gru", layer.get_weights())


def test_non_canonical_keras_layers_are_refused():
    layer = keras.layers.SimpleRNN(3, activation="sigmoid")
    layer.build((None, None, 2))
    with pytest.raises(RnnbenchError, match="sigmoid"):
        convert.from_keras_layer(layer)


# -- model ---------------------------------------------------------------------------------------


def _model_case(cell, pooling="mean", loss="xent", seed=0):
    spec = ModelSpec(
        cell=cell,
        hidden_size=4,
        num_outputs=3,
        vocab_size=7,
        embed_size=3,
        pooling=pooling,
        loss=loss,
        optimizer=OptimizerSpec("adam", lr=0.05),
        clip_norm=0.5,
        l2=0.01,
        dtype="float64",
    )
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 7, size=(5, 6))
    lengths = np.array([6, 1, 4, 6, 2])
    targets = rng.integers(0, 3, size=5) if loss == "xent" else rng.normal(size=(5, 3))
    return spec, init_model_params(spec, seed=seed), ids, lengths, targets


@pytest.mark.parametrize(
    "cell,pooling,loss", [("rnn", "mean", "xent"), ("lstm", "max", "xent"), ("gru", "last", "mse")]
)
def test_model_follows_numpy_loss_curve(backends, cell, pooling, loss):
    spec, params, ids, lengths, targets = _model_case(cell, pooling, loss)
    ours = _backend(backends, "native").build_model(spec, params)
    reference = NumpyModel(spec, params)
    loss0, grads = ours.loss_and_grads(ids, lengths, targets)
    ref_loss0, ref_grads = reference.loss_and_grads(ids, lengths, targets)
    assert abs(loss0 - ref_loss0) <= 1e-12 * abs(ref_loss0)
    assert set(grads) == set(ref_grads)
    for name in grads:
        assert relative_error(grads[name], ref_grads[name]) < 1e-10, name
    curve = np.array([ours.train_step(ids, lengths, targets) for _ in range(50)])
    ref_curve = np.array([reference.train_step(ids, lengths, targets) for _ in range(50)])
    assert ref_curve[-1] < 0.8 * ref_curve[0], "the check needs a curve that moves"
    assert np.max(np.abs(curve - ref_curve) / np.abs(ref_curve)) < CURVE_TOL
    final, ref_final = ours.get_params(), reference.get_params()
    for name in final:
        assert type(final[name]) is np.ndarray
        assert relative_error(final[name], ref_final[name]) < CURVE_TOL, name
    assert relative_error(ours.predict(ids, lengths), reference.predict(ids, lengths)) < CURVE_TOL


def test_loop_model_on_features_follows_numpy(backends):
    spec = ModelSpec(
        cell="gru",
        hidden_size=3,
        num_outputs=2,
        input_size=4,
        pooling="max",
        loss="mse",
        optimizer=OptimizerSpec("adagrad", lr=0.1),
        clip_norm=1.0,
        l2=0.05,
        dtype="float64",
    )
    params = init_model_params(spec, seed=4)
    rng = np.random.default_rng(4)
    x, lengths, targets = rng.normal(size=(4, 5, 4)), np.array([5, 2, 1, 4]), rng.normal(size=(4, 2))
    ours, reference = _backend(backends, "loop").build_model(spec, params), NumpyModel(spec, params)
    curve = np.array([ours.train_step(x, lengths, targets) for _ in range(20)])
    ref_curve = np.array([reference.train_step(x, lengths, targets) for _ in range(20)])
    assert np.max(np.abs(curve - ref_curve) / np.abs(ref_curve)) < CURVE_TOL


def test_update_is_one_xla_cluster_inside_the_traced_step(backends):
    """The update is compiled where it runs: inside the traced train step, not only when called eagerly.

    check_xla once ran ``.numpy()`` while the step was being traced, which failed and read as
    "no XLA": the update then ran op by op in every train step (30-40 ms of a 170 ms IMDB step)."""
    from rnnbench.backends.tensorflow.tensors import check_xla

    check_xla.cache_clear()  # asked first from inside a trace, as the train step asks it
    tf.function(lambda: check_xla("/CPU:0", "cpu"))()
    spec, params, ids, lengths, targets = _model_case("lstm")
    model = _backend(backends, "native").build_model(spec, params)
    model.train_step(ids, lengths, targets)
    assert model._fused_update_fn._jit_compile is True
    graph = model._train_fn.get_concrete_function(
        *model._check_inputs(ids, lengths), model._check_targets(targets, 5), None
    ).graph
    (update,) = [f for f in graph.as_graph_def().library.function if "run" in f.signature.name]
    assert update.attr["_XlaMustCompile"].b


def test_model_rejects_empty_sequences(backends):
    spec, params, ids, lengths, targets = _model_case("rnn")
    model = _backend(backends, "native").build_model(spec, params)
    with pytest.raises(RnnbenchError, match="lengths"):
        model.train_step(ids, np.array([6, 0, 4, 6, 2]), targets)
    with pytest.raises(RnnbenchError, match="token ids"):
        model.predict(ids + 7, lengths)


# -- construction and errors ---------------------------------------------------------------------


def test_unknown_impl_lists_the_valid_ones():
    with pytest.raises(RnnbenchError, match="native, loop, xla"):
        TensorflowBackend("cudnn")


def test_absent_gpu_is_a_one_line_error():
    missing = f"gpu:{len(tf.config.list_physical_devices('GPU'))}"  # one past the last GPU
    with pytest.raises(RnnbenchError) as err:
        TensorflowBackend(device=missing)
    assert "\n" not in str(err.value) and missing in str(err.value)
    with pytest.raises(RnnbenchError, match="unknown device"):
        TensorflowBackend(device="tpu")


def test_threads_after_start_up_are_refused_or_honoured(backends):
    backend = _backend(backends, "native")
    backend.sequence_forward("rnn", init_params("rnn", 2, 2), np.ones((1, 1, 2), np.float32))  # runtime up
    in_effect = backend.info()["threads"]
    configured = tf.config.threading.get_intra_op_parallelism_threads()
    if configured:
        assert TensorflowBackend(threads=configured).info()["threads"] == configured
    with pytest.raises(RnnbenchError, match="threads"):
        TensorflowBackend(threads=in_effect + 1)


def test_info_records_versions_and_threads(backends):
    info = _backend(backends, "loop").info()
    assert info["framework"] == "tensorflow" and info["version"] == tf.__version__
    assert info["keras_version"] == keras.__version__
    assert info["impl"] == "loop" and info["device"] == "cpu"
    assert isinstance(info["threads"], int) and info["threads"] >= 1
