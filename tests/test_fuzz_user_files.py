"""A user's data file, fuzzed: it trains, or it ends in the one-line error; nothing else leaves ``rnnbench run``.

Files are built from a valid shape and then damaged: .tsv/.csv/.jsonl (and
upper-case suffixes), written in utf-8 (with and without a byte-order mark),
utf-16 (with and without), latin-1 or cp1252 and read with the same, another
or an unknown encoding; headers with missing, renamed, repeated or extra
columns; rows short or long; csv quoting, naive joins and every line ending;
texts with delimiters, quotes, line breaks, NULs and BOMs; labels of every
JSON type and many spellings; JSON lines that are not objects or are cut
short; random bytes inserted anywhere, or a file of random bytes. Most
examples go through the task's own prepare path (reading, splitting,
tokenising, batching: where the CLI spends no time training); a few run the
whole CLI, training included. The failing examples it found are kept below as
ordinary tests.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnbench import cli
from rnnbench.data.readers import read_table
from rnnbench.errors import RnnbenchError
from rnnbench.tasks.textclf.task import TextClassification

from cli_helpers import one_line_error

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252")
#: More examples for a deeper local search: RNNBENCH_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_user_files.py
EXAMPLES = int(os.environ.get("RNNBENCH_FUZZ_EXAMPLES", "80"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 80,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORDS = ("good", "bad", "film", "great", "awful", "plot", "caf\u00e9", "na\u00efve", "\u20ac5", "\U0001f600")
ODD = ("\t", ",", '"', "'", "\n", "\r", "\r\n", "\x00", "\ufeff", "\\", " ", "\u2028", "{", "}", "null")
text_values = st.one_of(
    st.lists(st.sampled_from(WORDS + ODD), max_size=8).map("".join),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join),
    st.text(max_size=12),
)
#: Labels a well-formed file may hold: names, and numbers and booleans in several spellings.
clean_labels = st.one_of(
    st.sampled_from(["pos", "neg", "0", "1", "1.0", "01", " 1 ", "1.5", "true", "x y"]),
    st.integers(-2, 3),
    st.sampled_from([1.0, 0.0, 2.5, True, False]),
)
label_values = st.one_of(
    clean_labels,
    st.sampled_from(["", "nan", "inf", "-0", "a\nb", "1,0", "\ufeffpos", "1" * 70, "1e999999", "\u2028"]),
    st.sampled_from([10**30, 2**63]),
    st.floats(),
    st.none(),
    st.lists(st.integers(0, 1), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(0, 1), max_size=1),
    st.text(max_size=4),
)
column_names = st.sampled_from(["text", "label", "extra", "Text", "label ", "", "text\nx"])
CLASSES = [(text, label, 0) for text, label in (("good film", "pos"), ("bad film", "neg"))] * 5


@st.composite
def user_files(draw, clean: bool):
    """``(file name, bytes, encoding option or None, extra config, texts written)``: one fuzzed dataset file.

    ``clean``: a file as a csv/json writer makes it, read with its own encoding, whose texts must come back
    exactly (as far as the encoding holds them); else damaged in any of the ways the module docstring lists.
    """
    suffix = draw(st.sampled_from([".tsv", ".csv", ".jsonl", ".TSV", ".Jsonl"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    header = (
        ["text", "label"] if clean else draw(st.sampled_from([["text", "label"], ["label", "text", "extra"], None]))
    )
    if header is None:
        header = draw(st.lists(column_names, max_size=4))
    shapes = st.just(0) if clean else st.sampled_from([0, 0, 0, 0, -1, 1])  # as the header says, short, long
    rows = draw(st.lists(st.tuples(text_values, clean_labels if clean else label_values, shapes), max_size=10))
    if clean or draw(st.integers(0, 3)):  # two plain classes too: so that many examples get past reading
        rows = draw(st.permutations(rows + CLASSES))
    lower = suffix.lower()
    if clean and lower == ".tsv":  # TSV has no quoting (docs/data.md): a well-formed one has no tab or break in a text
        rows = [(re.sub("[\t\r\n]", " ", text), label, shape) for text, label, shape in rows]
    if lower == ".jsonl":
        content = _jsonl(draw, header, rows, clean, ascii_only=encoding in ("latin-1", "cp1252"))
    else:
        content = _delimited(draw, "\t" if lower == ".tsv" else ",", header, rows, clean)
    data = content.encode(encoding, errors="replace")
    if encoding == "utf-8" and draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    texts = [
        text if lower == ".jsonl" else text.encode(encoding, errors="replace").decode(encoding) for text, _, _ in rows
    ]
    if clean:
        option = draw(st.sampled_from([encoding, None] if encoding.startswith("utf-8") else [encoding]))
        return f"data{suffix}", data, option, {}, texts
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # bytes inserted somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=300))
    option = draw(
        st.sampled_from(
            [
                None,
                None,
                encoding,
                encoding,
                encoding,
                "latin-1",
                "utf-16",
                "utf-8",
                "utf-16-le",
                "bogus",
                "utf-32",
                "utf-7",
                "idna",
                "cp037",
            ]
        )
    )
    extra = {}
    if draw(st.integers(0, 4)) == 0:
        extra["label_names"] = draw(st.sampled_from(["pos,neg", "0,1", "1,1.0", "neg,pos,x", ",", "true,false"]))
    if draw(st.integers(0, 5)) == 0:
        extra["dev_file"] = "SELF"
    return f"data{suffix}", data, option, extra, texts


def _jsonl(draw, header, rows, clean, ascii_only) -> str:
    """JSON lines; a clean file escapes what its encoding cannot hold (``ascii_only``), as a careful writer does."""
    text_key, label_key = (header + ["text", "label"])[:2] if draw(st.booleans()) else ("text", "label")
    lines = []
    for text, label, shape in rows:
        record = {text_key: text, label_key: label}
        if shape < 0:
            record.pop(draw(st.sampled_from([text_key, label_key])))
        elif shape > 0:
            record["extra"] = label
        kind = 99 if clean else draw(st.integers(0, 40))
        if kind == 0:
            line = json.dumps([text, label])
        elif kind == 1:
            line = json.dumps(record)[: draw(st.integers(0, 10))]
        elif kind == 2:
            line = json.dumps(record).replace('"', "'")
        elif kind == 3:
            line = '{"text": "\\ud800 lone", "label": "pos"}'
        else:
            line = json.dumps(record, ensure_ascii=ascii_only if clean else draw(st.booleans()))
        lines.append(line)
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    return ending.join(lines) + draw(st.sampled_from(["", ending]))


def _delimited(draw, delimiter, header, rows, clean) -> str:
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    table = [list(header)]
    for text, label, shape in rows:
        cells = {"text": text, "label": "" if label is None else str(label), "extra": "x"}
        row = [cells.get(name.strip(), "?") for name in header] or [text, str(label)]
        if shape < 0:
            row = row[: draw(st.integers(0, max(0, len(row) - 1)))]
        elif shape > 0:
            row = row + ["more"] * draw(st.integers(1, 3))
        table.append(row)
    if (clean and delimiter == "\t") or (not clean and draw(st.booleans())):
        # TSV as TSV writers write it (no quoting), or a naive join: quotes and delimiters left as they are
        return ending.join(delimiter.join(row) for row in table) + ending
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=ending).writerows(table)
    return out.getvalue()


def prepare_file(folder: Path, name: str, data: bytes, option, extra, texts=None):
    """The task's prepare path on one file: a Prepared, or the RnnbenchError it raised (one line)."""
    path = folder / name
    path.write_bytes(data)
    given = {
        "dataset": str(path),
        "embed_size": 4,
        "hidden_size": 4,
        "batch_size": 4,
        "eval_batch_size": 8,
        "encoding": option,
        **{key: (str(path) if value == "SELF" else value) for key, value in extra.items()},
    }
    task = TextClassification()
    config = task.resolve_config({key: value for key, value in given.items() if value is not None})
    config.update(backend="numpy", seeds=[0], device=None, impl=None, threads=1)
    try:
        prepared = task.prepare(config)
    except RnnbenchError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc), f"a multi-line error: {exc!r}"
        return exc
    batches = prepared.train_batches(0, 1)  # the batches the runner would train on
    assert sum(batch.size for batch in batches) == prepared.info["splits"]["train"]["examples"]
    return prepared


