"""The torch tree model: embedding -> tree encoder -> softmax at every node, differentiated by autograd.

The encoder is the backend's own level-batched :func:`.tree.tree_states`, the
update the shared :func:`rnnbench.optim.apply_update` on tensors through
:class:`~rnnbench.backends.torch.model.Trainable` (never ``torch.optim``), so
that the same seed, trees and initial weights give the NumPy tree model's loss
curve. Batches are checked on the NumPy side before anything reaches a device.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnbench.backends.torch.model import Trainable
from rnnbench.backends.torch.tensors import to_numpy
from rnnbench.backends.torch.tree import tree_states
from rnnbench.dropout import check_masks
from rnnbench.model import encoder_params
from rnnbench.tree_model import check_tree_model_batch, check_tree_model_labels


class TorchTreeModel(Trainable):
    """A trainable model for a :class:`~rnnbench.tree_model.TreeModelSpec`; NumPy in, NumPy out."""

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        ids = self._check_batch(leaf_ids, trees)
        with torch.no_grad():
            return to_numpy(self._logits(self.params, ids, trees))

    def _data_loss(self, params, leaf_ids, trees, labels, masks=None):
        """Mean cross-entropy over the scored nodes of the batch (no L2); ``masks``: dropout, or None."""
        masks = check_masks(self.spec, (leaf_ids, trees), masks)
        ids = self._check_batch(leaf_ids, trees)
        labels = self.backend.tensor(check_tree_model_labels(self.spec, labels, trees))
        if masks is not None:
            masks = {k: self.backend.tensor(v) for k, v in masks.items()}
        with torch.enable_grad():
            return torch.nn.functional.cross_entropy(self._logits(params, ids, trees, masks), labels, ignore_index=-1)

    def _logits(self, params, ids, trees, masks=None):
        """``masks`` (dropout): ``input`` multiplies the leaf embeddings, ``head`` the node states."""
        x = params["embedding"].index_select(0, ids)
        if masks is not None:
            x = x * masks["input"]
        h = tree_states(self.spec.cell, encoder_params(params), x, trees)["h"]
        if masks is not None:
            h = h * masks["head"]
        return h @ params["head.W"] + params["head.b"]

    def _check_batch(self, leaf_ids, trees):
        return self.backend.tensor(check_tree_model_batch(self.spec, leaf_ids, trees))
