"""Issue 22 item 16: every reader of a file a user hands rnnbench, fuzzed.

Text files (the textclf readers: a user's .tsv/.csv/.jsonl in several encodings, and the registered datasets'
local layouts), tree files (PTB trees, :mod:`rnnbench.trees`) and record files (:func:`rnnbench.records.
read_records`) are built from random bytes, or from a valid shape damaged with quotes, delimiters, brackets,
line breaks, byte-order marks and stray bytes. The property is the same for each: the reader returns
well-formed data, or raises :class:`RnnbenchError` with one line; never any other exception, never a second
line. (Records are read tolerantly: a bad file is a :class:`RecordWarning`, never an error.)

Deterministic (``derandomize``) and fast: about 150 examples a property, no deadline.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnbench.data import readers
from rnnbench.errors import RnnbenchError
from rnnbench.records import KNOWN_SCHEMAS, RecordWarning, read_records
from rnnbench.trees import Tree, TreeBatch, read_trees

from text_fixtures import write_local_layout

EXAMPLES = int(os.environ.get("RNNBENCH_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252")


def _one_line(error: RnnbenchError) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)


def _damaged(draw, data: bytes) -> bytes:
    """``data`` with up to three runs of random bytes inserted or bytes cut; sometimes random bytes alone."""
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=400))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 8)) :]
    return data


# -- text files through the textclf readers ----------------------------------------------------------------------

PIECES = (
    "good",
    "bad",
    "film",
    "caf\u00e9",
    "\U0001f600",
    '"',
    "'",
    '""',
    "\t",
    ",",
    ";",
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\ufeff",
    "\\",
    " ",
    "{",
    "}",
    "[",
    "]",
    ":",
    "null",
    "1",
    "0",
    "1.0",
    "nan",
    "-",
)
cells = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@st.composite
def text_files(draw):
    """``(suffix, bytes, encoding, expected)``: a header and rows joined by a delimiter, or JSON lines; often
    well-formed apart from what the texts hold (``expected``: the texts and labels it must read back as), else
    with the wrong columns, delimiter or shape, damaged, or read with another encoding (``expected`` None)."""
    suffix = draw(st.sampled_from([".tsv", ".csv", ".jsonl"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    shaped = draw(st.sampled_from([True, True, False]))
    header = (
        ["text", "label"]
        if shaped
        else draw(st.sampled_from([["label", "text"], ["text"], ["a", "b"], ["text", "label", "x"]]))
    )
    labels = st.sampled_from(["pos", "neg", "1", "0", " 2 ", "1.0", "1.5"]) if shaped else cells
    rows = draw(
        st.lists(
            st.lists(cells, min_size=1, max_size=1).flatmap(lambda text: labels.map(lambda label: [*text, label]))
            if shaped
            else st.lists(cells, max_size=4),
            min_size=1,
            max_size=8,
        )
    )
    if suffix == ".jsonl":
        lines = [
            json.dumps(dict(zip(header, row))) if shaped or draw(st.booleans()) else json.dumps(row) for row in rows
        ]
        content = "\n".join(lines)
    elif suffix == ".csv" and shaped:  # quoted as Python's csv module writes it
        out = io.StringIO()
        csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([header, *rows])
        content = out.getvalue()
    else:
        if shaped:  # a TSV writer's file: no tab or line break in a field (TSV has no quoting); a lone quote may
            rows = [
                [
                    ('"' if draw(st.integers(0, 3)) == 0 else "")  # start one (CSV quoting merged rows then)
                    + row[0].replace("\t", " ").replace("\r", " ").replace("\n", " "),
                    row[1],
                ]
                for row in rows
            ]
        own = "\t" if suffix == ".tsv" else ","
        delimiter = own if shaped else draw(st.sampled_from(["\t", ",", ";"]))
        content = "\n".join(delimiter.join(row) for row in [header, *rows])
    data = content.encode(encoding, errors="replace")
    expected = None
    if shaped:  # what the rows hold once through the encoding; a row of blanks alone is skipped
        kept = [row for row in rows if suffix == ".jsonl" or any(cell.strip() for cell in row)]
        expected = (
            [
                row[0].encode(encoding, errors="replace").decode(encoding) if suffix != ".jsonl" else row[0]
                for row in kept
            ],
            [readers.normalise_label(row[1]) for row in kept],
        )
    if not shaped or draw(st.integers(0, 3)) == 0:
        data, expected = _damaged(draw, data), None
    read_with = encoding
    if not shaped or draw(st.integers(0, 3)) == 0:
        read_with = draw(st.sampled_from(["utf-8", "latin-1", "utf-16", encoding]))
        expected = expected if read_with == encoding else None
    return suffix, data, read_with, expected


@FUZZ
@given(text_files())
def test_a_user_text_file_reads_as_texts_and_labels_or_one_line(example):
    suffix, data, encoding, expected = example
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        try:
            texts, labels = readers.read_table(path, "text", "label", encoding=encoding)
        except RnnbenchError as exc:
            _one_line(exc)
            assert expected is None, f"a well-formed file was refused: {exc}"
            return
    assert len(texts) == len(labels) >= 1
    assert all(isinstance(text, str) for text in texts)
    assert all(isinstance(label, str) and label and label == label.strip() for label in labels)
    if expected is not None:  # every row read back as written: none merged, split or changed
        assert (texts, labels) == expected
    if suffix == ".tsv":  # no quoting: a field can hold neither the delimiter nor a line break
        assert not any("\t" in text or "\n" in text for text in texts)


#: The file of each registered dataset's layout that the fuzz damages, and the reader's name for it.
LAYOUT_FILES = [
    ("imdb", "train.jsonl.gz"),
    ("sst2", "train.tsv"),
    ("sst2", "test_labeled.tsv"),
    ("mr", "rt-polarity.pos"),
    ("trec", "TREC_10.label"),
    ("ag_news", "test.csv"),
]


@FUZZ
@given(st.sampled_from(LAYOUT_FILES), st.data())
def test_a_damaged_registered_dataset_reads_or_is_one_line(target, data):
    name, file = target
    with tempfile.TemporaryDirectory() as folder:
        root = write_local_layout(Path(folder) / "data", size=6)
        path = root / name / file
        original = path.read_bytes()
        if file.endswith(".gz"):
            import gzip

            raw = gzip.decompress(original)
            damaged = _damaged(data.draw, raw)
            path.write_bytes(gzip.compress(damaged) if data.draw(st.booleans()) else damaged)
        else:
            path.write_bytes(_damaged(data.draw, original))
        try:
            result = readers.read_builtin(name, root)
        except RnnbenchError as exc:
            _one_line(exc)
            return
    assert result.label_names and len(set(result.label_names)) == len(result.label_names)
    for examples in result.splits.values():
        assert len(examples.texts) == len(examples.labels)
        assert all(isinstance(text, str) for text in examples.texts)
        assert all(isinstance(label, int) and 0 <= label < len(result.label_names) for label in examples.labels)


# -- tree files ------------------------------------------------------------------------------------------------

TREE_PIECES = (
    "(",
    ")",
    "(2 ",
    "(3 good)",
    "(1 bad)",
    " ",
    "\n",
    "\\/",
    "-LRB-",
    "word",
    "(5 x)",
    "(-1 x)",
    "(2",
    "2",
    "(2 (1 a) (3 b))",
    "(2 (1 a) (3 b) (4 c))",
    "()",
    "\t",
    "\ufeff",
    "9" * 30,
)


GOOD_TREES = (
    "(3 (2 (2 The) (2 Rock)) (4 (3 is) (4 great)))",
    "(1 (2 8 1\\/2) (0 -LRB-bad-RRB-))",
    "(2 word)",
    "(4 (4 (3 a) (2 b)) (1 c))",
)


@st.composite
def tree_files(draw):
    """Lines of good trees, of tree-like pieces, or both; sometimes damaged."""
    line = st.one_of(
        st.sampled_from(GOOD_TREES),
        st.sampled_from(GOOD_TREES),
        st.lists(st.sampled_from(TREE_PIECES), max_size=12).map("".join),
    )
    lines = draw(st.lists(line, max_size=6))
    data = draw(st.sampled_from(["\n", "\r\n", "\n\n"])).join(lines).encode("utf-8")
    return _damaged(draw, data) if draw(st.integers(0, 2)) == 0 else data


def _well_formed(tree: Tree, labels: range, max_children: int) -> None:
    for node in tree.nodes():
        assert node.label in labels
        if node.is_leaf:
            assert isinstance(node.word, str) and node.word and not node.children
        else:
            assert node.word is None and 1 <= len(node.children) <= max_children


@FUZZ
@given(tree_files(), st.booleans())
def test_a_tree_file_reads_as_trees_or_one_line(data, unescape):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        path.write_bytes(data)
        try:
            trees = read_trees(path, unescape_brackets=unescape, labels=range(5), max_children=2)
        except RnnbenchError as exc:
            _one_line(exc)
            return
    for tree in trees:
        _well_formed(tree, range(5), 2)
    if trees:  # what the tree models are fed: it batches, or says why in one line
        try:
            batch = TreeBatch.from_trees(trees)
        except RnnbenchError as exc:
            _one_line(exc)
        else:
            assert batch.num_nodes >= len(trees)


# -- record files -----------------------------------------------------------------------------------------------

RECORD = {
    "schema": "rnnbench.run/1",
    "status": "ok",
    "task": "textclf",
    "dataset": "mr",
    "backend": "numpy",
    "seed": 0,
    "best": {"dev": 0.5},
}
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=10,
)


@st.composite
def record_files(draw):
    """``(name, bytes)``: a record, changed or damaged, or JSON of any other shape, or bytes."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        data = draw(st.binary(max_size=200))
    elif kind == 1:
        data = json.dumps(draw(json_values)).encode()
    elif kind == 2:  # deeply nested: the JSON parser's recursion limit
        depth = draw(st.sampled_from([10, 5000, 100000]))
        data = ("[" * depth + "]" * depth).encode()
    else:
        record = {**RECORD, "schema": draw(st.sampled_from([*KNOWN_SCHEMAS, "rnnbench.run/2", None, 3, ""]))}
        if draw(st.booleans()):
            record[draw(st.text(max_size=4))] = draw(json_values)
        data = json.dumps(record).encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])))
        data = _damaged(draw, data) if kind == 4 else data
    name = draw(st.sampled_from(["20250101T000000_a.json", ".tmp-1.json", "b.json", "notes.txt"]))
    return name, data