@FUZZ
@given(user_files(clean=True))
def test_a_well_formed_file_reads_back_exactly(example):
    name, data, option, extra, texts = example
    with tempfile.TemporaryDirectory() as folder:
        result = prepare_file(Path(folder), *example)
        assert not isinstance(result, Exception), result
        read, labels = read_table(Path(folder) / name, "text", "label", encoding=option or "utf-8")
    assert read == texts and len(labels) == len(texts)
    assert len(result.info["label_names"]) == len(set(labels)) >= 2


@FUZZ
@given(user_files(clean=False))
def test_a_damaged_file_is_read_or_refused_in_one_line(example):
    with tempfile.TemporaryDirectory() as folder:
        prepare_file(Path(folder), *example)


def run_cli(folder: Path, name: str, data: bytes, option, extra, texts=None) -> tuple[int, str]:
    path = folder / name
    path.write_bytes(data)
    argv = [
        "run",
        "--backend",
        "numpy",
        "--task",
        "textclf",
        "--dataset",
        str(path),
        "--results-dir",
        str(folder / "results"),
        "--embed-size",
        "4",
        "--hidden-size",
        "4",
        "--max-steps",
        "2",
        "--epochs",
        "1",
        "--no-progress",
    ]
    if option is not None:
        argv += ["--encoding", option]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(path) if value == "SELF" else value]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


