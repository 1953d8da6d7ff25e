"""The backend contract as a test kit, for the authors of backend plugins (docs/plugins.md).

Every backend rnnbench ships, and any backend a plugin adds, must compute what
the NumPy reference computes (docs/design.md §2). This module holds that
contract suite as pytest tests, so a plugin's own test folder can run it
without copying rnnbench's tests::

    # tests/test_contract.py of a plugin
    from rnnbench.testing import contract_tests

    globals().update(contract_tests("mybackend", plugin="my_package.plugin"))

or by subclassing::

    from rnnbench.testing import BackendContract

    class TestMyBackendContract(BackendContract):
        backend_name = "mybackend"
        plugin = "my_package.plugin"

What it checks, against the float64 NumPy reference with the tolerances of
``rnnbench check`` (:data:`rnnbench.parity.TOLERANCE`: norm-wise relative error
1e-10 in float64, 1e-4 in float32; :data:`MODEL_TOLERANCE` and
:data:`rnnbench.check.TRAJECTORY_TOLERANCE` for models): outputs, final states
and every gradient of every sequence and tree cell on ragged lengths (a full, a
short and an empty sequence, an initial state) and trees of mixed shapes, and for a
backend that declares ``layered`` the 2-layer bidirectional cases (every unit's gradients,
a 2-layer bidirectional model and trajectory; docs/design.md §2.6); plain
NumPy arrays of the requested dtype out; the masking rules; batches of zero
steps; which gradients come back; missing upstream gradients meaning zero;
one-line :class:`~rnnbench.errors.RnnbenchError` messages for bad inputs and
cotangents; sequence and tree models (loss and every gradient, logits, the
gradient-flow diagnostic, 50-step loss curves); models with the runner's dropout
masks (``masks=``, :mod:`rnnbench.dropout`: loss and every gradient, three
steps, the ``-drop`` trajectories, ``masks=None`` the same numbers as no
keyword; optional: a model whose ``train_step`` takes no masks is skipped);
timers when the backend has them.

The plugin is loaded from ``plugin`` (a module or its import path) by calling its
``rnnbench_register_backends`` hook directly, so the tests need no entry-point
autoloading and stay hermetic (rnnbench's own tests run with
``RNNBENCH_DISABLE_PLUGIN_AUTOLOAD=1``); without ``plugin`` the backend is looked up
in :func:`rnnbench.plugins.get_registry`. A backend whose framework is not
installed is skipped with the reason (rnnbench's pytest plugin,
:mod:`rnnbench.pytest_plugin`, turns that skip into a failure for the backends named in
``RNNBENCH_REQUIRE_BACKENDS``).

pytest is needed only here: this module is imported by tests alone.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pytest

from rnnbench import parity
from rnnbench.backend import state_keys
from rnnbench.check import TRAJECTORY_TOLERANCE, loss_curve
from rnnbench.dropout import draw_masks, takes_masks
from rnnbench.entry import Entry
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import relative_error
from rnnbench.model import ModelSpec, OptimizerSpec, TrainableModel, init_model_params
from rnnbench.pytest_plugin import OPTIONAL, fail_required_skips, required_backends
from rnnbench.tree_model import TreeModelSpec
from rnnbench.trees import TreeBatch, parse_tree

__all__ = [
    "BackendContract",
    "contract_tests",
    "plugin_entry",
    "fail_required_skips",
    "required_backends",
    "skip_optional",
    "MODEL_TOLERANCE",
    "MODEL_CASES",
]

SEQUENCE_CELLS = ("rnn", "lstm", "gru")
#: Model losses, gradients, logits and gradient norms against the NumPy model (norm-wise relative).
MODEL_TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
#: (cell, activation, pooling, loss): every encoder, every pooling, both losses.
MODEL_CASES = (
    ("rnn", "tanh", "mean", "xent"),
    ("rnn", "relu", "last", "xent"),
    ("lstm", "tanh", "max", "xent"),
    ("gru", "tanh", "mean", "mse"),
    ("lstm", "tanh", "steps", "xent"),
)


def plugin_entry(name: str, plugin) -> Entry:
    """The :class:`~rnnbench.entry.Entry` named ``name`` that ``plugin`` registers (hook called directly)."""
    module = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
    entries = []
    module.rnnbench_register_backends(register=entries.append)
    for entry in entries:
        if entry.name == name:
            return entry
    raise RnnbenchError(
        f"plugin {getattr(module, '__name__', module)!r} registers no backend {name!r}; "
        f"it registers {', '.join(e.name for e in entries) or 'none'}"
    )


def contract_tests(name: str, plugin=None, options: dict | None = None) -> dict:
    """``{"Test<Name>Contract": class}``: the contract suite for backend ``name``, for ``globals().update``.

    ``plugin``: the plugin module (or its import path) that registers the backend;
    ``options``: keyword arguments for the backend's constructor (``impl``, ``device``, ``threads``).
    """
    title = "".join(part.title() for part in name.replace("-", "_").split("_"))
    cls = type(
        f"Test{title}Contract",
        (BackendContract,),
        {
            "backend_name": name,
            "plugin": plugin,
            "backend_options": dict(options or {}),
            "__module__": BackendContract.__module__,
        },
    )
    return {cls.__name__: cls}


def skip_optional(reason: str):
    """Skip a test of an optional feature the backend does not declare (layered encoders, timers)."""
    pytest.skip(f"{OPTIONAL}: {reason}")


def _trees() -> TreeBatch:
    return TreeBatch.from_trees([parse_tree(text) for text in parity.TREE_TEXTS])


def _model_batch(spec: ModelSpec, seed: int = 3):
    """Tokens or features, ragged lengths (one full, one of length 1), targets of the spec's kind."""
    rng = np.random.default_rng(seed)
    B, T = 4, 6
    lengths = np.array([T, 1, 4, 3])
    if spec.vocab_size is not None:
        inputs = rng.integers(0, spec.vocab_size, size=(B, T))
    else:
        inputs = rng.normal(size=(B, T, spec.input_size))
    if spec.pooling == "steps":
        targets = np.where(np.arange(T)[None, :] < lengths[:, None], rng.integers(0, spec.num_outputs, (B, T)), -1)
        targets[:, 0] = -1  # some positions unscored
        targets[0, 0] = 1
    elif spec.loss == "xent":
        targets = rng.integers(0, spec.num_outputs, size=B)
    else:
        targets = rng.normal(size=(B, spec.num_outputs))
    return inputs, lengths, targets


