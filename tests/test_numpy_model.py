"""The NumPy reference model: gradients by finite differences, the shared optimizer by hand, and learning.

The model is the yardstick for every other backend's training loop, so its
gradient is checked against central differences for every cell, pooling and
loss, and the optimizer formulas against arithmetic written here, apart from
rnnbench.optim.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from rnnbench.backends.numpy.model import (
    NumpyModel,
    _pool_backward,
    _pool_forward,
    loss_and_doutputs,
)
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import contract, numeric_grads, relative_error
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params, is_decayed
from rnnbench.optim import NumpyOps, apply_update, init_state, regularise_and_clip

GRAD_TOL = 1e-6  # float64, eps 1e-6: truncation and rounding are both near 1e-10
LENGTHS = np.array([7, 6, 3, 1])  # ragged, including a one-step sequence
STEPS = 7


def _token_setup(cell, pooling, loss, l2=0.05, activation="tanh", seed=0):
    """A float64 token model with non-trivial weights; token 5 never appears in the inputs."""
    spec = ModelSpec(
        cell=cell,
        hidden_size=4,
        num_outputs=3,
        vocab_size=6,
        embed_size=3,
        activation=activation,
        pooling=pooling,
        loss=loss,
        l2=l2,
        dtype="float64",
    )
    rng = np.random.default_rng(seed)
    params = init_model_params(spec, seed=seed)
    params["embedding"] = rng.normal(0.0, 0.8, size=params["embedding"].shape)
    for name in params:
        if not is_decayed(name):  # biases start at zero or one; move them so their gradient is generic
            params[name] = params[name] + rng.normal(0.0, 0.2, size=params[name].shape)
    ids = rng.integers(0, 5, size=(len(LENGTHS), STEPS))
    targets = _targets(spec, rng)
    return spec, params, ids, targets


def _targets(spec, rng):
    if spec.loss == "xent":
        return rng.integers(0, spec.num_outputs, size=len(LENGTHS))
    return rng.normal(size=(len(LENGTHS), spec.num_outputs))


def _check_model_gradients(spec, params, inputs, targets):
    analytic_loss, analytic = NumpyModel(spec, params).loss_and_grads(inputs, LENGTHS, targets)
    assert set(analytic) == set(params)
    arrays = {k: v.copy() for k, v in params.items()}

    def loss_of(p):
        return NumpyModel(spec, p).loss_and_grads(inputs, LENGTHS, targets)[0]

    numeric = numeric_grads(loss_of, arrays, eps=1e-6)
    errors = {k: relative_error(analytic[k], numeric[k]) for k in params}
    assert all(np.abs(analytic[k]).max() > 0 for k in params), "a zero gradient checks nothing"
    assert max(errors.values()) < GRAD_TOL, errors
    assert math.isfinite(analytic_loss)


@pytest.mark.parametrize("loss", ["xent", "mse"])
@pytest.mark.parametrize("pooling", ["mean", "last", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_token_model_gradients_match_finite_differences(cell, pooling, loss):
    spec, params, ids, targets = _token_setup(cell, pooling, loss)
    _check_model_gradients(spec, params, ids, targets)


def test_relu_rnn_model_gradients_match_finite_differences():
    spec, params, ids, targets = _token_setup("rnn", "mean", "xent", activation="relu", seed=4)
    _check_model_gradients(spec, params, ids, targets)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_feature_model_gradients_match_finite_differences(cell):
    spec = ModelSpec(
        cell=cell, hidden_size=3, num_outputs=2, input_size=4, pooling="max", loss="mse", l2=0.1, dtype="float64"
    )
    rng = np.random.default_rng(7)
    params = init_model_params(spec, seed=7)
    x = rng.normal(size=(len(LENGTHS), STEPS, 4))
    _check_model_gradients(spec, params, x, _targets(spec, rng))


def test_embedding_gradient_touches_only_rows_that_appear():
    spec, params, ids, targets = _token_setup("gru", "mean", "xent", l2=0.0)
    grads = NumpyModel(spec, params).loss_and_grads(ids, LENGTHS, targets)[1]["embedding"]
    assert np.all(grads[5] == 0.0)  # token 5 never appears
    assert np.all(np.abs(grads[:5]).sum(axis=1) > 0)


def test_loss_includes_half_l2_of_decayed_params_only():
    spec, params, ids, targets = _token_setup("lstm", "last", "xent", l2=0.0)
    decayed_spec = replace(spec, l2=0.3)
    plain = NumpyModel(spec, params).loss_and_grads(ids, LENGTHS, targets)[0]
    decayed = NumpyModel(decayed_spec, params).loss_and_grads(ids, LENGTHS, targets)[0]
    by_hand = (
        0.5
        * 0.3
        * sum(
            float(np.sum(w**2)) for k, w in params.items() if k in ("embedding", "encoder.W_x", "encoder.W_h", "head.W")
        )
    )
    assert abs((decayed - plain) - by_hand) < 1e-12


def test_xent_loss_matches_softmax_of_predictions():
    spec, params, ids, targets = _token_setup("rnn", "max", "xent", l2=0.0)
    model = NumpyModel(spec, params)
    logits = model.predict(ids, LENGTHS)
    assert logits.shape == (len(LENGTHS), 3)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    by_hand = -np.mean(np.log(probs[np.arange(len(targets)), targets]))
    assert abs(model.loss_and_grads(ids, LENGTHS, targets)[0] - by_hand) < 1e-12


def test_sgd_train_step_applies_l2_once():
    """train_step's update is exactly -lr times loss_and_grads' gradient (which already holds l2*w)."""
    spec, params, ids, targets = _token_setup("gru", "mean", "mse", l2=0.2)
    spec = replace(spec, optimizer=OptimizerSpec("sgd", lr=0.5))
    model = NumpyModel(spec, params)
    loss, grads = model.loss_and_grads(ids, LENGTHS, targets)
    assert model.train_step(ids, LENGTHS, targets) == loss
    new = model.get_params()
    for k in params:
        np.testing.assert_allclose(new[k], params[k] - 0.5 * grads[k], rtol=0, atol=1e-12)


# -- pooling and loss helpers ------------------------------------------------------------------


def _padded_outputs(rng):
    """y [3,5,4] with lengths [5,2,1]; padding holds large garbage so any leak shows."""
    lengths = np.array([5, 2, 1])
    y = rng.normal(size=(3, 5, 4))
    y[1, 2:] = 50.0
    y[2, 1:] = 50.0
    return y, lengths


def test_pooling_forward_uses_real_steps_only():
    y, lengths = _padded_outputs(np.random.default_rng(1))
    expected = {
        "mean": np.stack([y[0].mean(0), y[1, :2].mean(0), y[2, 0]]),
        "last": np.stack([y[0, 4], y[1, 1], y[2, 0]]),
        "max": np.stack([y[0].max(0), y[1, :2].max(0), y[2, 0]]),
    }
    for kind, want in expected.items():
        pooled, _ = _pool_forward(kind, y, lengths)
        np.testing.assert_allclose(pooled, want, rtol=0, atol=1e-14, err_msg=kind)


@pytest.mark.parametrize("kind", ["mean", "last", "max"])
def test_pooling_backward_matches_finite_differences(kind):
    rng = np.random.default_rng(2)
    y, lengths = _padded_outputs(rng)
    cotangent = rng.normal(size=(3, 4))
    pooled, index = _pool_forward(kind, y, lengths)
    dy = _pool_backward(kind, cotangent, lengths, y.shape[1], index)
    numeric = numeric_grads(
        lambda a: contract({"p": _pool_forward(kind, a["y"], lengths)[0]}, {"p": cotangent}), {"y": y.copy()}
    )["y"]
    assert relative_error(dy, numeric) < GRAD_TOL
    assert np.all(dy[1, 2:] == 0) and np.all(dy[2, 1:] == 0)


@pytest.mark.parametrize("kind", ["xent", "mse"])
def test_loss_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(3)
    outputs = rng.normal(size=(4, 3))
    targets = rng.integers(0, 3, size=4) if kind == "xent" else rng.normal(size=(4, 3))
    _, doutputs = loss_and_doutputs(kind, outputs, targets)
    numeric = numeric_grads(lambda a: float(loss_and_doutputs(kind, a["o"], targets)[0]), {"o": outputs.copy()})
    assert relative_error(doutputs, numeric["o"]) < GRAD_TOL


def test_xent_is_stable_for_huge_logits():
    loss, doutputs = loss_and_doutputs("xent", np.array([[1000.0, 0.0, -1000.0]]), np.array([1]))
    assert abs(loss - 1000.0) < 1e-9
    np.testing.assert_allclose(doutputs, [[1.0, -1.0, 0.0]], atol=1e-12)


def test_mse_is_batch_mean_of_summed_squares():
    loss, _ = loss_and_doutputs("mse", np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [3.0, 0.0]]))
    assert loss == pytest.approx((1 + 4 + 9) / 2, abs=1e-15)


# -- the shared optimizer, by hand ---------------------------------------------------------------

# One decayed and one non-decayed scalar parameter, two steps of gradients.
W0, B0 = 0.5, -0.3
GRADS = [(0.4, -1.2), (-0.7, 0.25)]
L2 = 0.2


def _run_apply_update(optimizer, clip_norm=None):
    spec = ModelSpec(
        cell="rnn",
        hidden_size=1,
        num_outputs=1,
        input_size=1,
        optimizer=optimizer,
        l2=L2,
        clip_norm=clip_norm,
        dtype="float64",
    )
    params = {"head.W": np.array([W0]), "head.b": np.array([B0])}
    state = init_state(spec, params, np.zeros_like)
    for gw, gb in GRADS:
        params = apply_update(spec, params, {"head.W": np.array([gw]), "head.b": np.array([gb])}, state, NumpyOps)
    return float(params["head.W"][0]), float(params["head.b"][0])


def _regularised_clipped(w, b, gw, gb, clip_norm):
    gw = gw + L2 * w  # head.W is decayed, head.b is not
    if clip_norm is not None:
        norm = math.sqrt(gw * gw + gb * gb)
        scale = clip_norm / max(norm, clip_norm)
        gw, gb = gw * scale, gb * scale
    return gw, gb


def test_sgd_two_steps_by_hand():
    lr, clip = 0.3, 0.5  # clipping is active on both steps
    w, b = W0, B0
    for gw, gb in GRADS:
        gw, gb = _regularised_clipped(w, b, gw, gb, clip)
        w, b = w - lr * gw, b - lr * gb
    got = _run_apply_update(OptimizerSpec("sgd", lr=lr), clip_norm=clip)
    assert abs(got[0] - w) < 1e-12 and abs(got[1] - b) < 1e-12


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.8, 0.9, 1e-3
    w, b = W0, B0
    m, v = [0.0, 0.0], [0.0, 0.0]
    for t, (gw, gb) in enumerate(GRADS, start=1):
        g = _regularised_clipped(w, b, gw, gb, None)
        step = []
        for i in range(2):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            step.append(lr * m_hat / (math.sqrt(v_hat) + eps))
        w, b = w - step[0], b - step[1]
    got = _run_apply_update(OptimizerSpec("adam", lr=lr, beta1=b1, beta2=b2, eps=eps))
    assert abs(got[0] - w) < 1e-12 and abs(got[1] - b) < 1e-12


def test_adagrad_two_steps_by_hand():
    lr, eps = 0.2, 1e-2
    w, b = W0, B0
    acc = [0.0, 0.0]
    for gw, gb in GRADS:
        g = _regularised_clipped(w, b, gw, gb, None)
        step = []
        for i in range(2):
            acc[i] += g[i] * g[i]
            step.append(lr * g[i] / (math.sqrt(acc[i]) + eps))
        w, b = w - step[0], b - step[1]
    got = _run_apply_update(OptimizerSpec("adagrad", lr=lr, eps=eps))
    assert abs(got[0] - w) < 1e-12 and abs(got[1] - b) < 1e-12


def _clip_spec(clip_norm, l2=0.0):
    return ModelSpec(
        cell="rnn", hidden_size=1, num_outputs=1, input_size=1, clip_norm=clip_norm, l2=l2, dtype="float64"
    )


def test_clipping_scales_global_norm_to_threshold_keeping_direction():
    grads = {"head.W": np.array([[6.0, 0.0]]), "head.b": np.array([0.0, 8.0])}  # global norm 10
    params = {k: np.zeros_like(v) for k, v in grads.items()}
    clipped = regularise_and_clip(_clip_spec(1.0), params, grads, NumpyOps)
    norm = math.sqrt(sum(float(np.sum(g**2)) for g in clipped.values()))
    assert abs(norm - 1.0) < 1e-12
    for k in grads:
        np.testing.assert_allclose(clipped[k], grads[k] / 10.0, rtol=0, atol=1e-15)


def test_clipping_leaves_small_gradients_unchanged():
    grads = {"head.W": np.array([[0.3, 0.0]]), "head.b": np.array([0.0, 0.4])}  # norm 0.5
    params = {k: np.zeros_like(v) for k, v in grads.items()}
    clipped = regularise_and_clip(_clip_spec(1.0), params, grads, NumpyOps)
    for k in grads:
        np.testing.assert_array_equal(clipped[k], grads[k])


def test_l2_gradient_only_on_decayed_params():
    names = ["embedding", "encoder.W_x", "encoder.W_h", "encoder.b", "encoder.b_x", "encoder.b_h", "head.W", "head.b"]
    rng = np.random.default_rng(5)
    params = {k: rng.normal(size=(2, 3)) for k in names}
    zeros = {k: np.zeros((2, 3)) for k in names}
    out = regularise_and_clip(_clip_spec(None, l2=0.25), params, zeros, NumpyOps)
    for k in names:
        want = 0.25 * params[k] if k in ("embedding", "encoder.W_x", "encoder.W_h", "head.W") else 0.0
        np.testing.assert_allclose(out[k], want, rtol=0, atol=1e-15, err_msg=k)


# -- learning and determinism -------------------------------------------------------------------


def _contains_token_task(seed=0, n=64, steps=10):
    """Class 1 iff token 1 appears among a sequence's real steps: separable, needs the whole sequence."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, steps + 1, size=n)
    ids = rng.choice([0, 2, 3, 4, 5], size=(n, steps))
    labels = rng.integers(0, 2, size=n)
    for row in np.flatnonzero(labels):
        ids[row, rng.integers(0, lengths[row])] = 1
    return ids, lengths, labels


