"""The NumPy reference tree model: embedding -> tree encoder -> softmax at every node, by hand.

The encoder is :mod:`.tree` (backpropagation through structure, level-batched);
the head, loss, L2 and update are the sequence model's own helpers and the
shared :mod:`rnnbench.optim` formulas, so the two model kinds differ only in
what the head reads: every node's state instead of a pooled sequence.
"""

from __future__ import annotations

import numpy as np

from rnnbench.dropout import check_masks
from rnnbench.model import encoder_params
from rnnbench.tree_model import check_tree_model_batch, check_tree_model_labels

from . import tree
from .model import Trainable, embedding_backward, loss_and_doutputs


class NumpyTreeModel(Trainable):
    """A trainable model for a :class:`~rnnbench.tree_model.TreeModelSpec`; NumPy in, NumPy out."""

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        return self._forward(ids, trees)[0]

    def _forward(self, ids, trees, masks=None):
        """``(logits [N,C], what the head read [N,H], encoder cache)``.

        ``masks`` (dropout): ``input`` multiplies the leaf embeddings, ``head`` the node states.
        """
        x = self.params["embedding"][ids]
        if masks is not None:
            x = x * masks["input"]
        states, cache = tree.forward(self.spec.cell, encoder_params(self.params), x, trees)
        h = states["h"] if masks is None else states["h"] * masks["head"]
        logits = h @ self.params["head.W"] + self.params["head.b"]
        return logits, h, cache

    def _data_loss_and_grads(self, leaf_ids, trees, labels, masks=None):
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        labels = check_tree_model_labels(self.spec, labels, trees)
        masks = check_masks(self.spec, (leaf_ids, trees), masks)
        logits, h, cache = self._forward(ids, trees, masks)
        scored = labels >= 0
        loss, dscored = loss_and_doutputs("xent", logits[scored], labels[scored])  # mean over scored nodes
        dlogits = np.zeros_like(logits)
        dlogits[scored] = dscored
        grads = {"head.W": h.T @ dlogits, "head.b": dlogits.sum(axis=0)}
        dh = dlogits @ self.params["head.W"].T
        if masks is not None:
            dh = dh * masks["head"]
        encoder_grads = tree.backward(cache, {"h": dh})
        dx = encoder_grads.pop("x")
        if masks is not None:
            dx = dx * masks["input"]
        grads["embedding"] = embedding_backward(ids, dx, self.params["embedding"].shape)
        grads.update({f"encoder.{k}": g for k, g in encoder_grads.items()})
        return float(loss), {k: np.asarray(grads[k], dtype=self.dtype) for k in self.params}
