"""The data directory, dataset presence, the missing-dataset error, and the readers of the local layout."""

from __future__ import annotations

import gzip
from collections import Counter

import pytest

from rnnbench.data import readers
from rnnbench.data.local import all_statuses, dataset_folder
from rnnbench.data.paths import DATA_DIR_VARIABLE, resolve_data_dir
from rnnbench.errors import RnnbenchError

from text_fixtures import sentiment_texts, write_local_layout, write_user_file


def test_data_dir_order_flag_then_variable_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(tmp_path / "flag").path == tmp_path / "flag"
    assert resolve_data_dir(None).path == tmp_path / "env"
    assert resolve_data_dir(None).source == DATA_DIR_VARIABLE
    monkeypatch.delenv(DATA_DIR_VARIABLE)
    assert resolve_data_dir(None).path == tmp_path / "xdg" / "rnnbench" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert resolve_data_dir(None).path.parts[-3:] == (".cache", "rnnbench", "data")


def test_missing_dataset_names_both_ways_out(tmp_path):
    with pytest.raises(RnnbenchError) as error:
        dataset_folder("imdb", tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert "rnnbench data fetch imdb" in message
    assert "--data-dir" in message and DATA_DIR_VARIABLE in message
    assert str(tmp_path) in message


def test_unknown_dataset_lists_valid_names(tmp_path):
    with pytest.raises(RnnbenchError, match="valid datasets: ag_news, imdb, mr, sst, sst2, trec"):
        dataset_folder("imbd", tmp_path)


def test_status_present_partial_missing(tmp_path):
    write_local_layout(tmp_path)
    (tmp_path / "trec" / "TREC_10.label").unlink()
    states = {s.source.name: s.state for s in all_statuses(resolve_data_dir(tmp_path))}
    assert states == {
        "imdb": "present",
        "sst2": "present",
        "mr": "present",
        "trec": "partial",
        "ag_news": "present",
        "sst": "missing",
    }


def test_readers_of_the_local_layout(tmp_path):
    write_local_layout(tmp_path, size=40)
    imdb = readers.read_builtin("imdb", tmp_path)
    assert [len(imdb.splits[s]) for s in ("train", "test")] == [40, 40]
    assert imdb.splits["train"].texts[0].endswith("<br />end")  # kept raw: the tokenizer strips it
    sst2 = readers.read_builtin("sst2", tmp_path)
    assert set(sst2.splits) == {"train", "dev", "test"} and "test_labeled" in sst2.notes[0]
    mr = readers.read_builtin("mr", tmp_path)
    assert Counter(mr.splits["all"].labels) == {0: 20, 1: 20}
    trec = readers.read_builtin("trec", tmp_path)
    assert trec.label_names == readers.TREC_COARSE
    assert trec.splits["train"].labels[:7] == [0, 1, 2, 3, 4, 5, 0]
    assert trec.splits["train"].texts[0].startswith("Qu\u00e9")  # latin-1 decoded
    ag = readers.read_builtin("ag_news", tmp_path)
    assert set(ag.splits) == {"test"} and "TEST split" in ag.notes[0]
    assert ag.splits["test"].labels[:5] == [0, 1, 2, 3, 0]
    assert "\\" not in ag.splits["test"].texts[0]


def test_sst2_without_labelled_test_says_dev_is_reported(tmp_path):
    write_local_layout(tmp_path)
    (tmp_path / "sst2" / "test_labeled.tsv").unlink()
    sst2 = readers.read_builtin("sst2", tmp_path)
    assert "test" not in sst2.splits and "dev is the reported split" in sst2.notes[0]


def test_corrupt_builtin_files_give_line_numbers(tmp_path):
    write_local_layout(tmp_path)
    (tmp_path / "trec" / "TREC_10.label").write_bytes(b"NUM:x ok ?\nWHAT:x bad ?\n")
    with pytest.raises(RnnbenchError, match=r"TREC_10.label:2: unknown TREC label 'WHAT:x'"):
        readers.read_builtin("trec", tmp_path)
    with gzip.open(tmp_path / "imdb" / "test.jsonl.gz", "wt") as handle:
        handle.write('{"label": 1, "text": "x"}\n{"label": 3, "text": "y"}\n')
    with pytest.raises(RnnbenchError, match=r"test.jsonl.gz:2: expected a text and a label 0 or 1"):
        readers.read_builtin("imdb", tmp_path)


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_user_files_in_each_format(tmp_path, suffix):
    rows = sentiment_texts(10) + [('quoted "text", with comma', 1)]
    path = write_user_file(tmp_path / f"data{suffix}", rows, text_column="review", label_column="stars")
    texts, labels = readers.read_table(path, "review", "stars")
    assert texts == [t for t, _ in rows]
    assert labels == ["pos" if y else "neg" for _, y in rows]


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_user_file_missing_column_names_the_option(tmp_path, suffix):
    path = write_user_file(tmp_path / f"data{suffix}", sentiment_texts(4))
    with pytest.raises(RnnbenchError, match="(column|field) 'sentence' \\(set --text-column\\)"):
        readers.read_table(path, "sentence", "label")
    with pytest.raises(RnnbenchError, match="--label-column"):
        readers.read_table(path, "text", "polarity")


def test_user_file_problems(tmp_path):
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(RnnbenchError, match="is empty"):
        readers.read_table(tmp_path / "empty.tsv", "text", "label")
    (tmp_path / "header.csv").write_text("label,text\n")
    with pytest.raises(RnnbenchError, match="has no examples"):
        readers.read_table(tmp_path / "header.csv", "text", "label")
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": 1}\nnot json\n')
    with pytest.raises(RnnbenchError, match=r"bad.jsonl:2: not a JSON line"):
        readers.read_table(tmp_path / "bad.jsonl", "text", "label")
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(RnnbenchError, match=r"must be one of \.tsv, \.csv, \.jsonl"):
        readers.read_table(tmp_path / "data.txt", "text", "label")
    with pytest.raises(RnnbenchError, match="does not exist"):
        readers.read_table(tmp_path / "absent.tsv", "text", "label")
    (tmp_path / "nolabel.csv").write_text("label,text\n,hello\n")
    with pytest.raises(RnnbenchError, match=r"nolabel.csv:2: empty label"):
        readers.read_table(tmp_path / "nolabel.csv", "text", "label")


def test_labels_numeric_order_and_unknown_label():
    assert readers.label_names_from(["10", "2", "1"]) == ("1", "2", "10")
    assert readers.label_names_from(["pos", "neg"]) == ("neg", "pos")
    assert readers.encode_labels("f", ["b", "a"], ("a", "b")) == [1, 0]
    with pytest.raises(RnnbenchError, match="unknown label 'maybe'; known labels: neg, pos"):
        readers.encode_labels("f", ["neg", "maybe"], ("neg", "pos"))


def test_real_datasets_have_their_published_sizes(data_dir):
    """Counts from each dataset's SOURCE.md."""
    sizes = {
        name: {
            split: (len(ex), Counter(ex.labels)[0]) for split, ex in readers.read_builtin(name, data_dir).splits.items()
        }
        for name in ("sst2", "mr", "trec", "ag_news")
    }
    assert sizes["sst2"] == {"train": (67349, 29780), "dev": (872, 428), "test": (1821, 912)}
    assert sizes["mr"] == {"all": (10662, 5331)}
    assert sizes["trec"] == {"train": (5452, 86), "test": (500, 9)}
    assert sizes["ag_news"] == {"test": (7600, 1900)}


def test_real_imdb_is_balanced(data_dir):
    imdb = readers.read_builtin("imdb", data_dir)
    for split in ("train", "test"):
        assert len(imdb.splits[split]) == 25000 and sum(imdb.splits[split].labels) == 12500
