"""The gradient check can fail: it catches the BPTT bugs it exists to catch.

The tutorial chapter this project grew from had NumPy BPTT bugs that its own
gradient checks never caught: (a) a tanh/sigmoid derivative applied to the
wrong time step's state, (b) the input-weight gradient taken from the last
step only, (c) a bias gradient computed from the wrong gate, (d) checks that
printed and asserted nothing, (e) sequences of only two steps.

Here a plain, loop-per-step BPTT (the way such a chapter writes it) takes one
``bug`` switch. Without a bug it passes :mod:`seqcheck` (the very check that
``test_numpy_sequence.py`` applies to the production code), which shows that
the check is fair; with each bug the check reports a relative error above
1e-3 and raises, which shows it has teeth. Production code is not touched.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqcheck import TOLERANCE, assert_gradients_match, gradient_errors, make_problem

CAUGHT = 1e-3  # a real bug is O(1e-2..1); rounding is O(1e-9)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _unpack(problem):
    p, x = problem.params, problem.x
    B, T, _ = x.shape
    H = p["W_h"].shape[0]
    masks = [(t < problem.lengths)[:, None].astype(float) for t in range(T)]
    dy = problem.cotangents["y"]
    return p, x, B, T, H, masks, dy


def _initial(problem, key, B, H):
    return np.zeros((B, H)) if problem.state is None else problem.state[key].copy()


def _finish(problem, grads, dh, dc=None):
    if problem.state is not None:
        grads["h0"] = dh
        if dc is not None:
            grads["c0"] = dc
    return grads


def rnn_vjp(problem, bug=None):
    """tanh rnn BPTT. Bugs: ``wrong_step`` (tanh' at h_{t-1} instead of h_t),
    ``truncated`` (gradient not carried across every 2nd step: truncated BPTT
    in chunks of 2), ``ignores_lengths`` (backward treats every sequence as full)."""
    p, x, B, T, H, masks, dy = _unpack(problem)
    hs = [_initial(problem, "h", B, H)]
    for t in range(T):
        h_new = np.tanh(x[:, t] @ p["W_x"] + hs[-1] @ p["W_h"] + p["b"])
        hs.append(masks[t] * h_new + (1 - masks[t]) * hs[-1])
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    grads["x"] = np.zeros_like(x)
    dh = problem.cotangents["h"].copy()
    for t in reversed(range(T)):
        m = np.ones((B, 1)) if bug == "ignores_lengths" else masks[t]
        dh = dh + m * dy[:, t]
        state = hs[t] if bug == "wrong_step" else hs[t + 1]
        da = m * dh * (1 - state**2)
        grads["W_x"] += x[:, t].T @ da
        grads["W_h"] += hs[t].T @ da
        grads["b"] += da.sum(axis=0)
        grads["x"][:, t] = da @ p["W_x"].T
        dh = (1 - m) * dh + da @ p["W_h"].T
        if bug == "truncated" and t > 0 and t % 2 == 0:
            dh = np.zeros_like(dh)
    return _finish(problem, grads, dh)


def lstm_vjp(problem, bug=None):
    """lstm BPTT, gates i, f, g, o. Bugs: ``wrong_step`` (tanh'(c) at c_{t-1}),
    ``last_step_dW_x`` (dW_x from the last step only), ``bias_wrong_gate`` (the
    forget-gate bias gradient taken from the input gate), ``ignores_lengths``."""
    p, x, B, T, H, masks, dy = _unpack(problem)
    hs, cs, gates, cells = [_initial(problem, "h", B, H)], [_initial(problem, "c", B, H)], [], []
    for t in range(T):
        a = x[:, t] @ p["W_x"] + hs[-1] @ p["W_h"] + p["b"]
        i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 3 * H :])
        g = np.tanh(a[:, 2 * H : 3 * H])
        c_new = f * cs[-1] + i * g
        h_new = o * np.tanh(c_new)
        gates.append((i, f, g, o))
        cells.append(c_new)
        cs.append(masks[t] * c_new + (1 - masks[t]) * cs[-1])
        hs.append(masks[t] * h_new + (1 - masks[t]) * hs[-1])
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    grads["x"] = np.zeros_like(x)
    dh, dc = problem.cotangents["h"].copy(), problem.cotangents["c"].copy()
    for t in reversed(range(T)):
        m = np.ones((B, 1)) if bug == "ignores_lengths" else masks[t]
        dh = dh + m * dy[:, t]
        i, f, g, o = gates[t]
        tanh_c = np.tanh(cells[t])
        slope_at = cells[t - 1] if bug == "wrong_step" and t > 0 else cells[t]
        dh_new, dc_new = m * dh, m * dc
        dc_total = dc_new + dh_new * o * (1 - np.tanh(slope_at) ** 2)
        da = np.concatenate(
            [
                dc_total * g * i * (1 - i),
                dc_total * cs[t] * f * (1 - f),
                dc_total * i * (1 - g**2),
                dh_new * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        if bug != "last_step_dW_x" or t == T - 1:
            grads["W_x"] += x[:, t].T @ da
        grads["W_h"] += hs[t].T @ da
        db = da.sum(axis=0)
        if bug == "bias_wrong_gate":
            db[H : 2 * H] = db[:H]
        grads["b"] += db
        grads["x"][:, t] = da @ p["W_x"].T
        dh = (1 - m) * dh + da @ p["W_h"].T
        dc = (1 - m) * dc + dc_total * f
    return _finish(problem, grads, dh, dc)


VJPS = {"rnn": rnn_vjp, "lstm": lstm_vjp}


def _problem(cell, steps=7, lengths=None, with_state=True):
    lengths = [steps, 2, 0, steps - 2] if lengths is None else lengths
    return make_problem(
        cell, batch=4, steps=steps, input_size=3, hidden_size=4, lengths=lengths, with_state=with_state, seed=11
    )


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_bug_free_loop_version_passes_the_check(cell):
    """Control: the plain BPTT without a bug passes, so failures below are the bugs'."""
    errors = gradient_errors(_problem(cell), lambda problem: VJPS[cell](problem))
    assert_gradients_match(errors, context=f"bug-free {cell}")


@pytest.mark.parametrize(
    "cell,bug,wrong",
    [
        ("rnn", "wrong_step", ["W_x", "W_h", "b", "x", "h0"]),  # (a)
        ("lstm", "wrong_step", ["W_x", "W_h", "b", "x", "h0"]),  # (a)
        ("lstm", "last_step_dW_x", ["W_x"]),  # (b)
        ("lstm", "bias_wrong_gate", ["b"]),  # (c)
    ],
)
def test_check_catches_chapter_bug(cell, bug, wrong):
    errors = gradient_errors(_problem(cell), lambda problem: VJPS[cell](problem, bug))
    for name in wrong:
        assert errors[name] > CAUGHT, f"{cell} bug {bug!r} not visible in {name}: {errors}"
    # (d) the check asserts, and its message names the wrong arrays.
    with pytest.raises(AssertionError) as failure:
        assert_gradients_match(errors, context=f"{cell} {bug}")
    for name in wrong:
        assert repr(name) in str(failure.value)


def test_check_catches_a_missing_gradient():
    """(d) A backward pass that silently drops an input fails too, not just a wrong one."""

    def no_initial_state(problem):
        grads = lstm_vjp(problem)
        del grads["c0"]
        return grads

    with pytest.raises(AssertionError, match="c0"):
        gradient_errors(_problem("lstm"), no_initial_state)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_two_full_steps_hide_bugs_that_six_ragged_steps_show(cell):
    """(e) Why the checks use T >= 6 with ragged lengths.

    Truncated BPTT in chunks of two steps is exact for a two-step sequence, so
    a T=2 check passes it; at T=6 the gradient stops at the chunk boundaries
    and the check sees it. A backward pass that ignores the lengths is exact
    when every sequence is full, and only ragged lengths (a short and an empty
    sequence among full ones) expose it.
    """
    if cell == "rnn":
        truncated = lambda problem: rnn_vjp(problem, "truncated")  # noqa: E731
        errors = gradient_errors(_problem(cell, steps=2, lengths=[2, 1, 0, 2]), truncated)
        assert max(errors.values()) < TOLERANCE, "truncation at 2 steps is invisible at T=2"
        errors = gradient_errors(_problem(cell, steps=6), truncated)
        assert max(errors["W_h"], errors["x"], errors["h0"]) > CAUGHT, errors

    ignores_lengths = lambda problem: VJPS[cell](problem, "ignores_lengths")  # noqa: E731
    for steps in (2, 6):
        errors = gradient_errors(_problem(cell, steps=steps, lengths=[steps] * 4), ignores_lengths)
        assert max(errors.values()) < TOLERANCE, f"full-length sequences hide it (T={steps})"
    errors = gradient_errors(_problem(cell, steps=6), ignores_lengths)
    assert max(errors.values()) > CAUGHT, errors