def _token_task_spec():
    return ModelSpec(
        cell="gru",
        hidden_size=8,
        num_outputs=2,
        vocab_size=6,
        embed_size=8,
        pooling="max",
        loss="xent",
        optimizer=OptimizerSpec("adam", lr=0.05),
        clip_norm=5.0,
        l2=1e-4,
    )


def test_adam_learns_a_separable_token_task():
    ids, lengths, labels = _contains_token_task()
    spec = _token_task_spec()
    model = NumpyModel(spec, init_model_params(spec, seed=0))
    losses = [model.train_step(ids, lengths, labels) for _ in range(60)]
    accuracy = np.mean(model.predict(ids, lengths).argmax(axis=1) == labels)
    assert accuracy >= 0.95, f"train accuracy {accuracy:.3f} after 60 adam steps"
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])
    assert all(math.isfinite(loss) for loss in losses)


def test_same_spec_seed_and_data_give_identical_trajectories():
    ids, lengths, labels = _contains_token_task(seed=1, n=16)
    spec = _token_task_spec()
    runs = []
    for _ in range(2):
        model = NumpyModel(spec, init_model_params(spec, seed=3))
        runs.append(([model.train_step(ids, lengths, labels) for _ in range(5)], model.get_params()))
    assert runs[0][0] == runs[1][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][k], runs[1][1][k])


