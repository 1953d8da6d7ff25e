"""The torch model: embedding -> encoder -> pooling -> head -> loss, differentiated by autograd.

The encoder is the backend's own implementation (``native``, ``loop`` or
``compiled``); the gradient-flow diagnostic alone runs the ``loop`` step
functions, since a fused kernel never exposes the state of each step. The
update is :func:`rnnbench.optim.apply_update`'s formulas run on tensors, in place
(:func:`update_in_place`) — never ``torch.optim`` — so that the same seed, data and
initial weights give the NumPy reference's loss curve.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnbench.backends.torch.sequence import STEPS, run_steps
from rnnbench.backends.torch.tensors import to_numpy
from rnnbench.dropout import check_masks
from rnnbench.errors import RnnbenchError
from rnnbench.model import (
    ModelSpec,
    TrainableModel,
    check_model_batch,
    check_model_targets,
    encoder_params,
    is_decayed,
)
from rnnbench.optim import init_state, is_trained, l2_penalty


class TorchOps:
    """The three operations :mod:`rnnbench.optim` needs, on tensors (Python floats accepted)."""

    sqrt = staticmethod(torch.sqrt)

    @staticmethod
    def sum_squares(a):
        return torch.sum(a * a)

    @staticmethod
    def maximum(a, b):
        like = a if isinstance(a, torch.Tensor) else b
        return torch.maximum(
            torch.as_tensor(a, dtype=like.dtype, device=like.device),
            torch.as_tensor(b, dtype=like.dtype, device=like.device),
        )


def update_in_place(spec, params: dict, grads: dict, state: dict) -> None:
    """:func:`rnnbench.optim.apply_update`'s formulas, in place, with torch's fused multiply-add ops.

    The generic formulas build a new tensor at every operator, about fifteen passes that
    allocate over every parameter a step (a 20k-word embedding: tens of MB each), which made
    rnnbench's step slower than ``torch.optim``'s. Here ``torch._foreach_*`` ops update the
    parameters, the optimizer slots and the (freshly made, ours to overwrite) gradients in
    place, in the passes ``torch.optim`` makes: ``m = b1*m + (1-b1)*g`` as ``mul_`` and
    ``add_(alpha=)``, ``v`` with ``addcmul_``, and ``w -= lr * m_hat / (sqrt(v_hat) + eps)``
    as one ``addcdiv_`` with ``value = -lr / (1 - b1**t)``. The same mathematics: results
    differ from the unfused formulas in the last bit of a multiply-add (about 1e-16 in float64),
    far inside the 1e-8 to which every backend's trajectory must match the NumPy reference.
    """
    names = [k for k in params if is_trained(spec, k)]  # a frozen parameter: untouched, outside the clip norm
    ws = [params[k] for k in names]
    gs = _owned([grads[k] for k in names])
    if spec.l2:
        decayed = [i for i, name in enumerate(names) if is_decayed(name)]
        torch._foreach_add_([gs[i] for i in decayed], [ws[i] for i in decayed], alpha=spec.l2)
    if spec.clip_norm is not None:
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(gs)))
        scale = spec.clip_norm / torch.clamp(norm, min=spec.clip_norm)
        torch._foreach_mul_(gs, scale)
    opt = spec.optimizer
    state["t"] += 1
    t = state["t"]
    if opt.name == "sgd":
        torch._foreach_add_(ws, gs, alpha=-opt.lr)
    elif opt.name == "adam":
        ms = [state["m"][k] for k in names]
        vs = [state["v"][k] for k in names]
        torch._foreach_mul_(ms, opt.beta1)
        torch._foreach_add_(ms, gs, alpha=1 - opt.beta1)
        torch._foreach_mul_(vs, opt.beta2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - opt.beta2)
        denominator = torch._foreach_div(vs, 1 - opt.beta2**t)
        torch._foreach_sqrt_(denominator)
        torch._foreach_add_(denominator, opt.eps)
        torch._foreach_addcdiv_(ws, ms, denominator, value=-opt.lr / (1 - opt.beta1**t))
    else:  # adagrad
        Gs = [state["G"][k] for k in names]
        torch._foreach_addcmul_(Gs, gs, gs)
        denominator = torch._foreach_sqrt(Gs)
        torch._foreach_add_(denominator, opt.eps)
        torch._foreach_addcdiv_(ws, gs, denominator, value=-opt.lr)


def _owned(tensors: list) -> list:
    """The gradients, each safe to overwrite: a copy of one that shares memory with another or with itself
    (autograd may hand the same tensor, or an expanded view, to two inputs)."""
    seen = set()
    owned = []
    for t in tensors:
        if t.data_ptr() in seen or 0 in t.stride() and t.numel() > 1:
            t = t.clone()
        seen.add(t.data_ptr())
        owned.append(t)
    return owned


class Trainable(TrainableModel):
    """What every torch model shares: parameters as tensors, the L2 term, the shared update.

    A subclass implements ``_data_loss(params, *batch)``, the batch's data loss
    as a tensor differentiable in ``params``; ``*batch`` is whatever its
    ``train_step`` takes (sequences: inputs, lengths, targets; trees: leaf
    ids, TreeBatch, labels), and the keyword ``masks``: the step's dropout masks
    (:mod:`rnnbench.dropout`, drawn by the runner; None: no dropout).
    """

    def __init__(self, spec, params: dict, backend):
        super().__init__(spec, params)
        self.backend = backend
        self.params = {k: backend.tensor(np.asarray(v, dtype=self.dtype)) for k, v in params.items()}
        self.opt_state = init_state(spec, self.params, torch.zeros_like)

    def loss_and_grads(self, *batch, masks=None) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        params = self._leaves()
        loss = self._data_loss(params, *batch, masks=masks) + l2_penalty(self.spec, params, TorchOps)
        grads = self.backend.grad([loss], list(params.values()), None)
        return float(loss.detach()), {k: to_numpy(g) for k, g in zip(params, grads)}

    def train_step(self, *batch, masks=None) -> float:
        """One optimizer step; returns the loss before it (L2 penalty included).

        Only the data loss is differentiated: :func:`rnnbench.optim.apply_update`
        adds the L2 gradient itself, as in every backend.
        """
        params = self._leaves()
        data_loss = self._data_loss(params, *batch, masks=masks)
        grads = dict(zip(params, self.backend.grad([data_loss], list(params.values()), None)))
        with torch.no_grad():
            loss = float(data_loss.detach()) + float(l2_penalty(self.spec, self.params, TorchOps))
            update_in_place(self.spec, self.params, grads, self.opt_state)
        return loss

    def get_params(self) -> dict:
        return {k: to_numpy(v) for k, v in self.params.items()}

    def _leaves(self) -> dict:
        """Fresh autograd leaves sharing the current parameter values."""
        return {k: v.detach().requires_grad_(True) for k, v in self.params.items()}


class TorchModel(Trainable):
    """A trainable model for a :class:`~rnnbench.model.ModelSpec`; NumPy in, NumPy out.

    ``padding`` ``"mask"`` runs the fused layer over the whole padded batch and zeroes the padded
    outputs (fast on CPU: the packed backward is slow, :func:`~.sequence.run_sequence`);
    ``"pack"`` skips the padded steps with ``pack_padded_sequence`` (native impl). Same numbers.
    """

    def __init__(self, spec, params: dict, backend, padding: str = "mask"):
        super().__init__(spec, params, backend)
        self.padding = padding

    # -- public interface (rnnbench.model) ---------------------------------------------------

    def predict(self, inputs, lengths) -> np.ndarray:
        """Logits ``[B, C]`` (outputs, for ``mse``); ``[B, T, C]`` for pooling ``steps``."""
        inputs, lengths = self._check_inputs(inputs, lengths)
        with torch.no_grad():
            return to_numpy(self._outputs(self.params, inputs, lengths))

    def state_gradient_norms(self, inputs, lengths, targets) -> np.ndarray:
        """``[T]``: the batch mean of ``||dL/dh_t||`` (data loss), by autograd.

        The step loop keeps each state ``h_t`` as its own tensor, the one that
        both step ``t+1`` and the head read, so its gradient is the total
        derivative: through every later step and through the output at ``t``.
        """
        inputs, lengths = self._check_inputs(inputs, lengths)
        targets = self._check_targets(targets, len(lengths))
        params = self._leaves()
        with torch.enable_grad():
            if self.spec.layered:
                states, y = self._layered_stepwise_states(
                    encoder_params(params), self._embedded(params, inputs), lengths
                )
            else:
                states, y = _stepwise_states(self.spec, encoder_params(params), self._embedded(params, inputs), lengths)
            outputs = self._pool(y, lengths) @ params["head.W"] + params["head.b"]
            loss = self._loss(outputs, targets)
            grads = self.backend.grad([loss], states, None)
        return to_numpy(torch.stack(grads, dim=1).norm(dim=2).mean(dim=0))

    def _layered_stepwise_states(self, params, x, lengths):
        """As :func:`_stepwise_states` for a layered encoder: the probed states are the top layer's forward
        unit's (as in the NumPy reference); every other unit runs the ``loop`` implementation."""
        from rnnbench.backend import state_keys
        from rnnbench.backends.torch.layered import TorchLayerOps, initial_states
        from rnnbench.backends.torch.sequence import run_sequence
        from rnnbench.layers import compose, top_forward_prefix, unit_params, units

        spec = self.spec
        h0 = initial_states(
            spec.cell, None, units(spec.num_layers, spec.bidirectional), x.shape[0], spec.hidden_size, x
        )
        probed = {}

        def run_unit(prefix, unit_x):
            if prefix == top_forward_prefix(spec.num_layers):
                probed["states"], y = _stepwise_states(spec, unit_params(params, prefix), unit_x, lengths)
                return y, None
            unit_h0 = {k: h0[prefix + k] for k in state_keys(spec.cell)}
            return run_sequence(
                "loop", spec.cell, unit_params(params, prefix), unit_x, lengths, unit_h0, spec.activation, True
            )

        ops = TorchLayerOps(lengths, x.shape[1], x.device) if spec.bidirectional else None
        y, _ = compose(ops, run_unit, x, spec.num_layers, spec.bidirectional)
        return probed["states"], y

    # -- composition ---------------------------------------------------------------------------

    def _data_loss(self, params, inputs, lengths, targets, masks=None):
        masks = check_masks(self.spec, (inputs, lengths), masks)
        inputs, lengths = self._check_inputs(inputs, lengths)
        targets = self._check_targets(targets, len(lengths))
        if masks is not None:
            masks = {k: self.backend.tensor(v) for k, v in masks.items()}
        with torch.enable_grad():
            return self._loss(self._outputs(params, inputs, lengths, masks), targets)

    def _loss(self, outputs, targets):
        """Batch-mean data loss; for ``steps``, the mean over the scored (``>= 0``) positions."""
        if self.spec.pooling == "steps":
            return torch.nn.functional.cross_entropy(
                outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1), ignore_index=-1
            )
        if self.spec.loss == "xent":
            return torch.nn.functional.cross_entropy(outputs, targets)
        diff = outputs - targets
        return (diff * diff).sum(dim=1).mean()

    def _embedded(self, params, inputs):
        """The encoder's input ``[B,T,D]``: looked-up embeddings, or the features themselves."""
        if self.spec.vocab_size is None:
            return inputs
        return params["embedding"].index_select(0, inputs.reshape(-1)).reshape(*inputs.shape, -1)

    def _outputs(self, params, inputs, lengths, masks=None):
        """``masks`` (dropout): ``input`` multiplies the encoder's input, ``head`` the pooled output."""
        spec = self.spec
        x = self._embedded(params, inputs)
        if masks is not None:
            x = x * masks["input"]
        masked = self.padding == "mask"  # pack: the native path that skips padded steps
        if spec.layered:
            y, _ = self.backend.encode_layered(
                spec.cell,
                encoder_params(params),
                x,
                lengths,
                None,
                spec.activation,
                spec.num_layers,
                spec.bidirectional,
                outputs_only=masked,
            )
        else:
            y, _ = self.backend.encode(
                spec.cell, encoder_params(params), x, lengths, None, spec.activation, outputs_only=masked
            )
        pooled = self._pool(y, lengths)
        if masks is not None:
            pooled = pooled * masks["head"]
        return pooled @ params["head.W"] + params["head.b"]

    def _pool(self, y, lengths):
        half = self.spec.hidden_size if self.spec.bidirectional else None
        return pool(self.spec.pooling, y, lengths.to(y.device), half)

    # -- validation ----------------------------------------------------------------------------

    def _check_inputs(self, inputs, lengths):
        """Return ``(ids or features tensor, int64 lengths on the CPU)``."""
        inputs, lengths = check_model_batch(self.spec, inputs, lengths)
        return self.backend.tensor(inputs), torch.from_numpy(lengths)

    def _check_targets(self, targets, batch):
        return self.backend.tensor(check_model_targets(self.spec, targets, batch))