def _model_spec(cell, activation, pooling, loss, dtype, optimizer="adam") -> ModelSpec:
    common = dict(
        cell=cell,
        hidden_size=5,
        num_outputs=3,
        activation=activation,
        pooling=pooling,
        loss=loss,
        optimizer=OptimizerSpec(optimizer, lr=0.05),
        clip_norm=1.0,
        l2=1e-3,
        dtype=dtype,
    )
    if loss == "mse":
        return ModelSpec(input_size=4, **common)
    return ModelSpec(vocab_size=12, embed_size=4, **common)


def _assert_close(reference: dict, result: dict, tolerance: float, context: str) -> None:
    assert set(result) == set(reference), f"{context}: names {sorted(result)} != {sorted(reference)}"
    for name in reference:
        error = relative_error(np.asarray(result[name], np.float64), np.asarray(reference[name], np.float64))
        assert error <= tolerance, f"{context}: {name} relative error {error:.2e} > {tolerance:g}"


class BackendContract:
    """The contract suite; subclass with ``backend_name`` (and ``plugin``, ``backend_options``) set."""

    #: The registered name of the backend under test.
    backend_name: str | None = None
    #: The plugin module, or its import path, that registers it (None: look it up in the registry).
    plugin = None
    #: Keyword arguments for the backend's constructor.
    backend_options: dict = {}

    # -- loading ---------------------------------------------------------------------------------

    def entry(self, request) -> Entry:
        """The backend's registry entry; override to load it another way (e.g. simulated entry points)."""
        if self.plugin is not None:
            return plugin_entry(self.backend_name, self.plugin)
        from rnnbench.plugins import get_registry

        return get_registry().backend(self.backend_name)

    @pytest.fixture
    def backend(self, request):
        if not self.backend_name:
            pytest.skip("BackendContract itself names no backend: subclass it and set backend_name")
        entry = self.entry(request)
        if not entry.available:
            pytest.skip(f"backend {self.backend_name}: {entry.unavailable_reason()}")
        return entry.load()(**self.backend_options)

    @pytest.fixture(scope="class")
    @classmethod
    def references(cls):
        from rnnbench.plugins import get_backend

        numpy_backend = get_backend("numpy")
        return {
            label: parity.evaluate(numpy_backend, parity.make_case(label), "float64")
            for label in parity.CASE_LABELS + parity.LAYERED_CASE_LABELS
        }

    @staticmethod
    def reference_backend():
        from rnnbench.plugins import get_backend

        return get_backend("numpy")

    # -- the functions ---------------------------------------------------------------------------

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize("label", parity.CASE_LABELS + parity.LAYERED_CASE_LABELS)
    def test_agrees_with_reference(self, backend, references, label, dtype):
        """Outputs, states and every gradient (parameters, input, initial state) of every cell; the
        2-layer bidirectional cases (every unit's gradients) for a backend that declares ``layered``."""
        if label in parity.LAYERED_CASE_LABELS and not getattr(backend, "layered", False):
            skip_optional(f"{backend.name} declares single layers only (Backend.layered)")
        result = parity.evaluate(backend, parity.make_case(label), dtype)
        for diff in parity.compare(references[label], result):
            assert diff.max_rel <= parity.TOLERANCE[dtype], f"{backend.name} {label} {dtype}: {diff}"
        for name, value in result.items():
            assert type(value) is np.ndarray, f"{name} is {type(value)}, not a NumPy array"
            assert value.dtype == np.dtype(dtype), f"{name} has dtype {value.dtype}"

    @pytest.mark.parametrize("cell", SEQUENCE_CELLS)
    def test_masking_rules(self, backend, cell):
        """Zero outputs past a length; the final state of a row is that of the row run alone."""
        case = parity.sequence_case(cell)
        x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
        y, final = backend.sequence_forward(cell, case.params, x, lengths, state)
        for b, length in enumerate(lengths):
            assert not y[b, length:].any(), f"outputs past length {length} are not zero"
            _, alone = backend.sequence_forward(
                cell, case.params, x[b : b + 1, : max(length, 1)], [length], {k: v[b : b + 1] for k, v in state.items()}
            )
            for key in state_keys(cell):
                np.testing.assert_allclose(final[key][b], alone[key][0], rtol=1e-12, atol=1e-12)
        zero = int(np.flatnonzero(lengths == 0)[0])
        for key in state_keys(cell):
            np.testing.assert_array_equal(final[key][zero], state[key][zero])

    @pytest.mark.parametrize("cell", SEQUENCE_CELLS)
    def test_zero_steps_give_the_initial_state(self, backend, cell):
        """A batch of zero steps: empty outputs, the initial state back, zero parameter gradients."""
        case = parity.sequence_case(cell)
        x, state = case.inputs["x"][:, :0], case.inputs["state"]
        y, final = backend.sequence_forward(cell, case.params, x, None, state)
        assert y.shape == (x.shape[0], 0, 6) and y.dtype == np.float64
        for key in state_keys(cell):
            np.testing.assert_array_equal(final[key], state[key])
        dfinal = {k: np.ones_like(v) for k, v in state.items()}
        grads = backend.sequence_backward(cell, case.params, x, None, None, dfinal, state)
        for name in case.params:
            assert not grads[name].any(), f"{name} has a gradient although no step ran"
        np.testing.assert_array_equal(grads["h0"], dfinal["h"])

    @pytest.mark.parametrize("cell", SEQUENCE_CELLS)
    def test_gradient_names(self, backend, cell):
        case = parity.sequence_case(cell)
        x, lengths = case.inputs["x"], case.inputs["lengths"]
        y, _ = backend.sequence_forward(cell, case.params, x, lengths)
        grads = backend.sequence_backward(cell, case.params, x, lengths, np.ones_like(y), None)
        assert set(grads) == set(case.params) | {"x"}
        with_state = backend.sequence_backward(
            cell, case.params, x, lengths, np.ones_like(y), None, case.inputs["state"]
        )
        assert set(with_state) == set(case.params) | {"x"} | {f"{k}0" for k in state_keys(cell)}

    def test_missing_upstream_means_zero(self, backend):
        """Left-out or None cotangents are zeros: the VJP of ``dfinal`` alone, and of nothing."""
        case = parity.sequence_case("lstm")
        x, lengths, state = case.inputs["x"], case.inputs["lengths"], case.inputs["state"]
        dh = case.cotangents["final.h"]
        zero_c = {"h": dh, "c": np.zeros_like(dh)}
        got = backend.sequence_backward("lstm", case.params, x, lengths, None, {"h": dh, "c": None}, state)
        want = backend.sequence_backward("lstm", case.params, x, lengths, np.zeros((4, 7, 6)), zero_c, state)
        _assert_close(want, got, 1e-12, "dy=None, dfinal c=None")
        nothing = backend.sequence_backward("lstm", case.params, x, lengths, None, None, state)
        assert not any(v.any() for v in nothing.values()), "no upstream gradient must give zero gradients"

    def test_bad_input_is_a_clear_error(self, backend):
        case = parity.sequence_case("lstm")
        with pytest.raises(RnnbenchError, match=r"x must be \[batch, steps, features\]"):
            backend.sequence_forward("lstm", case.params, case.inputs["x"][0])
        with pytest.raises(RnnbenchError, match="lengths must lie in"):
            backend.sequence_forward("lstm", case.params, case.inputs["x"], [99, 1, 1, 1])
        with pytest.raises(RnnbenchError, match="unknown sequence cell"):
            backend.sequence_forward("lstmx", case.params, case.inputs["x"])
        with pytest.raises(RnnbenchError, match="parameter W_h must have shape"):
            backend.sequence_forward("lstm", {**case.params, "W_h": case.params["W_h"][:, :3]}, case.inputs["x"])
        tree = parity.tree_case("recursive")
        with pytest.raises(RnnbenchError, match=r"x_leaves must be \["):
            backend.tree_forward("recursive", tree.params, tree.inputs["x_leaves"][1:], tree.inputs["trees"])

    def test_bad_cotangents_are_clear_errors(self, backend):
        case = parity.sequence_case("gru")
        x, lengths = case.inputs["x"], case.inputs["lengths"]
        y, _ = backend.sequence_forward("gru", case.params, x, lengths)
        with pytest.raises(RnnbenchError, match=r"dfinal has key 'c', but gru has h"):
            backend.sequence_backward("gru", case.params, x, lengths, y, {"c": y[:, 0]})
        with pytest.raises(RnnbenchError, match=r"upstream\['dy'\] must have shape"):
            backend.sequence_backward("gru", case.params, x, lengths, y[:, :2], None)
        tree = parity.tree_case("recursive")
        with pytest.raises(RnnbenchError, match=r"dstates\['h'\] must have shape"):
            backend.tree_backward(
                "recursive", tree.params, tree.inputs["x_leaves"], tree.inputs["trees"], {"h": np.ones((1, 6))}
            )

    @pytest.mark.parametrize("cell", ["recursive", "treelstm"])
    def test_one_tree_at_a_time_equals_the_batch(self, backend, cell):
        """Level batching mixes trees; each tree's states must not depend on its neighbours."""
        case = parity.tree_case(cell)
        x, trees = case.inputs["x_leaves"], case.inputs["trees"]
        batched = backend.tree_forward(cell, case.params, x, trees)
        for k, text in enumerate(parity.TREE_TEXTS):
            alone = TreeBatch.from_trees([parse_tree(text)])
            leaves = x[trees.leaf_offsets[k] : trees.leaf_offsets[k + 1]]
            states = backend.tree_forward(cell, case.params, leaves, alone)
            np.testing.assert_allclose(
                states["h"][alone.roots[0]], batched["h"][trees.roots[k]], rtol=1e-12, atol=1e-12
            )

    def test_info_says_what_a_record_needs(self, backend):
        info = backend.info()
        for key in ("framework", "version", "impl", "device", "threads"):
            assert key in info, f"info() lacks {key!r}: {info}"

    # -- models ----------------------------------------------------------------------------------

    @pytest.mark.parametrize("cell", SEQUENCE_CELLS)
    def test_model_trains_and_predicts(self, backend, cell):
        spec = ModelSpec(
            cell=cell,
            hidden_size=4,
            num_outputs=3,
            vocab_size=10,
            embed_size=3,
            optimizer=OptimizerSpec("adam", lr=0.05),
            dtype="float64",
        )
        params = init_model_params(spec, seed=0)
        model = backend.build_model(spec, params)
        assert isinstance(model, TrainableModel), f"{type(model).__name__} does not subclass rnnbench.TrainableModel"
        tokens = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
        lengths = np.array([3, 2])
        targets = np.array([0, 2])
        losses = [model.train_step(tokens, lengths, targets) for _ in range(20)]
        assert all(isinstance(loss, float) and np.isfinite(loss) for loss in losses)
        assert losses[-1] < losses[0]
        logits = model.predict(tokens, lengths)
        assert type(logits) is np.ndarray and logits.shape == (2, 3)
        assert set(model.get_params()) == set(params)
        assert all(type(v) is np.ndarray for v in model.get_params().values())

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize("cell,activation,pooling,loss", MODEL_CASES)
    def test_model_matches_reference(self, backend, cell, activation, pooling, loss, dtype):
        """Loss and every gradient, logits after three steps, and the gradient-flow norms."""
        spec = _model_spec(cell, activation, pooling, loss, dtype)
        params = init_model_params(spec, seed=1)
        ref = self.reference_backend().build_model(
            _model_spec(cell, activation, pooling, loss, "float64"),
            {k: v.astype(np.float64) for k, v in params.items()},
        )
        model = backend.build_model(spec, params)
        batch = _model_batch(spec)
        tolerance = MODEL_TOLERANCE[dtype]
        ref_loss, ref_grads = ref.loss_and_grads(*batch)
        got_loss, got_grads = model.loss_and_grads(*batch)
        assert isinstance(got_loss, float)
        assert abs(got_loss - ref_loss) <= tolerance * abs(ref_loss), f"loss {got_loss} != {ref_loss}"
        _assert_close(ref_grads, got_grads, tolerance, f"{spec.cell} {pooling} {loss} {dtype} gradients")
        _assert_close(
            {"norms": ref.state_gradient_norms(*batch)},
            {"norms": model.state_gradient_norms(*batch)},
            tolerance,
            "state_gradient_norms",
        )
        for _ in range(3):
            ref.train_step(*batch)
            model.train_step(*batch)
        _assert_close(
            {"logits": ref.predict(*batch[:2])},
            {"logits": model.predict(*batch[:2])},
            tolerance * 10,
            "logits after 3 steps",
        )
        _assert_close(ref.get_params(), model.get_params(), tolerance * 10, "parameters after 3 steps")

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize("cell,pooling", [("lstm", "last"), ("gru", "mean"), ("rnn", "max")])
    def test_layered_model_matches_reference(self, backend, cell, pooling, dtype):
        """A 2-layer bidirectional encoder: loss, every unit's gradients, the gradient-flow norms (top
        forward unit) and three steps; ``last`` pooling reads the backward half at step 0."""
        if not getattr(backend, "layered", False):
            skip_optional(f"{backend.name} declares single layers only (Backend.layered)")
        spec = replace(_model_spec(cell, "tanh", pooling, "xent", dtype), num_layers=2, bidirectional=True)
        params = init_model_params(spec, seed=4)
        ref = self.reference_backend().build_model(
            replace(spec, dtype="float64"), {k: v.astype(np.float64) for k, v in params.items()}
        )
        model = backend.build_model(spec, params)
        batch = _model_batch(spec)
        tolerance = MODEL_TOLERANCE[dtype]
        ref_loss, ref_grads = ref.loss_and_grads(*batch)
        got_loss, got_grads = model.loss_and_grads(*batch)
        assert abs(got_loss - ref_loss) <= tolerance * abs(ref_loss), f"loss {got_loss} != {ref_loss}"
        _assert_close(ref_grads, got_grads, tolerance, f"layered {cell} {pooling} {dtype} gradients")
        _assert_close(
            {"norms": ref.state_gradient_norms(*batch)},
            {"norms": model.state_gradient_norms(*batch)},
            tolerance,
            "state_gradient_norms",
        )
        for _ in range(3):
            ref.train_step(*batch)
            model.train_step(*batch)
        _assert_close(ref.get_params(), model.get_params(), tolerance * 10, "parameters after 3 steps")

    @pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
    def test_model_optimizers_match_reference(self, backend, optimizer):
        spec = _model_spec("gru", "tanh", "mean", "xent", "float64", optimizer)
        params = init_model_params(spec, seed=2)
        ref, model = self.reference_backend().build_model(spec, params), backend.build_model(spec, params)
        batch = _model_batch(spec)
        curve = np.array([[ref.train_step(*batch), model.train_step(*batch)] for _ in range(5)])
        assert relative_error(curve[:, 1], curve[:, 0]) <= MODEL_TOLERANCE["float64"], curve
        _assert_close(ref.get_params(), model.get_params(), MODEL_TOLERANCE["float64"], optimizer)

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize("cell", SEQUENCE_CELLS + ("lstm-L2-bi", "lstm-drop", "treelstm-drop"))
    def test_trajectory_matches_reference(self, backend, cell, dtype):
        """50 Adam steps with clipping and L2 (``rnnbench check --trajectory``), step by step; the ``-drop``
        cases with fresh dropout masks every step, drawn as the runner draws them."""
        if cell == "lstm-L2-bi" and not getattr(backend, "layered", False):
            skip_optional(f"{backend.name} declares single layers only (Backend.layered)")
        if cell.endswith("-drop"):
            self._skip_without_masks(backend)
        reference = loss_curve(self.reference_backend(), cell, "float64")
        curve = loss_curve(backend, cell, dtype)
        step_rel = np.abs(curve - reference) / np.abs(reference)
        assert np.all(step_rel <= TRAJECTORY_TOLERANCE[dtype]), (
            f"{cell} {dtype}: worst step {int(np.argmax(step_rel)) + 1}, relative error {step_rel.max():.2e}"
        )

    def test_model_rejects_bad_batches(self, backend):
        spec = _model_spec("lstm", "tanh", "mean", "xent", "float64")
        model = backend.build_model(spec, init_model_params(spec))
        with pytest.raises(RnnbenchError, match="token ids must lie in"):
            model.predict(np.array([[1, 99]]), np.array([2]))
        with pytest.raises(RnnbenchError, match="model lengths must lie in"):
            model.predict(np.array([[1, 2]]), np.array([0]))
        with pytest.raises(RnnbenchError, match="class ids must lie in"):
            model.train_step(np.array([[1, 2]]), np.array([2]), np.array([7]))
        with pytest.raises(RnnbenchError, match="model parameters must be"):
            backend.build_model(spec, {"embedding": np.zeros((12, 4))})

    def _tree_case(self, backend, cell, dtype, optimizer, seed):
        """A small tree model on this backend and on the float64 reference from the same weights, with
        seeded leaf ids and node labels (about 30% unscored, one root scored); the rng goes on from there."""
        H = 6
        spec = TreeModelSpec(
            cell=cell,
            hidden_size=H,
            num_outputs=5,
            vocab_size=9,
            embed_size=H if cell == "recursive" else 4,
            optimizer=optimizer,
            clip_norm=1.0,
            l2=1e-3,
            dtype=dtype,
        )
        params = init_model_params(spec, seed=seed)
        ref = self.reference_backend().build_model(
            replace(spec, dtype="float64"), {k: v.astype(np.float64) for k, v in params.items()}
        )
        trees = _trees()
        rng = np.random.default_rng(seed + 1)
        leaf_ids = rng.integers(0, 9, size=trees.num_leaves)
        labels = np.where(rng.random(trees.num_nodes) < 0.3, -1, rng.integers(0, 5, size=trees.num_nodes))
        labels[trees.roots[0]] = 2
        model = backend.build_model(spec, params)
        assert isinstance(model, TrainableModel), f"{type(model).__name__} does not subclass rnnbench.TrainableModel"
        return spec, ref, model, trees, leaf_ids, labels, rng

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize("cell", ["recursive", "treelstm"])
    def test_tree_model_matches_reference(self, backend, cell, dtype):
        """Loss and every gradient of a tree model (some nodes unscored), then five steps' losses."""
        spec, ref, model, trees, leaf_ids, labels, _ = self._tree_case(
            backend, cell, dtype, OptimizerSpec("adagrad", lr=0.1), seed=4
        )
        tolerance = MODEL_TOLERANCE[dtype]
        ref_loss, ref_grads = ref.loss_and_grads(leaf_ids, trees, labels)
        got_loss, got_grads = model.loss_and_grads(leaf_ids, trees, labels)
        assert abs(got_loss - ref_loss) <= tolerance * abs(ref_loss), f"loss {got_loss} != {ref_loss}"
        _assert_close(ref_grads, got_grads, tolerance, f"{cell} tree model {dtype}")
        curve = np.array(
            [[ref.train_step(leaf_ids, trees, labels), model.train_step(leaf_ids, trees, labels)] for _ in range(5)]
        )
        assert relative_error(curve[:, 1], curve[:, 0]) <= tolerance * 10, curve
        logits = model.predict(leaf_ids, trees)
        assert type(logits) is np.ndarray and logits.shape == (trees.num_nodes, 5)
        _assert_close({"logits": ref.predict(leaf_ids, trees)}, {"logits": logits}, tolerance * 10, "tree logits")

    # -- dropout masks (optional: a model without them runs no --dropout, and the runner says so) ---

    @staticmethod
    def _skip_without_masks(backend):
        spec = _model_spec("lstm", "tanh", "mean", "xent", "float64")
        if not takes_masks(backend.build_model(spec, init_model_params(spec))):
            skip_optional(f"{backend.name}'s model takes no dropout masks (train_step has no masks keyword)")

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize(
        "cell,pooling,layered", [("lstm", "mean", False), ("gru", "steps", False), ("rnn", "last", True)]
    )
    def test_model_with_masks_matches_reference(self, backend, cell, pooling, layered, dtype):
        """With the same dropout masks (rate 0.4, :func:`rnnbench.dropout.draw_masks`): the loss and every
        gradient to :data:`MODEL_TOLERANCE`, the parameters after three masked steps to ten times it; and
        ``masks=None`` gives exactly the numbers of a call without the keyword."""
        self._skip_without_masks(backend)
        spec = _model_spec(cell, "tanh", pooling, "xent", dtype)
        if layered:
            if not getattr(backend, "layered", False):
                skip_optional(f"{backend.name} declares single layers only (Backend.layered)")
            spec = replace(spec, num_layers=2, bidirectional=True)
        params = init_model_params(spec, seed=6)
        ref = self.reference_backend().build_model(
            replace(spec, dtype="float64"), {k: v.astype(np.float64) for k, v in params.items()}
        )
        model = backend.build_model(spec, params)
        batch = _model_batch(spec)
        tolerance = MODEL_TOLERANCE[dtype]
        rng = np.random.default_rng(7)
        masks = [draw_masks(replace(spec, dtype="float64"), batch[:2], 0.4, rng) for _ in range(3)]
        ref_loss, ref_grads = ref.loss_and_grads(*batch, masks=masks[0])
        got_loss, got_grads = model.loss_and_grads(*batch, masks=masks[0])
        assert abs(got_loss - ref_loss) <= tolerance * abs(ref_loss), f"masked loss {got_loss} != {ref_loss}"
        _assert_close(ref_grads, got_grads, tolerance, f"{spec.cell} {pooling} {dtype} gradients with masks")
        plain_loss, plain_grads = model.loss_and_grads(*batch)
        none_loss, none_grads = model.loss_and_grads(*batch, masks=None)
        assert none_loss == plain_loss and all(np.array_equal(none_grads[k], plain_grads[k]) for k in plain_grads)
        assert plain_loss != got_loss, "the masks changed nothing"
        for step_masks in masks:
            ref.train_step(*batch, masks=step_masks)
            model.train_step(*batch, masks=step_masks)
        _assert_close(ref.get_params(), model.get_params(), tolerance * 10, "parameters after 3 masked steps")

    @pytest.mark.parametrize("dtype", ["float64", "float32"])
    @pytest.mark.parametrize("cell", ["recursive", "treelstm"])
    def test_tree_model_with_masks_matches_reference(self, backend, cell, dtype):
        """A tree model with dropout masks on the leaf embeddings and the node states: loss and every
        gradient, three masked steps; ``masks=None`` is a call without the keyword."""
        self._skip_without_masks(backend)
        spec, ref, model, trees, leaf_ids, labels, rng = self._tree_case(
            backend, cell, dtype, OptimizerSpec("adam", lr=0.05), seed=8
        )
        masks = [draw_masks(replace(spec, dtype="float64"), (leaf_ids, trees), 0.4, rng) for _ in range(3)]
        tolerance = MODEL_TOLERANCE[dtype]
        ref_loss, ref_grads = ref.loss_and_grads(leaf_ids, trees, labels, masks=masks[0])
        got_loss, got_grads = model.loss_and_grads(leaf_ids, trees, labels, masks=masks[0])
        assert abs(got_loss - ref_loss) <= tolerance * abs(ref_loss), f"masked loss {got_loss} != {ref_loss}"
        _assert_close(ref_grads, got_grads, tolerance, f"{cell} tree model {dtype} with masks")
        plain_loss, plain_grads = model.loss_and_grads(leaf_ids, trees, labels)
        none_loss, none_grads = model.loss_and_grads(leaf_ids, trees, labels, masks=None)
        assert none_loss == plain_loss and all(np.array_equal(none_grads[k], plain_grads[k]) for k in plain_grads)
        for step_masks in masks:
            ref.train_step(leaf_ids, trees, labels, masks=step_masks)
            model.train_step(leaf_ids, trees, labels, masks=step_masks)
        _assert_close(ref.get_params(), model.get_params(), tolerance * 10, "tree parameters after 3 masked steps")

    # -- timers (optional: a backend without them cannot be benchmarked, and says so) -----------

    @pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward+backward"])
    def test_timers_run(self, backend, backward):
        from rnnbench.bench.inputs import sequence_inputs, tree_inputs

        params, x = sequence_inputs("lstm", 3, 5, 4, 6)
        try:
            timer = backend.sequence_timer("lstm", params, x, None, backward)
        except RnnbenchError as exc:
            if "cannot be timed" in str(exc):
                skip_optional(f"{backend.name} has no timers: {exc}")
            raise
        assert timer() is None
        trees = _trees()
        tree_params, leaves = tree_inputs("treelstm", trees.num_leaves, 4, 6)
        tree_timer = backend.tree_timer("treelstm", tree_params, leaves, trees, backward)
        assert tree_timer() is None

    # -- what the registration declares, and the optional extension points its flags announce --------

    def test_registration_matches_the_class(self, backend, request):
        """The impls the registration declares (``Entry.impls``, what ``rnnbench bench`` lists without importing
        the framework) are the class's, and every capability flag set has its method: what
        :func:`rnnbench.plugins.load_backend` would refuse when the backend is used."""
        from rnnbench.plugins import load_backend

        entry = self.entry(request)
        backend_class = load_backend(entry)
        if not entry.impls:
            skip_optional(f"{backend.name} declares no impls in its registration (a worker process is asked)")
        assert entry.impls == tuple(backend_class.impls) == tuple(backend.impls)

    @pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward+backward"])
    def test_bare_timer_runs(self, backend, backward):
        """``has_bare_timer``: the framework's own layer, called directly, runs and says what it is."""
        from rnnbench.bench.inputs import sequence_inputs

        if not backend.has_bare_timer:
            skip_optional(f"{backend.name} offers no bare timer (has_bare_timer is False)")
        params, x = sequence_inputs("lstm", 3, 5, 4, 6)
        timer = backend.bare_sequence_timer("lstm", params, x, backward)
        assert timer() is None
        assert isinstance(timer.method, str) and timer.method

    def test_plain_train_step_starts_from_the_same_weights(self, backend):
        """``has_plain_train_step``: for the textclf model ``rnnbench bench --train`` times, the plain loop's
        first loss is the model's on the same batch (the same weights), and it keeps training."""
        if not backend.has_plain_train_step:
            skip_optional(f"{backend.name} offers no plain train step (has_plain_train_step is False)")
        spec = ModelSpec(
            cell="lstm",
            vocab_size=12,
            embed_size=4,
            hidden_size=5,
            num_outputs=3,
            pooling="mean",
            loss="xent",
            optimizer=OptimizerSpec("adam", lr=0.05),
            clip_norm=1.0,
            dtype="float64",
        )
        rng = np.random.default_rng(5)
        lengths = np.array([6, 1, 4, 3])
        ids = np.where(np.arange(6)[None, :] < lengths[:, None], rng.integers(2, 12, size=(4, 6)), 0)
        batch = (ids, lengths, rng.integers(0, 3, size=4))
        params = init_model_params(spec, seed=0)
        step = backend.plain_train_step(spec, params)
        assert step is not None, "a backend with has_plain_train_step has a plain loop for the textclf model"
        assert isinstance(step.method, str) and step.method
        expected, _ = backend.build_model(spec, params).loss_and_grads(*batch)
        losses = [float(step(batch)) for _ in range(3)]
        assert abs(losses[0] - expected) <= 1e-6 * max(1.0, abs(expected)), (losses[0], expected)
        assert losses[-1] < losses[0]
