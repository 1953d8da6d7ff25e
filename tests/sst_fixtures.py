"""SST-shaped tree files for tests (not a test module itself): labelled binary PTB trees in train/dev/test.txt."""

from __future__ import annotations

import numpy as np

from rnnbench.trees import Tree

WORDS = ("good", "bad", "film", "The", "plot", "is", "not", "fun", "dull", "a")


def random_tree(rng, words) -> Tree:
    """A random binary tree over ``words``, every node labelled 0..4."""
    if len(words) == 1:
        return Tree.leaf(words[0], label=int(rng.integers(0, 5)))
    cut = int(rng.integers(1, len(words)))
    return Tree.node(random_tree(rng, words[:cut]), random_tree(rng, words[cut:]), label=int(rng.integers(0, 5)))


def write_sst(folder, sizes=(40, 12, 15), seed=0):
    """An SST-shaped folder (train/dev/test.txt of labelled binary PTB trees); dev/test hold an unseen word."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for split, size in zip(("train", "dev", "test"), sizes):
        vocabulary = WORDS if split == "train" else WORDS + ("unseen",)
        lines = [
            random_tree(rng, list(rng.choice(vocabulary, size=int(rng.integers(1, 9))))).to_ptb() for _ in range(size)
        ]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder.parent
