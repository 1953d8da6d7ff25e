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
from rnnbench.model import ModelSpec, check_model_batch, check_model_params, check_model_targets, encoder_params
from rnnbench.optim import apply_update, init_state, l2_penalty
from rnnbench.params import resolve_dtype


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
        check_model_params(spec, params)
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
        y, _ = self.backend.encode(spec.cell, encoder_params(params), x, lengths, None, spec.activation,
                                   outputs_only=True)
        return pool(spec.pooling, y, lengths.to(y.device)) @ params["head.W"] + params["head.b"]

    # -- validation ----------------------------------------------------------------------------

    def _check_inputs(self, inputs, lengths):
        """Return ``(ids or features tensor, int64 lengths on the CPU)``."""
        inputs, lengths = check_model_batch(self.spec, inputs, lengths)
        return self.backend.tensor(inputs), torch.from_numpy(lengths)

    def _check_targets(self, targets, batch):
        return self.backend.tensor(check_model_targets(self.spec, targets, batch))


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
