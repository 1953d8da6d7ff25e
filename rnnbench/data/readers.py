"""Readers for the local layout of each dataset, and for a user's own TSV, CSV or JSON Lines file.

Every reader returns plain Python (texts and integer labels) and raises a
one-line :class:`RnnbenchError` for a file it cannot use, naming the file and
line. Splitting, tokenising and batching belong to the task, not here.
"""
from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from rnnbench.data.local import dataset_folder
from rnnbench.errors import RnnbenchError

TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
USER_FORMATS = (".tsv", ".csv", ".jsonl")


@dataclass
class Examples:
    """Parallel lists of texts and integer labels."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices) -> "Examples":
        return Examples([self.texts[i] for i in indices], [self.labels[i] for i in indices])

    def add(self, text: str, label: int) -> None:
        self.texts.append(text)
        self.labels.append(label)


@dataclass
class LabelledData:
    """The splits a dataset ships with (its own names: train, dev, test or all), and what to say about them."""

    name: str
    label_names: tuple[str, ...]
    splits: dict[str, Examples]
    notes: list[str] = field(default_factory=list)


def read_builtin(name: str, data_dir=None) -> LabelledData:
    """Read registered dataset ``name`` from the data directory (one-line error when absent)."""
    readers = {"imdb": read_imdb, "sst2": read_sst2, "mr": read_mr, "trec": read_trec, "ag_news": read_ag_news}
    if name not in readers:
        raise RnnbenchError(f"dataset {name!r} has no text-classification reader; "
                            f"valid: {', '.join(sorted(readers))}")
    return readers[name](dataset_folder(name, data_dir))


def read_imdb(folder: Path) -> LabelledData:
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.jsonl.gz"
        examples = Examples()
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                record = _json_line(path, number, line)
                label = record.get("label")
                if label not in (0, 1) or not isinstance(record.get("text"), str):
                    raise RnnbenchError(f"{path}:{number}: expected a text and a label 0 or 1")
                examples.add(record["text"], label)
        splits[split] = examples
    return LabelledData("imdb", ("neg", "pos"), splits)


def read_sst2(folder: Path) -> LabelledData:
    splits = {"train": _read_sst2_file(folder / "train.tsv"), "dev": _read_sst2_file(folder / "dev.tsv")}
    notes = []
    labelled_test = folder / "test_labeled.tsv"
    if labelled_test.is_file():
        splits["test"] = _read_sst2_file(labelled_test)
        notes.append("sst2 test = test_labeled.tsv: GLUE hides the test labels; these come from the SST "
                     "trees' root labels (see sst2/SOURCE.md); dev is the split GLUE reports")
    else:
        notes.append("sst2 has no labelled test split here (GLUE hides test labels): dev is the reported split")
    return LabelledData("sst2", ("negative", "positive"), splits, notes)


def _read_sst2_file(path: Path) -> Examples:
    texts, labels = read_table(path, "sentence", "label", delimiter="\t")
    return Examples(texts, [_binary_label(path, i + 2, raw) for i, raw in enumerate(labels)])


def _binary_label(path, line, raw) -> int:
    if raw not in ("0", "1"):
        raise RnnbenchError(f"{path}:{line}: unknown label {raw!r}; expected 0 or 1")
    return int(raw)


def read_mr(folder: Path) -> LabelledData:
    examples = Examples()
    for label, name in ((0, "rt-polarity.neg"), (1, "rt-polarity.pos")):
        with open(folder / name, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    examples.add(line.strip(), label)
    return LabelledData("mr", ("negative", "positive"), {"all": examples},
                        ["mr has no official split: train/dev/test come from a fixed seeded split (--fold)"])


def read_trec(folder: Path) -> LabelledData:
    splits = {}
    for split, name in (("train", "train_5500.label"), ("test", "TREC_10.label")):
        path = folder / name
        examples = Examples()
        with open(path, encoding="latin-1") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                label, _, text = line.strip().partition(" ")
                coarse = label.partition(":")[0]
                if coarse not in TREC_COARSE:
                    raise RnnbenchError(f"{path}:{number}: unknown TREC label {label!r}; "
                                        f"coarse labels are {', '.join(TREC_COARSE)}")
                examples.add(text, TREC_COARSE.index(coarse))
        splits[split] = examples
    return LabelledData("trec", TREC_COARSE, splits, ["trec: 6 coarse labels (the fine labels are dropped)"])


def read_ag_news(folder: Path) -> LabelledData:
    names = AG_NEWS_CLASSES
    classes = folder / "classes.txt"
    if classes.is_file():
        names = tuple(line.strip() for line in classes.read_text(encoding="utf-8").splitlines() if line.strip())
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.csv"
        if path.is_file():
            splits[split] = _read_ag_news_file(path, len(names))
    notes = [] if "train" in splits else [
        "ag_news: only the 7600-row TEST split is here (no train.csv); train/dev/test are a seeded split of it, "
        "so results are NOT comparable with published AG News figures (`rnnbench data fetch ag_news` gets train)"]
    return LabelledData("ag_news", names, splits, notes)


def _read_ag_news_file(path: Path, num_classes: int) -> Examples:
    examples = Examples()
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if len(row) < 2 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= num_classes:
                raise RnnbenchError(f"{path}:{number}: expected a class index 1-{num_classes}, a title and "
                                    f"a description, got {row[:3]!r}")
            # The authors escaped new lines as a backslash: read it as a space.
            text = " ".join(row[1:]).replace("\\", " ")
            examples.add(text, int(row[0]) - 1)
    return examples


# -- user files ----------------------------------------------------------------------------------


def read_table(path, text_column: str, label_column: str, delimiter: str | None = None):
    """``(texts, raw label strings)`` from a TSV/CSV with a header row, or JSON Lines objects.

    A user's .tsv and .csv are read as Python's csv module (and pandas) write them:
    a field may be quoted, with quotes doubled inside. An explicit ``delimiter``
    reads raw, unquoted fields instead (GLUE's TSV files have bare quotes).
    """
    path = Path(path)
    if not path.is_file():
        raise RnnbenchError(f"dataset file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in USER_FORMATS and delimiter is None:
        raise RnnbenchError(f"cannot read {path}: a dataset file must be one of {', '.join(USER_FORMATS)}")
    if suffix == ".jsonl" and delimiter is None:
        texts, labels = _read_jsonl_columns(path, text_column, label_column)
    else:
        raw = delimiter is not None
        texts, labels = _read_delimited(path, text_column, label_column, delimiter or
                                        ("\t" if suffix == ".tsv" else ","), raw)
    if not texts:
        raise RnnbenchError(f"dataset file {path} has no examples")
    return texts, labels


def _read_delimited(path, text_column, label_column, delimiter, raw):
    quoting = csv.QUOTE_NONE if raw else csv.QUOTE_MINIMAL
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if header is None:
            raise RnnbenchError(f"dataset file {path} is empty (a header row naming the columns is expected)")
        header = [name.strip() for name in header]
        text_index, label_index = (_column_index(path, header, name, option)
                                   for name, option in ((text_column, "--text-column"),
                                                        (label_column, "--label-column")))
        texts, labels = [], []
        for number, row in enumerate(reader, 2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(text_index, label_index):
                raise RnnbenchError(f"{path}:{number}: row has {len(row)} fields, the header has {len(header)}")
            labels.append(_label_value(path, number, row[label_index]))
            texts.append(row[text_index])
    return texts, labels


def _column_index(path, header, name, option) -> int:
    if name not in header:
        raise RnnbenchError(f"{path} has no column {name!r} (set {option}); columns: {', '.join(header)}")
    return header.index(name)


def _read_jsonl_columns(path, text_column, label_column):
    texts, labels = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = _json_line(path, number, line)
            for name, option in ((text_column, "--text-column"), (label_column, "--label-column")):
                if name not in record:
                    raise RnnbenchError(f"{path}:{number}: no field {name!r} (set {option}); "
                                        f"fields: {', '.join(record)}")
            labels.append(_label_value(path, number, record[label_column]))
            texts.append(str(record[text_column]))
    return texts, labels


def _json_line(path, number, line) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RnnbenchError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
    if not isinstance(record, dict):
        raise RnnbenchError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    return record


def _label_value(path, number, value) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise RnnbenchError(f"{path}:{number}: empty label")
    return text


def label_names_from(raw_labels, declared: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The label set: ``declared`` when given, else the sorted distinct labels (numerically when all are ints)."""
    if declared:
        return tuple(declared)
    distinct = set(raw_labels)
    if all(_is_int(label) for label in distinct):
        return tuple(sorted(distinct, key=int))
    return tuple(sorted(distinct))


def encode_labels(path, raw_labels, label_names: tuple[str, ...]) -> list[int]:
    """Integer ids of ``raw_labels``; a one-line error for a label outside ``label_names``."""
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for raw in raw_labels:
        if raw not in index:
            raise RnnbenchError(f"{path}: unknown label {raw!r}; known labels: {', '.join(label_names)}")
        ids.append(index[raw])
    return ids


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
