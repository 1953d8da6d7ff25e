"""Converters from each original download into the local layout of ``../shared/data``.

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

from rnnbench.data.readers import AG_NEWS_CLASSES
from rnnbench.errors import RnnbenchError

_IMDB_NAME = re.compile(r"(\d+)_(\d+)\.txt")


def _need(path: Path) -> Path:
    if not path.exists():
        raise RnnbenchError(f"the downloaded archive lacks {path.name} (looked for {path}); "
                            "its layout differs from the original")
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
        with open(out / f"{split}.jsonl.gz", "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed:
            for label, number, rating, text in rows:
                line = json.dumps({"id": number, "rating": rating, "label": label, "text": text},
                                  ensure_ascii=False)
                packed.write((line + "\n").encode("utf-8"))
    if (root / "README").is_file():
        shutil.copyfile(root / "README", out / "README.aclImdb")


def convert_sst(source: Path, out: Path) -> None:
    """``trees/{train,dev,test}.txt``, unchanged."""
    for split in ("train", "dev", "test"):
        shutil.copyfile(_need(source / "trees" / f"{split}.txt"), out / f"{split}.txt")


def convert_sst2(source: Path, out: Path) -> None:
    """GLUE's ``SST-2/{train,dev,test}.tsv``, unchanged (test labels are hidden by GLUE)."""
    for split in ("train", "dev", "test"):
        shutil.copyfile(_need(source / "SST-2" / f"{split}.tsv"), out / f"{split}.tsv")


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
