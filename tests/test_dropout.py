"""Dropout (issue 15): masks drawn by the runner in NumPy, the same on every backend, exact gradients through them."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import rnnbench
from rnnbench import check, cli, runner
from rnnbench.dropout import MASK_NAMES, check_masks, check_rate, draw_masks
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import numeric_grads, relative_error
from rnnbench.model import ModelSpec, init_model_params
from rnnbench.parity import TREE_TEXTS
from rnnbench.tree_model import TreeModelSpec
from rnnbench.trees import TreeBatch, parse_tree

from text_fixtures import sentiment_texts, write_user_file

FRAMEWORKS = [name for name in ("torch", "tensorflow") if importlib.util.find_spec(name)]


def _seq_spec(**kw) -> ModelSpec:
    options = dict(cell="lstm", hidden_size=4, num_outputs=3, vocab_size=11, embed_size=5, dtype="float64")
    return ModelSpec(**{**options, **kw})


def _seq_batch(spec, seed=0, batch=3, steps=6):
    rng = np.random.default_rng(seed)
    ids = (
        rng.integers(0, spec.vocab_size, (batch, steps))
        if spec.vocab_size
        else rng.normal(size=(batch, steps, spec.input_size))
    )
    lengths = np.resize(np.array([steps, 2, 4]), batch)
    targets = rng.integers(0, spec.num_outputs, (batch, steps) if spec.pooling == "steps" else batch)
    return (ids, lengths), targets


def _tree_spec(cell="treelstm") -> TreeModelSpec:
    return TreeModelSpec(
        cell=cell,
        hidden_size=4,
        num_outputs=5,
        vocab_size=9,
        embed_size=4 if cell == "recursive" else 3,
        dtype="float64",
        l2=1e-3,
    )


def _tree_batch(seed=0):
    trees = TreeBatch.from_trees([parse_tree(text) for text in TREE_TEXTS])
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 9, trees.num_leaves), trees), trees.labels


# -- the masks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, head", [({}, (3, 4)), ({"bidirectional": True}, (3, 8)), ({"pooling": "steps"}, (3, 6, 4))]
)
def test_sequence_masks_have_the_shapes_values_and_dtype_of_the_spec(kw, head):
    spec = _seq_spec(dtype="float32", **kw)
    inputs, _ = _seq_batch(spec)
    masks = draw_masks(spec, inputs, 0.25, np.random.default_rng(0))
    assert list(masks) == list(MASK_NAMES)
    assert masks["input"].shape == (3, 6, 5) and masks["head"].shape == head
    for mask in masks.values():
        assert mask.dtype == np.float32
        assert set(np.unique(mask)) <= {np.float32(0), np.float32(1 / 0.75)}
    kept = np.concatenate([m.ravel() for m in masks.values()]) > 0
    assert 0.6 < kept.mean() < 0.9


def test_feature_and_tree_masks():
    spec = ModelSpec(cell="gru", hidden_size=4, num_outputs=2, input_size=7, dtype="float64")
    inputs, _ = _seq_batch(spec)
    assert {k: v.shape for k, v in draw_masks(spec, inputs, 0.5, np.random.default_rng(0)).items()} == {
        "input": (3, 6, 7),
        "head": (3, 4),
    }
    tree_inputs, _ = _tree_batch()
    trees = tree_inputs[1]
    masks = draw_masks(_tree_spec(), tree_inputs, 0.5, np.random.default_rng(0))
    assert masks["input"].shape == (trees.num_leaves, 3) and masks["head"].shape == (trees.num_nodes, 4)


def test_masks_are_a_function_of_the_seed_alone():
    spec = _seq_spec()
    inputs, _ = _seq_batch(spec)

    def stream(seed):
        rng = np.random.default_rng([seed, 0xD7])
        return [draw_masks(spec, inputs, 0.3, rng) for _ in range(3)]

    a, b, c = stream(0), stream(0), stream(1)
    assert all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in MASK_NAMES)
    assert not np.array_equal(a[0]["input"], c[0]["input"])
    assert not np.array_equal(a[0]["input"], a[1]["input"])  # a new mask every step
    assert all((m == 1).all() for m in draw_masks(spec, inputs, 0.0, np.random.default_rng(0)).values())


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "x"])
def test_a_rate_outside_zero_one_is_one_line(rate):
    with pytest.raises(RnnbenchError, match=r"^--dropout must lie in \[0, 1\), got ") as info:
        check_rate(rate)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("backend", ["numpy", *FRAMEWORKS])
def test_bad_masks_are_one_line_before_any_framework(backend):
    spec = _seq_spec()
    inputs, targets = _seq_batch(spec)
    model = rnnbench.get_backend(backend).build_model(spec, init_model_params(spec))
    good = draw_masks(spec, inputs, 0.5, np.random.default_rng(0))
    bad = [
        ({"input": good["input"]}, r"keys \['input', 'head'\]"),
        ({**good, "head": good["head"].T}, r"mask 'head' must be floats \[3, 4\], got float64 \[4, 3\]"),
        ({**good, "input": good["input"][:, :2]}, r"mask 'input' must be floats \[3, 6, 5\]"),
    ]
    for masks, message in bad:
        with pytest.raises(RnnbenchError, match=message) as info:
            model.train_step(*inputs, targets, masks=masks)
        assert "\n" not in str(info.value)
    with pytest.raises(RnnbenchError, match="dict with keys"):
        check_masks(spec, inputs, [good["input"], good["head"]])


# -- the NumPy reference: exact gradients through the masks -------------------------------------------


def _check_gradients(model, batch, masks):
    loss, grads = model.loss_and_grads(*batch, masks=masks)
    numeric = numeric_grads(lambda _: model.loss_and_grads(*batch, masks=masks)[0], model.params)
    for name, value in numeric.items():
        assert relative_error(grads[name], value) < 1e-6, name
    return loss


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"pooling": "max", "bidirectional": True},
        {"pooling": "steps", "cell": "gru"},
        {"pooling": "last", "num_layers": 2, "l2": 1e-2},
    ],
)
def test_numpy_sequence_model_gradients_with_masks_match_finite_differences(kw):
    spec = _seq_spec(**kw)
    inputs, targets = _seq_batch(spec)
    model = rnnbench.get_backend("numpy").build_model(spec, init_model_params(spec))
    masks = draw_masks(spec, inputs, 0.4, np.random.default_rng(3))
    with_masks = _check_gradients(model, (*inputs, targets), masks)
    assert with_masks != model.loss_and_grads(*inputs, targets)[0]  # the masks change the loss


@pytest.mark.parametrize("cell", ["treelstm", "recursive"])
def test_numpy_tree_model_gradients_with_masks_match_finite_differences(cell):
    spec = _tree_spec(cell)
    inputs, labels = _tree_batch()
    model = rnnbench.get_backend("numpy").build_model(spec, init_model_params(spec))
    masks = draw_masks(spec, inputs, 0.4, np.random.default_rng(3))
    with_masks = _check_gradients(model, (*inputs, labels), masks)
    assert with_masks != model.loss_and_grads(*inputs, labels)[0]


def test_all_ones_masks_are_no_dropout():
    spec = _seq_spec()
    inputs, targets = _seq_batch(spec)
    model = rnnbench.get_backend("numpy").build_model(spec, init_model_params(spec))
    ones = draw_masks(spec, inputs, 0.0, np.random.default_rng(0))
    a, b = model.loss_and_grads(*inputs, targets, masks=ones), model.loss_and_grads(*inputs, targets)
    assert a[0] == b[0] and all(np.array_equal(a[1][k], b[1][k]) for k in a[1])


# -- every backend: the same masks give the same numbers ------------------------------------------------


@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"pooling": "last", "bidirectional": True},
        {"pooling": "steps"},
        {"vocab_size": None, "embed_size": None, "input_size": 5, "loss": "mse"},
    ],
)
def test_framework_models_match_numpy_with_masks(name, kw):
    spec = _seq_spec(**kw)
    inputs, targets = _seq_batch(spec)
    if spec.loss == "mse":
        targets = np.random.default_rng(1).normal(size=(3, 3))
    params = init_model_params(spec)
    masks = draw_masks(spec, inputs, 0.3, np.random.default_rng(1))
    _assert_matches_numpy(name, spec, params, inputs, targets, masks)


def _assert_matches_numpy(name, spec, params, inputs, targets, masks):
    """Loss to 1e-12 and every gradient to 1e-10 (relative, float64) of backend ``name`` against NumPy's."""
    ref_loss, ref = (
        rnnbench.get_backend("numpy").build_model(spec, params).loss_and_grads(*inputs, targets, masks=masks)
    )
    loss, grads = rnnbench.get_backend(name).build_model(spec, params).loss_and_grads(*inputs, targets, masks=masks)
    assert abs(loss - ref_loss) <= 1e-12 * abs(ref_loss)
    for k in ref:
        assert relative_error(grads[k], ref[k]) < 1e-10, k


