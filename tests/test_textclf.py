"""The textclf task: tokenisation, vocabulary on train only, splits, bucketing and padding, prepared batches."""

from __future__ import annotations

import numpy as np
import pytest

from rnnbench.batching import PAD_ID, evaluation_order, pad, training_order
from rnnbench.data.readers import Examples
from rnnbench.errors import RnnbenchError
from rnnbench.tasks.textclf.splits import fold_split, holdout
from rnnbench.tasks.textclf.task import TextClassification
from rnnbench.text import UNK_ID, Vocabulary, tokenize

from text_fixtures import sentiment_texts, write_local_layout, write_user_file


def test_tokenize_lowercases_strips_html_breaks_and_keeps_inner_apostrophes():
    text = "Don't <br /><br />watch IT... it's 10/10, n't caf\u00e9!"
    assert tokenize(text) == ["don't", "watch", "it", "it's", "10", "10", "n't", "caf\u00e9"]
    assert tokenize(text, "words+punct")[:6] == ["don't", "watch", "it", ".", ".", "."]
    with pytest.raises(RnnbenchError, match="unknown tokenizer 'chars'; valid: words, words\\+punct"):
        tokenize("x", "chars")


def test_vocabulary_ranks_by_count_then_alphabet_and_caps_size():
    docs = [["b", "a", "c", "c"], ["a", "b", "d"], ["c", "e"]]
    vocab = Vocabulary.build(docs, max_size=5, min_count=1)
    assert vocab.tokens == ["<pad>", "<unk>", "c", "a", "b"]  # c:3, then a:2 before b:2
    assert len(Vocabulary.build(docs, max_size=100, min_count=2)) == 2 + 3
    ids = vocab.encode(["a", "zzz", "c"], max_length=10)
    assert ids.tolist() == [3, UNK_ID, 2]
    assert vocab.encode(["a", "b", "c"], 2, "head").tolist() == [3, 4]
    assert vocab.encode(["a", "b", "c"], 2, "tail").tolist() == [4, 2]
    assert vocab.encode([], 5).tolist() == [UNK_ID], "an empty text becomes one unknown token, never length 0"


def test_training_order_is_a_seeded_permutation_in_length_buckets():
    lengths = np.random.default_rng(0).integers(1, 200, size=1000)
    first = training_order(lengths, 16, seed=3, epoch=1)
    assert sorted(np.concatenate(first).tolist()) == list(range(1000))
    again = training_order(lengths, 16, seed=3, epoch=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other = training_order(lengths, 16, seed=3, epoch=2)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    padded = sum(len(b) * lengths[b].max() for b in first)
    unsorted = [np.arange(i, min(i + 16, 1000)) for i in range(0, 1000, 16)]
    assert padded < 0.75 * sum(len(b) * lengths[b].max() for b in unsorted), "bucketing cuts padding"


def test_evaluation_order_and_padding():
    sequences = [np.array([5, 6, 7]), np.array([8]), np.array([9, 10])]
    order = evaluation_order(np.array([3, 1, 2]), 2)
    assert [b.tolist() for b in order] == [[1, 2], [0]]
    ids, lengths = pad(sequences, np.array([0, 1]))
    assert ids.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]] and lengths.tolist() == [3, 1]
    assert ids.dtype == np.int64


def test_holdout_and_folds_are_fixed_and_disjoint():
    examples = Examples([str(i) for i in range(100)], [i % 2 for i in range(100)])
    rest, dev = holdout(examples, 0.1, seed=0)
    assert len(dev) == 10 and len(rest) == 90 and not set(dev.texts) & set(rest.texts)
    assert holdout(examples, 0.1, seed=0)[1].texts == dev.texts
    assert holdout(examples, 0.1, seed=1)[1].texts != dev.texts
    tests = [fold_split(examples, 10, k, seed=0)[1].texts for k in range(10)]
    assert sorted(sum(tests, [])) == sorted(examples.texts), "the folds partition the data"


def _prepare(tmp_path, **options):
    task = TextClassification()
    config = task.resolve_config({"data_dir": str(tmp_path), "eval_batch_size": 16, **options})
    return config, task.prepare(config)


@pytest.mark.parametrize(
    "dataset,sizes",
    [("imdb", (36, 4, 40)), ("sst2", (40, 40, 40)), ("mr", (32, 4, 4)), ("trec", (36, 4, 40)), ("ag_news", (32, 4, 4))],
)
def test_each_dataset_prepares_its_splits(tmp_path, dataset, sizes):
    write_local_layout(tmp_path, size=40)
    config, prepared = _prepare(tmp_path, dataset=dataset)
    splits = prepared.info["splits"]
    assert (splits["train"]["examples"], splits["dev"]["examples"], splits["test"]["examples"]) == sizes
    assert prepared.spec.num_outputs == {"trec": 6, "ag_news": 4}.get(dataset, 2)
    assert prepared.info["vocab_built_on"] == "train"
    batches = prepared.train_batches(0, 1)
    assert sum(b.size for b in batches) == sizes[0]
    for batch in batches + prepared.dev + prepared.test:
        ids, lengths = batch.inputs
        assert ids.shape == (batch.size, lengths.max()) and lengths.min() >= 1
        assert batch.tokens == lengths.sum()
        assert (ids[np.arange(ids.shape[1])[None, :] >= lengths[:, None]] == PAD_ID).all()


