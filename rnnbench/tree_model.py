"""The framework-free spec of a tree model: embedding -> recursive encoder -> softmax at every node.

Socher et al. (2013) and Tai et al. (2015) train on the Stanford Sentiment
Treebank with a label on every phrase: each node's state goes through one
linear head and a softmax, and the loss is the mean cross-entropy over all
nodes of the batch. :class:`TreeModelSpec` says so once; every backend builds
the model from it with ``backend.build_model(spec, params)``, as for a
:class:`~rnnbench.model.ModelSpec`.

Parameters use the sequence models' names (:func:`rnnbench.model.init_model_params`
draws them): ``embedding [V,E]``, the tree cell's canonical arrays prefixed
``encoder.``, ``head.W [H,C]``, ``head.b [C]``. A ``recursive`` leaf's state is
its word vector, so its ``embed_size`` equals ``hidden_size``.

The model a backend returns offers ``train_step(leaf_ids, trees, labels) ->
float``, ``loss_and_grads(leaf_ids, trees, labels) -> (float, dict)``,
``predict(leaf_ids, trees) -> ndarray [N, C]`` (logits of every node) and
``get_params()``. ``leaf_ids`` are int ``[L]``, row ``i`` the word at leaf node
``i`` of the :class:`~rnnbench.trees.TreeBatch` ``trees``; ``labels`` int ``[N]``,
``-1`` on a node that is not scored (binary training leaves neutral phrases
out); the loss is the mean over the scored nodes.
``train_step`` and ``loss_and_grads`` take the keyword ``masks`` (dropout,
:mod:`rnnbench.dropout`; None: none): ``input [L,E]`` multiplies the leaf
embeddings, ``head [N,H]`` the node states before the head.
Loss, L2 and the update are those of :mod:`rnnbench.model` and
:mod:`rnnbench.optim`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.model import OptimizerSpec
from rnnbench.params import TREE_CELLS, resolve_dtype
from rnnbench.trees import TreeBatch


@dataclass(frozen=True)
class TreeModelSpec:
    """embedding -> tree encoder (level-batched) -> linear head at every node -> mean cross-entropy."""

    cell: str
    hidden_size: int
    num_outputs: int
    vocab_size: int
    embed_size: int
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    clip_norm: float | None = None
    l2: float = 0.0
    dtype: str = "float32"
    #: Parameters the optimizer leaves as they are (:attr:`rnnbench.model.ModelSpec.frozen`).
    frozen: tuple[str, ...] = ()

    def __post_init__(self):
        if self.cell not in TREE_CELLS:
            raise RnnbenchError(f"unknown tree model cell {self.cell!r}; valid: {', '.join(TREE_CELLS)}")
        for name in ("hidden_size", "num_outputs", "vocab_size", "embed_size"):
            if int(getattr(self, name)) < 1:
                raise RnnbenchError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.cell == "recursive" and self.embed_size != self.hidden_size:
            raise RnnbenchError(
                f"a recursive net's leaf state is its word vector: embed size ({self.embed_size}) "
                f"must equal hidden size ({self.hidden_size})"
            )
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise RnnbenchError(f"clip_norm must be positive, got {self.clip_norm}")
        resolve_dtype(self.dtype)
        from rnnbench.model import check_frozen

        check_frozen(self)

    #: A tree encoder is one layer, one direction: what :func:`rnnbench.model.init_model_params` and
    #: :func:`rnnbench.model.model_param_shapes` read (class attributes, not fields).
    num_layers = 1
    bidirectional = False

    @property
    def encoder_input_size(self) -> int:
        return self.embed_size

    @property
    def encoder_output_size(self) -> int:
        return self.hidden_size


def check_tree_model_batch(spec: TreeModelSpec, leaf_ids, trees) -> np.ndarray:
    """int64 ``leaf_ids [L]`` in the vocabulary, one per leaf of ``trees``; checked before any framework."""
    if not isinstance(trees, TreeBatch):
        raise RnnbenchError(
            f"a tree model takes a TreeBatch (rnnbench.trees.TreeBatch.from_trees), got {type(trees).__name__}"
        )
    leaf_ids = np.asarray(leaf_ids)
    if leaf_ids.shape != (trees.num_leaves,) or leaf_ids.dtype.kind not in "iu":
        raise RnnbenchError(
            f"leaf ids must be int [{trees.num_leaves}] (one per leaf of the batch), "
            f"got {leaf_ids.dtype.name} {leaf_ids.shape}"
        )
    if leaf_ids.min() < 0 or leaf_ids.max() >= spec.vocab_size:
        raise RnnbenchError(
            f"token ids must lie in [0, {spec.vocab_size}), got min {leaf_ids.min()} max {leaf_ids.max()}"
        )
    return leaf_ids.astype(np.int64)


def check_tree_model_labels(spec: TreeModelSpec, labels, trees) -> np.ndarray:
    """int64 class ids ``[N]``, one per node of ``trees`` (-1: not scored), at least one scored."""
    labels = np.asarray(labels)
    if labels.shape != (trees.num_nodes,) or labels.dtype.kind not in "iu":
        raise RnnbenchError(
            f"node labels must be int class ids [{trees.num_nodes}], got {labels.dtype.name} {labels.shape}"
        )
    if labels.min() < -1 or labels.max() >= spec.num_outputs or labels.max() < 0:
        raise RnnbenchError(
            f"class ids must lie in [0, {spec.num_outputs}) or be -1 (not scored), with one "
            f"scored node at least; got min {labels.min()} max {labels.max()}"
        )
    return labels.astype(np.int64)