@FUZZ
@given(st.lists(record_files(), max_size=4), st.sampled_from([None, ("rnnbench.run/1",)]))
def test_a_results_folder_reads_as_records_or_warnings(files, schemas):
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, data) in enumerate(files):
            (Path(folder) / f"{i}{name}").write_bytes(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = read_records(folder, schemas, warn=True, must_exist=True)
    wanted = set(KNOWN_SCHEMAS if schemas is None else schemas)
    for path, record in found:
        assert path.suffix == ".json" and not path.name.startswith(".")
        assert isinstance(record, dict) and record.get("schema") in wanted
    for warning in caught:
        assert issubclass(warning.category, RecordWarning), warning
        assert "\n" not in str(warning.message)


def test_a_results_path_that_is_a_file_or_missing_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file", tmp_path / "missing"):
        try:
            read_records(path, must_exist=True)
        except RnnbenchError as exc:
            _one_line(exc)
        else:
            raise AssertionError(f"{path} read as a results folder")


def test_a_byte_order_mark_before_a_record_is_a_warning_not_an_error(tmp_path):
    (tmp_path / "r.json").write_bytes(codecs.BOM_UTF8 + json.dumps(RECORD).encode())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = read_records(tmp_path, warn=True)
    assert found == [] or found[0][1]["schema"] == "rnnbench.run/1"
    assert all(issubclass(w.category, RecordWarning) for w in caught)