@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("cell", ["treelstm", "recursive"])
def test_framework_tree_models_match_numpy_with_masks(name, cell):
    spec = _tree_spec(cell)
    inputs, labels = _tree_batch()
    params = init_model_params(spec)
    masks = draw_masks(spec, inputs, 0.3, np.random.default_rng(1))
    _assert_matches_numpy(name, spec, params, inputs, labels, masks)


@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("case", ["lstm-drop", "treelstm-drop"])
def test_dropout_trajectories_follow_numpy_float64(name, case):
    """50 Adam steps (clipping, L2) with fresh masks every step, against the NumPy float64 curve to 1e-8."""
    rows = check.trajectory_rows([(name, "native")], [case], ["float64"])
    assert len(rows) == 1 and rows[0].passed, rows[0]
    assert rows[0].max_rel <= check.TRAJECTORY_TOLERANCE["float64"]


def test_dropout_cases_are_default_trajectory_cases():
    assert {"lstm-drop", "treelstm-drop"} <= set(check.TRAJECTORY_CASES)
    ref = check.loss_curve(rnnbench.get_backend("numpy"), "lstm-drop", "float64")
    plain = check.loss_curve(rnnbench.get_backend("numpy"), "lstm", "float64")
    assert ref.shape == plain.shape and not np.allclose(ref, plain)


