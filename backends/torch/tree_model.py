"""The torch tree model: embedding -> tree encoder -> softmax at every node, differentiated by autograd.

The encoder is the backend's own level-batched :func:`.tree.tree_states`, the
update the shared :func:`rnnbench.optim.apply_update` on tensors through
:class:`~rnnbench.backends.torch.model.TorchOps` (never ``torch.optim``), so
that the same seed, trees and initial weights give the NumPy tree model's loss
curve. Batches are checked on the NumPy side before anything reaches a device.
"""
from __future__ import annotations

import numpy as np
import torch

from rnnbench.backends.torch.backend import to_numpy
from rnnbench.backends.torch.model import TorchOps
from rnnbench.backends.torch.tree import tree_states
from rnnbench.model import check_model_params, encoder_params
from rnnbench.optim import apply_update, init_state, l2_penalty
from rnnbench.params import resolve_dtype
from rnnbench.tree_model import TreeModelSpec, check_tree_model_batch, check_tree_model_labels


class TorchTreeModel:
    """A trainable model for a :class:`~rnnbench.tree_model.TreeModelSpec`; NumPy in, NumPy out."""

    def __init__(self, spec: TreeModelSpec, params: dict, backend):
        self.spec = spec
        self.backend = backend
        self.dtype = resolve_dtype(spec.dtype)
        check_model_params(spec, params)
        self.params = {k: backend.tensor(np.asarray(v, dtype=self.dtype)) for k, v in params.items()}
        self.opt_state = init_state(spec, self.params, torch.zeros_like)

    # -- public interface (rnnbench.tree_model) ------------------------------------------------

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        ids = self._check_batch(leaf_ids, trees)
        with torch.no_grad():
            return to_numpy(self._logits(self.params, ids, trees))

    def loss_and_grads(self, leaf_ids, trees, labels) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        params = self._leaves()
        loss = self._data_loss(params, leaf_ids, trees, labels) + l2_penalty(self.spec, params, TorchOps)
        grads = self.backend.grad([loss], list(params.values()), None)
        return float(loss.detach()), {k: to_numpy(g) for k, g in zip(params, grads)}

    def train_step(self, leaf_ids, trees, labels) -> float:
        """One optimizer step on the data gradient (the update adds L2); returns the loss before it."""
        params = self._leaves()
        data_loss = self._data_loss(params, leaf_ids, trees, labels)
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

    def _data_loss(self, params, leaf_ids, trees, labels):
        """Mean cross-entropy over the scored nodes of the batch (no L2)."""
        ids = self._check_batch(leaf_ids, trees)
        labels = self.backend.tensor(check_tree_model_labels(self.spec, labels, trees))
        with torch.enable_grad():
            return torch.nn.functional.cross_entropy(self._logits(params, ids, trees), labels, ignore_index=-1)

    def _logits(self, params, ids, trees):
        x = params["embedding"].index_select(0, ids)
        h = tree_states(self.spec.cell, encoder_params(params), x, trees)["h"]
        return h @ params["head.W"] + params["head.b"]

    def _check_batch(self, leaf_ids, trees):
        return self.backend.tensor(check_tree_model_batch(self.spec, leaf_ids, trees))
