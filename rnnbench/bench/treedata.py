"""SST-shaped tree batches for the tree suite: the real treebank when present, else a seeded stand-in.

Real: the first ``n`` trees of SST's ``train.txt`` (PTB format) in the data directory
(``--data-dir``, ``$RNNBENCH_DATA_DIR``, then the user cache: :mod:`rnnbench.data.paths`).
Synthetic: sentence lengths drawn from SST train's length histogram (below), each
sentence bracketed by recursive random binary splits whose split point is drawn from
Beta(0.25, 0.25); that bias toward lopsided splits gives a mean tree height within a few
percent of SST's (9.8 for 19.1 words on average), where uniform splits give 7.0. The
record says which source was used, so the two are never mistaken for each other, and
names the file relative to the data folder (``sst/train.txt``): a record never holds a
path of the machine that made it.

``one_node_per_level`` turns a batch into the node-by-node schedule: the same
backend code, one composition per call, so the level-batched speed-up measures
batching alone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.trees import Level, Tree, TreeBatch, parse_tree

#: SST train sentence lengths: bin edges (words) and counts (8544 trees; mean 19.1, max 52).
SST_LENGTH_EDGES = (2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 57)
SST_LENGTH_COUNTS = (288, 1096, 1564, 1707, 1540, 1117, 713, 321, 139, 48, 11)
SPLIT_BETA = 0.25
SYNTHETIC_SEED = 0


def sst_train_path(data_dir=None) -> Path | None:
    """SST's train trees in the resolved data directory, or None when absent."""
    from rnnbench.data.paths import resolve_data_dir

    path = resolve_data_dir(data_dir).path / "sst" / "train.txt"
    return path if path.is_file() else None


def tree_source(data_dir=None) -> dict:
    """Where tree batches come from, as stored in a record (``source`` is ``sst`` or ``synthetic``).

    SST is fetched on first use like any dataset; when it cannot be (offline, no
    network) the suite says so and times the seeded stand-in, which the record names.
    The path is relative to the data folder (``"root": "data_dir"``); an explicit
    ``data_dir`` is put in ``$RNNBENCH_DATA_DIR`` for this process and the workers it
    starts, as ``--offline`` is, so :func:`load_tree_batch` finds the same file there.
    """
    path = sst_train_path(data_dir)
    if path is None:
        path = _fetch_sst(data_dir)
    if path is not None:
        return {
            "source": "sst",
            "path": _relative(path, data_dir),
            "root": "data_dir",
            "selection": "first N trees of train.txt",
        }
    return {
        "source": "synthetic",
        "seed": SYNTHETIC_SEED,
        "selection": f"SST train length histogram, Beta({SPLIT_BETA}, {SPLIT_BETA}) split points",
    }


def _relative(path: Path, data_dir) -> str:
    """``sst/train.txt``: ``path`` inside the data folder, the folder shared with the workers when explicit."""
    import os

    from rnnbench.data.paths import DATA_DIR_VARIABLE, resolve_data_dir

    root = resolve_data_dir(data_dir)
    if data_dir is not None and str(data_dir).strip():
        os.environ[DATA_DIR_VARIABLE] = str(root.path.resolve())  # for this process and the workers it starts
    try:
        return Path(path).resolve().relative_to(root.path.resolve()).as_posix()
    except ValueError:  # a dataset folder outside the data folder: its place in it is still sst/train.txt
        return "sst/train.txt"


def source_path(source: dict, data_dir=None) -> Path:
    """The file a recorded ``sst`` source names, found in this process's data folder (an older record's
    absolute path is used as it is)."""
    from rnnbench.data.paths import resolve_data_dir

    path = Path(str(source["path"]))
    return path if path.is_absolute() else resolve_data_dir(data_dir).path / path


def _fetch_sst(data_dir) -> Path | None:
    import sys

    from rnnbench.data.local import dataset_folder
    from rnnbench.data.paths import offline

    if offline():
        return None
    try:
        return dataset_folder("sst", data_dir) / "train.txt"
    except RnnbenchError as exc:
        print(f"warning: timing synthetic SST-shaped trees: {exc}", file=sys.stderr)
        return None


def load_tree_batch(source: dict, num_trees: int, data_dir=None) -> TreeBatch:
    """A TreeBatch of ``num_trees`` trees from ``source`` (see :func:`tree_source`), in a worker too: a relative
    path is resolved against the data folder again there."""
    if source["source"] == "sst":
        trees = first_trees(source_path(source, data_dir), num_trees)
    else:
        trees = synthetic_trees(num_trees, source.get("seed", SYNTHETIC_SEED))
    return TreeBatch.from_trees(trees)


def first_trees(path, count: int) -> list[Tree]:
    """The first ``count`` trees of a PTB file, parsing no further (SST train has 8544)."""
    trees = []
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if len(trees) == count:
                    break
                if line.strip():
                    trees.append(parse_tree(line, number, str(path)))
    except OSError as exc:
        raise RnnbenchError(f"cannot read trees from {path}: {exc.strerror or exc}") from exc
    if len(trees) < count:
        raise RnnbenchError(f"{path} has {len(trees)} trees, fewer than the {count} asked for")
    return trees


def synthetic_trees(num_trees: int, seed: int = SYNTHETIC_SEED) -> list[Tree]:
    """Seeded binary trees with SST's sentence-length distribution (words are ``w0``, ``w1``, ...)."""
    rng = np.random.default_rng(seed)
    counts = np.array(SST_LENGTH_COUNTS, dtype=float)
    bins = rng.choice(len(counts), size=num_trees, p=counts / counts.sum())
    lengths = [int(rng.integers(SST_LENGTH_EDGES[b], SST_LENGTH_EDGES[b + 1])) for b in bins]
    return [_random_tree(n, rng) for n in lengths]


def _random_tree(num_words: int, rng) -> Tree:
    """Bracket ``num_words`` words by random binary splits (iterative: no recursion limit)."""
    # Each pending span (start, stop) is split; children are built after the spans they cover.
    built: dict[tuple[int, int], Tree] = {}
    stack = [(0, num_words, False)]
    while stack:
        start, stop, expanded = stack.pop()
        if stop - start == 1:
            built[start, stop] = Tree.leaf(f"w{start}")
            continue
        if expanded:
            split = built.pop(("split", start, stop))
            built[start, stop] = Tree.node(built.pop((start, split)), built.pop((split, stop)))
            continue
        n = stop - start
        split = start + 1 + min(n - 2, int(rng.beta(SPLIT_BETA, SPLIT_BETA) * (n - 1)))
        built["split", start, stop] = split
        stack += [(start, stop, True), (split, stop, False), (start, split, False)]
    return built[0, num_words]


def one_node_per_level(batch: TreeBatch) -> TreeBatch:
    """The same batch with every internal node on a level of its own, in id order.

    A valid schedule (a child's id is smaller than its parent's), so every backend
    runs it unchanged, one composition per node: the node-by-node baseline.
    """
    levels = tuple(
        Level(node, node + 1, level.left[k : k + 1], level.right[k : k + 1])
        for level in batch.levels
        for k, node in enumerate(range(level.start, level.stop))
    )
    return dataclasses.replace(batch, levels=levels)
