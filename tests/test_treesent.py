"""The tree-sentiment task: literature metrics, configuration layers, batches, and tiny runs on every backend."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rnnbench import cli
from rnnbench.errors import RnnbenchError
from rnnbench.model import ModelSpec
from rnnbench.tasks.treesent.metrics import binary_calls, root_fine, sentiment_metrics
from rnnbench.tasks.treesent.task import TreeSentiment
from rnnbench.text import UNK_ID
from rnnbench.tree_model import TreeModelSpec
from rnnbench.trees import Tree

from sst_fixtures import write_sst


def _targets(labels, roots):
    return np.stack([np.asarray(labels), np.asarray(roots)], axis=1)


def _logits(classes):
    """Logits whose argmax is ``classes`` (confident)."""
    out = np.zeros((len(classes), 5))
    out[np.arange(len(classes)), classes] = 5.0
    return out


def test_root_fine_reads_root_rows_only():
    outputs = _logits([0, 1, 2, 3])
    targets = _targets([0, 4, 2, 4], [1, 0, 1, 1])  # row 1 is a phrase: its miss must not count
    assert root_fine(outputs, targets) == pytest.approx(2 / 3)


def test_binary_call_sums_the_two_classes_on_each_side():
    # argmax says neutral (2), but P(3)+P(4) > P(0)+P(1): positive
    logits = np.log(np.array([[0.05, 0.05, 0.40, 0.25, 0.25], [0.30, 0.25, 0.35, 0.05, 0.05]]))
    assert binary_calls(logits).tolist() == [1, 0]


def test_binary_excludes_neutral_roots_and_all_fine_counts_every_node():
    outputs = _logits([1, 2, 4, 3, 0, 2])
    labels = [0, 2, 3, 1, 0, 2]
    roots = [1, 1, 1, 1, 0, 0]
    metrics = sentiment_metrics(outputs, _targets(labels, roots))
    assert metrics["roots"] == 4 and metrics["binary_roots"] == 3  # the neutral root is left out
    assert metrics["root_binary"] == pytest.approx(2 / 3)  # 1->neg ok, 4->pos ok, 3 vs gold 1 wrong
    assert metrics["root_fine"] == pytest.approx(1 / 4)  # only the neutral root is right: it counts here
    assert metrics["all_fine"] == pytest.approx(3 / 6) and metrics["nodes"] == 6


def test_sentence_only_outputs_have_no_all_node_figure():
    metrics = sentiment_metrics(_logits([0, 4]), _targets([0, 4], [1, 1]))
    assert "all_fine" not in metrics and metrics["root_binary"] == 1.0


def test_bad_score_targets_are_refused():
    with pytest.raises(RnnbenchError, match=r"targets \[N, 2\]"):
        root_fine(_logits([0, 1]), np.array([0, 1]))


def test_defaults_come_in_layers_and_the_user_wins():
    task = TreeSentiment()
    recursive = task.resolve_config({"model": None})
    assert recursive["model"] == "recursive" and recursive["optimizer"] == "adagrad"
    assert recursive["embed_size"] == recursive["hidden_size"]
    lstm = task.resolve_config({"model": "lstm", "lr": 0.01})
    assert lstm["optimizer"] == "adam" and lstm["lr"] == 0.01 and lstm["dataset"] == "sst"
    with pytest.raises(RnnbenchError, match="treesent takes the models"):
        task.resolve_config({"model": "transformer"})


@pytest.fixture
def sst_dir(tmp_path):
    return write_sst(tmp_path / "data" / "sst")


def _prepare(sst_dir, model, **options):
    task = TreeSentiment()
    config = task.resolve_config({"model": model, "data_dir": str(sst_dir), "batch_size": 8, **options})
    return task.prepare(config)


def test_tree_batches_carry_leaf_ids_node_labels_and_root_flags(sst_dir):
    prepared = _prepare(sst_dir, "recursive")
    assert isinstance(prepared.spec, TreeModelSpec) and prepared.spec.num_outputs == 5
    assert prepared.higher_is_better and prepared.metric == "root_fine"
    batches = prepared.train_batches(0, 1)
    assert sum(b.size for b in batches) == 40
    for batch in batches:
        leaf_ids, trees = batch.inputs
        assert leaf_ids.shape == (trees.num_leaves,) and batch.targets.shape == (trees.num_nodes,)
        assert batch.scored[:, 1].sum() == trees.num_trees and (batch.scored[:, 0] == batch.targets).all()
    dev_ids = np.concatenate([b.inputs[0] for b in prepared.dev])
    assert (dev_ids == UNK_ID).any()  # the word that train never saw
    assert [len(b.inputs[0]) for b in prepared.train_batches(0, 1)] == [
        len(b.inputs[0]) for b in prepared.train_batches(0, 1)
    ]  # same seed, same order
    assert prepared.info["published"] and all(row["model"] == "recursive" for row in prepared.info["published"])


def test_sequence_models_read_the_same_sentences_with_root_labels(sst_dir):
    trees = _prepare(sst_dir, "recursive")
    words = _prepare(sst_dir, "gru", batch_size=8, supervision="roots")
    assert isinstance(words.spec, ModelSpec) and words.spec.cell == "gru"
    tree_roots = sorted(int(b.targets[r]) for b in trees.test for r in b.inputs[1].roots)
    word_roots = sorted(int(label) for b in words.test for label in b.targets)
    assert tree_roots == word_roots
    assert all((b.scored[:, 1] == 1).all() for b in words.dev)
    assert "root) labels only" in words.notes[0]
    assert sum(b.size for b in words.train_batches(0, 1)) == 40


def test_a_dataset_other_than_sst_is_refused(sst_dir):
    with pytest.raises(RnnbenchError, match="sst trees only"):
        _prepare(sst_dir, "recursive", dataset="imdb")


TINY_MODELS = ("recursive", "treelstm", "lstm")


def _tiny_argv(backend, model, sst_dir, results):
    return [
        "run",
        "--backend",
        backend,
        "--task",
        "treesent",
        "--model",
        model,
        "--data-dir",
        str(sst_dir),
        "--results-dir",
        str(results),
        "--embed-size",
        "6",
        "--hidden-size",
        "6",
        "--max-steps",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--no-progress",
    ]


def _check_tiny_record(path, model):
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["model"] == model and record["steps"] == 4
    test = record["best"]["test_metrics"]
    assert 0 <= test["root_fine"] <= 1 and test["roots"] == 15
    assert ("all_fine" in test) == (model != "lstm")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("model", TINY_MODELS)
def test_tiny_run_on_every_backend(sst_dir, tmp_path, capsys, backend, model):
    if backend != "numpy":
        pytest.importorskip(backend)
    results = tmp_path / "results"
    code = cli.main(_tiny_argv(backend, model, sst_dir, results))
    assert code == 0, capsys.readouterr().err
    (path,) = results.glob("*.json")
    _check_tiny_record(path, model)


def test_tiny_runs_on_tensorflow(sst_dir, tmp_path):
    """In a fresh process: TensorFlow fixes its thread pool once, and other tests start it with theirs."""
    pytest.importorskip("tensorflow")
    calls = [_tiny_argv("tensorflow", model, sst_dir, tmp_path / model) for model in TINY_MODELS]
    script = f"import sys; from rnnbench import cli; sys.exit(max(cli.main(argv) for argv in {calls!r}))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for model in TINY_MODELS:
        (path,) = (tmp_path / model).glob("*.json")
        _check_tiny_record(path, model)


def test_real_sst_splits(data_dir):
    prepared = _prepare(data_dir, "recursive", eval_batch_size=4096)
    splits = prepared.info["splits"]
    assert [splits[s]["sentences"] for s in ("train", "dev", "test")] == [8544, 1101, 2210]
    assert sum(b.size for b in prepared.test) == 2210
    assert prepared.info["splits"]["dev"]["unknown_word_rate"] < 0.1


def test_a_tree_model_refuses_trees_that_are_not_batched(sst_dir):
    from rnnbench import get_backend
    from rnnbench.model import init_model_params

    spec = _prepare(sst_dir, "recursive", hidden_size=4, embed_size=4).spec
    model = get_backend("numpy").build_model(spec, init_model_params(spec, 0))
    with pytest.raises(RnnbenchError, match="takes a TreeBatch"):
        model.predict(np.array([2, 3]), [Tree.leaf("good"), Tree.leaf("bad")])


def test_binary_labels_drop_neutral_and_keep_the_sides():
    from rnnbench.tasks.treesent.metrics import to_binary

    assert to_binary(np.array([0, 1, 2, 3, 4])).tolist() == [0, 0, -1, 1, 1]


def test_a_binary_model_is_scored_by_its_argmax_on_polar_rows():
    outputs = np.array([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0], [0.0, 1.0]])
    labels, roots = [0, 4, 2, 3, 1], [1, 1, 1, 1, 0]
    metrics = sentiment_metrics(outputs, _targets(labels, roots))
    assert "root_fine" not in metrics and "all_fine" not in metrics
    assert metrics["root_binary"] == pytest.approx(2 / 3)  # the neutral root is left out; 3 -> negative is wrong
    assert metrics["all_binary"] == pytest.approx(2 / 4)  # and the phrase labelled 1 called positive


def test_binary_training_targets_and_word_models_without_neutral_sentences(sst_dir):
    trees = _prepare(sst_dir, "recursive", labels="binary")
    assert trees.spec.num_outputs == 2 and trees.metric == "root_binary"
    for batch in trees.train_batches(0, 1):
        gold = batch.scored[:, 0]
        assert (batch.targets[gold == 2] == -1).all() and (batch.targets[gold > 2] == 1).all()
        assert (batch.targets[gold < 2] == 0).all()
    words = _prepare(sst_dir, "lstm", labels="binary", supervision="roots")
    trained = np.concatenate([b.scored[:, 0] for b in words.train_batches(0, 1)])
    assert 2 not in trained and words.info["trained_sentences"] == len(trained)
    phrases = _prepare(sst_dir, "lstm", labels="binary")
    trained = np.concatenate([b.scored[:, 0] for b in phrases.train_batches(0, 1)])
    assert 2 not in trained and phrases.info["trained_examples"] == len(trained)
    assert len(trained) == phrases.info["phrases"]["distinct_phrases"] - phrases.info["phrases"]["neutral_dropped"]
    assert all(row["metric"] == "root_binary" for row in words.info["published"])
    with pytest.raises(RnnbenchError, match="labels must be one of fine, binary"):
        _prepare(sst_dir, "recursive", labels="ternary")


def test_recursive_composition_starts_at_the_mean_of_the_children(sst_dir):
    prepared = _prepare(sst_dir, "recursive", hidden_size=4, embed_size=4)
    W = prepared.init_params(prepared.spec, 0)["encoder.W"]
    np.testing.assert_allclose(W, 0.5 * np.vstack([np.eye(4), np.eye(4)]), atol=0.01)
    assert not np.allclose(W, prepared.init_params(prepared.spec, 1)["encoder.W"])  # the noise follows the seed
    assert _prepare(sst_dir, "recursive", init="default").init_params is None
    with pytest.raises(RnnbenchError, match="average for the recursive model"):
        _prepare(sst_dir, "treelstm", init="average")


def test_phrase_examples_are_every_labelled_span_once():
    from rnnbench.tasks.treesent.task import phrase_examples
    from rnnbench.text import Vocabulary

    first = Tree.node(Tree.node(Tree.leaf("Not", 1), Tree.leaf("good", 3), label=1), Tree.leaf("fun", 3), label=0)
    second = Tree.node(Tree.leaf("not", 2), Tree.leaf("GOOD", 3), label=4)  # "not good" again, another label
    vocab = Vocabulary.build([["not", "good", "fun"]], 100, 1)
    sequences, labels, stats = phrase_examples([first, second], True, vocab)
    words = [" ".join(vocab.tokens[i] for i in s) for s in sequences]
    assert list(zip(words, labels.tolist())) == [
        ("not", 1),
        ("good", 3),
        ("not good", 1),
        ("fun", 3),
        ("not good fun", 0),
    ]
    assert stats == {"labelled_phrases": 8, "distinct_phrases": 5, "label_clashes_kept_first": 2, "words": 8}
    cased, _, stats = phrase_examples([first, second], False, vocab)
    assert stats["distinct_phrases"] == 8 and stats["label_clashes_kept_first"] == 0


def test_word_models_learn_from_every_phrase_by_default_and_are_scored_on_sentences(sst_dir):
    words = _prepare(sst_dir, "lstm", batch_size=8)
    roots = _prepare(sst_dir, "lstm", batch_size=8, supervision="roots")
    stats = words.info["phrases"]
    trained = [b for b in words.train_batches(0, 1)]
    assert sum(b.size for b in trained) == stats["distinct_phrases"] == words.info["trained_examples"] > 40
    assert sum(b.tokens for b in trained) == stats["words"]
    assert "every labelled phrase" in words.notes[0]
    for split in ("dev", "test"):  # scored on the same whole sentences as before
        for a, b in zip(getattr(words, split), getattr(roots, split)):
            np.testing.assert_array_equal(a.inputs[0], b.inputs[0])
            np.testing.assert_array_equal(a.scored, b.scored)


def test_tree_models_with_root_supervision_train_on_the_root_labels_alone(sst_dir):
    trees = _prepare(sst_dir, "treelstm", supervision="roots")
    for batch in trees.train_batches(0, 1):
        root = batch.scored[:, 1] == 1
        assert (batch.targets[~root] == -1).all() and (batch.targets[root] == batch.scored[root, 0]).all()
    binary = _prepare(sst_dir, "treelstm", supervision="roots", labels="binary")
    for batch in binary.train_batches(0, 1):
        root = batch.scored[:, 1] == 1
        assert (batch.targets[~root] == -1).all()
        assert set(batch.targets[root].tolist()) <= {-1, 0, 1}
    with pytest.raises(RnnbenchError, match="supervision must be one of phrases, roots"):
        _prepare(sst_dir, "lstm", supervision="sentences")


def test_records_from_before_supervision_existed_read_as_root_supervision():
    from rnnbench.report.variants import run_diff

    old_words = {"task": "treesent", "dataset": "sst", "model": "lstm"}
    assert run_diff(old_words) == {"supervision": "roots"}
    assert run_diff({**old_words, "supervision": "phrases"}) == {}
    assert run_diff({"task": "treesent", "dataset": "sst", "model": "treelstm"}) == {}
    assert run_diff({"task": "treesent", "dataset": "sst", "model": "treelstm", "supervision": "roots"}) == {
        "supervision": "roots"
    }
