"""The NumPy reference tree model: embedding -> tree encoder -> softmax at every node, by hand.

The encoder is :mod:`.tree` (backpropagation through structure, level-batched);
the head, loss, L2 and update are the sequence model's own helpers and the
shared :mod:`rnnbench.optim` formulas, so the two model kinds differ only in
what the head reads: every node's state instead of a pooled sequence.
"""
from __future__ import annotations

import numpy as np

from rnnbench.model import check_model_params, encoder_params, is_decayed
from rnnbench.optim import NumpyOps, apply_update, init_state, l2_penalty
from rnnbench.params import resolve_dtype
from rnnbench.tree_model import TreeModelSpec, check_tree_model_batch, check_tree_model_labels

from . import tree
from .model import _embedding_backward, _loss_and_doutputs


class NumpyTreeModel:
    """A trainable model for a :class:`~rnnbench.tree_model.TreeModelSpec`; NumPy in, NumPy out."""

    def __init__(self, spec: TreeModelSpec, params: dict):
        self.spec = spec
        self.dtype = resolve_dtype(spec.dtype)
        check_model_params(spec, params)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in params.items()}
        self.opt_state = init_state(spec, self.params, np.zeros_like)

    def predict(self, leaf_ids, trees) -> np.ndarray:
        """Logits of every node ``[N, C]``."""
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        return self._forward(ids, trees)[0]

    def loss_and_grads(self, leaf_ids, trees, labels) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        data_loss, grads = self._data_loss_and_grads(leaf_ids, trees, labels)
        l2 = self.spec.l2
        if l2:
            grads = {k: g + l2 * self.params[k] if is_decayed(k) else g for k, g in grads.items()}
        return data_loss + self._penalty(), grads

    def train_step(self, leaf_ids, trees, labels) -> float:
        """One optimizer step on the data gradient (the update adds L2); returns the loss before it."""
        data_loss, grads = self._data_loss_and_grads(leaf_ids, trees, labels)
        loss = data_loss + self._penalty()
        self.params = apply_update(self.spec, self.params, grads, self.opt_state, NumpyOps)
        return loss

    def get_params(self) -> dict:
        return {k: v.copy() for k, v in self.params.items()}

    def _penalty(self) -> float:
        return float(l2_penalty(self.spec, self.params, NumpyOps))

    def _forward(self, ids, trees):
        """``(logits [N,C], node states h [N,H], encoder cache)``."""
        x = self.params["embedding"][ids]
        states, cache = tree.forward(self.spec.cell, encoder_params(self.params), x, trees)
        logits = states["h"] @ self.params["head.W"] + self.params["head.b"]
        return logits, states["h"], cache

    def _data_loss_and_grads(self, leaf_ids, trees, labels):
        ids = check_tree_model_batch(self.spec, leaf_ids, trees)
        labels = check_tree_model_labels(self.spec, labels, trees)
        logits, h, cache = self._forward(ids, trees)
        scored = labels >= 0
        loss, dscored = _loss_and_doutputs("xent", logits[scored], labels[scored])  # mean over scored nodes
        dlogits = np.zeros_like(logits)
        dlogits[scored] = dscored
        grads = {"head.W": h.T @ dlogits, "head.b": dlogits.sum(axis=0)}
        encoder_grads = tree.backward(cache, {"h": dlogits @ self.params["head.W"].T})
        grads["embedding"] = _embedding_backward(ids, encoder_grads.pop("x"), self.params["embedding"].shape)
        grads.update({f"encoder.{k}": g for k, g in encoder_grads.items()})
        return float(loss), {k: np.asarray(grads[k], dtype=self.dtype) for k in self.params}
