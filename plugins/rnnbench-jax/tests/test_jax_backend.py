"""What is particular to the JAX backend: how it is installed and loaded, float64 scoping, devices,
threads, the padding that keeps jit compilations few, and the commands a user runs with it."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

from rnnbench import parity
from rnnbench.errors import RnnbenchError
from rnnbench.testing import plugin_entry
from rnnbench.trees import TreeBatch, parse_tree

jax = pytest.importorskip("jax")

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "src" / "rnnbench_jax"


@pytest.fixture
def backend():
    return plugin_entry("jax", "rnnbench_jax.plugin").load()()


def _env(**extra):
    """The caller's environment with entry-point autoloading on: what a user who installed rnnbench-jax has."""
    env = {k: v for k, v in os.environ.items() if k != "RNNBENCH_DISABLE_PLUGIN_AUTOLOAD"}
    env.update(extra)
    return env


def test_registered_through_the_rnnbench_entry_point_group():
    points = [p for p in metadata.entry_points(group="rnnbench") if p.name == "jax"]
    assert len(points) == 1 and points[0].value == "rnnbench_jax.plugin"
    assert points[0].dist.name == "rnnbench-jax"


def test_rnnbench_plugins_lists_jax_without_importing_it():
    code = (
        "import sys, contextlib, io\n"
        "from rnnbench.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    status = main(['plugins'])\n"
        "line = [l for l in out.getvalue().splitlines() if l.split()[1:2] == ['jax']]\n"
        "print(line[0] if line else 'missing')\n"
        "print('jax imported' if 'jax' in sys.modules else 'jax not imported', status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    line, imported = result.stdout.strip().splitlines()[-2:]
    assert "available" in line and "rnnbench-jax" in line, result.stdout
    assert imported.startswith("jax not imported"), result.stdout


def test_only_rnnbench_public_api_is_imported():
    """A stranger's package may rely on the public API alone: no underscore names, no rnnbench.backends."""
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnnbench"):
                assert "._" not in node.module and not node.module.startswith("rnnbench.backends"), (
                    f"{path.name} imports {node.module}"
                )
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("rnnbench.backends"), f"{path.name} imports {alias.name}"


def test_float64_is_scoped_to_the_backend(backend):
    """x64 is on inside a float64 call and off again after it: other jax users keep float32."""
    assert not jax.config.jax_enable_x64
    case = parity.sequence_case("lstm")
    y, _ = backend.sequence_forward("lstm", case.params, case.inputs["x"], case.inputs["lengths"])
    assert y.dtype == np.float64
    assert not jax.config.jax_enable_x64
    assert jax.numpy.ones(1).dtype == np.float32
    reference, _ = (
        plugin_entry("jax", "rnnbench_jax.plugin")
        .load()()
        .sequence_forward(
            "lstm",
            {k: v.astype(np.float32) for k, v in case.params.items()},
            case.inputs["x"].astype(np.float32),
            case.inputs["lengths"],
        )
    )
    assert 1e-9 < np.max(np.abs(reference - y)) < 1e-5, "float32 and float64 should differ by float32 rounding"


def test_nothing_jax_leaves_the_backend(backend):
    tree = parity.tree_case("treelstm")
    states = backend.tree_forward("treelstm", tree.params, tree.inputs["x_leaves"], tree.inputs["trees"])
    grads = backend.tree_backward(
        "treelstm", tree.params, tree.inputs["x_leaves"], tree.inputs["trees"], {"h": np.ones_like(states["h"])}
    )
    for value in (*states.values(), *grads.values()):
        assert type(value) is np.ndarray


def test_unknown_impl_and_absent_gpu_are_one_line_errors():
    backend_class = plugin_entry("jax", "rnnbench_jax.plugin").load()
    with pytest.raises(RnnbenchError, match="unknown jax impl 'loop'; valid: native"):
        backend_class(impl="loop")
    with pytest.raises(RnnbenchError, match="unknown jax device 'tpu7'"):
        backend_class(device="tpu7")
    if not any(d.platform == "gpu" for d in jax.devices()):
        with pytest.raises(RnnbenchError, match=r"device gpu requested but jax .* sees no gpu") as error:
            backend_class(device="gpu")
        assert "\n" not in str(error.value)
    assert backend_class(device="cpu").info()["device"] == "cpu:0"


def test_threads_it_cannot_honour_are_refused(backend):
    backend_class = type(backend)
    with pytest.raises(RnnbenchError, match="threads must be a positive integer"):
        backend_class(threads=0)
    in_effect = backend.info()["threads"]
    with pytest.raises(RnnbenchError, match="threads"):
        backend_class(threads=in_effect + 1)
    assert backend_class(threads=in_effect).info()["threads"] == in_effect


def test_threads_one_reaches_xla_in_a_fresh_process():
    code = (
        "from rnnbench.plugins import get_backend\n"
        "import os; b = get_backend('jax', threads=1)\n"
        "print(b.info()['threads'], '--xla_cpu_multi_thread_eigen=false' in os.environ['XLA_FLAGS'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True"]


def test_padding_keeps_compilations_few():
    from rnnbench_jax.model import padded_steps
    from rnnbench_jax.tree import TreePlan, bucket

    assert [padded_steps(t) for t in (1, 8, 9, 64, 65, 400)] == [8, 8, 16, 64, 96, 416]
    assert len({padded_steps(t) for t in range(1, 401)}) == 19
    assert [bucket(n) for n in (1, 8, 9, 300)] == [8, 8, 16, 512]
    plan = TreePlan.of(TreeBatch.from_trees([parse_tree(text) for text in parity.TREE_TEXTS]))
    assert all(len(ids) == bucket(len(ids)) for ids, _, _ in plan.levels)
    assert (plan.leaf_ids[plan.num_leaves :] == plan.padded_nodes).all()  # padding writes are dropped


@pytest.mark.parametrize("rows", [1, 2, 32])
def test_stacked_steps_cover_each_node_once_after_its_children(rows):
    """The tree model's scan input: every internal node in exactly one step, no step wider than ``rows``,
    each step reading only nodes of earlier steps (or leaves), the step count a power of two."""
    from rnnbench_jax.tree import TreePlan, bucket

    trees = TreeBatch.from_trees([parse_tree(text) for text in parity.TREE_TEXTS] * 3)
    plan = TreePlan.of(trees)
    ids, left, right = plan.stacked(rows)
    assert ids.shape == left.shape == right.shape == (bucket(len(ids)), rows) and len(ids) == bucket(len(ids))
    real = ids[ids < plan.padded_nodes]
    assert sorted(real.tolist()) == list(range(trees.num_leaves, trees.num_nodes))
    done = set(range(trees.num_leaves))
    for step_ids, step_left, step_right in zip(ids, left, right):
        mine = step_ids < plan.padded_nodes
        assert {*step_left[mine].tolist(), *step_right[mine].tolist()} <= done
        done |= set(step_ids[mine].tolist())
    # padding: a level takes ceil(width / rows) steps (at most its last one partly filled), never the widest's
    used = sum(bool((row < plan.padded_nodes).any()) for row in ids)
    assert used == sum(-(-(level.stop - level.start) // rows) for level in trees.levels)


def _tree_path_equals_numpy(backend, cell, trees, path, *, seed, padding_gradient=0.0):
    """Hold a jitted tree path's node states and gradients to NumPy's forward and backward (float64).

    ``path(plan, params, x_padded, padded_upstream)`` returns ``(states, (dparams, dx))``; the upstream
    gradient of the padded rows no node owns is ``padding_gradient`` (it must reach no gradient).
    """
    from rnnbench.backend import state_keys
    from rnnbench.backends.numpy import tree as numpy_tree
    from rnnbench_jax.tree import TreePlan

    case = parity.make_case(cell)
    trees = case.inputs["trees"] if trees is None else trees
    rng = np.random.default_rng(seed)
    H = case.params["W"].shape[0] // 2
    x = rng.normal(size=(trees.num_leaves, case.inputs["x_leaves"].shape[1]))
    up = {k: rng.normal(size=(trees.num_nodes, H)) for k in state_keys(cell)}
    plan = TreePlan.of(trees)
    padded_up = {k: np.full((plan.padded_nodes, H), padding_gradient) for k in up}
    for k, v in up.items():
        padded_up[k][: trees.num_nodes] = v
    with backend.precision("float64"):
        states, (dparams, dx) = path(plan, case.params, plan.pad_leaves(x), padded_up)
        states = {k: np.asarray(v)[: trees.num_nodes] for k, v in states.items()}
        grads = {**{k: np.asarray(v) for k, v in dparams.items()}, "x": np.asarray(dx)[: trees.num_leaves]}
    expected_states, cache = numpy_tree.forward(cell, case.params, x, trees)
    expected = numpy_tree.backward(cache, up)
    for k in up:
        np.testing.assert_allclose(states[k], expected_states[k], rtol=1e-12, atol=1e-12)
    assert set(grads) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("rows", [2, 32])
@pytest.mark.parametrize("cell", ["recursive", "treelstm"])
def test_scanned_tree_path_equals_numpy_whatever_the_step_rows(backend, cell, rows):
    """The path the tree model trains on: NumPy's node states and gradients, with levels cut into steps."""
    from rnnbench_jax.tree import scanned_tree_states

    def path(plan, params, x, up):
        def forward_backward(p, x, leaf_ids, ids, left, right, u):
            def states_of(q, y):
                return scanned_tree_states(cell, q, y, leaf_ids, ids, left, right, plan.padded_nodes)

            states, vjp = jax.vjp(states_of, p, x)
            return states, vjp(u)

        return jax.jit(forward_backward)(params, x, plan.leaf_ids, *plan.stacked(rows), up)

    _tree_path_equals_numpy(backend, cell, None, path, seed=5)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("no_levels", [False, True], ids=["levels", "leaves-only"])
@pytest.mark.parametrize("cell", ["recursive", "treelstm"])
def test_unrolled_tree_path_gradient_equals_numpy(backend, cell, no_levels):
    """The jitted path ``bench`` times (levels unrolled under a hand-written backward) against NumPy's
    forward and backward, with upstream gradients on ``h`` and ``c``; padded rows take no part."""
    from rnnbench_jax.tree import unrolled_tree_states

    def path(plan, params, x, up):
        def forward_backward(p, x, ids, levels, u):
            states, vjp = jax.vjp(lambda q, y: unrolled_tree_states(cell, q, y, ids, levels, plan.padded_nodes), p, x)
            return states, vjp(u)

        return jax.jit(forward_backward)(params, x, plan.leaf_ids, plan.levels, up)

    trees = TreeBatch.from_trees([parse_tree("(1 a)"), parse_tree("(2 b)")]) if no_levels else None
    _tree_path_equals_numpy(backend, cell, trees, path, seed=3, padding_gradient=1.0)


def test_a_model_does_not_recompile_for_every_length(backend):
    """Lengths 9..16 share one padded shape: one compiled training step for all of them."""
    from rnnbench.model import ModelSpec, init_model_params
    from rnnbench_jax import model as jax_model

    spec = ModelSpec(cell="gru", hidden_size=3, num_outputs=2, vocab_size=7, embed_size=2)
    trainable = backend.build_model(spec, init_model_params(spec))
    rng = np.random.default_rng(0)
    before = jax_model._train_step._cache_size()
    for steps in range(9, 17):
        trainable.train_step(rng.integers(0, 7, (2, steps)), np.array([steps, 1]), np.array([0, 1]))
    assert jax_model._train_step._cache_size() - before == 1


def test_rnnbench_check_passes_for_jax(tmp_path):
    """The command a user runs: registered by entry point, every row within tolerance, a record written."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "check",
            "--backend",
            "jax",
            "--cells",
            "lstm,treelstm",
            "--format",
            "json",
            "--results-dir",
            str(tmp_path),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [row for row in json.loads(result.stdout) if row["backend"] == "jax"]
    assert {(row["case"], row["dtype"]) for row in rows} == {
        (c, d) for c in ("lstm", "treelstm") for d in ("float64", "float32")
    }
    assert all(row["passed"] for row in rows), rows
    assert list(tmp_path.glob("*check*.json"))


def test_rnnbench_run_trains_on_jax(tmp_path):
    """A short long-range run (synthetic data): per-step pooling, the gradient-flow probe, a record."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "run",
            "--backend",
            "jax",
            "--task",
            "longrange",
            "--problem",
            "copy",
            "--seq-len",
            "10",
            "--max-steps",
            "4",
            "--results-dir",
            str(tmp_path),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = tmp_path.glob("*longrange*jax*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["backend_info"]["framework"] == "jax"
    assert record["gradient_flow"] and all(np.isfinite(entry["norms"]).all() for entry in record["gradient_flow"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_stacked_and_bidirectional_encoders_agree_with_numpy(backend, dtype):
    """2-layer bidirectional cases (rnnbench.layers): every unit's gradients and initial states, ragged lengths."""
    from rnnbench.plugins import get_backend

    for label in parity.LAYERED_CASE_LABELS:
        reference = parity.evaluate(get_backend("numpy"), parity.make_case(label), "float64")
        result = parity.evaluate(backend, parity.make_case(label), dtype)
        worst = max(parity.compare(reference, result), key=lambda d: d.max_rel)
        assert worst.max_rel <= parity.TOLERANCE[dtype], (label, worst)


def test_planted_bug_reversing_the_padded_width_is_caught(backend, monkeypatch):
    """The backward direction fed ``x[:, ::-1]`` (padding first) instead of each row reversed within its length."""
    from rnnbench.plugins import get_backend
    from rnnbench_jax import layered

    reference = parity.evaluate(get_backend("numpy"), parity.make_case("lstm-L2-bi"), "float64")
    monkeypatch.setattr(layered, "reverse_within", lambda a, lengths: a[:, ::-1])
    jax.clear_caches()
    result = parity.evaluate(backend, parity.make_case("lstm-L2-bi"), "float64")
    assert max(d.max_rel for d in parity.compare(reference, result)) > 1e-2
    jax.clear_caches()
