"""SST tree files with a mistake (issue 10): rejected while parsing, with file:line, in one line and exit 2.

Before, a label outside 0..4 or a node with three children got as far as
training (an index error, or a batch error without a line), and an empty
train.txt trained on nothing.
"""

from __future__ import annotations

import pytest

from rnnbench.errors import RnnbenchError
from rnnbench.tasks.treesent.task import read_sst_trees
from rnnbench.trees import parse_tree, read_trees

from cli_helpers import invoke, one_line_error

GOOD = ["(3 (2 a) (3 good))", "(1 (2 the) (1 (1 bad) (2 film)))", "(4 (4 great) (2 .))", "(0 (0 awful) (2 plot))"]
TINY = [
    "--embed-size",
    "4",
    "--hidden-size",
    "4",
    "--max-steps",
    "2",
    "--epochs",
    "1",
    "--batch-size",
    "2",
    "--no-progress",
]


def sst_dir(tmp_path, **splits):
    """A data dir with sst/{train,dev,test}.txt: the GOOD trees, unless a split's lines are given."""
    folder = tmp_path / "data" / "sst"
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.txt").write_text("".join(f"{line}\n" for line in splits.get(split, GOOD)))
    return folder


def run(tmp_path, capsys, folder, model="recursive"):
    code, _, err = invoke(
        capsys,
        "run",
        "--backend",
        "numpy",
        "--task",
        "treesent",
        "--model",
        model,
        "--data-dir",
        folder.parent,
        "--results-dir",
        tmp_path / "results",
        *TINY,
    )
    return code, err


def test_the_good_trees_train(tmp_path, capsys):
    """The baseline the cases below break one thing of: it must work, else they prove nothing."""
    code, err = run(tmp_path, capsys, sst_dir(tmp_path))
    assert code == 0, err


@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_an_empty_train_file_has_no_trees(tmp_path, capsys, content):
    folder = sst_dir(tmp_path)
    (folder / "train.txt").write_text(content)
    one_line_error(*run(tmp_path, capsys, folder), f"{folder / 'train.txt'} has no trees")


@pytest.mark.parametrize("model", ["recursive", "lstm"])
@pytest.mark.parametrize("label", ["5", "7", "12"])
def test_a_label_outside_0_to_4_names_file_line_and_column(tmp_path, capsys, model, label):
    folder = sst_dir(tmp_path, train=[*GOOD[:2], f"(3 (2 a) ({label} good))", *GOOD[2:]])
    one_line_error(*run(tmp_path, capsys, folder, model), f"{folder / 'train.txt'}:3:11: label {label} is outside 0..4")


def test_a_bad_root_label_in_dev_names_dev(tmp_path, capsys):
    folder = sst_dir(tmp_path, dev=[*GOOD, "(9 (2 a) (3 good))"])
    one_line_error(*run(tmp_path, capsys, folder), f"{folder / 'dev.txt'}:5:2: label 9 is outside 0..4")


@pytest.mark.parametrize("model", ["recursive", "treelstm", "gru"])
def test_a_node_with_three_children_is_rejected_while_parsing(tmp_path, capsys, model):
    folder = sst_dir(tmp_path, test=[GOOD[0], "(2 (2 a) (2 b) (2 c))"])
    one_line_error(
        *run(tmp_path, capsys, folder, model),
        f"{folder / 'test.txt'}:2:1: node has 3 children, at most 2 allowed (binary trees: binarize first)",
    )


def test_read_sst_trees_checks_what_read_trees_does_not(tmp_path):
    path = tmp_path / "trees.txt"
    path.write_text("(7 (2 a) (2 b c) (2 d))\n")
    assert read_trees(path)[0].label == 7  # the generic reader takes any tree
    with pytest.raises(RnnbenchError, match=r"trees.txt:1:2: label 7 is outside 0\.\.4"):
        read_sst_trees(path)


def test_parse_tree_limits_are_opt_in_and_name_the_column():
    text = "(1 (2 a) (0 (2 b) (2 c) (2 d)))"
    assert len(parse_tree(text).children[1].children) == 3
    with pytest.raises(RnnbenchError, match=r"^t.txt:4:10: node has 3 children"):
        parse_tree(text, 4, "t.txt", max_children=2)
    with pytest.raises(RnnbenchError, match=r"^line 1, column 2: label 1 is outside 2\.\.3"):
        parse_tree(text, labels=range(2, 4))


def test_a_label_of_more_digits_than_python_converts_is_one_error():
    with pytest.raises(RnnbenchError, match="is too large"):
        parse_tree(f"({'9' * 5000} a)")