# -- construction and validation ----------------------------------------------------------------


def test_params_are_copied_in_spec_dtype():
    spec = ModelSpec(cell="lstm", hidden_size=3, num_outputs=2, vocab_size=4, embed_size=2)  # float32
    params = {k: v.astype(np.float64) for k, v in init_model_params(spec).items()}
    model = NumpyModel(spec, params)
    params["head.W"][...] = 9.0
    got = model.get_params()
    assert all(v.dtype == np.float32 for v in got.values())
    assert not np.any(got["head.W"] == 9.0)
    got["head.b"][...] = 7.0
    assert not np.any(model.get_params()["head.b"] == 7.0)
    logits = model.predict(np.array([[1, 2, 3]]), np.array([2]))
    assert logits.dtype == np.float32 and logits.shape == (1, 2)


def _small_model(**overrides):
    spec = ModelSpec(
        **{"cell": "rnn", "hidden_size": 3, "num_outputs": 2, "vocab_size": 4, "embed_size": 2, **overrides}
    )
    return NumpyModel(spec, init_model_params(spec))


IDS = np.array([[0, 1, 2], [3, 0, 0]])


@pytest.mark.parametrize(
    "inputs, lengths, targets, message",
    [
        (IDS, [3, 0], [0, 1], "zero steps"),
        (IDS, [3, 4], [0, 1], "lengths"),
        (IDS, [3], [0, 1], "lengths"),
        (np.array([[0, 4, 1], [0, 0, 0]]), [3, 1], [0, 1], "token ids"),
        (np.array([[0, -1, 1], [0, 0, 0]]), [3, 1], [0, 1], "token ids"),
        (IDS.astype(float), [3, 1], [0, 1], "int token ids"),
        (IDS[0], [3], [0], "int token ids"),
        (IDS, [3, 1], [0, 2], "class ids"),
        (IDS, [3, 1], [0.0, 1.0], "int class ids"),
        (IDS, [3, 1], [0], "int class ids"),
    ],
)
def test_bad_token_inputs_raise(inputs, lengths, targets, message):
    with pytest.raises(RnnbenchError, match=message):
        _small_model().loss_and_grads(inputs, np.array(lengths), np.array(targets))


