"""The long-range task: generators, baselines, splits, success rule, per-step pooling and gradient flow.

The gradient-flow diagnostic is checked three ways: NumPy's BPTT against
central differences of the loss in the state ``h_t`` itself (the suffix is
re-run from that state through the sequence contract), torch and TensorFlow
autograd against NumPy in float64, and a planted bug (the head's share of
``dL/dh_t`` dropped) that the check must catch.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from rnnbench import cli, get_backend
from rnnbench.backends.numpy import sequence as numpy_sequence
from rnnbench.backends.numpy.model import NumpyModel, _steps_xent_and_doutputs, loss_and_doutputs
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import numeric_grads, relative_error
from rnnbench.model import ModelSpec, encoder_params, init_model_params, is_decayed
from rnnbench.tasks.longrange import generators as gen
from rnnbench.tasks.longrange.inits import apply_init
from rnnbench.tasks.longrange.task import LongRange, parse_probe_steps, success_threshold

GRAD_TOL = 1e-6  # float64 central differences, eps 1e-6: truncation and rounding both near 1e-10
PARITY_TOL = 1e-10  # float64, the same arithmetic in another framework
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
CELL_IDS = [f"{cell}-{act}" for cell, act in CELLS]


def _framework(name):
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")


# -- generators ------------------------------------------------------------------------------------


def test_generators_repeat_under_a_seed_and_differ_across_seeds():
    a1 = gen.adding_batch(np.random.default_rng(5), 16, 30)
    a2 = gen.adding_batch(np.random.default_rng(5), 16, 30)
    a3 = gen.adding_batch(np.random.default_rng(6), 16, 30)
    assert all(np.array_equal(x, y) for x, y in zip(a1, a2))
    assert not np.array_equal(a1[0], a3[0]) and not np.array_equal(a1[1], a3[1])
    c1 = gen.copy_tokens(np.random.default_rng(5), 16, 30)
    c2 = gen.copy_tokens(np.random.default_rng(5), 16, 30)
    c3 = gen.copy_tokens(np.random.default_rng(6), 16, 30)
    assert all(np.array_equal(x, y) for x, y in zip(c1, c2))
    assert not np.array_equal(c1[0], c3[0])


@pytest.mark.parametrize("T", [2, 3, 17, 200])
def test_adding_markers_one_in_each_half_and_the_target_is_their_sum(T):
    inputs, targets = gen.adding_batch(np.random.default_rng(T), 500, T)
    assert inputs.shape == (500, T, 2) and targets.shape == (500, 1)
    values, marker = inputs[..., 0], inputs[..., 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(marker)) <= {0.0, 1.0}
    assert np.all(marker.sum(axis=1) == 2)
    assert np.all(marker[:, : T // 2].sum(axis=1) == 1) and np.all(marker[:, T // 2 :].sum(axis=1) == 1)
    np.testing.assert_allclose(targets[:, 0], (values * marker).sum(axis=1), rtol=0, atol=1e-15)
    if T == 17:  # each marker takes every slot of its half (500 draws over 8 and 9 slots)
        assert len(np.unique(marker[:, : T // 2].argmax(axis=1))) == T // 2
        assert len(np.unique(marker[:, T // 2 :].argmax(axis=1))) == T - T // 2


@pytest.mark.parametrize("T", [1, 5, 100])
def test_copy_layout(T):
    tokens, targets = gen.copy_tokens(np.random.default_rng(T), 300, T)
    assert tokens.shape == targets.shape == (300, T + 20)
    symbols = tokens[:, :10]
    assert symbols.min() == 1 and symbols.max() == 8  # all 8 symbols drawn, no blank or delimiter
    assert np.all(tokens[:, 10 : T + 9] == gen.BLANK)  # T - 1 blanks
    assert np.all(tokens[:, T + 9] == gen.DELIMITER)
    assert np.all(tokens[:, T + 10 :] == gen.BLANK)
    assert np.all(targets[:, : T + 10] == gen.BLANK)
    assert np.array_equal(targets[:, T + 10 :], symbols)
    hot = gen.one_hot(tokens)
    assert hot.shape == (300, T + 20, 10) and np.all(hot.sum(axis=2) == 1)
    assert np.array_equal(hot.argmax(axis=2), tokens)


def test_adding_baseline_is_the_mse_of_predicting_one():
    # (s - 1)^2 for s the sum of two U[0,1): variance 1/15 - 1/36, so the standard error of the
    # mean over 400000 draws is 3.1e-4; the tolerance is 6.5 of them.
    _, targets = gen.adding_batch(np.random.default_rng(0), 400_000, 10)
    measured = gen.mse(np.ones_like(targets), targets)
    assert gen.adding_baseline() == pytest.approx(1 / 6)
    assert abs(measured - gen.adding_baseline()) < 2e-3


@pytest.mark.parametrize("T", [1, 10, 200])
def test_copy_baseline_is_the_cross_entropy_of_the_memoryless_predictor(T):
    tokens, targets = gen.copy_tokens(np.random.default_rng(1), 64, T)
    # blanks with certainty until the delimiter has passed, then uniform over the 8 symbols
    logits = np.full((64, T + 20, gen.COPY_CLASSES), -1e30)
    logits[:, : T + 10, gen.BLANK] = 0.0
    logits[:, T + 10 :, 1:] = 0.0
    assert gen.step_xent(logits, targets) == pytest.approx(gen.copy_baseline(T), rel=1e-12)
    assert gen.copy_baseline(T) == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-15)
    assert gen.recall_accuracy(logits, targets) < 0.25  # argmax of a uniform guess: symbol 1 only


# -- the task: splits, options, success ----------------------------------------------------------


def _prepared(**options):
    task = LongRange()
    given = {
        "max_steps": 4,
        "steps_per_epoch": 2,
        "dev_size": 40,
        "test_size": 40,
        "batch_size": 8,
        "eval_batch_size": 16,
        "hidden_size": 4,
        **options,
    }
    config = task.resolve_config(given)
    return config, task.prepare(config)


@pytest.mark.parametrize("problem", ["adding", "copy"])
def test_train_dev_test_streams_are_apart(problem):
    config, prepared = _prepared(problem=problem, seq_len=12)
    first = prepared.train_batches(0, 1)
    assert len(first) == 2 and [b.size for b in first] == [8, 8]
    assert np.array_equal(first[1].inputs[0], prepared.train_batches(0, 1)[1].inputs[0])  # on demand, same
    train = [b.inputs[0] for s in (0, 1, 2) for e in (1, 2) for b in prepared.train_batches(s, e)]
    assert len({a.tobytes() for a in train}) == len(train)  # every (seed, epoch, batch) its own data
    dev = np.concatenate([b.inputs[0] for b in prepared.dev])
    test = np.concatenate([b.inputs[0] for b in prepared.test])
    assert len(dev) == len(test) == 40 and [b.size for b in prepared.dev] == [16, 16, 8]
    rows = {row.tobytes() for a in train for row in a}
    if problem == "adding":  # continuous values: a shared row would mean a shared stream
        assert not rows & {row.tobytes() for row in dev} and not rows & {row.tobytes() for row in test}
        assert not {row.tobytes() for row in dev} & {row.tobytes() for row in test}
    else:  # 8^10 symbol strings: the first rows of each split differ
        assert not np.array_equal(dev[:8], train[0]) and not np.array_equal(dev[:8], test[:8])
    # dev and test are fixed: the run seed does not move them, the split seed does
    _, again = _prepared(problem=problem, seq_len=12, seeds=[7])
    assert np.array_equal(np.concatenate([b.inputs[0] for b in again.test]), test)
    _, other = _prepared(problem=problem, seq_len=12, split_seed=1)
    assert not np.array_equal(np.concatenate([b.inputs[0] for b in other.test]), test)


def test_config_names_the_problem_and_length_and_budgets_epochs():
    config, prepared = _prepared(problem="copy", seq_len=30, max_steps=5)
    assert config["dataset"] == "copy-T30" and config["epochs"] == 3  # ceil(5 / 2)
    assert prepared.spec.pooling == "steps" and prepared.spec.input_size == 10 and prepared.spec.num_outputs == 9
    assert prepared.probe_batch.inputs[0].shape == (8, 50, 10)
    assert prepared.probe_steps == (0, 2, 4) and prepared.higher_is_better is False
    config, prepared = _prepared(seq_len=7)
    assert config["problem"] == "adding" and prepared.spec.pooling == "last" and prepared.spec.loss == "mse"
    assert parse_probe_steps("none") == () and parse_probe_steps("3,1") == (3, 1)
    assert _prepared(probe_steps="1,99")[1].probe_steps == (1,)  # steps past the budget never happen


def test_success_rule_against_the_baseline():
    _, prepared = _prepared(seq_len=10)
    targets = np.zeros((1000, 1))
    just_below = np.full((1000, 1), math.sqrt(0.0999 / 6))  # MSE 0.0999 x baseline
    just_above = np.full((1000, 1), math.sqrt(0.1001 / 6))
    assert success_threshold("adding", 10) == pytest.approx(1 / 60)
    good, bad = prepared.metrics(just_below, targets), prepared.metrics(just_above, targets)
    assert good["success"] is True and bad["success"] is False
    assert good["baseline"] == pytest.approx(1 / 6) and good["ratio_to_baseline"] == pytest.approx(0.0999)
    _, copy = _prepared(problem="copy", seq_len=10)
    tokens, targets = gen.copy_tokens(np.random.default_rng(0), 50, 10)
    perfect = np.where(np.arange(9) == targets[..., None], 20.0, 0.0)  # confident and right everywhere
    result = copy.metrics(perfect, targets)
    assert result["success"] is True and result["recall_accuracy"] == 1.0
    assert copy.metrics(np.zeros_like(perfect), targets)["success"] is False  # uniform: log 9 > baseline


def test_identity_and_orthogonal_inits():
    spec = ModelSpec(cell="rnn", hidden_size=6, num_outputs=1, input_size=2, activation="relu")
    params = init_model_params(spec, 3)
    irnn = apply_init(params, "rnn", "identity", 3)
    assert np.array_equal(irnn["encoder.W_h"], np.eye(6)) and not irnn["encoder.b"].any()
    assert np.array_equal(irnn["encoder.W_x"], params["encoder.W_x"])  # nothing else moves
    lstm = ModelSpec(cell="lstm", hidden_size=5, num_outputs=1, input_size=2)
    ortho = apply_init(init_model_params(lstm, 3), "lstm", "orthogonal", 3)["encoder.W_h"]
    for k in range(4):
        block = ortho[:, 5 * k : 5 * k + 5].astype(np.float64)
        np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-6)
    with pytest.raises(RnnbenchError, match="identity' is for the rnn cell"):
        apply_init(init_model_params(lstm, 3), "lstm", "identity", 3)


def test_init_option_reaches_the_runner(monkeypatch):
    from rnnbench import runner

    seen = []
    backend = get_backend("numpy")
    real = backend.build_model
    monkeypatch.setattr(backend, "build_model", lambda spec, params: seen.append(params) or real(spec, params))
    config, prepared = _prepared(model="rnn", activation="relu", init="identity", seq_len=6)
    record = runner.run(prepared, backend, {**config, "seeds": [0]}, 0, progress=False, log=lambda m: None)
    assert record["status"] == "ok"
    assert np.array_equal(seen[0]["encoder.W_h"], np.eye(4))


# -- per-step pooling and the gradient-flow diagnostic -------------------------------------------


def _model_setup(cell, activation, pooling, seed=0, T=7, B=3):
    """A float64 feature model with generic weights and (for steps) some unscored positions."""
    loss = "mse" if pooling == "last" else "xent"
    spec = ModelSpec(
        cell=cell,
        hidden_size=4,
        num_outputs=3 if loss == "xent" else 1,
        input_size=2,
        activation=activation,
        pooling=pooling,
        loss=loss,
        dtype="float64",
    )
    rng = np.random.default_rng(seed)
    params = init_model_params(spec, seed)
    for name in params:
        if not is_decayed(name):
            params[name] = params[name] + rng.normal(0.0, 0.2, size=params[name].shape)
    params["encoder.W_h"] = params["encoder.W_h"] * 2.5  # a recurrence strong enough to carry gradient
    x = rng.normal(size=(B, T, 2))
    if pooling == "steps":
        targets = rng.integers(-1, 3, size=(B, T))
        targets[:, -1] = 1
    else:
        targets = rng.normal(size=(B, 1))
    return spec, params, x, np.full(B, T), targets


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_steps_pooling_gradient_matches_finite_differences(cell, activation):
    spec, params, x, lengths, targets = _model_setup(cell, activation, "steps")
    lengths = np.array([7, 5, 2])  # ragged: padded steps are neither scored nor differentiated
    targets[:, :] = np.where(np.arange(7) < lengths[:, None], targets, -1)
    loss, analytic = NumpyModel(spec, params).loss_and_grads(x, lengths, targets)
    assert NumpyModel(spec, params).predict(x, lengths).shape == (3, 7, 3)

    def loss_of(p):
        return NumpyModel(spec, p).loss_and_grads(x, lengths, targets)[0]

    numeric = numeric_grads(loss_of, {k: v.copy() for k, v in params.items()})
    for name in params:
        assert np.abs(analytic[name]).max() > 0, name
        assert relative_error(analytic[name], numeric[name]) < GRAD_TOL, name


def test_steps_loss_is_the_mean_over_scored_positions_only():
    outputs = np.random.default_rng(0).normal(size=(2, 3, 4))
    targets = np.array([[1, -1, 3], [-1, -1, 0]])
    loss, _ = _steps_xent_and_doutputs(outputs, targets)
    picked = [outputs[0, 0], outputs[0, 2], outputs[1, 2]]
    expected = np.mean([loss_and_doutputs("xent", row[None], np.array([t]))[0] for row, t in zip(picked, (1, 3, 0))])
    assert loss == pytest.approx(expected, rel=1e-12)
    assert gen.step_xent(outputs, targets) == pytest.approx(expected, rel=1e-12)


def _loss_from_state(spec, params, x, targets, t, h, c):
    """The model's data loss with the state after step ``t`` replaced by ``h`` (and ``c`` kept):
    steps before ``t`` are constants, the suffix re-runs from ``(h, c)`` through the sequence contract."""
    backend = get_backend("numpy")
    enc = encoder_params(params)
    B, T, _ = x.shape
    y_prefix, _ = (
        backend.sequence_forward(spec.cell, enc, x[:, :t], None, None, spec.activation)
        if t
        else (np.zeros((B, 0, spec.hidden_size)), None)
    )
    pieces = [y_prefix, h[:, None]]
    if t + 1 < T:
        state = {"h": h, "c": c} if spec.cell == "lstm" else {"h": h}
        y_suffix, _ = backend.sequence_forward(spec.cell, enc, x[:, t + 1 :], None, state, spec.activation)
        pieces.append(y_suffix)
    y = np.concatenate(pieces, axis=1)
    if spec.pooling == "steps":
        return _steps_xent_and_doutputs(y @ params["head.W"] + params["head.b"], targets)[0]
    return loss_and_doutputs("mse", y[:, -1] @ params["head.W"] + params["head.b"], targets)[0]


def _numeric_state_norm(spec, params, x, targets, t):
    """Mean over the batch of ||dL/dh_t||, by central differences in h_t itself."""
    _, final = get_backend("numpy").sequence_forward(
        spec.cell, encoder_params(params), x[:, : t + 1], None, None, spec.activation
    )
    c = final.get("c")
    grad = numeric_grads(lambda a: _loss_from_state(spec, params, x, targets, t, a["h"], c), {"h": final["h"].copy()})[
        "h"
    ]
    return float(np.linalg.norm(grad, axis=1).mean())


@pytest.mark.parametrize("pooling", ["last", "steps"])
@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_numpy_state_gradients_match_finite_differences(cell, activation, pooling):
    spec, params, x, lengths, targets = _model_setup(cell, activation, pooling)
    norms = NumpyModel(spec, params).state_gradient_norms(x, lengths, targets)
    assert norms.shape == (7,)
    for t in (0, 3, 6):  # first step: through every later one; last: the head alone (for last pooling)
        numeric = _numeric_state_norm(spec, params, x, targets, t)
        assert numeric > 1e-8
        assert abs(norms[t] - numeric) / numeric < GRAD_TOL, t


def test_a_planted_bug_in_the_state_gradient_is_caught(monkeypatch):
    """Copying dh out *before* the output's own gradient is added drops the head's share of dL/dh_t."""
    spec, params, x, lengths, targets = _model_setup("lstm", "tanh", "steps")
    t = 3
    numeric = _numeric_state_norm(spec, params, x, targets, t)
    right = NumpyModel(spec, params).state_gradient_norms(x, lengths, targets)[t]
    real_add = numpy_sequence._add_upstream_output
    recorded = {}

    def add_after_copy(dh, dy, step, idle):  # the bug: the copy sees dh before dy[:, step] is in
        recorded[step] = dh.copy()
        real_add(dh, dy, step, idle)

    monkeypatch.setattr(numpy_sequence, "_add_upstream_output", add_after_copy)
    NumpyModel(spec, params).state_gradient_norms(x, lengths, targets)
    buggy = float(np.linalg.norm(recorded[t], axis=1).mean())
    assert abs(right - numeric) / numeric < GRAD_TOL
    assert abs(buggy - numeric) / numeric > 1e-2


def _parity_backends():
    _framework("torch")
    _framework("tensorflow")  # conftest has imported torch first, as both in one process need
    return [get_backend("torch"), get_backend("tensorflow")]


@pytest.mark.parametrize("pooling", ["last", "steps"])
@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_torch_and_tensorflow_match_numpy(cell, activation, pooling):
    backends = _parity_backends()
    spec, params, x, lengths, targets = _model_setup(cell, activation, pooling, T=9)
    lengths = np.array([9, 6, 1]) if pooling == "steps" else lengths  # ragged where outputs are per step
    reference = NumpyModel(spec, params)
    expected = (
        reference.predict(x, lengths),
        *reference.loss_and_grads(x, lengths, targets),
        reference.state_gradient_norms(x, lengths, targets),
    )
    for backend in backends:
        model = backend.build_model(spec, params)
        outputs, loss, grads = model.predict(x, lengths), *model.loss_and_grads(x, lengths, targets)
        norms = model.state_gradient_norms(x, lengths, targets)
        assert np.abs(outputs - expected[0]).max() < PARITY_TOL, backend.name
        assert abs(loss - expected[1]) < PARITY_TOL, backend.name
        for name in params:
            assert np.abs(grads[name] - expected[2][name]).max() < PARITY_TOL, (backend.name, name)
        assert norms.shape == expected[3].shape
        assert np.abs(norms - expected[3]).max() < PARITY_TOL * max(1.0, expected[3].max()), backend.name


def test_torch_state_gradient_must_include_the_head_path(monkeypatch):
    """A planted autograd bug: reading y_t off the step's own output instead of the recorded state
    leaves the head's share out of dL/dh_t, and the comparison with NumPy sees it."""
    backends = _parity_backends()
    from rnnbench.backends.torch import model as torch_model

    spec, params, x, lengths, targets = _model_setup("gru", "tanh", "steps")
    expected = NumpyModel(spec, params).state_gradient_norms(x, lengths, targets)
    from rnnbench.backends.torch.sequence import STEPS

    real_run = torch_model.run_steps

    def buggy_run_steps(cell, recorded, xw, h, c, W_h, b_h, live):
        def step(xw_t, h, c, W_h, b_h, live_t):
            h_new, c_new, _ = recorded(xw_t, h, c, W_h, b_h, live_t)  # the state is recorded as usual
            _, _, y = STEPS[cell, "tanh"](xw_t, h, c, W_h, b_h, live_t)  # but y_t takes a path of its own
            return h_new, c_new, y

        return real_run(cell, step, xw, h, c, W_h, b_h, live)

    monkeypatch.setattr(torch_model, "run_steps", buggy_run_steps)
    buggy = backends[0].build_model(spec, params).state_gradient_norms(x, lengths, targets)
    assert np.abs(buggy - expected).max() > 1e-3


