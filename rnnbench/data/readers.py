"""Readers for the local layout of each dataset, and for a user's own TSV, CSV or JSON Lines file.

Every reader returns plain Python (texts and integer labels) and raises a
one-line :class:`RnnbenchError` for a file it cannot use, naming the file and
line. Splitting, tokenising and batching belong to the task, not here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Context, Decimal
from pathlib import Path

from rnnbench.data.local import dataset_folder
from rnnbench.data.registry import AG_NEWS_CLASSES
from rnnbench.errors import RnnbenchError

TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
USER_FORMATS = (".tsv", ".csv", ".jsonl")
DEFAULT_ENCODING = "utf-8"
#: A field may be as long as a whole review or article: Python's default limit (128 KiB) is no data limit.
FIELD_SIZE_LIMIT = min(sys.maxsize, 2**31 - 1)
#: JSON type names, for messages about a field of the wrong type.
_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # ASCII digits only


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
        raise RnnbenchError(f"dataset {name!r} has no text-classification reader; valid: {', '.join(sorted(readers))}")
    folder = dataset_folder(name, data_dir)
    try:
        return readers[name](folder)
    except OSError as exc:  # unreadable, truncated gzip (EOFError is not an OSError: below)
        raise RnnbenchError(f"cannot read dataset {name!r}: {exc.filename or folder}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, EOFError) as exc:
        raise RnnbenchError(f"cannot read dataset {name!r} in {folder}: {exc}") from None


@contextmanager
def _reading(path: Path):
    """A registered dataset's file that cannot be opened, decoded or decompressed: one line naming it."""
    try:
        yield
    except OSError as exc:  # unreadable, or not gzip (BadGzipFile)
        raise RnnbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, EOFError) as exc:  # EOFError: a truncated gzip
        raise RnnbenchError(f"cannot read {path}: {exc}") from None


