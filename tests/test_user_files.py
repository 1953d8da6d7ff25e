"""A user's own data file (issue 10): whatever is wrong with it ends as one `rnnbench: error:` line, exit 2.

Each case drives ``rnnbench run --task textclf --dataset FILE`` through
:func:`rnnbench.cli.main`, the way a user meets it, and checks the one line
(and that a file that is fine after all, e.g. with ``--encoding``, trains).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys

import pytest

from rnnbench.data import readers
from rnnbench.errors import RnnbenchError

from cli_helpers import invoke, one_line_error
from text_fixtures import sentiment_texts, write_user_file

TINY = ["--embed-size", "4", "--hidden-size", "4", "--max-steps", "2", "--epochs", "1", "--no-progress"]


def run(tmp_path, capsys, dataset, *extra):
    """``(exit code, stdout, stderr)`` of a tiny numpy textclf run on ``dataset``."""
    return invoke(
        capsys,
        "run",
        "--backend",
        "numpy",
        "--task",
        "textclf",
        "--dataset",
        dataset,
        "--results-dir",
        tmp_path / "results",
        *TINY,
        *extra,
    )


def trained(code, out, err) -> dict:
    """The record of a run that must have worked."""
    assert code == 0, err
    (path,) = [line.split("record: ", 1)[1].split("  (")[0] for line in out.splitlines() if line.startswith("record: ")]
    record = json.loads(open(path, encoding="utf-8").read())
    assert record["status"] == "ok", record["error"]
    return record


def tsv_bytes(rows=None, encoding="utf-8") -> bytes:
    rows = rows if rows is not None else [(t, "pos" if y else "neg") for t, y in sentiment_texts(30)]
    return ("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows)).encode(encoding)


# -- encodings -------------------------------------------------------------------------------------


def latin1_file(tmp_path):
    """A TSV in latin-1 whose first non-ASCII byte sits on line 3, at a known offset."""
    rows = [(t, "pos" if y else "neg") for t, y in sentiment_texts(30)]
    rows[1] = ("un caf\u00e9 tr\u00e8s bon", "pos")
    data = tsv_bytes(rows, "latin-1")
    path = tmp_path / "latin.tsv"
    path.write_bytes(data)
    return path, data.index(b"\xe9")


def test_a_file_that_is_not_utf8_names_file_line_byte_and_the_option(tmp_path, capsys):
    path, offset = latin1_file(tmp_path)
    line = one_line_error(
        *run(tmp_path, capsys, path)[::2], f"{path}:3:", f"not utf-8 at byte {offset}", "--encoding latin-1"
    )
    assert "invalid continuation byte" in line


def test_the_same_file_reads_with_its_encoding_and_the_record_says_which(tmp_path, capsys):
    path, _ = latin1_file(tmp_path)
    record = trained(*run(tmp_path, capsys, path, "--encoding", "latin-1"))
    assert record["config"]["encoding"] == "latin-1"


def test_the_encoding_defaults_to_utf8_in_show_config(tmp_path, capsys):
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(20))
    code, out, err = run(tmp_path, capsys, path, "--show-config")
    assert code == 0, err
    assert json.loads(out)["encoding"] == "utf-8"


@pytest.mark.parametrize("name", ["klingon", "base64", "undefined", ""])
def test_an_unknown_or_non_text_encoding_is_one_line(tmp_path, capsys, name):
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(20))
    one_line_error(*run(tmp_path, capsys, path, "--encoding", name)[::2], f"unknown encoding {name!r}", "(--encoding)")


def test_a_utf16_file_read_as_utf8_is_told_to_use_utf16_and_then_reads(tmp_path, capsys):
    path = tmp_path / "wide.tsv"
    path.write_bytes(tsv_bytes(encoding="utf-16"))  # Python writes the byte-order mark first
    one_line_error(*run(tmp_path, capsys, path)[::2], f"{path}:1:", "not utf-8 at byte 0", "--encoding utf-16")
    trained(*run(tmp_path, capsys, path, "--encoding", "utf-16"))


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
def test_a_utf8_byte_order_mark_is_skipped(tmp_path, capsys, suffix):
    plain = write_user_file(tmp_path / f"plain{suffix}", sentiment_texts(30))
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(codecs.BOM_UTF8 + plain.read_bytes())
    record = trained(*run(tmp_path, capsys, path))
    assert record["data"]["label_names"] == ["neg", "pos"]
    assert readers.read_table(path, "text", "label") == readers.read_table(plain, "text", "label")


def test_a_byte_order_mark_before_the_text_column_still_finds_it(tmp_path):
    """The column a BOM used to glue itself to: the first one (it was reported "missing")."""
    path = tmp_path / "first.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"text,label\ngood film,pos\nbad film,neg\n")
    assert readers.read_table(path, "text", "label") == (["good film", "bad film"], ["pos", "neg"])


# -- CSV/TSV structure -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_a_field_over_128_kib_is_read(tmp_path, capsys, suffix):
    rows = sentiment_texts(30)
    rows[0] = (" ".join(["good"] * 70000), 1)  # 350 kB in one field: past the csv module's default limit
    path = write_user_file(tmp_path / f"long{suffix}", rows)
    texts, labels = readers.read_table(path, "text", "label")
    assert len(texts[0]) == 70000 * 5 - 1 and labels[0] == "pos"
    trained(*run(tmp_path, capsys, path, "--max-length", "20"))


def test_a_csv_error_names_file_and_line(tmp_path, capsys, monkeypatch):
    """With the limit raised no field a file can hold trips the csv module: a small limit stands in."""
    path = write_user_file(tmp_path / "limit.csv", [("good film", 1), ("bad film", 0), ("x" * 200, 1)])
    monkeypatch.setattr(readers, "FIELD_SIZE_LIMIT", 100)
    before = readers.csv.field_size_limit(100)
    try:
        one_line_error(*run(tmp_path, capsys, path)[::2], f"{path}:4: field larger than field limit (100)")
    finally:
        readers.csv.field_size_limit(before)


@pytest.mark.parametrize("ending,stray", [("\n", "\r"), ("\r", "\n")], ids=["lf", "cr"])
def test_a_stray_line_break_that_csv_writer_left_unquoted_stays_in_its_field(tmp_path, ending, stray):
    """Found by the fuzz: Python's csv writer (and pandas) quote only the characters of their line ending,
    so under ``\\n`` a text with a bare ``\\r`` is written unquoted; it used to split the row in two."""
    rows = [["text", "label"], [f"an odd{stray}line", "pos"], ["bad film", "neg"], [f"{stray}", "pos"]]
    path = tmp_path / "stray.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator=ending).writerows(rows)
    assert f"an odd{stray}line,pos".encode() in path.read_bytes()  # unquoted, as the writer leaves it
    assert readers.read_table(path, "text", "label") == (
        [f"an odd{stray}line", "bad film", stray],
        ["pos", "neg", "pos"],
    )


def test_a_bare_cr_in_a_crlf_file_stays_in_its_field(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(b"text\tlabel\r\ngood\rfilm\tpos\r\nbad film\tneg\r\n")
    assert readers.read_table(path, "text", "label") == (["good\rfilm", "bad film"], ["pos", "neg"])


def test_a_file_with_cr_line_endings_reads(tmp_path):
    path = tmp_path / "mac.tsv"
    path.write_bytes(b"text\tlabel\rgood film\tpos\rbad film\tneg\r")
    assert readers.read_table(path, "text", "label") == (["good film", "bad film"], ["pos", "neg"])


def test_a_short_row_names_its_line_after_a_multiline_field(tmp_path, capsys):
    """Line numbers count lines, not rows: a quoted field with line breaks moves the next row down."""
    path = tmp_path / "short.csv"
    path.write_text('text,label\n"two\nlines",pos\nbad,neg\nlonely\n')
    one_line_error(*run(tmp_path, capsys, path)[::2], f"{path}:5: row has 1 fields, the header has 2")


# -- the file itself -------------------------------------------------------------------------------


def test_a_directory_is_said_to_be_one(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    one_line_error(*run(tmp_path, capsys, folder)[::2], f"dataset file {folder} is a directory")


def test_a_directory_named_without_a_slash_is_said_to_be_one(tmp_path, capsys, monkeypatch):
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    one_line_error(*run(tmp_path, capsys, "corpus")[::2], "dataset file corpus is a directory")


def test_a_missing_file_still_says_so(tmp_path, capsys):
    one_line_error(*run(tmp_path, capsys, tmp_path / "nope.tsv")[::2], "nope.tsv does not exist")


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied"),
        IsADirectoryError(21, "Is a directory"),
        OSError(5, "Input/output error"),
    ],
    ids=["permission", "isdir", "eio"],
)
def test_a_file_that_cannot_be_opened_gives_its_strerror(tmp_path, capsys, monkeypatch, error):
    """The tests run as root, whom chmod 000 does not stop: opening is made to fail instead."""
    path = write_user_file(tmp_path / "locked.tsv", sentiment_texts(20))

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(readers, "_open", refuse)
    one_line_error(*run(tmp_path, capsys, path)[::2], f"cannot read dataset file {path}: {error.strerror}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/mem is Linux's")
def test_a_file_that_opens_but_cannot_be_read_gives_its_strerror(tmp_path, capsys):
    """/proc/self/mem opens, even for root, and fails the first read at offset 0 with EIO."""
    path = tmp_path / "mem.tsv"
    path.symlink_to("/proc/self/mem")
    one_line_error(*run(tmp_path, capsys, path)[::2], f"cannot read dataset file {path}: Input/output error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_before_it_blocks(tmp_path, capsys):
    path = tmp_path / "pipe.tsv"
    os.mkfifo(path)
    one_line_error(*run(tmp_path, capsys, path)[::2], f"dataset file {path} is not a regular file")


# -- JSON Lines field types ------------------------------------------------------------------------


@pytest.mark.parametrize("value,kind", [(None, "null"), (3, "a number"), (["a"], "an array"), (True, "a boolean")])
def test_a_json_text_that_is_not_a_string_names_its_line(tmp_path, capsys, value, kind):
    path = tmp_path / "texts.jsonl"
    rows = [{"text": t, "label": y} for t, y in sentiment_texts(10)]
    rows[3]["text"] = value
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    one_line_error(*run(tmp_path, capsys, path)[::2], f"{path}:4: field 'text' must be a string (the text), got {kind}")


@pytest.mark.parametrize(
    "value,message",
    [
        ([1], "a label must be a string, a number or a boolean, got an array"),
        ({"a": 1}, "a label must be a string, a number or a boolean, got an object"),
        (None, "empty label (null)"),
        ("  ", "empty label"),
    ],
    ids=["array", "object", "null", "blank"],
)
def test_a_json_label_of_the_wrong_kind_names_its_line(tmp_path, capsys, value, message):
    path = tmp_path / "labels.jsonl"
    rows = [{"text": t, "label": y} for t, y in sentiment_texts(10)]
    rows[2]["label"] = value
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    one_line_error(*run(tmp_path, capsys, path)[::2], f"{path}:3: {message}")


def test_a_json_nan_label_is_refused(tmp_path, capsys):
    path = tmp_path / "nan.jsonl"
    path.write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": NaN}\n')
    one_line_error(*run(tmp_path, capsys, path)[::2], f"{path}:2: label nan is not a finite number")


# -- label spellings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling,name",
    [
        ("1", "1"),
        ("1.0", "1"),
        ("01", "1"),
        ("+1", "1"),
        ("1e0", "1"),
        (" 1 ", "1"),
        ("-0.0", "0"),
        ("1.50", "1.5"),
        ("1.5", "1.5"),
        ("1e-3", "0.001"),
        ("pos", "pos"),
        ("nan", "nan"),
        ("1,0", "1,0"),
        ("\u0661", "\u0661"),
        ("1e70", "1E+70"),
        ("1.", "1"),
        (".5", "0.5"),
    ],
)
def test_numeric_label_spellings_denote_one_class(spelling, name):
    assert readers.normalise_label(spelling) == name


def test_labels_1_and_1_0_in_one_file_are_one_class(tmp_path, capsys):
    rows = [(t, ("1.0" if i % 4 == 1 else "1") if y else "0") for i, (t, y) in enumerate(sentiment_texts(40))]
    path = tmp_path / "floats.tsv"
    path.write_bytes(tsv_bytes(rows))
    record = trained(*run(tmp_path, capsys, path))
    assert record["data"]["label_names"] == ["0", "1"]


def test_json_numbers_1_and_1_0_are_one_class_and_booleans_are_true_and_false(tmp_path):
    path = tmp_path / "numbers.jsonl"
    path.write_text(
        '{"text": "a", "label": 1}\n{"text": "b", "label": 1.0}\n{"text": "c", "label": "1.0"}\n'
        '{"text": "d", "label": true}\n{"text": "e", "label": "true"}\n{"text": "f", "label": false}\n'
    )
    _, labels = readers.read_table(path, "text", "label")
    assert labels == ["1", "1", "1", "true", "true", "false"]
    assert readers.label_names_from(["true", "false"]) == ("false", "true")


def test_a_non_integer_label_is_its_own_class_sorted_as_a_number():
    assert readers.label_names_from(["2", "1.5", "10", "1"]) == ("1", "1.5", "2", "10")


def test_declared_label_names_are_read_with_the_same_spelling(tmp_path, capsys):
    rows = [(t, "1.0" if y else "0.0") for t, y in sentiment_texts(30)]
    path = tmp_path / "declared.tsv"
    path.write_bytes(tsv_bytes(rows))
    record = trained(*run(tmp_path, capsys, path, "--label-names", "1,0"))
    assert record["data"]["label_names"] == ["1", "0"]
    one_line_error(
        *run(tmp_path, capsys, path, "--label-names", "1,1.0,0")[::2], "--label-names names a label twice: 1"
    )
    one_line_error(*run(tmp_path, capsys, path, "--label-names", "1,,0")[::2], "--label-names has an empty label")


def test_read_table_refuses_an_unknown_encoding_before_reading():
    with pytest.raises(RnnbenchError, match="unknown encoding 'nope'"):
        readers.check_encoding("nope")
    assert readers.check_encoding("UTF8") == "utf-8-sig" and readers.check_encoding("latin-1") == "iso8859-1"


# -- the registered datasets' own files ------------------------------------------------------------


@pytest.mark.parametrize(
    "dataset,damage,words",
    [
        (
            "mr",
            lambda root: (root / "mr" / "rt-polarity.pos").write_bytes(b"good \xff film\n"),
            ["cannot read", "rt-polarity.pos: 'utf-8' codec can't decode byte 0xff"],
        ),
        (
            "imdb",
            lambda root: (root / "imdb" / "train.jsonl.gz").write_bytes(
                (root / "imdb" / "train.jsonl.gz").read_bytes()[:40]
            ),
            ["cannot read", "train.jsonl.gz: Compressed file ended before"],
        ),
        (
            "imdb",
            lambda root: (root / "imdb" / "test.jsonl.gz").write_bytes(b"not gzip at all"),
            ["cannot read", "test.jsonl.gz: Not a gzipped file"],
        ),
    ],
    ids=["mr-not-utf8", "imdb-truncated-gzip", "imdb-not-gzip"],
)
def test_a_damaged_registered_dataset_is_one_line_naming_it(tmp_path, capsys, dataset, damage, words):
    from text_fixtures import write_local_layout

    root = write_local_layout(tmp_path / "data", size=20)
    damage(root)
    one_line_error(*run(tmp_path, capsys, dataset, "--data-dir", str(root))[::2], *words)
