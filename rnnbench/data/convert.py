"""Converters from each original download into the local layout the readers expect.

``convert_<name>(source, out)``: ``source`` is a folder holding the extracted
archives (or the plain files) exactly as the authors ship them; ``out`` is
the dataset folder to fill. A converter that cannot find what it expects says
which file is missing: an archive whose layout changed must fail loudly.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

from rnnbench.data.registry import AG_NEWS_CLASSES
from rnnbench.errors import RnnbenchError

_IMDB_NAME = re.compile(r"(\d+)_(\d+)\.txt")


def _need(path: Path) -> Path:
    if not path.exists():
        raise RnnbenchError(
            f"the downloaded archive lacks {path.name} (looked for {path}); its layout differs from the original"
        )
    return path


def convert_imdb(source: Path, out: Path) -> None:
    """``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` -> ``{train,test}.jsonl.gz``, rows sorted by (label, id)."""
    root = _need(source / "aclImdb")
    for split in ("train", "test"):
        rows = []
        for label, polarity in ((0, "neg"), (1, "pos")):
            for path in _need(root / split / polarity).iterdir():
                match = _IMDB_NAME.fullmatch(path.name)
                if match:
                    rows.append((label, int(match[1]), int(match[2]), path.read_text(encoding="utf-8")))
        rows.sort(key=lambda row: (row[0], row[1]))
        # mtime=0 and no file name in the header: the same input gives the same bytes.
        with (
            open(out / f"{split}.jsonl.gz", "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed,
        ):
            for label, number, rating, text in rows:
                line = json.dumps({"id": number, "rating": rating, "label": label, "text": text}, ensure_ascii=False)
                packed.write((line + "\n").encode("utf-8"))
    if (root / "README").is_file():
        shutil.copyfile(root / "README", out / "README.aclImdb")


def convert_sst(source: Path, out: Path) -> None:
    """``trees/{train,dev,test}.txt``, unchanged."""
    for split in ("train", "dev", "test"):
        shutil.copyfile(_need(source / "trees" / f"{split}.txt"), out / f"{split}.txt")


def convert_sst2(source: Path, out: Path, sst: Path) -> None:
    """GLUE's ``SST-2/{train,dev,test}.tsv`` unchanged, plus ``test_labeled.tsv`` derived from the SST trees.

    GLUE withholds the test labels, but every GLUE test sentence is a
    non-neutral SST test sentence: its label is the tree's root label (0-1
    negative, 3-4 positive). See :func:`label_sst2_test`.
    """
    for split in ("train", "dev", "test"):
        shutil.copyfile(_need(source / "SST-2" / f"{split}.tsv"), out / f"{split}.tsv")
    label_sst2_test(out / "test.tsv", _need(sst / "test.txt"), out / "test_labeled.tsv")


def label_sst2_test(glue_test: Path, sst_test: Path, out: Path) -> dict:
    """Write ``index<TAB>sentence<TAB>label`` for GLUE's SST-2 test rows, labels from the SST test trees.

    A tree's sentence is its leaves joined by spaces, lowercased, with
    ``-LRB-``/``-RRB-`` as brackets (GLUE's form). GLUE respelled a few
    sentences (humour -> humor, wanna -> wan na); those take the closest
    non-neutral tree with at least 0.9 similarity. A row with no such tree, or
    whose tree is neutral, is an error: the derivation must be complete.
    Returns counts of exact and close matches.
    """
    import difflib

    from rnnbench.trees import read_trees

    labels: dict[str, int] = {}
    for tree in read_trees(sst_test):
        if tree.label is not None and tree.label != 2:
            labels.setdefault(_glue_form(" ".join(tree.words())), 0 if tree.label < 2 else 1)
    rows = [line.rstrip("\n").split("\t") for line in glue_test.read_text(encoding="utf-8").splitlines(True)]
    if not rows or rows[0][:2] != ["index", "sentence"]:
        raise RnnbenchError(f"{glue_test.name}: expected the header index<TAB>sentence")
    lines, exact, close = ["index\tsentence\tlabel"], 0, 0
    candidates = list(labels)
    for number, row in enumerate(rows[1:], 2):
        if len(row) < 2:
            raise RnnbenchError(f"{glue_test.name}:{number}: expected index<TAB>sentence")
        key = row[1].strip()
        if key in labels:
            exact += 1
        else:
            found = difflib.get_close_matches(key, candidates, n=1, cutoff=0.9)
            if not found:
                raise RnnbenchError(
                    f"{glue_test.name}:{number}: no non-neutral SST test tree matches "
                    f"{key[:60]!r}; cannot derive the test labels"
                )
            key, close = found[0], close + 1
        lines.append(f"{row[0]}\t{row[1]}\t{labels[key]}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"exact": exact, "close": close}


def _glue_form(sentence: str) -> str:
    return sentence.lower().replace("-lrb-", "(").replace("-rrb-", ")")


def convert_mr(source: Path, out: Path) -> None:
    """``rt-polaritydata/rt-polarity.{pos,neg}``, Windows-1252 re-encoded as UTF-8."""
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        text = _need(source / "rt-polaritydata" / name).read_bytes().decode("cp1252")
        (out / name).write_bytes(text.encode("utf-8"))


def convert_trec(source: Path, out: Path) -> None:
    """The two label files, unchanged (latin-1)."""
    for name in ("train_5500.label", "TREC_10.label"):
        shutil.copyfile(_need(source / name), out / name)


def convert_ag_news(source: Path, out: Path) -> None:
    """``train.csv`` and ``test.csv`` unchanged, plus ``classes.txt``."""
    for name in ("train.csv", "test.csv"):
        shutil.copyfile(_need(source / name), out / name)
    (out / "classes.txt").write_text("\n".join(AG_NEWS_CLASSES) + "\n", encoding="utf-8")