def test_bad_feature_inputs_and_mse_targets_raise():
    spec = ModelSpec(cell="gru", hidden_size=3, num_outputs=2, input_size=4, loss="mse")
    model = NumpyModel(spec, init_model_params(spec))
    x = np.zeros((2, 3, 4))
    with pytest.raises(RnnbenchError, match="features|float inputs"):
        model.predict(np.zeros((2, 3, 5)), np.array([3, 3]))
    with pytest.raises(RnnbenchError, match="mse targets"):
        model.loss_and_grads(x, np.array([3, 3]), np.zeros(2))
    assert model.predict(x, np.array([3, 1])).shape == (2, 2)


def test_bad_params_raise():
    spec = ModelSpec(cell="rnn", hidden_size=3, num_outputs=2, vocab_size=4, embed_size=2)
    params = init_model_params(spec)
    with pytest.raises(RnnbenchError, match="must be"):
        NumpyModel(spec, {k: v for k, v in params.items() if k != "head.b"})
    with pytest.raises(RnnbenchError, match="encoder.W_h must have shape"):
        NumpyModel(spec, {**params, "encoder.W_h": np.zeros((3, 4))})


@pytest.mark.parametrize("cell, activation", [("lstm", "relu"), ("rnn", "sigmoid")])
def test_bad_activation_raises(cell, activation):
    with pytest.raises(RnnbenchError, match="activation"):
        ModelSpec(cell=cell, hidden_size=3, num_outputs=2, input_size=2, activation=activation)
