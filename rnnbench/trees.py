"""PTB trees (SST format) and the level-batched TreeBatch every backend consumes.

Text format: ``(3 (2 The) (2 Rock))``; every node carries an integer label, a
leaf is ``(label word)`` where the word runs to the closing parenthesis and may
contain spaces (``(2 8 1\\/2)`` is the single word ``8 1/2``).

Choices, made once here so that every backend and task sees the same words:

* ``\\/`` and ``\\*`` are unescaped to ``/`` and ``*``.
* The PTB bracket tokens ``-LRB-``/``-RRB-`` (and ``-LSB-``/``-RSB-``,
  ``-LCB-``/``-RCB-``) become ``(``/``)`` (``[``/``]``, ``{``/``}``), because
  that is the text a word-vector table or a tokenizer knows. Pass
  ``unescape_brackets=False`` to keep the PTB tokens. :meth:`Tree.to_ptb`
  writes them back, so that parse -> str -> parse is the identity.
* Unary chains are kept by the parser (it reads what is written) and collapsed
  by :meth:`TreeBatch.from_trees` into their lowest node, which keeps the label
  of the *top* node of the chain: the chain spans the same words, and the top
  label is the one given to the whole phrase. SST trees have no unary nodes.
* A node with more than two children cannot be composed by a binary cell, so
  :meth:`TreeBatch.from_trees` rejects it (binarize first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rnnbench.errors import RnnbenchError

_PTB_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
_BRACKETS_TO_PTB = {text: token for token, text in _PTB_BRACKETS.items()}
_TOKEN = re.compile(r"\(|\)|[^()]+")


@dataclass(frozen=True, eq=True, repr=False)
class Tree:
    """One parse tree node: a leaf has a ``word`` and no children, an internal node children and no word.

    ``label`` is the gold class of the phrase (SST: 0..4) or None when unlabelled.
    """

    label: int | None
    children: tuple[Tree, ...] = ()
    word: str | None = None

    def __post_init__(self):
        if not isinstance(self.children, tuple):
            object.__setattr__(self, "children", tuple(self.children))
        if (self.word is None) == (not self.children):
            raise RnnbenchError(
                "a tree node is either a leaf with a word or an internal node with children, "
                f"got word={self.word!r} and {len(self.children)} children"
            )

    @classmethod
    def leaf(cls, word: str, label: int | None = None) -> Tree:
        return cls(label, (), word)

    @classmethod
    def node(cls, *children: Tree, label: int | None = None) -> Tree:
        return cls(label, tuple(children), None)

    @property
    def is_leaf(self) -> bool:
        return self.word is not None

    def nodes(self) -> Iterator[Tree]:
        """Every node, pre-order (parent before children, left before right); no recursion limit."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    __iter__ = nodes

    def leaves(self) -> list[Tree]:
        """Leaf nodes, left to right."""
        return [node for node in self.nodes() if node.word is not None]

    def words(self) -> list[str]:
        """The sentence: leaf words, left to right."""
        return [node.word for node in self.nodes() if node.word is not None]

    @cached_property
    def height(self) -> int:
        """0 for a leaf, else 1 + the tallest child's height: the level a TreeBatch puts the root on
        (for trees without unary nodes, which a TreeBatch collapses)."""
        height: dict[int, int] = {}
        for node in _postorder(self):
            height[id(node)] = 1 + max((height[id(c)] for c in node.children), default=-1)
        return height[id(self)]

    def collapse_unary(self) -> Tree:
        """This tree with every unary chain replaced by its lowest node, keeping the chain's top label."""
        out: dict[int, Tree] = {}
        for node in _postorder(self):
            top_label = node.label
            low = node
            while len(low.children) == 1:
                low = low.children[0]
                if top_label is None:
                    top_label = low.label
            if low.word is not None:
                out[id(node)] = Tree(top_label, (), low.word)
            else:
                out[id(node)] = Tree(top_label, tuple(out[id(c)] for c in low.children), None)
        return out[id(self)]

    def to_ptb(self) -> str:
        """The one-line PTB text :func:`parse_tree` reads back (unlabelled nodes are written as ``?``,
        which the parser rejects: only labelled trees round-trip)."""
        parts: list[str] = []
        stack: list[Tree | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
                continue
            label = "?" if item.label is None else str(item.label)
            if item.word is not None:
                parts.append(f"({label} {_escape_word(item.word)})")
                continue
            parts.append(f"({label}")
            stack.append(")")
            for child in reversed(item.children):
                stack.append(child)
                stack.append(" ")
        return "".join(parts)

    __str__ = to_ptb

    def __repr__(self) -> str:
        return f"Tree({self.to_ptb()!r})"


def _new_tree(label, children, word) -> Tree:
    """A Tree without the frozen-dataclass __init__ (a third of parsing time): for the parser,
    whose nodes are valid by construction."""
    tree = object.__new__(Tree)
    tree.__dict__.update(label=label, children=children, word=word)
    return tree


def _postorder(tree: Tree) -> list[Tree]:
    order = []
    stack = [tree]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    order.reverse()
    return order


def _escape_word(word: str) -> str:
    if word in _BRACKETS_TO_PTB:
        return _BRACKETS_TO_PTB[word]
    return word.replace("/", "\\/").replace("*", "\\*").replace("(", "-LRB-").replace(")", "-RRB-")


def _unescape_word(word: str, unescape_brackets: bool) -> str:
    if unescape_brackets and word in _PTB_BRACKETS:
        return _PTB_BRACKETS[word]
    return word.replace("\\/", "/").replace("\\*", "*")


def parse_tree(
    text: str,
    line: int | None = None,
    source: str | None = None,
    *,
    unescape_brackets: bool = True,
    labels: range | None = None,
    max_children: int | None = None,
) -> Tree:
    """Parse one PTB/SST tree.

    ``line`` is the line number of ``text``'s first line in ``source`` (a file
    name); both only serve error messages, which read ``source:line:column:
    problem`` (``line N, column C: problem`` without a source). ``labels``
    (SST: ``range(5)``) and ``max_children`` (2 for a binary cell) reject a
    bad node here, where its line is known, rather than in training.
    """
    first_line = 1 if line is None else int(line)

    def fail(pos: int, problem: str):
        pos = max(0, min(pos, len(text)))
        lineno = first_line + text.count("\n", 0, pos)
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        near = text[pos : pos + 24].replace("\n", " ")
        where = f"{source}:{lineno}:{col}" if source else f"line {lineno}, column {col}"
        suffix = f" near {near!r}" if near.strip() else ""
        raise RnnbenchError(f"{where}: {problem}{suffix}")

    if not isinstance(text, str):
        raise RnnbenchError(f"parse_tree needs a str, got {type(text).__name__}")
    if not text.strip():
        fail(0, "empty tree")
    # One frame per open '(': [open position, label, leaf text, children].
    stack: list[list] = []
    root: Tree | None = None
    awaiting_label = False
    end = 0
    for token in _TOKEN.findall(text):
        start, end = end, end + len(token)
        if token == "(":
            if root is not None:
                fail(start, "trailing text after the tree")
            if awaiting_label:
                fail(start, "missing label: '(' must be followed by an integer label")
            if stack and stack[-1][2]:
                fail(start, f"word {stack[-1][2]!r} followed by a child node")
            stack.append([start, None, "", []])
            awaiting_label = True
        elif token == ")":
            if not stack:
                fail(start, "unbalanced parentheses: ')' without a matching '('")
            if awaiting_label:
                fail(start, "missing label: empty node '()'")
            opened, label, word, children = stack.pop()
            if max_children is not None and len(children) > max_children:
                fail(
                    opened,
                    f"node has {len(children)} children, at most {max_children} allowed "
                    f"({'binary trees: binarize first' if max_children == 2 else 'reduce it'})",
                )
            if children:
                node = _new_tree(label, tuple(children), None)
            elif word:
                node = _new_tree(label, (), _unescape_word(word, unescape_brackets))
            else:
                fail(opened, f"node labelled {label} has neither a word nor children")
            if stack:
                stack[-1][3].append(node)
            else:
                root = node
        elif not stack:
            if token.strip():
                fail(
                    end - len(token.lstrip()),
                    "trailing text after the tree" if root is not None else "a tree must start with '('",
                )
        elif awaiting_label:
            fields = token.split(None, 1)
            if not fields:
                continue  # whitespace between '(' and the label
            label_text = fields[0]
            if not (label_text.isascii() and label_text.isdigit()):
                fail(
                    start + token.index(label_text),
                    f"label must be a non-negative integer, got {label_text!r}"
                    + (" (missing label?)" if len(fields) == 1 else ""),
                )
            try:
                value = int(label_text)
            except ValueError:  # more digits than Python converts
                fail(start + token.index(label_text), f"label {label_text[:20]}... is too large")
            if labels is not None and value not in labels:
                fail(start + token.index(label_text), f"label {value} is outside {labels[0]}..{labels[-1]}")
            stack[-1][1] = value
            stack[-1][2] = fields[1].strip() if len(fields) > 1 else ""
            awaiting_label = False
        elif token.strip():
            fail(end - len(token.lstrip()), "text after a child node (a word must be a leaf)")
    if stack:
        fail(stack[-1][0], f"unbalanced parentheses: {len(stack)} '(' not closed")
    return root


def read_trees(
    path, *, unescape_brackets: bool = True, labels: range | None = None, max_children: int | None = None
) -> list[Tree]:
    """Every tree in ``path``, one a non-empty line; errors name ``path:line`` (options: :func:`parse_tree`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RnnbenchError(f"cannot read trees from {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise RnnbenchError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return [
        parse_tree(
            line, lineno, str(path), unescape_brackets=unescape_brackets, labels=labels, max_children=max_children
        )
        for lineno, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


@dataclass(frozen=True)
class _FlatTree:
    """One tree in local numbering: leaves 0..n-1, then internal nodes n.. in post-order.

    Computed once per Tree (cached), so that batching the same trees every epoch
    is a handful of concatenations rather than a walk over every node.
    """

    words: tuple[str, ...]
    leaf_labels: np.ndarray  # int64 [n]
    heights: np.ndarray  # int64 [m]
    left: np.ndarray  # int64 [m], local ids
    right: np.ndarray  # int64 [m], local ids
    labels: np.ndarray  # int64 [m]

    @property
    def height(self) -> int:
        return int(self.heights[-1]) if len(self.heights) else 0


def _flatten(tree: Tree) -> _FlatTree:
    flat = tree.__dict__.get("_flat")
    if flat is None:
        flat = _build_flat(tree)
        object.__setattr__(tree, "_flat", flat)
    return flat


def _build_flat(tree: Tree) -> _FlatTree:
    words: list[str] = []
    leaf_labels: list[int] = []
    heights: list[int] = []
    left: list[int] = []
    right: list[int] = []
    labels: list[int] = []
    done: list[tuple[int, int]] = []  # (ref, height) of finished subtrees; internal refs are -(k+1)
    stack: list[tuple[Tree, int, bool]] = [(tree, -1 if tree.label is None else tree.label, False)]
    while stack:
        node, label, expanded = stack.pop()
        while len(node.children) == 1:  # unary chain: keep the top label, compose the lowest node
            node = node.children[0]
            if label < 0 and node.label is not None:
                label = node.label
        if node.word is not None:
            done.append((len(words), 0))
            words.append(node.word)
            leaf_labels.append(label)
        elif expanded:
            right_ref, right_height = done.pop()
            left_ref, left_height = done.pop()
            done.append((-len(heights) - 1, 1 + max(left_height, right_height)))
            heights.append(1 + max(left_height, right_height))
            left.append(left_ref)
            right.append(right_ref)
            labels.append(label)
        else:
            if len(node.children) != 2:
                span = " ".join(node.words())
                raise RnnbenchError(
                    f"node over {span[:40]!r} has {len(node.children)} children; "
                    "a TreeBatch holds binary trees only (binarize first)"
                )
            stack.append((node, label, True))
            for child in reversed(node.children):
                stack.append((child, -1 if child.label is None else child.label, False))
    n = len(words)
    left_arr = np.array(left, dtype=np.int64)
    right_arr = np.array(right, dtype=np.int64)
    left_arr = np.where(left_arr < 0, n - 1 - left_arr, left_arr)
    right_arr = np.where(right_arr < 0, n - 1 - right_arr, right_arr)
    return _FlatTree(
        tuple(words),
        np.array(leaf_labels, dtype=np.int64),
        np.array(heights, dtype=np.int64),
        left_arr,
        right_arr,
        np.array(labels, dtype=np.int64),
    )


@dataclass(frozen=True)
class Level:
    """Internal nodes of one height: node ids ``start..stop-1``, children ``left[k]``, ``right[k]``."""

    start: int
    stop: int
    left: np.ndarray  # int64 [stop - start]
    right: np.ndarray  # int64 [stop - start]


@dataclass(frozen=True)
class TreeBatch:
    """Binary trees flattened so that each height is one batched composition.

    Node ids: leaves first (``0..num_leaves-1``, tree by tree, left to right),
    then internal nodes grouped by height (1 + the taller child's height), each
    height a contiguous id range. A child's id is always smaller than its
    parent's, so evaluating ``levels`` in order is a valid schedule.
    Within one height, nodes are ordered by tree, then in post-order.
    """

    num_nodes: int
    num_leaves: int
    levels: tuple[Level, ...]
    roots: np.ndarray  # int64 [num_trees]: root node id of each tree
    node_tree: np.ndarray  # int64 [num_nodes]: tree index of each node
    labels: np.ndarray  # int64 [num_nodes]: gold label, -1 where none
    words: tuple[str, ...]  # leaf tokens, one per leaf node
    leaf_offsets: np.ndarray  # int64 [num_trees + 1]: tree k's leaves are ids leaf_offsets[k]:leaf_offsets[k+1]

    @property
    def num_trees(self) -> int:
        return len(self.roots)

    @classmethod
    def from_trees(cls, trees: Sequence[Tree]) -> TreeBatch:
        """Flatten ``trees`` (unary chains collapsed, see the module docstring) into one TreeBatch.

        Linear time: each tree is walked once in its life (its local numbering
        is cached on the Tree), and a batch is then built with array operations.
        """
        trees = list(trees)
        if not trees:
            raise RnnbenchError("TreeBatch.from_trees needs at least one tree")
        flats = []
        for index, tree in enumerate(trees):
            if not isinstance(tree, Tree):
                raise RnnbenchError(f"tree {index} of the batch is a {type(tree).__name__}, not a Tree")
            try:
                flats.append(_flatten(tree))
            except RnnbenchError as exc:
                raise RnnbenchError(f"tree {index} of the batch: {exc}") from None
        return _batch_flat(flats)


def batch_trees(trees: Sequence[Tree]) -> TreeBatch:
    """Alias of :meth:`TreeBatch.from_trees`."""
    return TreeBatch.from_trees(trees)


def _batch_flat(flats: list[_FlatTree]) -> TreeBatch:
    num_trees = len(flats)
    leaf_counts = np.array([len(f.words) for f in flats], dtype=np.int64)
    internal_counts = np.array([len(f.heights) for f in flats], dtype=np.int64)
    leaf_offsets = np.zeros(num_trees + 1, dtype=np.int64)
    np.cumsum(leaf_counts, out=leaf_offsets[1:])
    internal_offsets = np.zeros(num_trees + 1, dtype=np.int64)
    np.cumsum(internal_counts, out=internal_offsets[1:])
    num_leaves = int(leaf_offsets[-1])
    num_internal = int(internal_offsets[-1])
    tree_of_internal = np.repeat(np.arange(num_trees, dtype=np.int64), internal_counts)

    heights = np.concatenate([f.heights for f in flats])
    # Batch order before sorting by height: tree by tree, post-order ("temporary" index).
    # Final id of temporary index k: num_leaves + rank[k], rank from a stable sort by height.
    order = np.argsort(heights, kind="stable")
    rank = np.empty(num_internal, dtype=np.int64)
    rank[order] = np.arange(num_internal, dtype=np.int64)

    def to_batch_ids(local: np.ndarray) -> np.ndarray:
        n = leaf_counts[tree_of_internal]
        is_leaf = local < n
        leaf_ids = leaf_offsets[:-1][tree_of_internal] + local
        temp = internal_offsets[:-1][tree_of_internal] + (local - n)
        return np.where(is_leaf, leaf_ids, num_leaves + rank[np.where(is_leaf, 0, temp)])

    left = to_batch_ids(np.concatenate([f.left for f in flats]))[order]
    right = to_batch_ids(np.concatenate([f.right for f in flats]))[order]
    sorted_heights = heights[order]

    levels = []
    if num_internal:
        bounds = np.flatnonzero(np.diff(sorted_heights)) + 1
        starts = np.concatenate([[0], bounds])
        stops = np.concatenate([bounds, [num_internal]])
        for start, stop in zip(starts.tolist(), stops.tolist()):
            levels.append(
                Level(
                    num_leaves + start,
                    num_leaves + stop,
                    np.ascontiguousarray(left[start:stop]),
                    np.ascontiguousarray(right[start:stop]),
                )
            )

    roots = np.where(
        internal_counts > 0,
        num_leaves + rank[np.maximum(internal_offsets[1:] - 1, 0)] if num_internal else 0,
        leaf_offsets[:-1],
    ).astype(np.int64)
    node_tree = np.concatenate([np.repeat(np.arange(num_trees, dtype=np.int64), leaf_counts), tree_of_internal[order]])
    labels = np.concatenate([f.leaf_labels for f in flats] + [np.concatenate([f.labels for f in flats])[order]])
    words = tuple(word for f in flats for word in f.words)
    return TreeBatch(
        num_nodes=num_leaves + num_internal,
        num_leaves=num_leaves,
        levels=tuple(levels),
        roots=roots,
        node_tree=node_tree,
        labels=labels.astype(np.int64),
        words=words,
        leaf_offsets=leaf_offsets,
    )