def check_cli(code: int, err: str) -> None:
    """Exit 0 (trained, record written) or 2 with exactly one error line; never 1, never a traceback."""
    assert code in (0, 2), (code, err)
    if code == 2:
        one_line_error(code, err)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 8))
@given(st.booleans().flatmap(lambda clean: user_files(clean=clean)))
def test_the_whole_cli_trains_or_ends_in_one_line(example):
    with tempfile.TemporaryDirectory() as folder:
        check_cli(*run_cli(Path(folder), *example))


# -- what the fuzz found ---------------------------------------------------------------------------


def _prepare(tmp_path, name, data, option=None):
    return prepare_file(tmp_path, name, data, option, {})


def test_found_a_column_name_with_a_line_break_made_a_two_line_error(tmp_path):
    error = _prepare(tmp_path, "data.csv", b'"text\nx"\n')  # a .csv: a .tsv has no quoting to hold a break
    assert isinstance(error, RnnbenchError)
    assert str(error).endswith("has no column 'text' (set --text-column); columns: 'text\\nx'")


def test_found_a_text_ending_in_a_bare_cr_lost_it_or_split_its_row(tmp_path):
    rows = [("good\r", "pos"), ("\r", "pos")] + [(t, y) for t, y, _ in CLASSES]
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows([("text", "label"), *rows])
    prepared = _prepare(tmp_path, "data.tsv", out.getvalue().encode("utf-16"), "utf-16")
    assert not isinstance(prepared, Exception), prepared
    texts, _ = read_table(tmp_path / "data.tsv", "text", "label", encoding="utf-16")
    assert texts == [t for t, _ in rows]


def test_found_utf16_without_a_byte_order_mark_was_reported_at_the_wrong_byte(tmp_path):
    """Python's streaming utf-16 decoder refuses what a whole-file decode reads: it said 'byte 14 (cannot decode)'."""
    error = _prepare(tmp_path, "data.tsv", b"\xef\xbb\xbftext\tlabel\n", "utf-16")
    assert str(error).endswith(
        "data.tsv:1: not utf-16 at byte 0 (UTF-16 stream does not start with BOM); "
        "without a byte-order mark name the byte order: --encoding utf-16-le or utf-16-be"
    )
