"""The torch model: embedding -> encoder -> pooling -> head -> loss, differentiated by autograd.

The encoder is the backend's own implementation (``native``, ``loop`` or
``compiled``), and the update is :func:`rnnbench.optim.apply_update` run on
tensors with :class:`TorchOps` — never ``torch.optim`` — so that the same seed,
data and initial weights give the NumPy reference's loss curve.
"""
from __future__ import annotations

import numpy as np
import torch

from rnnbench.backends.torch.backend import to_numpy
from rnnbench.errors import RnnbenchError
from rnnbench.model import ModelSpec, encoder_params
from rnnbench.optim import apply_update, init_state, l2_penalty
from rnnbench.params import param_shapes, resolve_dtype


class TorchOps:
    """The three operations :mod:`rnnbench.optim` needs, on tensors (Python floats accepted)."""

    sqrt = staticmethod(torch.sqrt)

    @staticmethod
    def sum_squares(a):
        return torch.sum(a * a)

    @staticmethod
    def maximum(a, b):
        like = a if isinstance(a, torch.Tensor) else b
        return torch.maximum(torch.as_tensor(a, dtype=like.dtype, device=like.device),
                             torch.as_tensor(b, dtype=like.dtype, device=like.device))


class TorchModel:
    """A trainable model for a :class:`~rnnbench.model.ModelSpec`; NumPy in, NumPy out."""

    def __init__(self, spec: ModelSpec, params: dict, backend):
        self.spec = spec
        self.backend = backend
        self.dtype = resolve_dtype(spec.dtype)
        _check_params(spec, params)
        self.params = {k: backend.tensor(np.asarray(v, dtype=self.dtype)) for k, v in params.items()}
        self.opt_state = init_state(spec, self.params, torch.zeros_like)

    # -- public interface (rnnbench.model) ---------------------------------------------------

    def predict(self, inputs, lengths) -> np.ndarray:
        """Logits ``[B, C]`` (outputs, for ``mse``)."""
        inputs, lengths = self._check_inputs(inputs, lengths)
        with torch.no_grad():
            return to_numpy(self._outputs(self.params, inputs, lengths))

    def loss_and_grads(self, inputs, lengths, targets) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        params = self._leaves()
        loss = self._data_loss(params, inputs, lengths, targets) + l2_penalty(self.spec, params, TorchOps)
        grads = self.backend.grad([loss], list(params.values()), None)
        return float(loss.detach()), {k: to_numpy(g) for k, g in zip(params, grads)}

    def train_step(self, inputs, lengths, targets) -> float:
        """One optimizer step; returns the loss before it (L2 penalty included).

        Only the data loss is differentiated: :func:`rnnbench.optim.apply_update`
        adds the L2 gradient itself, as in every backend.
        """
        params = self._leaves()
        data_loss = self._data_loss(params, inputs, lengths, targets)
        grads = dict(zip(params, self.backend.grad([data_loss], list(params.values()), None)))
        with torch.no_grad():
            loss = float(data_loss.detach()) + float(l2_penalty(self.spec, self.params, TorchOps))
            self.params = apply_update(self.spec, self.params, grads, self.opt_state, TorchOps)
        return loss

    def get_params(self) -> dict:
        return {k: to_numpy(v) for k, v in self.params.items()}

    # -- composition ---------------------------------------------------------------------------

    def _leaves(self) -> dict:
        """Fresh autograd leaves sharing the current parameter values."""
        return {k: v.detach().requires_grad_(True) for k, v in self.params.items()}

    def _data_loss(self, params, inputs, lengths, targets):
        inputs, lengths = self._check_inputs(inputs, lengths)
        targets = self._check_targets(targets, len(lengths))
        with torch.enable_grad():
            outputs = self._outputs(params, inputs, lengths)
            if self.spec.loss == "xent":
                return torch.nn.functional.cross_entropy(outputs, targets)
            diff = outputs - targets
            return (diff * diff).sum(dim=1).mean()

    def _outputs(self, params, inputs, lengths):
        spec = self.spec
        if spec.vocab_size is not None:
            x = params["embedding"].index_select(0, inputs.reshape(-1)).reshape(*inputs.shape, -1)
        else:
            x = inputs
        y, _ = self.backend.encode(spec.cell, encoder_params(params), x, lengths, None, spec.activation)
        return pool(spec.pooling, y, lengths.to(y.device)) @ params["head.W"] + params["head.b"]

    # -- validation ----------------------------------------------------------------------------

    def _check_inputs(self, inputs, lengths):
        """Return ``(ids or features tensor, int64 lengths on the CPU)``."""
        spec = self.spec
        inputs = np.asarray(inputs)
        if spec.vocab_size is not None:
            if inputs.ndim != 2 or inputs.dtype.kind not in "iu":
                raise RnnbenchError(
                    f"a token model takes int token ids [batch, steps], got {inputs.dtype.name} {inputs.shape}")
            if inputs.size and (inputs.min() < 0 or inputs.max() >= spec.vocab_size):
                raise RnnbenchError(f"token ids must lie in [0, {spec.vocab_size}), "
                                    f"got min {inputs.min()} max {inputs.max()}")
            tensor = self.backend.tensor(inputs.astype(np.int64))
        else:
            if inputs.ndim != 3 or inputs.shape[2] != spec.input_size or inputs.dtype.kind not in "iuf":
                raise RnnbenchError(f"a feature model takes float inputs [batch, steps, {spec.input_size}], "
                                    f"got {inputs.dtype.name} {inputs.shape}")
            tensor = self.backend.tensor(inputs.astype(self.dtype))
        B, T = inputs.shape[:2]
        if B == 0 or T == 0:
            raise RnnbenchError(f"a model batch needs at least one sequence and one step, got {B}x{T}")
        lengths = np.asarray(lengths)
        if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
            raise RnnbenchError(f"lengths must be int [{B}], got {lengths.dtype.name} {lengths.shape}")
        if lengths.min() < 1 or lengths.max() > T:
            raise RnnbenchError(f"model lengths must lie in [1, {T}] (pooling over zero steps is undefined), "
                                f"got min {lengths.min()} max {lengths.max()}")
        return tensor, torch.from_numpy(lengths.astype(np.int64))

    def _check_targets(self, targets, batch):
        spec = self.spec
        targets = np.asarray(targets)
        C = spec.num_outputs
        if spec.loss == "xent":
            if targets.shape != (batch,) or targets.dtype.kind not in "iu":
                raise RnnbenchError(f"xent targets must be int class ids [{batch}], "
                                    f"got {targets.dtype.name} {targets.shape}")
            if targets.min() < 0 or targets.max() >= C:
                raise RnnbenchError(f"class ids must lie in [0, {C}), got min {targets.min()} max {targets.max()}")
            return self.backend.tensor(targets.astype(np.int64))
        if targets.shape != (batch, C) or targets.dtype.kind not in "iuf":
            raise RnnbenchError(f"mse targets must be floats [{batch}, {C}], got {targets.dtype.name} {targets.shape}")
        return self.backend.tensor(targets.astype(self.dtype))


