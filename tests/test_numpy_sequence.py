"""The NumPy sequence cells: gradients against central differences, forward against
the equations of docs/design.md §2, masking semantics and float32 agreement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnbench.backend import check_sequence_inputs, state_keys
from rnnbench.backends.numpy import sequence
from rnnbench.errors import RnnbenchError
from rnnbench.gradcheck import relative_error
from rnnbench.params import init_params

from seqcheck import assert_gradients_match, gradient_errors, make_problem, relu_margin, run_forward

# (cell, activation, steps): every cell, sequences of 6..9 steps.
CELLS = [("rnn", "tanh", 6), ("rnn", "relu", 7), ("lstm", "tanh", 8), ("gru", "tanh", 9)]
CELL_IDS = [f"{cell}-{act}" for cell, act, _ in CELLS]
RAGGED = [None, 2, 0, 4]  # None -> full length; plus short, empty and middle


def _ragged(steps):
    return [steps if n is None else n for n in RAGGED]


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_backward_matches_central_differences(cell, activation, steps, with_state):
    problem = make_problem(
        cell,
        batch=4,
        steps=steps,
        input_size=3,
        hidden_size=4,
        lengths=_ragged(steps),
        with_state=with_state,
        seed=7,
        activation=activation,
    )
    if activation == "relu":
        # relu has a kink at 0: keep every pre-activation far from it compared with eps=1e-6.
        assert relu_margin(problem) > 1e-4
    errors = gradient_errors(problem)
    expected = set(problem.params) | {"x"} | ({k + "0" for k in state_keys(cell)} if with_state else set())
    assert set(errors) == expected
    assert_gradients_match(errors, context=f"{cell}/{activation} state={with_state}")


@settings(max_examples=20, deadline=None)
@given(
    data=st.data(),
    cell_index=st.integers(0, len(CELLS) - 1),
    batch=st.integers(3, 5),
    steps=st.integers(6, 9),
    input_size=st.integers(1, 4),
    hidden_size=st.integers(1, 4),
    with_state=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_backward_matches_central_differences_property(
    data, cell_index, batch, steps, input_size, hidden_size, with_state, seed
):
    cell, activation, _ = CELLS[cell_index]
    lengths = data.draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch), label="lengths")
    problem = make_problem(
        cell,
        batch,
        steps,
        input_size,
        hidden_size,
        lengths=lengths,
        with_state=with_state,
        seed=seed,
        activation=activation,
    )
    if activation == "relu":
        assume(relu_margin(problem) > 1e-4)
    assert_gradients_match(gradient_errors(problem), context=f"{cell}/{activation} lengths={lengths}")


@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_zero_upstream_gives_zero_gradients(cell, activation, steps):
    problem = make_problem(cell, 3, steps, 2, 3, with_state=True, activation=activation)
    for dfinal in (None, {}, {"h": None}):
        _, _, cache = run_forward(problem)
        grads = sequence.backward(cache, None, dfinal)
        assert set(grads) == set(problem.inputs)
        for name, grad in grads.items():
            assert grad.shape == problem.inputs[name].shape, name
            assert not grad.any(), name


def _vjp(problem, cache, final):
    return sequence.backward(cache, problem.cotangents["y"], {k: problem.cotangents[k] for k in final})


@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_a_cache_serves_one_backward_call(cell, activation, steps):
    """backward recycles the forward buffers, so reusing a cache must fail loudly, not silently."""
    problem = make_problem(cell, 3, steps, 2, 3, activation=activation)
    _, final, cache = run_forward(problem)
    _vjp(problem, cache, final)
    with pytest.raises(RnnbenchError, match="already used"):
        _vjp(problem, cache, final)


def test_a_rejected_upstream_gradient_leaves_the_cache_usable():
    problem = make_problem("lstm", 3, 6, 2, 3)
    _, final, cache = run_forward(problem)
    with pytest.raises(RnnbenchError, match="upstream gradient must have shape"):
        sequence.backward(cache, np.zeros((3, 5, 3)), None)
    grads = _vjp(problem, cache, final)
    assert_gradients_match(gradient_errors(problem, lambda _: grads), context="after a rejected dy")


@pytest.mark.parametrize("batch,steps", [(4, 6), (1, 6), (3, 1)])  # size 1: transposes are no-ops
@pytest.mark.parametrize("cell,activation", [(c, a) for c, a, _ in CELLS], ids=CELL_IDS)
def test_recycled_buffers_do_not_leak_between_calls(cell, activation, batch, steps):
    """Interleaved forward/backward calls of equal shapes give what isolated calls give."""
    lengths = [steps] * batch
    first = make_problem(cell, batch, steps, 3, 5, lengths=lengths, seed=1, activation=activation)
    second = make_problem(cell, batch, steps, 3, 5, lengths=lengths, seed=2, activation=activation)
    alone = {}
    for problem in (first, second):
        y, final, cache = run_forward(problem)
        alone[id(problem)] = (y, final, _vjp(problem, cache, final))
    y1, final1, cache1 = run_forward(first)
    y2, final2, cache2 = run_forward(second)
    grads2 = _vjp(second, cache2, final2)
    y3, final3, cache3 = run_forward(second)  # takes the buffers just handed back
    grads1 = _vjp(first, cache1, final1)
    grads3 = _vjp(second, cache3, final3)
    for problem, (y, final, grads) in (
        (first, (y1, final1, grads1)),
        (second, (y2, final2, grads2)),
        (second, (y3, final3, grads3)),
    ):
        y_ref, final_ref, grads_ref = alone[id(problem)]
        np.testing.assert_array_equal(y, y_ref)
        for key in final_ref:  # the final states, unpacked for this and once never compared
            np.testing.assert_array_equal(final[key], final_ref[key], err_msg=key)
        for name in grads_ref:
            np.testing.assert_array_equal(grads[name], grads_ref[name], err_msg=name)
    np.testing.assert_array_equal(y1, alone[id(first)][0])  # outputs are not pool buffers


# -------------------------------------------------------- forward = equations


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _reference_step(cell, p, x, h, c, activation):
    """One step of docs/design.md §2, written as plainly as possible (canonical gate order)."""
    H = p["W_h"].shape[0]
    if cell == "rnn":
        a = x @ p["W_x"] + h @ p["W_h"] + p["b"]
        return (np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)), None
    if cell == "lstm":
        a = x @ p["W_x"] + h @ p["W_h"] + p["b"]
        i, f, g, o = _sigmoid(a[:H]), _sigmoid(a[H : 2 * H]), np.tanh(a[2 * H : 3 * H]), _sigmoid(a[3 * H :])
        c = f * c + i * g
        return o * np.tanh(c), c
    ax = x @ p["W_x"] + p["b_x"]
    ah = h @ p["W_h"] + p["b_h"]
    r = _sigmoid(ax[:H] + ah[:H])
    z = _sigmoid(ax[H : 2 * H] + ah[H : 2 * H])
    n = np.tanh(ax[2 * H :] + r * ah[2 * H :])
    return (1 - z) * n + z * h, None


def _reference_forward(problem):
    """One sequence at a time, stopping at its length: masking by construction."""
    p, x = problem.params, problem.x
    B, T, _ = x.shape
    H = p["W_h"].shape[0]
    y = np.zeros((B, T, H))
    final = {k: np.zeros((B, H)) for k in state_keys(problem.cell)}
    for b in range(B):
        h = np.zeros(H) if problem.state is None else problem.state["h"][b]
        c = np.zeros(H) if problem.state is None or "c" not in problem.state else problem.state["c"][b]
        for t in range(problem.lengths[b]):
            h, c = _reference_step(problem.cell, p, x[b, t], h, c, problem.activation)
            y[b, t] = h
        final["h"][b] = h
        if "c" in final:
            final["c"][b] = c
    return y, final


@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_forward_matches_equations(cell, activation, steps, with_state):
    problem = make_problem(cell, 5, steps, 3, 4, with_state=with_state, seed=3, activation=activation)
    y, final, _ = run_forward(problem)
    y_ref, final_ref = _reference_forward(problem)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    assert set(final) == set(final_ref)
    for key in final:
        np.testing.assert_allclose(final[key], final_ref[key], rtol=1e-12, atol=1e-12, err_msg=key)


def test_relu_activation_is_relu():
    problem = make_problem("rnn", 5, 6, 3, 8, lengths=[6] * 5, seed=4, activation="relu")
    y, _, _ = run_forward(problem)
    assert (y >= 0).all()
    assert (y == 0).mean() > 0.2, "random pre-activations are negative about half the time"
    first = np.maximum(
        problem.x[:, 0] @ problem.params["W_x"] + problem.state["h"] @ problem.params["W_h"] + problem.params["b"], 0.0
    )
    np.testing.assert_allclose(y[:, 0], first, rtol=1e-13, atol=1e-13)
    problem.activation = "tanh"
    y_tanh, _, _ = run_forward(problem)
    assert relative_error(y, y_tanh) > 0.1


# ------------------------------------------------------------------- masking


@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_outputs_past_length_are_exactly_zero(cell, activation, steps):
    problem = make_problem(cell, 6, steps, 3, 4, seed=5, activation=activation)
    y, _, _ = run_forward(problem)
    for b, length in enumerate(problem.lengths):
        assert not y[b, length:].any(), f"sequence {b} (length {length}) has output past its end"
        if activation == "tanh":
            assert np.all(y[b, :length] != 0)


@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_final_state_is_that_of_the_truncated_sequence_alone(cell, activation, steps):
    problem = make_problem(cell, 6, steps, 3, 4, seed=6, activation=activation)
    _, final, _ = run_forward(problem)
    for b, length in enumerate(problem.lengths):
        alone = make_problem(cell, 1, int(length), 3, 4, lengths=[length], activation=activation)
        alone.params = problem.params
        alone.x = problem.x[b : b + 1, :length].copy()
        alone.state = {k: v[b : b + 1] for k, v in problem.state.items()}
        _, final_alone, _ = run_forward(alone)
        for key in final:
            if length == 0:
                np.testing.assert_array_equal(final[key][b], problem.state[key][b], err_msg=key)
            np.testing.assert_allclose(
                final[key][b],
                final_alone[key][0],
                rtol=1e-12,
                atol=1e-13,
                err_msg=f"{key} of sequence {b}, length {length}",
            )


@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_upstream_gradient_past_length_has_no_effect(cell, activation, steps):
    problem = make_problem(cell, 5, steps, 3, 4, seed=8, activation=activation)
    dfinal = {k: problem.cotangents[k] for k in state_keys(cell)}
    past_end = np.arange(steps) >= problem.lengths[:, None]
    assert past_end.any()
    dy_clean = np.where(past_end[:, :, None], 0.0, problem.cotangents["y"])
    dy_noisy = np.where(past_end[:, :, None], 1e3, problem.cotangents["y"])
    clean = sequence.backward(run_forward(problem)[2], dy_clean, dfinal)
    noisy = sequence.backward(run_forward(problem)[2], dy_noisy, dfinal)
    for name in clean:
        np.testing.assert_array_equal(clean[name], noisy[name], err_msg=name)
    # an empty sequence's input gets no gradient; its initial state gets exactly dfinal
    empty = int(np.flatnonzero(problem.lengths == 0)[0])
    assert not clean["x"][empty].any()
    np.testing.assert_array_equal(clean["h0"][empty], problem.cotangents["h"][empty])


# ------------------------------------------------------------------- float32


@pytest.mark.parametrize("cell,activation,steps", CELLS, ids=CELL_IDS)
def test_float32_agrees_with_float64(cell, activation, steps):
    rng = np.random.default_rng(9)
    B, D, H = 6, 16, 32
    p64 = init_params(cell, D, H, seed=1, dtype="float64")
    p64 = {k: v + rng.normal(0, 0.05, v.shape) for k, v in p64.items()}  # non-zero biases
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    x64 = rng.normal(size=(B, steps, D)).astype(np.float32).astype(np.float64)
    lengths = np.array([steps, 3, 0, steps, 1, steps - 1])
    dy = rng.normal(size=(B, steps, H))
    dfinal = {k: rng.normal(size=(B, H)) for k in state_keys(cell)}
    results = {}
    for params, x in ((p64, x64), (p32, x64.astype(np.float32))):
        x, lens, dtype = check_sequence_inputs(cell, params, x, lengths, None, activation)
        y, final, cache = sequence.forward(cell, params, x, lens, None, activation)
        grads = sequence.backward(cache, dy.astype(dtype), {k: v.astype(dtype) for k, v in dfinal.items()})
        for name, value in [("y", y), *final.items(), *grads.items()]:
            assert value.dtype == dtype, f"{name} is {value.dtype}, expected {dtype}"
        results[dtype] = (y, final, grads)
    y64, final64, grads64 = results[np.dtype("float64")]
    y32, final32, grads32 = results[np.dtype("float32")]
    assert relative_error(y32, y64) < 1e-5
    for key in final64:
        assert relative_error(final32[key], final64[key]) < 1e-5, key
    for name in grads64:
        assert relative_error(grads32[name], grads64[name]) < 1e-5, name
