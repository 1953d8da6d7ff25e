"""Optimizer, L2 and clipping formulas, written once for every backend.

The functions take an ``ops`` object with ``sqrt(a)``, ``sum_squares(a)``
(a scalar) and ``maximum(a, b)``; NumPy, torch and TensorFlow each pass their
own, and arithmetic operators do the rest. Because every backend runs these
same lines, the same seed, data and initial weights give the same loss curve.

One step, in order:

1. ``g = g + l2 * w`` for decayed parameters (:func:`rnnbench.model.is_decayed`);
2. global-norm clipping: ``n = sqrt(sum_p sum(g_p**2))``; ``g *= c / max(n, c)``;
3. the update, with ``t`` the 1-based step count:

   - sgd:     ``w -= lr * g``
   - adam:    ``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g*g``;
     ``w -= lr * (m / (1-b1**t)) / (sqrt(v / (1-b2**t)) + eps)``
   - adagrad: ``G = G + g*g``; ``w -= lr * g / (sqrt(G) + eps)``

``eps`` sits outside the square root in both (as in Kingma & Ba 2015 and
Duchi et al. 2011).

Frozen parameters (``spec.frozen``, e.g. ``("embedding",)`` from
``--freeze-embeddings``) take no part: they keep their value exactly (the very
array comes back), their gradient stays out of the clipping norm, and they
carry no L2 penalty (a constant would only shift the reported loss). A backend
may still compute their gradient; it is dropped here.
"""

from __future__ import annotations

import numpy as np

from rnnbench.model import ModelSpec, is_decayed


class NumpyOps:
    """The three array operations the formulas need, for NumPy arrays."""

    sqrt = staticmethod(np.sqrt)
    maximum = staticmethod(np.maximum)

    @staticmethod
    def sum_squares(a):
        return np.sum(a * a)


def init_state(spec: ModelSpec, params: dict, zeros_like) -> dict:
    """Optimizer slots for ``params``: ``{"t": 0, "m": {...}, "v": {...}}`` as needed."""
    state = {"t": 0}
    if spec.optimizer.name == "adam":
        state["m"] = {k: zeros_like(v) for k, v in params.items()}
        state["v"] = {k: zeros_like(v) for k, v in params.items()}
    elif spec.optimizer.name == "adagrad":
        state["G"] = {k: zeros_like(v) for k, v in params.items()}
    return state


def is_trained(spec, name: str) -> bool:
    """Whether the optimizer updates ``name`` (every parameter but those in ``spec.frozen``)."""
    return name not in getattr(spec, "frozen", ())


def is_regularised(spec, name: str) -> bool:
    """Whether L2 applies to ``name``: a decayed kind (:func:`rnnbench.model.is_decayed`) that trains."""
    return is_decayed(name) and is_trained(spec, name)


def regularise_and_clip(spec: ModelSpec, params: dict, grads: dict, ops) -> dict:
    """Steps 1 and 2: add the L2 gradient, then clip the global norm; the trained parameters' gradients only."""
    grads = {k: g for k, g in grads.items() if is_trained(spec, k)}
    if spec.l2:
        grads = {k: g + spec.l2 * params[k] if is_decayed(k) else g for k, g in grads.items()}
    if spec.clip_norm is not None:
        norm = ops.sqrt(sum(ops.sum_squares(g) for g in grads.values()))
        scale = spec.clip_norm / ops.maximum(norm, spec.clip_norm)
        grads = {k: g * scale for k, g in grads.items()}
    return grads


def l2_penalty(spec: ModelSpec, params: dict, ops):
    """``0.5 * l2 * sum(w**2)`` over decayed, trained parameters (0 when l2 is 0)."""
    if not spec.l2:
        return 0.0
    return 0.5 * spec.l2 * sum(ops.sum_squares(w) for k, w in params.items() if is_regularised(spec, k))


def apply_update(spec: ModelSpec, params: dict, grads: dict, state: dict, ops) -> dict:
    """One optimizer step (all three stages); returns new params, updates ``state`` in place."""
    grads = regularise_and_clip(spec, params, grads, ops)
    opt = spec.optimizer
    state["t"] += 1
    t = state["t"]
    new = {}
    for k, w in params.items():
        if not is_trained(spec, k):  # frozen: the very array, untouched
            new[k] = w
            continue
        g = grads[k]
        if opt.name == "sgd":
            new[k] = w - opt.lr * g
        elif opt.name == "adam":
            m = state["m"][k] = opt.beta1 * state["m"][k] + (1 - opt.beta1) * g
            v = state["v"][k] = opt.beta2 * state["v"][k] + (1 - opt.beta2) * (g * g)
            m_hat = m / (1 - opt.beta1**t)
            v_hat = v / (1 - opt.beta2**t)
            new[k] = w - opt.lr * m_hat / (ops.sqrt(v_hat) + opt.eps)
        else:  # adagrad
            G = state["G"][k] = state["G"][k] + g * g
            new[k] = w - opt.lr * g / (ops.sqrt(G) + opt.eps)
    return new