# -- end to end -----------------------------------------------------------------------------------

TINY = [
    "--hidden-size",
    "4",
    "--batch-size",
    "8",
    "--max-steps",
    "4",
    "--steps-per-epoch",
    "2",
    "--dev-size",
    "16",
    "--test-size",
    "16",
    "--no-progress",
]


def _records(results):
    return [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]


def _check_record(record, problem, T, steps):
    assert record["status"] == "ok" and record["task"] == "longrange" and record["dataset"] == f"{problem}-T{T}"
    flow = record["gradient_flow"]
    assert [entry["step"] for entry in flow] == [0, 2, 3]
    assert all(len(entry["norms"]) == steps and all(v >= 0 for v in entry["norms"]) for entry in flow)
    metrics = record["best"]["test_metrics"]
    assert {"baseline", "success", "ratio_to_baseline", "success_threshold"} <= set(metrics)
    assert record["metric_higher_is_better"] is False
    return metrics


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_run_end_to_end(tmp_path, backend):
    if backend != "numpy":
        _framework(backend)
    code = cli.main(
        [
            "run",
            "--backend",
            backend,
            "--task",
            "longrange",
            "--seq-len",
            "6,9",
            "--threads",
            "1",
            "--results-dir",
            str(tmp_path),
            *TINY,
        ]
    )
    assert code == 0
    records = _records(tmp_path)
    assert sorted(r["config"]["seq_len"] for r in records) == [6, 9]  # the sweep: one record per T
    for record in records:
        T = record["config"]["seq_len"]
        metrics = _check_record(record, "adding", T, T)
        assert metrics["baseline"] == pytest.approx(1 / 6, abs=1e-6)