# -- the runner ------------------------------------------------------------------------------------


@pytest.fixture
def tiny_textclf(tmp_path):
    from rnnbench.tasks.textclf.task import TextClassification

    toy = write_user_file(tmp_path / "toy.tsv", sentiment_texts(60))
    task = TextClassification()

    def prepare(**given):
        config = task.resolve_config(
            {
                "dataset": str(toy),
                "model": "lstm",
                "embed_size": 4,
                "hidden_size": 4,
                "epochs": 1,
                "max_steps": 6,
                "batch_size": 8,
                "dtype": "float64",
                **given,
            }
        )
        runner.check_run_options(config)
        return config, task.prepare(config)

    return prepare


def _losses(record):
    assert record["status"] == "ok", record["error"]
    return [(e["mean_loss"], e["last_loss"]) for e in record["epochs"]]


def test_runner_dropout_is_recorded_and_the_same_on_numpy_and_torch(tiny_textclf):
    pytest.importorskip("torch")
    config, prepared = tiny_textclf(dropout=0.5)
    quiet = dict(progress=False, log=lambda m: None)
    records = {
        name: runner.run(prepared, rnnbench.get_backend(name), config, seed=0, **quiet) for name in ("numpy", "torch")
    }
    assert records["numpy"]["config"]["dropout"] == 0.5
    ((ref_mean, ref_last),) = _losses(records["numpy"])
    ((mean, last),) = _losses(records["torch"])
    assert abs(last - ref_last) <= 1e-10 * abs(ref_last) and abs(mean - ref_mean) <= 1e-6
    assert records["numpy"]["best"]["dev"] == records["torch"]["best"]["dev"]
    # dropout 0 is today's run: no masks at all, whether the key is there or not
    plain_config, plain = tiny_textclf()
    assert plain_config["dropout"] == 0.0
    without_key = {k: v for k, v in plain_config.items() if k != "dropout"}
    zero, old = (
        runner.run(plain, rnnbench.get_backend("numpy"), c, seed=0, **quiet) for c in (plain_config, without_key)
    )
    assert _losses(zero) == _losses(old) != _losses(records["numpy"])


def test_a_model_without_masks_is_refused_before_training(tiny_textclf):
    class NoMasks:
        def __init__(self, model):
            self.model = model

        def train_step(self, inputs, lengths, targets):
            raise AssertionError("never reached")

    class Backend:
        name = "nomasks"

        def info(self):
            return {}

        def build_model(self, spec, params):
            return NoMasks(rnnbench.get_backend("numpy").build_model(spec, params))

    config, prepared = tiny_textclf(dropout=0.2)
    record = runner.run(prepared, Backend(), config, seed=0, progress=False, log=lambda m: None)
    assert record["status"] == "failed" and record["steps"] == 0
    assert record["error"] == (
        "RnnbenchError: backend nomasks does not support --dropout (its model's train_step takes no masks)"
    )


def test_cli_rejects_a_rate_outside_zero_one(tmp_path, capsys):
    toy = write_user_file(tmp_path / "toy.tsv", sentiment_texts(20))
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            str(toy),
            "--dropout",
            "1.5",
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err == "rnnbench: error: --dropout must lie in [0, 1), got 1.5\n"
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").iterdir())


def test_cli_dropout_reaches_the_config(tmp_path, capsys):
    toy = write_user_file(tmp_path / "toy.tsv", sentiment_texts(20))
    assert (
        cli.main(
            [
                "run",
                "--backend",
                "numpy",
                "--task",
                "textclf",
                "--dataset",
                str(toy),
                "--dropout",
                "0.3",
                "--show-config",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["dropout"] == 0.3


def test_sweep_files_take_dropout(tmp_path):
    from rnnbench.sweep.spec import load_sweep

    path = tmp_path / "sweep.toml"
    path.write_text('[matrix]\nbackend = ["numpy"]\ndropout = [0.0, 0.5]\n[options]\ntask = "longrange"\n')
    sweep = load_sweep(path)
    assert sorted(c.value("dropout") for c in sweep.configurations) == [0.0, 0.5]


def test_report_labels_dropout_and_reads_old_records_as_no_dropout():
    from rnnbench.report.variants import label, run_diff

    base = {"task": "longrange", "problem": "adding", "seq_len": 50}
    assert run_diff({**base, "dropout": 0.5}) == {"dropout": 0.5}
    assert label(run_diff({**base, "dropout": 0.5})) == "dropout 0.5"
    assert run_diff(base) == {} == run_diff({**base, "dropout": 0.0})