def read_imdb(folder: Path) -> LabelledData:
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.jsonl.gz"
        examples = Examples()
        with _reading(path), gzip.open(path, "rt", encoding="utf-8") as handle:
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
        notes.append(
            "sst2 test = test_labeled.tsv: GLUE hides the test labels; these are the SST test "
            "trees' root labels (0-1 negative, 3-4 positive); dev is the split GLUE reports"
        )
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
        with _reading(folder / name), open(folder / name, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    examples.add(line.strip(), label)
    return LabelledData(
        "mr",
        ("negative", "positive"),
        {"all": examples},
        ["mr has no official split: train/dev/test come from a fixed seeded split (--fold)"],
    )


def read_trec(folder: Path) -> LabelledData:
    splits = {}
    for split, name in (("train", "train_5500.label"), ("test", "TREC_10.label")):
        path = folder / name
        examples = Examples()
        with _reading(path), open(path, encoding="latin-1") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                label, _, text = line.strip().partition(" ")
                coarse = label.partition(":")[0]
                if coarse not in TREC_COARSE:
                    raise RnnbenchError(
                        f"{path}:{number}: unknown TREC label {label!r}; coarse labels are {', '.join(TREC_COARSE)}"
                    )
                examples.add(text, TREC_COARSE.index(coarse))
        splits[split] = examples
    return LabelledData("trec", TREC_COARSE, splits, ["trec: 6 coarse labels (the fine labels are dropped)"])


def read_ag_news(folder: Path) -> LabelledData:
    names = AG_NEWS_CLASSES
    classes = folder / "classes.txt"
    if classes.is_file():
        with _reading(classes):
            text = classes.read_text(encoding="utf-8")
        names = tuple(line.strip() for line in text.splitlines() if line.strip())
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.csv"
        if path.is_file():
            splits[split] = _read_ag_news_file(path, len(names))
    notes = (
        []
        if "train" in splits
        else [
            "ag_news: only the 7600-row TEST split is here (no train.csv); train/dev/test are a seeded split of it, "
            "so results are NOT comparable with published AG News figures (`rnnbench data fetch ag_news` gets train)"
        ]
    )
    return LabelledData("ag_news", names, splits, notes)


def _read_ag_news_file(path: Path, num_classes: int) -> Examples:
    examples = Examples()
    with _reading(path), open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if len(row) < 2 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= num_classes:
                raise RnnbenchError(
                    f"{path}:{number}: expected a class index 1-{num_classes}, a title and "
                    f"a description, got {row[:3]!r}"
                )
            # The authors escaped new lines as a backslash: read it as a space.
            text = " ".join(row[1:]).replace("\\", " ")
            examples.add(text, int(row[0]) - 1)
    return examples


# -- user files ----------------------------------------------------------------------------------


def check_encoding(name: str) -> str:
    """The codec to read a user file with: ``name`` if Python knows it as a text encoding.

    UTF-8 is read as ``utf-8-sig``: a byte-order mark (Excel and Notepad write
    one) is skipped instead of becoming part of the first column's name.
    """
    text = str(name).strip()
    try:
        codec = codecs.lookup(text)
    except (LookupError, ValueError):
        codec = None
    # Python also registers bytes-to-bytes codecs (base64, zlib) and one that refuses everything.
    if codec is None or not getattr(codec, "_is_text_encoding", True) or codec.name == "undefined":
        raise RnnbenchError(f"unknown encoding {text!r} (--encoding); e.g. utf-8, utf-16, latin-1, cp1252")
    return "utf-8-sig" if codec.name == "utf-8" else codec.name


def read_table(
    path, text_column: str, label_column: str, delimiter: str | None = None, encoding: str = DEFAULT_ENCODING
):
    """``(texts, label strings)`` from a TSV/CSV with a header row, or JSON Lines objects.

    A user's .csv is read as Python's csv module (and pandas) write it: a field
    may be quoted, with quotes doubled inside. A .tsv is read as TSV is defined
    (IANA text/tab-separated-values, and GLUE's files): a field is everything
    between two tabs, a quote is a character of the text, never quoting. (Read
    with CSV's quoting, a row starting with a lone ``"`` swallowed every line
    up to the next quote: a label ended up in a text.) An explicit ``delimiter``
    reads raw, unquoted fields too. Labels come back normalised
    (:func:`normalise_label`). Every problem with the file, its bytes or its
    rows is a one-line :class:`RnnbenchError`.
    """
    path = Path(path)
    _check_regular_file(path)
    suffix = path.suffix.lower()
    if suffix not in USER_FORMATS and delimiter is None:
        raise RnnbenchError(f"cannot read {path}: a dataset file must be one of {', '.join(USER_FORMATS)}")
    codec = check_encoding(encoding)
    try:
        if suffix == ".jsonl" and delimiter is None:
            texts, labels = _read_jsonl_columns(path, text_column, label_column, codec)
        else:
            raw = delimiter is not None or suffix == ".tsv"  # TSV has no quoting: see above
            texts, labels = _read_delimited(
                path, text_column, label_column, delimiter or ("\t" if suffix == ".tsv" else ","), raw, codec
            )
    except UnicodeError as exc:  # a decoder's offset is within its chunk: find where, from the start
        message = _decode_error(path, codec, encoding, exc)
        raise RnnbenchError(message) from None
    except OSError as exc:
        raise RnnbenchError(f"cannot read dataset file {path}: {exc.strerror or exc}") from None
    if not texts:
        raise RnnbenchError(f"dataset file {path} has no examples")
    return texts, labels


def names_list(names, limit: int = 12) -> str:
    """Column names or labels for a one-line message: plain where they are plain, else quoted (a name may
    hold a line break), and the first ``limit`` of a long list (a wrong label column has thousands)."""
    names = list(names)
    shown = [
        name if name and name.isprintable() and name == name.strip() and "," not in name else repr(name)
        for name in map(str, names[:limit])
    ]
    return ", ".join(shown) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_regular_file(path: Path) -> None:
    """Refuse what is not a readable regular file before opening it (a FIFO would block forever)."""
    try:
        if not path.exists():
            raise RnnbenchError(f"dataset file {path} {why_missing(path)}")
        if path.is_dir():
            raise RnnbenchError(f"dataset file {path} is a directory; give a {'/'.join(USER_FORMATS)} file")
        if not path.is_file():
            raise RnnbenchError(f"dataset file {path} is not a regular file")
    except OSError as exc:
        raise RnnbenchError(f"cannot read dataset file {path}: {exc.strerror or exc}") from None


def why_missing(path: Path) -> str:
    """Why ``path.exists()`` is False, said as the end of a sentence: a symbolic link loop is not a missing file."""
    import errno
    import os

    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (its links lead back to themselves); give the file itself"
        if path.is_symlink():
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
    return "does not exist"


def _decode_error(path: Path, codec: str, given: str, streaming: UnicodeError) -> str:
    """Where the bytes of ``path`` stop being ``codec``: byte offset and line, and the way out.

    The whole file is decoded again because the streaming decoder's offset is
    within its chunk. Python's streaming utf-16 decoder also refuses a file
    without a byte-order mark that a whole-file decode reads (as the machine's
    byte order): that refusal, at byte 0, is the one reported then.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read dataset file {path}: {exc.strerror or exc}"
    start, reason = getattr(streaming, "start", 0), getattr(streaming, "reason", str(streaming))
    try:
        data.decode(codec)
    except UnicodeError as exc:
        start, reason = getattr(exc, "start", 0), getattr(exc, "reason", str(exc))
    try:
        line = data[:start].decode(codec, errors="replace").count("\n") + 1
    except UnicodeError:  # a codec that refuses even with errors="replace" (idna, say): count bytes
        line = data[:start].count(b"\n") + 1
    hint = "name the file's encoding with --encoding, e.g. --encoding latin-1"
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and not codec.startswith("utf-16"):
        hint = "it starts with a UTF-16 byte-order mark: --encoding utf-16"
    elif codec in ("utf-16", "utf-32") and "BOM" in reason:
        hint = f"without a byte-order mark name the byte order: --encoding {codec}-le or {codec}-be"
    return f"{path}:{line}: not {given} at byte {start} ({reason}); {hint}"


def _open(path, encoding, **options):
    """The one place a user file is opened (tests make it fail as a file root cannot read would)."""
    return open(path, encoding=encoding, **options)


def _read_delimited(path, text_column, label_column, delimiter, raw, encoding=DEFAULT_ENCODING + "-sig"):
    quoting = csv.QUOTE_NONE if raw else csv.QUOTE_MINIMAL
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    with _open(path, encoding, newline="") as handle:
        content = handle.read()
    content, restore = _protect_stray_breaks(content)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, quoting=quoting)
    number = 1  # the line the next row starts on
    try:
        header = next(reader, None)
        if header is None:
            raise RnnbenchError(f"dataset file {path} is empty (a header row naming the columns is expected)")
        # a byte-order mark the codec kept (utf-16-le, say) is never part of a name
        header = [restore(name).strip() for name in [header[0].lstrip("\ufeff"), *header[1:]]] if header else []
        text_index, label_index = (
            _column_index(path, header, name, option, raw)
            for name, option in ((text_column, "--text-column"), (label_column, "--label-column"))
        )
        texts, labels = [], []
        number = reader.line_num + 1
        for row in reader:
            if row and any(cell.strip() for cell in row):
                if len(row) <= max(text_index, label_index):
                    raise RnnbenchError(f"{path}:{number}: row has {len(row)} fields, the header has {len(header)}")
                labels.append(_label_value(path, number, restore(row[label_index])))
                texts.append(restore(row[text_index]))
            number = reader.line_num + 1
    except csv.Error as exc:
        raise RnnbenchError(f"{path}:{number}: {exc}") from None
    return texts, labels


def _protect_stray_breaks(content: str):
    """``(content, restore)``: a lone CR inside a field of a file whose lines end in LF (or a lone LF in one
    whose lines end in CR) hidden from the csv module, and the function that puts it back in a field.

    Python's csv writer, and pandas, quote a field holding a line-terminator
    character only: under the default ``\n`` a text with a bare ``\r`` is
    written unquoted, and the csv reader would end the row there. The file's
    own line ending is the first one in it; under LF every CR is a field's (a
    text may end in one, just before the LF), under CR every LF, and under
    CRLF a CR that no LF follows.
    """
    first = re.search(r"\r\n?|\n", content)
    if first is None:
        return content, _same
    stray, char = {
        "\n": (re.compile("\r"), "\r"),
        "\r": (re.compile("\n"), "\n"),
        "\r\n": (re.compile(r"\r(?!\n)"), "\r"),
    }[first.group()]
    if not stray.search(content):
        return content, _same
    sentinel = next((chr(c) for c in range(0xE000, 0xF900) if chr(c) not in content), None)
    if sentinel is None:  # every private-use character in the file: leave it to the csv module
        return content, _same
    return stray.sub(sentinel, content), lambda cell: cell.replace(sentinel, char)


def _same(cell: str) -> str:
    return cell


def _column_index(path, header, name, option, raw=False) -> int:
    if name not in header:
        quoted = raw and f'"{name}"' in header  # a TSV written with CSV quoting: the quotes are in the names
        hint = (
            (
                f"; its names are quoted, but a {path.suffix} is read without quoting: write it without quotes "
                "or as a .csv"
            )
            if quoted
            else _bom_hint(header[0] if header else "")
        )
        raise RnnbenchError(f"{path} has no column {name!r} (set {option}); columns: {names_list(header)}{hint}")
    return header.index(name)


def _read_jsonl_columns(path, text_column, label_column, encoding=DEFAULT_ENCODING + "-sig"):
    texts, labels = [], []
    with _open(path, encoding) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = _json_line(path, number, line.lstrip("\ufeff") if number == 1 else line)
            for name, option in ((text_column, "--text-column"), (label_column, "--label-column")):
                if name not in record:
                    raise RnnbenchError(
                        f"{path}:{number}: no field {name!r} (set {option}); fields: {names_list(record)}"
                    )
            text = record[text_column]
            if not isinstance(text, str):
                raise RnnbenchError(
                    f"{path}:{number}: field {text_column!r} must be a string (the text), "
                    f"got {_JSON_TYPES.get(type(text), type(text).__name__)}"
                )
            labels.append(_label_value(path, number, record[label_column]))
            texts.append(text)
    return texts, labels


def _json_line(path, number, line) -> dict:
    try:
        record = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than Python converts
        raise RnnbenchError(
            f"{path}:{number}: not a JSON line ({getattr(exc, 'msg', exc)})" + (_bom_hint(line) if number == 1 else "")
        ) from None
    except RecursionError:
        raise RnnbenchError(f"{path}:{number}: not a JSON line (nested too deeply)") from None
    if not isinstance(record, dict):
        raise RnnbenchError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    return record


def _bom_hint(first: str) -> str:
    """What to say when a file's first characters are a byte-order mark decoded as latin-1 or cp1252."""
    if first.startswith(("\u00ef\u00bb\u00bf", "\u00ff\u00fe", "\u00fe\u00ff")):
        return "; the file starts with a Unicode byte-order mark: leave --encoding out (UTF-8) or give utf-16"
    return ""


