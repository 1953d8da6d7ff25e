"""The NumPy tree cells: hand-written backward against central differences and a node-by-node twin.

Tolerances: float64 gradients within relative error 1e-6 of central differences
(eps 1e-6; truncation and rounding are ~1e-10, see rnnbench.gradcheck); the
level-batched forward and backward equal the node-by-node evaluation
(tests/tree_reference.py) within 1e-12; float32 agrees with float64 within 1e-5.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbench.backends.numpy import tree as numpy_tree
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import contract, numeric_grads, relative_error
from rnnbench.params import init_params
from rnnbench.trees import Tree, TreeBatch, parse_tree, read_trees

import tree_reference

CELLS = ("recursive", "treelstm")
SIZES = {"recursive": (3, 3), "treelstm": (2, 3)}  # (input size D, hidden size H); recursive needs D == H


def _chain(depth: int, right: bool) -> Tree:
    """A left- (or right-) branching chain with ``depth`` internal nodes."""
    tree = Tree.leaf("w0", 2)
    for k in range(1, depth + 1):
        leaf = Tree.leaf(f"w{k}", 2)
        tree = Tree.node(leaf, tree, label=1) if right else Tree.node(tree, leaf, label=3)
    return tree


def _balanced(depth: int) -> Tree:
    if depth == 0:
        return Tree.leaf("x", 2)
    return Tree.node(_balanced(depth - 1), _balanced(depth - 1), label=2)


MIXED_TREES = [
    Tree.leaf("alone", 4),
    _balanced(3),
    _chain(6, right=False),
    _chain(5, right=True),
    parse_tree("(1 (2 (2 a) (2 b)) (0 (2 c) (3 (2 d) (2 e))))"),
    parse_tree("(3 (2 f) (2 g))"),
]


def random_inputs(cell: str, trees: list[Tree], seed: int = 0, dtype=np.float64):
    """Parameters moved away from their init (so every gate is exercised), leaf inputs and node cotangents."""
    D, H = SIZES[cell]
    rng = np.random.default_rng(seed)
    params = {
        name: value + rng.normal(0.0, 0.5, value.shape)
        for name, value in init_params(cell, D, H, seed=seed, dtype="float64").items()
    }
    batch = TreeBatch.from_trees(trees)
    x = rng.normal(size=(batch.num_leaves, D))
    keys = ("h", "c") if cell == "treelstm" else ("h",)
    cotangents = {key: rng.normal(size=(batch.num_nodes, H)) for key in keys}
    params = {name: value.astype(dtype) for name, value in params.items()}
    return params, x.astype(dtype), batch, cotangents


def gradient_errors(cell, params, x, batch, cotangents) -> dict[str, float]:
    """Relative error of backward against central differences, per array (every parameter and x)."""
    _, cache = numpy_tree.forward(cell, params, x, batch)
    analytic = numpy_tree.backward(cache, cotangents)

    def scalar(arrays):
        states, _ = numpy_tree.forward(cell, {k: arrays[k] for k in params}, arrays["x"], batch)
        return contract(states, cotangents)

    arrays = {name: value.copy() for name, value in params.items()}
    arrays["x"] = x.copy()
    numeric = numeric_grads(scalar, arrays, eps=1e-6)
    assert set(analytic) == set(numeric)
    return {name: relative_error(analytic[name], numeric[name]) for name in numeric}


def assert_gradients_match(cell, trees, seed=0):
    params, x, batch, cotangents = random_inputs(cell, trees, seed)
    errors = gradient_errors(cell, params, x, batch, cotangents)
    for name, error in errors.items():
        assert error < 1e-6, f"{cell} gradient of {name}: relative error {error:.3g} >= 1e-6"


@pytest.mark.parametrize("cell", CELLS)
def test_backward_matches_central_differences_on_mixed_batch(cell):
    assert_gradients_match(cell, MIXED_TREES)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tree", [MIXED_TREES[0], MIXED_TREES[2], MIXED_TREES[3]], ids=["leaf", "left", "right"])
def test_backward_matches_central_differences_on_one_tree(cell, tree):
    assert_gradients_match(cell, [tree], seed=3)


def _route_left_with_right_half(dz, W, hidden):
    """Mutant: the left child's gradient goes through the right child's half of W."""
    return dz @ W[hidden:].T, dz @ W[hidden:].T


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_check_catches_a_miswired_backward(cell, monkeypatch):
    """The check must be able to fail: a backward with the children's W halves mixed up is caught."""
    params, x, batch, cotangents = random_inputs(cell, MIXED_TREES)
    monkeypatch.setattr(numpy_tree, "_children_grads", _route_left_with_right_half)
    errors = gradient_errors(cell, params, x, batch, cotangents)
    assert max(errors.values()) > 1e-3, errors
    assert errors["x"] > 1e-3, errors