def pool(kind: str, y, lengths, backward_half=None):
    """Pool ``y [B,T,H]`` over each sequence's real steps (``lengths`` >= 1) into ``[B,H]``.

    ``backward_half``: where a bidirectional encoder's backward units start (for ``last``).

    ``steps`` keeps every step: ``y`` itself (zero past each length), so the head maps each one.
    """
    B, T, _ = y.shape
    if kind == "steps":
        return y
    if kind == "last" and backward_half is not None:  # bidirectional: the backward half's last is step 0
        rows = torch.arange(B, device=y.device)
        return torch.cat([y[rows, lengths - 1, :backward_half], y[:, 0, backward_half:]], dim=1)
    if kind == "last":
        return y[torch.arange(B, device=y.device), lengths - 1]
    if kind == "mean":
        # every encoder's y is zero past each length (the contract), so the plain sum is the masked sum
        return y.sum(dim=1) / lengths[:, None].to(y.dtype)
    real = (torch.arange(T, device=y.device)[None, :] < lengths[:, None])[:, :, None]
    if kind == "max":
        return torch.where(real, y, torch.full_like(y, -torch.inf)).max(dim=1).values
    raise RnnbenchError(f"unknown pooling {kind!r}")


def _stepwise_states(spec: ModelSpec, params, x, lengths):
    """``(states, y)``: the state after every step as a list of T tensors ``[B,H]``, and ``y [B,T,H]``.

    Runs the ``loop`` implementation's step function, but reads ``y_t`` off the
    recorded state (zero past a length), so that the state tensor is the single
    path from step ``t`` to everything after it.
    """
    B, T, _ = x.shape
    bias = params["b_x"] if spec.cell == "gru" else params["b"]
    xw = torch.addmm(bias, x.reshape(B * T, -1), params["W_x"]).reshape(B, T, -1)
    live = (torch.arange(T)[None, :] < lengths[:, None]).to(x.device)
    step = STEPS[spec.cell, spec.activation]
    states = []

    def recorded(xw_t, h, c, W_h, b_h, live_t):
        h, c, _ = step(xw_t, h, c, W_h, b_h, live_t)
        states.append(h)
        return h, c, torch.where(live_t, h, torch.zeros_like(h))

    h0 = x.new_zeros((B, spec.hidden_size))
    c0 = x.new_zeros((B, spec.hidden_size)) if spec.cell == "lstm" else None
    y, _ = run_steps(spec.cell, recorded, xw, h0, c0, params["W_h"], params.get("b_h"), live)
    return states, y