def _label_value(path, number, value) -> str:
    """One label as its class name (see :func:`normalise_label`); a one-line error for no or a bad label."""
    if value is None:
        raise RnnbenchError(f"{path}:{number}: empty label (null)")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise RnnbenchError(f"{path}:{number}: label {value} is not a finite number")
    if isinstance(value, (int, float)):
        return normalise_label(repr(value))
    if not isinstance(value, str):
        raise RnnbenchError(
            f"{path}:{number}: a label must be a string, a number or a boolean, "
            f"got {_JSON_TYPES.get(type(value), type(value).__name__)}"
        )
    text = normalise_label(value)
    if not text:
        raise RnnbenchError(f"{path}:{number}: empty label")
    return text


def normalise_label(text: str) -> str:
    """The class name a label denotes: ``text`` stripped, and one spelling for each number.

    Labels are class names, compared as text, except that spellings of one
    number denote one class: ``1``, ``01``, ``+1``, ``1.0`` and ``1e0`` (and
    JSON's ``1`` and ``1.0``) are all the class ``1``, since a spreadsheet or
    pandas writes integer labels as floats once a column held a blank. A
    non-integer number keeps its own class, in its shortest spelling (``1.50``
    is ``1.5``): half-star ratings are real classes, and rounding one to a
    neighbour would silently merge two. JSON booleans are ``true``/``false``.
    """
    text = str(text).strip()
    if len(text) > 60 or not _NUMBER.fullmatch(text):
        return text
    context = Context(prec=100)
    value = Decimal(text)
    if value == value.to_integral_value(context=context) and value.adjusted() < 60:
        return str(int(value))
    return str(value.normalize(context))


def label_names_from(raw_labels, declared: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The label set: ``declared`` when given, else the sorted distinct labels (numerically when all are numbers)."""
    if declared:
        return tuple(declared)
    distinct = set(raw_labels)
    if all(_NUMBER.fullmatch(label) for label in distinct):
        return tuple(sorted(distinct, key=lambda label: (Decimal(label), label)))
    return tuple(sorted(distinct))


def encode_labels(path, raw_labels, label_names: tuple[str, ...]) -> list[int]:
    """Integer ids of ``raw_labels``; a one-line error for a label outside ``label_names``."""
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for raw in raw_labels:
        if raw not in index:
            raise RnnbenchError(f"{path}: unknown label {raw!r}; known labels: {names_list(label_names)}")
        ids.append(index[raw])
    return ids