@pytest.mark.parametrize("cell", CELLS)
def test_missing_dstate_keys_count_as_zero_and_inputs_are_not_modified(cell):
    params, x, batch, cotangents = random_inputs(cell, MIXED_TREES)
    _, cache = numpy_tree.forward(cell, params, x, batch)
    zero = numpy_tree.backward(cache, {})
    assert all(not np.any(value) for value in zero.values())
    only_h = numpy_tree.backward(cache, {"h": cotangents["h"], "c": None})
    explicit = numpy_tree.backward(
        cache, {key: (value if key == "h" else np.zeros_like(value)) for key, value in cotangents.items()}
    )
    for name in explicit:
        assert np.array_equal(only_h[name], explicit[name]), name
    before = {key: value.copy() for key, value in cotangents.items()}
    numpy_tree.backward(cache, cotangents)
    for key in cotangents:
        assert np.array_equal(before[key], cotangents[key]), f"backward modified dstates[{key!r}]"


@pytest.mark.parametrize("cell", CELLS)
def test_bad_dstates_raise_rnnbench_error(cell):
    params, x, batch, cotangents = random_inputs(cell, MIXED_TREES)
    _, cache = numpy_tree.forward(cell, params, x, batch)
    with pytest.raises(RnnbenchError, match=r"dstates\['h'\] must have shape"):
        numpy_tree.backward(cache, {"h": cotangents["h"][:-1]})
    with pytest.raises(RnnbenchError, match="dstates has"):
        numpy_tree.backward(cache, {"y": cotangents["h"]})


# --- level-batched == node by node --------------------------------------------------------------------------


def assert_matches_node_by_node(cell, trees, params, x, cotangents, tol=1e-12):
    batch = TreeBatch.from_trees(trees)
    states, cache = numpy_tree.forward(cell, params, x, batch)
    grads = numpy_tree.backward(cache, cotangents)
    plan = tree_reference.plan_trees(trees)
    assert plan.num_nodes == batch.num_nodes
    expected_states, node_cache = tree_reference.forward(cell, params, x, plan)
    expected_grads = tree_reference.backward(cell, params, x, plan, expected_states, node_cache, cotangents)
    assert set(states) == set(expected_states) and set(grads) == set(expected_grads)
    for key in states:
        diff = np.max(np.abs(states[key] - expected_states[key]))
        assert diff < tol, f"{cell} state {key}: max |level-batched - node-by-node| = {diff:.3g}"
    for name in grads:
        error = relative_error(grads[name], expected_grads[name])
        assert error < tol, f"{cell} gradient {name}: relative error vs node-by-node {error:.3g}"


@pytest.mark.parametrize("cell", CELLS)
def test_level_batched_equals_node_by_node_on_mixed_batch(cell):
    params, x, _, cotangents = random_inputs(cell, MIXED_TREES, seed=5)
    assert_matches_node_by_node(cell, MIXED_TREES, params, x, cotangents)


@pytest.fixture(scope="module")
def sst_trees():
    data = os.environ.get("RNNBENCH_DATA_DIR")
    if not data:
        pytest.skip("RNNBENCH_DATA_DIR is not set: the SST trees live in $RNNBENCH_DATA_DIR/sst")
    return read_trees(os.path.join(data, "sst", "dev.txt"))[:40]


@pytest.mark.parametrize("cell", CELLS)
def test_level_batched_equals_node_by_node_on_sst(cell, sst_trees):
    params, x, _, cotangents = random_inputs(cell, sst_trees, seed=7)
    assert_matches_node_by_node(cell, sst_trees, params, x, cotangents)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_agrees_with_float64(cell):
    params, x, batch, cotangents = random_inputs(cell, MIXED_TREES, seed=11)
    params32 = {name: value.astype(np.float32) for name, value in params.items()}
    states64, cache64 = numpy_tree.forward(cell, params, x, batch)
    states32, cache32 = numpy_tree.forward(cell, params32, x.astype(np.float32), batch)
    grads64 = numpy_tree.backward(cache64, cotangents)
    grads32 = numpy_tree.backward(cache32, {k: v.astype(np.float32) for k, v in cotangents.items()})
    for key in states64:
        assert states32[key].dtype == np.float32
        error = relative_error(states32[key], states64[key])
        assert error < 1e-5, f"{cell} state {key}: float32 vs float64 relative error {error:.3g}"
    for name in grads64:
        assert grads32[name].dtype == np.float32, name
        error = relative_error(grads32[name], grads64[name])
        assert error < 1e-5, f"{cell} gradient {name}: float32 vs float64 relative error {error:.3g}"


# --- random trees ---------------------------------------------------------------------------------------


binary_trees = st.recursive(st.just(Tree.leaf("w")), lambda kids: st.builds(Tree.node, kids, kids), max_leaves=10)


@settings(deadline=None, max_examples=15)
@given(cell=st.sampled_from(CELLS), trees=st.lists(binary_trees, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_random_trees_gradients_and_node_by_node(cell, trees, seed):
    assert_gradients_match(cell, trees, seed)
    params, x, _, cotangents = random_inputs(cell, trees, seed)
    assert_matches_node_by_node(cell, trees, params, x, cotangents)
