"""The gradient check of the sequence cells, in one place.

``test_numpy_sequence.py`` uses it to prove the hand-written BPTT right and
``test_gradcheck_power.py`` uses *the same function* to prove it would catch
the bugs it exists to catch, so a check that cannot fail cannot creep in.

The check: contract the forward outputs (``y``, final ``h``, ``c``) with fixed
random cotangents into one scalar, differentiate that scalar by central
differences (float64, eps 1e-6) with respect to every parameter, ``x`` and the
initial state, and compare with what a vector-Jacobian product (by default the
NumPy backward pass) returns, array by array, with the norm-wise
:func:`rnnbench.gradcheck.relative_error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from rnnbench.backend import check_sequence_inputs, state_keys
from rnnbench.backends.numpy import sequence
from rnnbench.gradcheck import contract, numeric_grads, relative_error
from rnnbench.params import param_shapes

EPS = 1e-6
#: float64 central differences with eps 1e-6 are good to ~1e-9 here; a wrong
#: step, gate or missing term shows as 1e-2..1.
TOLERANCE = 1e-6


@dataclass
class Problem:
    """One float64 sequence call plus the random cotangents the check contracts with."""

    cell: str
    activation: str
    params: dict
    x: np.ndarray
    lengths: np.ndarray
    state: dict | None
    cotangents: dict

    @property
    def inputs(self) -> dict:
        """Every array the gradient is taken with respect to, under its gradient's name."""
        arrays = dict(self.params, x=self.x)
        if self.state is not None:
            arrays.update({key + "0": value for key, value in self.state.items()})
        return arrays


def make_problem(
    cell, batch, steps, input_size, hidden_size, lengths=None, with_state=True, seed=0, activation="tanh"
) -> Problem:
    """A random float64 problem. All parameters, biases included, are random and
    non-zero so that every gate and every bias term carries signal. ``lengths``
    None means ragged: one full, one short (2), one empty, the rest random."""
    rng = np.random.default_rng(seed)
    shapes = param_shapes(cell, input_size, hidden_size)
    params = {name: rng.normal(0.0, 0.5, shape) for name, shape in shapes.items()}
    x = rng.normal(size=(batch, steps, input_size))
    if lengths is None:
        lengths = rng.integers(0, steps + 1, size=batch)
        lengths[:3] = [steps, min(2, steps), 0][:batch]
    lengths = np.asarray(lengths, dtype=np.int64)
    keys = state_keys(cell)
    state = {k: rng.normal(size=(batch, hidden_size)) for k in keys} if with_state else None
    cotangents = {"y": rng.normal(size=(batch, steps, hidden_size))}
    cotangents.update({k: rng.normal(size=(batch, hidden_size)) for k in keys})
    return Problem(cell, activation, params, x, lengths, state, cotangents)


def run_forward(problem: Problem, arrays: dict | None = None):
    """The NumPy forward pass on ``problem`` (or on ``arrays`` replacing its inputs)."""
    arrays = problem.inputs if arrays is None else arrays
    params = {name: arrays[name] for name in problem.params}
    state = None if problem.state is None else {k: arrays[k + "0"] for k in problem.state}
    x, lengths, _ = check_sequence_inputs(problem.cell, params, arrays["x"], problem.lengths, state, problem.activation)
    return sequence.forward(problem.cell, params, x, lengths, state, problem.activation)


def numpy_vjp(problem: Problem) -> dict:
    """The production backward pass: what the check is normally pointed at."""
    _, final, cache = run_forward(problem)
    dfinal = {k: problem.cotangents[k] for k in final}
    return sequence.backward(cache, problem.cotangents["y"], dfinal)


def gradient_errors(problem: Problem, vjp: Callable[[Problem], dict] = numpy_vjp) -> dict[str, float]:
    """Relative error of ``vjp(problem)`` against central differences, per input array.

    A missing or extra gradient name is an error in itself (AssertionError).
    """

    def scalar(arrays):
        y, final, _ = run_forward(problem, arrays)
        return contract({"y": y, **final}, problem.cotangents)

    arrays = {name: value.copy() for name, value in problem.inputs.items()}
    numeric = numeric_grads(scalar, arrays, eps=EPS)
    analytic = vjp(problem)
    assert set(analytic) == set(numeric), f"gradient names differ: got {sorted(analytic)}, expected {sorted(numeric)}"
    return {name: relative_error(analytic[name], numeric[name]) for name in numeric}


def assert_gradients_match(errors: dict[str, float], context: str = "", tolerance: float = TOLERANCE):
    """Fail, naming every array whose relative error is not below ``tolerance``."""
    bad = {name: f"{err:.2e}" for name, err in errors.items() if not err < tolerance}
    assert not bad, f"{context}: relative error >= {tolerance:g} for {bad} (all: {errors})"


def relu_margin(problem: Problem) -> float:
    """Smallest |pre-activation| over the steps a relu rnn actually runs.

    relu is not differentiable at 0; central differences straddling a kink
    are meaningless. With eps = 1e-6 a margin above 1e-4 keeps every
    perturbed pre-activation on one side of it.
    """
    y, _, _ = run_forward(problem)
    p = problem.params
    B, T, _ = problem.x.shape
    h0 = np.zeros((B, p["W_h"].shape[0])) if problem.state is None else problem.state["h"]
    previous = np.concatenate([h0[:, None], y[:, :-1]], axis=1)  # h_{t-1}, valid while t < L
    pre = problem.x @ p["W_x"] + previous @ p["W_h"] + p["b"]
    running = np.arange(T) < problem.lengths[:, None]
    return float(np.abs(pre[running]).min(initial=np.inf))
