"""Tree models (embedding -> recursive/treelstm encoder -> softmax at every node) on every backend.

Tolerances, all norm-wise relative (:func:`rnnbench.gradcheck.relative_error`):

* the NumPy model's hand-written gradient against central differences (float64,
  eps 1e-6): 1e-6, with L2 on and a single-leaf tree in the batch;
* torch and TensorFlow against NumPy: loss, every gradient and the logits
  within 1e-10 in float64 (1e-4 in float32, :data:`rnnbench.parity.TOLERANCE`);
* 20 ``train_step`` calls (adam, global-norm clipping that binds, L2) on
  batches of changing shape: the loss curve and the final weights within 1e-8.

Bad batches and specs must raise :class:`RnnbenchError` on every backend, with
the same message, before anything reaches a framework.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnbench import get_backend
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import numeric_grads, relative_error
from rnnbench.model import OptimizerSpec, init_model_params
from rnnbench.parity import TOLERANCE
from rnnbench.tree_model import TreeModelSpec
from rnnbench.trees import Level, Tree, TreeBatch, parse_tree

CELLS = ("recursive", "treelstm")
FRAMEWORKS = ("torch", "tensorflow")
FD_TOL = 1e-6  # float64 central differences, eps 1e-6
CURVE_TOL = 1e-8  # float64 loss curves and weights after 20 steps
STEPS = 20
VOCAB, USED_WORDS, CLASSES = 9, 7, 5  # ids 7 and 8 never occur: their rows get the L2 gradient alone
EMBED = {"recursive": 3, "treelstm": 2}  # a recursive leaf's state is its word vector: embed == hidden
HIDDEN = 3

TREES = [
    Tree.leaf("alone", 4),  # a one-word sentence: its only node is a leaf
    parse_tree("(1 (2 (2 a) (2 b)) (0 (2 c) (3 (2 d) (2 e))))"),
    parse_tree("(3 (3 (3 (2 f) (2 g)) (2 h)) (1 i))"),
    parse_tree("(4 (2 j) (4 (2 k) (4 (2 l) (2 m))))"),
    parse_tree("(0 (2 n) (2 o))"),
]


def make_spec(cell, dtype="float64", **overrides):
    options = dict(optimizer=OptimizerSpec("adam", lr=0.05), clip_norm=0.5, l2=0.01, dtype=dtype)
    options.update(overrides)
    return TreeModelSpec(cell, HIDDEN, CLASSES, VOCAB, EMBED[cell], **options)


def make_params(spec, seed=0):
    """Initial weights moved off their init (biases nonzero, gates away from 0.5), in float64."""
    rng = np.random.default_rng([seed, 7])
    return {
        name: value.astype(np.float64) + rng.normal(0.0, 0.3, value.shape)
        for name, value in init_model_params(spec, seed).items()
    }


def make_batch(trees, seed=0):
    """``(leaf ids, TreeBatch, node labels)`` with repeated words and random labels."""
    rng = np.random.default_rng([seed, 11])
    batch = TreeBatch.from_trees(trees)
    return rng.integers(0, USED_WORDS, batch.num_leaves), batch, rng.integers(0, CLASSES, batch.num_nodes)


LEAVES_ONLY = [Tree.leaf("one", 1), Tree.leaf("two", 3)]  # no internal node: the encoder's W gets no gradient


def unscored_every_third(batch):
    """Labels -1 on every third node: those nodes are left out of the loss (binary training's neutral)."""
    leaf_ids, trees, labels = batch
    return leaf_ids, trees, np.where(np.arange(len(labels)) % 3 == 0, -1, labels)


BATCHES = [
    make_batch(TREES, 0),
    make_batch(TREES[1:3], 1),
    make_batch(TREES[2:] + TREES[:1], 2),
    make_batch(LEAVES_ONLY, 3),
    unscored_every_third(make_batch(TREES, 4)),
]


@pytest.fixture(scope="module")
def backends():
    """Backends built once, so that each framework is imported once (torch first, as conftest does)."""
    return {}


def backend(backends, name):
    if name not in backends:
        pytest.importorskip(name)
        backends[name] = get_backend(name)
    return backends[name]


def assert_close(result, reference, tol, what):
    error = relative_error(result, reference)
    assert error <= tol, f"{what}: relative error {error:.3g} > {tol:g}"


# -- (1) the NumPy reference against central differences -------------------------------------------


@pytest.mark.parametrize("which", [0, 4], ids=["all-scored", "some-unscored"])
@pytest.mark.parametrize("cell", CELLS)
def test_numpy_gradients_match_central_differences(backends, cell, which):
    spec = make_spec(cell)
    leaf_ids, batch, labels = BATCHES[which]
    numpy_backend = backend(backends, "numpy")
    params = make_params(spec)
    loss, grads = numpy_backend.build_model(spec, params).loss_and_grads(leaf_ids, batch, labels)

    def full_loss(arrays):
        return numpy_backend.build_model(spec, arrays).loss_and_grads(leaf_ids, batch, labels)[0]

    numeric = numeric_grads(full_loss, {k: v.copy() for k, v in params.items()}, eps=1e-6)
    assert set(grads) == set(params)
    for name, value in numeric.items():
        assert_close(grads[name], value, FD_TOL, f"numpy {cell} d loss / d {name}")
    unused = params["embedding"][USED_WORDS:]
    np.testing.assert_allclose(
        grads["embedding"][USED_WORDS:],
        spec.l2 * unused,
        rtol=1e-12,
        err_msg="a word not in the batch gets only the L2 gradient",
    )
    assert grads["encoder.W"].any() and grads["embedding"].any()


# -- (2) torch and TensorFlow equal NumPy -----------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_loss_grads_and_logits_equal_numpy(backends, framework, cell, dtype):
    spec, reference_spec = make_spec(cell, dtype), make_spec(cell)
    params = make_params(spec)
    model = backend(backends, framework).build_model(spec, params)
    reference = backend(backends, "numpy").build_model(reference_spec, params)
    tol = TOLERANCE[dtype]
    for leaf_ids, batch, labels in BATCHES:  # several shapes (and unscored nodes) through one model
        loss, grads = model.loss_and_grads(leaf_ids, batch, labels)
        expected_loss, expected = reference.loss_and_grads(leaf_ids, batch, labels)
        assert isinstance(loss, float)
        assert abs(loss - expected_loss) <= tol * abs(expected_loss), (
            f"{framework} {cell} {dtype} loss {loss} vs {expected_loss}"
        )
        assert set(grads) == set(expected)
        for name, value in grads.items():
            assert type(value) is np.ndarray and value.dtype == np.dtype(dtype), f"{name}: {type(value)}"
            assert_close(value, expected[name], tol, f"{framework} {cell} {dtype} gradient of {name}")
        logits = model.predict(leaf_ids, batch)
        assert logits.shape == (batch.num_nodes, CLASSES) and logits.dtype == np.dtype(dtype)
        assert_close(logits, reference.predict(leaf_ids, batch), tol, f"{framework} {cell} {dtype} logits")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_swapped_children_are_caught(backends, framework, monkeypatch):
    """The comparison above can fail: a model that reads right for left is off by O(1), not by rounding."""
    spec = make_spec("treelstm")
    params = make_params(spec)
    leaf_ids, batch, labels = BATCHES[0]
    swapped = TreeBatch(
        batch.num_nodes,
        batch.num_leaves,
        tuple(Level(lv.start, lv.stop, lv.right, lv.left) for lv in batch.levels),
        batch.roots,
        batch.node_tree,
        batch.labels,
        batch.words,
        batch.leaf_offsets,
    )
    _, expected = backend(backends, "numpy").build_model(spec, params).loss_and_grads(leaf_ids, batch, labels)
    _, grads = backend(backends, framework).build_model(spec, params).loss_and_grads(leaf_ids, swapped, labels)
    assert relative_error(grads["encoder.W"], expected["encoder.W"]) > 1e-2


# -- (3) training curves --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_training_curve_equals_numpy(backends, framework, cell):
    spec = make_spec(cell)
    params = make_params(spec, seed=1)
    model = backend(backends, framework).build_model(spec, params)
    reference = backend(backends, "numpy").build_model(spec, params)
    losses, expected = [], []
    for step in range(STEPS):
        batch = BATCHES[step % len(BATCHES)]
        losses.append(model.train_step(*batch))
        expected.append(reference.train_step(*batch))
    assert_close(np.array(losses), np.array(expected), CURVE_TOL, f"{framework} {cell} loss curve")
    assert expected[-1] < expected[0] - 0.1, f"the curve must move for the check to mean anything: {expected}"
    final, expected_final = model.get_params(), reference.get_params()
    for name, value in final.items():
        assert_close(value, expected_final[name], CURVE_TOL, f"{framework} {cell} {name} after {STEPS} steps")
        assert not np.allclose(value, params[name]), f"{name} did not move"


def test_tensorflow_traces_once_for_batches_of_every_shape(backends):
    """The level schedule travels as tensors: a new TreeBatch must not retrace the graph."""
    model = backend(backends, "tensorflow").build_model(make_spec("treelstm"), make_params(make_spec("treelstm")))
    for batch in BATCHES:
        model.train_step(*batch)
        model.predict(*batch[:2])
    assert model._train_fn.experimental_get_tracing_count() == 1
    assert model._predict_fn.experimental_get_tracing_count() == 1


# -- (4) bad inputs -----------------------------------------------------------------------------------


def _bad_batches():
    leaf_ids, batch, labels = BATCHES[0]
    return [
        ("too few leaf ids", (leaf_ids[:-1], batch, labels), r"leaf ids must be int \[\d+\] \(one per leaf"),
        ("float leaf ids", (leaf_ids.astype(float), batch, labels), r"leaf ids must be int"),
        (
            "negative id",
            (np.where(np.arange(len(leaf_ids)) == 2, -1, leaf_ids), batch, labels),
            r"token ids must lie in \[0, 9\), got min -1",
        ),
        (
            "id past vocab",
            (np.where(np.arange(len(leaf_ids)) == 2, VOCAB, leaf_ids), batch, labels),
            r"token ids must lie in \[0, 9\), got min \d+ max 9",
        ),
        ("labels per tree", (leaf_ids, batch, labels[: batch.num_trees]), r"node labels must be int class ids \["),
        ("2-d labels", (leaf_ids, batch, labels[:, None]), r"node labels must be int class ids"),
        (
            "label past classes",
            (leaf_ids, batch, np.full(batch.num_nodes, CLASSES)),
            r"class ids must lie in \[0, 5\) or be -1 .*got min 5 max 5",
        ),
        ("unlabelled node", (leaf_ids, batch, np.full(batch.num_nodes, -1)), r"class ids must lie in \[0, 5\)"),
    ]


@pytest.mark.parametrize("case", _bad_batches(), ids=lambda case: case[0])
@pytest.mark.parametrize("name", ("numpy",) + FRAMEWORKS)
def test_bad_batches_raise_rnnbench_error(backends, name, case):
    _, args, message = case
    spec = make_spec("recursive")
    model = backend(backends, name).build_model(spec, make_params(spec))
    before = model.get_params()
    with pytest.raises(RnnbenchError, match=message):
        model.train_step(*args)
    with pytest.raises(RnnbenchError, match=message):
        model.loss_and_grads(*args)
    if "label" not in case[0]:
        with pytest.raises(RnnbenchError, match=message):
            model.predict(*args[:2])
    for key, value in model.get_params().items():
        np.testing.assert_array_equal(value, before[key], err_msg=f"a rejected batch changed {key}")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(cell="recursive", embed_size=4), r"embed size \(4\) must equal hidden size \(3\)"),
        (dict(cell="lstm"), r"unknown tree model cell 'lstm'; valid: recursive, treelstm"),
        (dict(hidden_size=0), r"hidden_size must be a positive integer, got 0"),
        (dict(clip_norm=0.0), r"clip_norm must be positive, got 0.0"),
        (dict(dtype="float16"), r"float16"),
    ],
    ids=["recursive-embed", "sequence-cell", "hidden-0", "clip-0", "dtype"],
)
def test_bad_specs_raise_rnnbench_error(overrides, message):
    options = dict(cell="treelstm", hidden_size=3, num_outputs=5, vocab_size=9, embed_size=3)
    options.update(overrides)
    with pytest.raises(RnnbenchError, match=message):
        TreeModelSpec(**options)


@pytest.mark.parametrize("name", ("numpy",) + FRAMEWORKS)
def test_params_of_another_shape_raise_rnnbench_error(backends, name):
    spec = make_spec("treelstm")
    params = make_params(spec)
    params["encoder.W"] = params["encoder.W"][:, :-1]
    with pytest.raises(RnnbenchError, match=r"model parameter encoder.W must have shape \(6, 15\), got \(6, 14\)"):
        backend(backends, name).build_model(spec, params)
    del params["head.b"]
    with pytest.raises(RnnbenchError, match=r"model parameters must be \["):
        backend(backends, name).build_model(spec, params)