def test_vocabulary_is_built_on_train_only(tmp_path):
    write_local_layout(tmp_path, size=40)
    with open(tmp_path / "trec" / "TREC_10.label", "a", encoding="latin-1") as handle:
        handle.write("NUM:x zebraword zebraword zebraword ?\n")
    _, prepared = _prepare(tmp_path, dataset="trec", min_count=1)
    test_ids = np.concatenate([b.inputs[0][b.inputs[0] != 0] for b in prepared.test])
    assert (test_ids == UNK_ID).sum() >= 3, "a word seen only in test maps to unknown"


def test_same_seed_same_batches_different_seed_different_order(tmp_path):
    write_local_layout(tmp_path, size=40)
    _, prepared = _prepare(tmp_path, dataset="mr", batch_size=4)
    a, b, c = prepared.train_batches(0, 1), prepared.train_batches(0, 1), prepared.train_batches(1, 1)
    assert all(np.array_equal(x.inputs[0], y.inputs[0]) for x, y in zip(a, b))
    assert not all(np.array_equal(x.targets, y.targets) for x, y in zip(a, c))


def test_user_file_with_dev_and_test_files(tmp_path):
    rows = sentiment_texts(30)
    train = write_user_file(tmp_path / "train.csv", rows, text_column="review", label_column="y")
    dev = write_user_file(tmp_path / "dev.csv", rows[:6], text_column="review", label_column="y")
    test = write_user_file(tmp_path / "test.csv", rows[6:16], text_column="review", label_column="y")
    config, prepared = _prepare(
        tmp_path, dataset=str(train), dev_file=str(dev), test_file=str(test), text_column="review", label_column="y"
    )
    splits = prepared.info["splits"]
    assert [splits[s]["examples"] for s in ("train", "dev", "test")] == [30, 6, 10]
    assert splits["test"]["source"] == "file test"
    assert prepared.info["label_names"] == ["neg", "pos"]


def test_user_file_alone_is_split_in_folds(tmp_path):
    path = write_user_file(tmp_path / "data.jsonl", sentiment_texts(50))
    _, prepared = _prepare(tmp_path, dataset=str(path), fold=3)
    splits = prepared.info["splits"]
    assert [splits[s]["examples"] for s in ("train", "dev", "test")] == [41, 4, 5]  # 10% of 45 rounds to 4
    assert "fold 3 of 10" in splits["test"]["source"]


def test_bad_textclf_inputs(tmp_path):
    write_local_layout(tmp_path, size=40)
    rows = sentiment_texts(20)
    train = write_user_file(tmp_path / "train.tsv", rows)
    other = write_user_file(tmp_path / "dev.tsv", rows[:4], names=("neg", "maybe"))
    cases = [
        ({"dataset": "imbd"}, "unknown dataset 'imbd'; valid datasets: imdb, sst2, mr, trec, ag_news, or a path"),
        ({"dataset": "mr", "model": "transformer"}, "unknown model cell 'transformer'; valid: rnn, lstm, gru"),
        ({"dataset": "mr", "fold": 10}, r"fold must lie in \[0, 10\)"),
        ({"dataset": "mr", "dev_fraction": 1.5}, r"--dev-fraction must lie in \(0, 1\), got 1.5"),
        ({"dataset": "mr", "max_length": 0}, "--max-length must be at least 1, got 0"),
        ({"dataset": "mr", "batch_size": "sixty"}, "--batch-size must be an integer, got 'sixty'"),
        ({"dataset": str(train), "dev_file": str(other)}, "unknown label 'maybe'; known labels: neg, pos"),
        ({"dataset": str(train), "label_names": "neg,meh"}, "unknown label 'pos'; known labels: neg, meh"),
        ({"dataset": str(train), "text_column": "sentence"}, "no column 'sentence' \\(set --text-column\\)"),
    ]
    for options, message in cases:
        with pytest.raises(RnnbenchError, match=message):
            _prepare(tmp_path, **options)


def test_one_label_file_is_refused(tmp_path):
    path = write_user_file(tmp_path / "one.csv", [("a b", 1), ("c d", 1)])
    with pytest.raises(RnnbenchError, match="at least two labels"):
        _prepare(tmp_path, dataset=str(path))


def test_real_trec_dev_is_a_fixed_tenth_of_train(data_dir):
    task = TextClassification()
    config = task.resolve_config({"dataset": "trec", "data_dir": data_dir})
    prepared = task.prepare(config)
    splits = prepared.info["splits"]
    assert [splits[s]["examples"] for s in ("train", "dev", "test")] == [4907, 545, 500]
    assert prepared.spec.num_outputs == 6 and prepared.spec.vocab_size <= config["vocab_size"]