def pool(kind: str, y, lengths):
    """Pool ``y [B,T,H]`` over each sequence's real steps (``lengths`` >= 1) into ``[B,H]``."""
    B, T, _ = y.shape
    if kind == "last":
        return y[torch.arange(B, device=y.device), lengths - 1]
    real = (torch.arange(T, device=y.device)[None, :] < lengths[:, None])[:, :, None]
    if kind == "mean":
        return torch.where(real, y, torch.zeros_like(y)).sum(dim=1) / lengths[:, None].to(y.dtype)
    if kind == "max":
        return torch.where(real, y, torch.full_like(y, -torch.inf)).max(dim=1).values
    raise RnnbenchError(f"unknown pooling {kind!r}")


def _check_params(spec: ModelSpec, params: dict) -> None:
    """Names and shapes as :func:`rnnbench.model.init_model_params` makes them."""
    expected = {}
    if spec.vocab_size is not None:
        expected["embedding"] = (spec.vocab_size, spec.embed_size)
    for name, shape in param_shapes(spec.cell, spec.encoder_input_size, spec.hidden_size).items():
        expected[f"encoder.{name}"] = shape
    expected["head.W"] = (spec.hidden_size, spec.num_outputs)
    expected["head.b"] = (spec.num_outputs,)
    if set(params) != set(expected):
        raise RnnbenchError(f"model parameters must be {sorted(expected)}, got {sorted(params)}")
    for name, shape in expected.items():
        if np.shape(params[name]) != shape:
            raise RnnbenchError(f"model parameter {name} must have shape {shape}, got {np.shape(params[name])}")

