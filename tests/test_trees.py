"""PTB tree parsing and the level-batched TreeBatch (rnnbench.trees)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbench.errors import RnnbenchError
from rnnbench.trees import Tree, TreeBatch, batch_trees, parse_tree, read_trees

SST_SPLITS = {"train": 8544, "dev": 1101, "test": 2210}


def _sst(name: str) -> str:
    data = os.environ.get("RNNBENCH_DATA_DIR")
    if not data:
        pytest.skip("RNNBENCH_DATA_DIR is not set: the SST trees live in $RNNBENCH_DATA_DIR/sst")
    path = os.path.join(data, "sst", f"{name}.txt")
    if not os.path.isfile(path):
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def sst() -> dict[str, list[Tree]]:
    return {split: read_trees(_sst(split)) for split in SST_SPLITS}


@pytest.fixture(scope="module")
def sst_train(sst) -> list[Tree]:
    return sst["train"]


# --- parser ---------------------------------------------------------------------------------------------


def test_parse_labels_every_node():
    tree = parse_tree("(3 (2 (2 The) (2 Rock)) (4 (3 is) (2 .)))")
    assert tree.label == 3
    assert [node.label for node in tree.nodes()] == [3, 2, 2, 2, 4, 3, 2]
    assert tree.words() == ["The", "Rock", "is", "."]
    assert [leaf.word for leaf in tree.leaves()] == tree.words()
    assert tree.height == 2
    assert tree.children[0].children[1] == Tree.leaf("Rock", 2)


def test_leaf_word_may_contain_spaces():
    tree = parse_tree(r"(2 (2 and) (2 8 1\/2))")
    assert tree.words() == ["and", "8 1/2"]


def test_escapes_are_undone():
    assert parse_tree(r"(2 (2 skate\/surf) (2 \*\*))").words() == ["skate/surf", "**"]


def test_ptb_brackets_map_to_parentheses_unless_asked_not_to():
    text = "(2 (2 -LRB-) (2 (2 so) (2 -RRB-)))"
    assert parse_tree(text).words() == ["(", "so", ")"]
    assert parse_tree(text, unescape_brackets=False).words() == ["-LRB-", "so", "-RRB-"]


def test_whitespace_and_newlines_between_nodes_are_allowed():
    tree = parse_tree("  ( 1\n  (0 bad)\t(2 film) )  ")
    assert tree == Tree.node(Tree.leaf("bad", 0), Tree.leaf("film", 2), label=1)


@pytest.mark.parametrize(
    "text",
    [
        "(3 (2 The) (2 Rock))",
        r"(1 (2 (2 8 1\/2) (2 -LRB-)) (0 (2 a\*b) (2 -RRB-)))",
        "(4 (4 crème) (2 brûlée))",
        "(2 alone)",
    ],
)
def test_round_trip_through_str(text):
    tree = parse_tree(text)
    assert str(tree) == text
    assert parse_tree(str(tree)) == tree


MALFORMED = [
    ("", "empty tree"),
    ("   ", "empty tree"),
    ("(3 (2 a)", "not closed"),
    ("(3 (2 a) (2 b)))", "without a matching"),
    ("((2 a) (2 b))", "missing label"),
    ("(3 (a) (2 b))", "label must be a non-negative integer, got 'a'"),
    ("(x (2 a) (2 b))", "got 'x'"),
    ("(2.5 word)", "got '2.5'"),
    ("(-1 word)", "got '-1'"),
    ("()", "missing label"),
    ("(2)", "neither a word nor children"),
    ("(3 (2 a) (2 b)) (2 c)", "trailing text"),
    ("(3 (2 a) (2 b)) junk", "trailing text"),
    ("word (2 a)", "must start with '('"),
    ("(3 stray (2 a) (2 b))", "word 'stray' followed by a child"),
    ("(3 (2 a) stray (2 b))", "text after a child"),
]


@pytest.mark.parametrize("text, problem", MALFORMED)
def test_malformed_tree_names_file_line_and_problem(text, problem):
    with pytest.raises(RnnbenchError) as info:
        parse_tree(text, line=17, source="trees.txt")
    message = str(info.value)
    assert message.startswith("trees.txt:17:"), message
    assert problem in message
    assert "\n" not in message


def test_malformed_tree_without_source_names_the_line():
    with pytest.raises(RnnbenchError, match=r"^line 4, column 10: unbalanced parentheses"):
        parse_tree("(3 (2 a)))", line=4)
    with pytest.raises(RnnbenchError, match=r"^line 2, column 4: label must be"):
        parse_tree("(3 (2 a)\n  (x b))")  # a multi-line tree: the line inside the text


def test_read_trees_skips_blank_lines_and_reports_path_and_line(tmp_path):
    path = tmp_path / "trees.txt"
    path.write_text("(1 (2 a) (2 b))\n\n(3 (2 c) (2 d))\n", encoding="utf-8")
    assert [t.label for t in read_trees(path)] == [1, 3]
    path.write_text("(1 (2 a) (2 b))\n\n(3 (2 c) (2 d)\n", encoding="utf-8")
    with pytest.raises(RnnbenchError, match=rf"^{path}:3:1: unbalanced"):
        read_trees(path)


def test_read_trees_missing_file_is_an_rnnbench_error(tmp_path):
    with pytest.raises(RnnbenchError, match="cannot read trees"):
        read_trees(tmp_path / "nope.txt")


def test_tree_node_is_either_leaf_or_internal():
    with pytest.raises(RnnbenchError):
        Tree(1, (), None)
    with pytest.raises(RnnbenchError):
        Tree(1, (Tree.leaf("a"),), "a")


# --- TreeBatch ------------------------------------------------------------------------------------------


def _label(node: Tree) -> int:
    return -1 if node.label is None else node.label


def assert_valid_batch(batch: TreeBatch, trees: list[Tree]) -> None:
    """Every structural promise of TreeBatch, checked from the outside."""
    L, N = batch.num_leaves, batch.num_nodes
    for name in ("roots", "node_tree", "labels", "leaf_offsets"):
        assert getattr(batch, name).dtype == np.int64, name
    assert batch.node_tree.shape == (N,) and batch.labels.shape == (N,)
    assert batch.roots.shape == (len(trees),) and batch.num_trees == len(trees)
    # leaves: tree by tree, as many as each tree has words, in order
    assert batch.leaf_offsets[0] == 0 and batch.leaf_offsets[-1] == L
    assert np.array_equal(np.diff(batch.leaf_offsets), [len(t.words()) for t in trees])
    assert list(batch.words) == [w for t in trees for w in t.words()]
    assert np.array_equal(batch.node_tree[:L], np.repeat(np.arange(len(trees)), np.diff(batch.leaf_offsets)))
    # levels: contiguous, consecutive, covering every internal node once; children before parents
    expected_start = L
    parent = np.full(N, -1)
    height = np.zeros(N, dtype=np.int64)
    for level in batch.levels:
        assert level.start == expected_start and level.stop > level.start
        expected_start = level.stop
        ids = np.arange(level.start, level.stop)
        assert level.left.dtype == np.int64 and level.right.dtype == np.int64
        assert level.left.shape == level.right.shape == ids.shape
        assert np.all(level.left < ids) and np.all(level.right < ids)
        children = np.concatenate([level.left, level.right])
        assert len(np.unique(children)) == len(children), "a child id twice in one level"
        assert np.all(parent[children] == -1), "a node with two parents"
        parent[children] = np.concatenate([ids, ids])
        level_heights = 1 + np.maximum(height[level.left], height[level.right])
        assert np.all(level_heights == level_heights[0]), "one level mixes heights"
        height[ids] = level_heights
        assert np.all(batch.node_tree[level.left] == batch.node_tree[ids])
        assert np.all(batch.node_tree[level.right] == batch.node_tree[ids])
    assert expected_start == N
    assert [h for h in (height[lv.start] for lv in batch.levels)] == list(range(1, len(batch.levels) + 1))
    # every node except the roots has exactly one parent; roots belong to their tree
    is_root = np.zeros(N, dtype=bool)
    is_root[batch.roots] = True
    assert np.all((parent == -1) == is_root)
    assert np.array_equal(batch.node_tree[batch.roots], np.arange(len(trees)))
    assert np.array_equal(height[batch.roots], [t.height for t in trees])
    # labels: leaves in word order, every node of a tree accounted for
    assert np.array_equal(batch.labels[:L], [_label(leaf) for t in trees for leaf in t.leaves()])
    assert np.array_equal(batch.labels[batch.roots], [_label(t) for t in trees])
    assert np.array_equal(
        np.bincount(batch.node_tree, minlength=len(trees)), [sum(1 for _ in t.nodes()) for t in trees]
    )
    for k, tree in enumerate(trees):
        assert sorted(batch.labels[batch.node_tree == k].tolist()) == sorted(map(_label, tree.nodes()))


def test_small_batch_layout_is_exactly_as_documented():
    trees = [parse_tree("(1 (2 a) (3 (0 b) (4 c)))"), parse_tree("(2 d)"), parse_tree("(0 (1 e) (2 f))")]
    batch = TreeBatch.from_trees(trees)
    assert batch.num_leaves == 6 and batch.num_nodes == 9
    assert batch.words == ("a", "b", "c", "d", "e", "f")
    # height 1: (b c) of tree 0 -> id 6, (e f) of tree 2 -> id 7; height 2: the root of tree 0 -> id 8
    assert [(lv.start, lv.stop, lv.left.tolist(), lv.right.tolist()) for lv in batch.levels] == [
        (6, 8, [1, 4], [2, 5]),
        (8, 9, [0], [6]),
    ]
    assert batch.roots.tolist() == [8, 3, 7]
    assert batch.node_tree.tolist() == [0, 0, 0, 1, 2, 2, 0, 2, 0]
    assert batch.labels.tolist() == [2, 0, 4, 2, 1, 2, 3, 0, 1]
    assert batch.leaf_offsets.tolist() == [0, 3, 4, 6]
    assert_valid_batch(batch, trees)


def test_single_leaf_batch_has_no_levels():
    batch = batch_trees([Tree.leaf("hi", 3)])
    assert batch.levels == () and batch.num_nodes == 1 and batch.roots.tolist() == [0]
    assert batch.labels.tolist() == [3]


def test_unlabelled_nodes_get_minus_one():
    tree = Tree.node(Tree.leaf("a"), Tree.leaf("b", 1))
    assert TreeBatch.from_trees([tree]).labels.tolist() == [-1, 1, -1]


def test_unary_chain_collapses_keeping_the_top_label():
    tree = parse_tree("(4 (1 (3 (2 a) (2 b))) (0 (2 c)))")
    batch = TreeBatch.from_trees([tree])
    assert batch.num_nodes == 5
    assert batch.labels.tolist() == [2, 2, 0, 1, 4]  # (a b) keeps 1 from the top of its chain, c keeps 0
    assert [(lv.left.tolist(), lv.right.tolist()) for lv in batch.levels] == [([0], [1]), ([3], [2])]
    assert tree.collapse_unary() == parse_tree("(4 (1 (2 a) (2 b)) (0 c))")


def test_nary_node_is_rejected_naming_the_tree():
    trees = [parse_tree("(1 (2 a) (2 b))"), parse_tree("(3 (2 a) (2 b) (2 c))")]
    with pytest.raises(RnnbenchError, match=r"tree 1 of the batch: node over 'a b c' has 3 children"):
        TreeBatch.from_trees(trees)


def test_empty_batch_is_rejected():
    with pytest.raises(RnnbenchError, match="at least one tree"):
        TreeBatch.from_trees([])


def test_batching_is_repeatable_and_does_not_depend_on_cached_state():
    texts = ["(1 (2 a) (3 (0 b) (4 c)))", "(0 (1 (2 e) (2 f)) (2 g))"]
    first = TreeBatch.from_trees([parse_tree(t) for t in texts])
    trees = [parse_tree(t) for t in texts]
    TreeBatch.from_trees(trees[::-1])
    again = TreeBatch.from_trees(trees)
    for name in ("roots", "node_tree", "labels", "leaf_offsets"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert [(a.left.tolist(), a.right.tolist()) for a in first.levels] == [
        (b.left.tolist(), b.right.tolist()) for b in again.levels
    ]


labels = st.one_of(st.none(), st.integers(0, 4))
binary_trees = st.recursive(
    st.builds(Tree.leaf, st.sampled_from(["a", "b", "8 1/2", "(", "x*y"]), labels),
    lambda kids: st.builds(lambda left, right, lab: Tree.node(left, right, label=lab), kids, kids, labels),
    max_leaves=16,
)


@settings(deadline=None, max_examples=60)
@given(st.lists(binary_trees, min_size=1, max_size=5))
def test_random_binary_trees_batch_validly(trees):
    assert_valid_batch(TreeBatch.from_trees(trees), trees)


labelled_trees = st.recursive(
    st.builds(Tree.leaf, st.sampled_from(["a", "8 1/2", "(", ")", "x*y", "a/b", "crème", "-", "{"]), st.integers(0, 4)),
    lambda kids: st.builds(lambda left, right, lab: Tree.node(left, right, label=lab), kids, kids, st.integers(0, 9)),
    max_leaves=16,
)


@settings(deadline=None, max_examples=60)
@given(labelled_trees)
def test_random_labelled_trees_round_trip(tree):
    assert parse_tree(str(tree)) == tree


# --- the real SST trees ---------------------------------------------------------------------------------


@pytest.mark.parametrize("split", sorted(SST_SPLITS))
def test_sst_split_sizes_and_labels(split, sst):
    trees = sst[split]
    assert len(trees) == SST_SPLITS[split]
    assert all(node.label in range(5) for tree in trees[:200] for node in tree.nodes())


def test_sst_train_root_labels_match_published_counts(sst_train):
    assert np.bincount([t.label for t in sst_train]).tolist() == [1092, 2218, 1624, 2322, 1288]


def test_sst_batches_are_valid(sst_train):
    for start, stop in [(0, 64), (64, 89), (4000, 4250)]:
        trees = sst_train[start:stop]
        assert_valid_batch(TreeBatch.from_trees(trees), trees)


def test_whole_sst_train_batches_with_consistent_counts(sst_train):
    batch = TreeBatch.from_trees(sst_train)
    assert batch.num_nodes == 318582  # "labelled nodes" in data/sst/SOURCE.md
    assert batch.num_leaves == sum(len(t.words()) for t in sst_train)
    assert batch.num_nodes == 2 * batch.num_leaves - len(sst_train)  # binary: n leaves, n - 1 internal
    assert batch.num_trees == 8544
    assert np.all(batch.labels >= 0)
    assert len(batch.levels) == max(t.height for t in sst_train)
