"""PTB trees (SST format) and the level-batched TreeBatch every backend consumes.

TO BE COMPLETED (parser, builder): the dataclasses below are the contract.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Level:
    """Internal nodes of one height: node ids ``start..stop-1``, children ``left[k]``, ``right[k]``."""

    start: int
    stop: int
    left: np.ndarray   # int64 [stop - start]
    right: np.ndarray  # int64 [stop - start]


@dataclass(frozen=True)
class TreeBatch:
    """Binary trees flattened so that each height is one batched composition.

    Node ids: leaves first (``0..num_leaves-1``, tree by tree, left to right),
    then internal nodes grouped by height (1 + the taller child's height), each
    height a contiguous id range. A child's id is always smaller than its
    parent's, so evaluating ``levels`` in order is a valid schedule.
    """

    num_nodes: int
    num_leaves: int
    levels: tuple[Level, ...]
    roots: np.ndarray         # int64 [num_trees]: root node id of each tree
    node_tree: np.ndarray     # int64 [num_nodes]: tree index of each node
    labels: np.ndarray        # int64 [num_nodes]: gold label, -1 where none
    words: tuple[str, ...]    # leaf tokens, one per leaf node
    leaf_offsets: np.ndarray  # int64 [num_trees + 1]: tree k's leaves are ids leaf_offsets[k]:leaf_offsets[k+1]

    @property
    def num_trees(self) -> int:
        return len(self.roots)