def test_copy_run_end_to_end_in_numpy(tmp_path):
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "longrange",
            "--problem",
            "copy",
            "--seq-len",
            "3",
            "--model",
            "gru",
            "--results-dir",
            str(tmp_path),
            *TINY,
        ]
    )
    assert code == 0
    (record,) = _records(tmp_path)
    metrics = _check_record(record, "copy", 3, 23)
    assert 0 <= metrics["recall_accuracy"] <= 1
    assert record["data"]["published"][0]["value"] == pytest.approx(10 * math.log(8) / 23)


def test_tensorflow_run_end_to_end(tmp_path):
    """In its own process: TensorFlow's thread count is fixed once its runtime starts."""
    _framework("tensorflow")
    argv = [
        "run",
        "--backend",
        "tensorflow",
        "--task",
        "longrange",
        "--seq-len",
        "5",
        "--model",
        "rnn",
        "--activation",
        "relu",
        "--threads",
        "1",
        "--results-dir",
        str(tmp_path),
        *TINY,
    ]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; from rnnbench import cli; sys.exit(cli.main({argv!r}))"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = _records(tmp_path)
    _check_record(record, "adding", 5, 5)


BAD = [
    (["--seq-len", "0"], "seq-len for the adding problem must be an integer >= 2 (one marker in each half), got 0"),
    (
        ["--problem", "copy", "--seq-len", "10,0"],
        "seq-len for the copy problem must be an integer >= 1 (the delimiter ends the blank stretch), got 0",
    ),
    (["--problem", "parity"], "unknown long-range problem 'parity'; valid: adding, copy"),
    (["--seq-len", "10,x"], "--seq-len takes comma-separated integers, got '10,x'"),
    (
        ["--model", "lstm", "--init", "identity"],
        "init 'identity' is for the rnn cell (IRNN); lstm has gate blocks: use orthogonal or default",
    ),
    (["--init", "glorot"], "unknown init 'glorot'; valid: default, identity, orthogonal"),
    (["--probe-steps", "0,-3"], "probe-steps must be >= 0, got '0,-3'"),
]


@pytest.mark.parametrize(
    "argv,message", BAD, ids=["zero", "zero-in-sweep", "problem", "list", "identity-lstm", "init", "probe"]
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys, argv, message):
    results = tmp_path / "results"
    code = cli.main(["run", "--backend", "numpy", "--task", "longrange", "--results-dir", str(results), *TINY, *argv])
    assert code == 2
    assert capsys.readouterr().err == f"rnnbench: error: {message}\n"
    assert not results.exists() or not list(results.glob("*.json"))


def test_seq_len_is_refused_by_a_task_without_one(capsys):
    assert cli.main(["run", "--backend", "numpy", "--task", "textclf", "--seq-len", "5"]) == 2
    assert capsys.readouterr().err == (
        "rnnbench: error: unrecognized arguments: --seq-len 5 (not options of the "
        "textclf task; see `rnnbench run --task textclf --help`)\n"
    )
