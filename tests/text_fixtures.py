"""Small datasets written by the tests: the local layout (docs/design.md §5.2), the original archives, user files.

Nothing here copies real data; every text is made up, in each dataset's own format.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np

POSITIVE = ("good", "great", "fine", "superb", "lovely", "wonderful")
NEGATIVE = ("bad", "awful", "poor", "dull", "boring", "terrible")
FILLER = ("the", "film", "was", "a", "plot", "actor", "and", "it", "movie", "story")


def sentiment_texts(count: int, seed: int = 0) -> list[tuple[str, int]]:
    """Separable made-up reviews: label 1 texts hold positive words, label 0 negative ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        label = i % 2
        words = list(rng.choice(FILLER, size=rng.integers(3, 12)))
        cue = POSITIVE if label else NEGATIVE
        for _ in range(rng.integers(1, 3)):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cue)))
        rows.append((" ".join(words), label))
    return rows


def write_user_file(path: Path, rows, text_column="text", label_column="label", names=("neg", "pos")):
    """``rows`` of (text, label id) as .tsv, .csv or .jsonl, labels written as ``names``."""
    path = Path(path)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({text_column: t, label_column: names[y]}) + "\n" for t, y in rows))
        return path
    if path.suffix == ".tsv":  # TSV has no quoting (docs/data.md): a field is everything between two tabs
        table = [[label_column, text_column], *([names[y], t] for t, y in rows)]
        assert not any(set("\t\r\n") & set(cell) for row in table for cell in row), "TSV cannot hold that"
        path.write_text("".join("\t".join(row) + "\n" for row in table), encoding="utf-8")
        return path
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([label_column, text_column])
        writer.writerows([names[y], t] for t, y in rows)
    return path


# -- the local layout ---------------------------------------------------------------------------


def write_local_layout(root: Path, size: int = 40) -> Path:
    """A data directory with every textclf dataset in the local layout (docs/design.md §5.2), ``size`` rows a split."""
    rows = sentiment_texts(size)
    imdb = root / "imdb"
    imdb.mkdir(parents=True)
    for split in ("train", "test"):
        with gzip.open(imdb / f"{split}.jsonl.gz", "wt", encoding="utf-8") as handle:
            for i, (text, label) in enumerate(rows):
                handle.write(
                    json.dumps({"id": i, "rating": 8 if label else 2, "label": label, "text": text + " <br />end"})
                    + "\n"
                )
    sst2 = root / "sst2"
    sst2.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (sst2 / name).write_text("sentence\tlabel\n" + "".join(f"{t} \t{y}\n" for t, y in rows))
    (sst2 / "test_labeled.tsv").write_text(
        "index\tsentence\tlabel\n" + "".join(f"{i}\t{t}\t{y}\n" for i, (t, y) in enumerate(rows))
    )
    mr = root / "mr"
    mr.mkdir()
    (mr / "rt-polarity.pos").write_text("".join(f"{t} \n" for t, y in rows if y), encoding="utf-8")
    (mr / "rt-polarity.neg").write_text("".join(f"{t} \n" for t, y in rows if not y), encoding="utf-8")
    trec = root / "trec"
    trec.mkdir()
    coarse = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    lines = "".join(f"{coarse[i % 6]}:other What is {t} ?\n" for i, (t, _) in enumerate(rows))
    for name in ("train_5500.label", "TREC_10.label"):
        (trec / name).write_bytes(lines.replace("What is", "Qu\u00e9 is", 1).encode("latin-1"))
    ag = root / "ag_news"
    ag.mkdir()
    (ag / "test.csv").write_text(_ag_csv(rows))
    return root


def _ag_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([str(i % 4 + 1), f"Title {i}", text + "\\back"] for i, (text, _) in enumerate(rows))
    return out.getvalue()


# -- original archives, as the authors ship them ---------------------------------------------------


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as package:
        for name, data in files.items():
            package.writestr(name, data)
    return path


def original_files(folder: Path) -> dict[str, Path]:
    """Download file name -> a small file in that dataset's original format."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = sentiment_texts(12)
    imdb = {"aclImdb/README": b"readme\n", "aclImdb/train/urls_pos.txt": b"http://x\n"}
    for split in ("train", "test"):
        for i, (text, label) in enumerate(rows):
            polarity, rating = ("pos", 9) if label else ("neg", 3)
            imdb[f"aclImdb/{split}/{polarity}/{i}_{rating}.txt"] = f"{text} caf\u00e9<br />".encode()
    tree = b"(3 (2 a) (3 good))\n(1 (2 -LRB-a) (1 bad-RRB-))\n(2 (2 so) (2 so))\n"
    sst2_rows = "".join(f"{t} \t{y}\n" for t, y in rows)
    coarse = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    trec = "".join(f"{coarse[i % 6]}:x What {t} ?\n" for i, (t, _) in enumerate(rows)).encode("latin-1")
    return {
        "aclImdb_v1.tar.gz": _tar(folder / "aclImdb_v1.tar.gz", imdb),
        "trainDevTestTrees_PTB.zip": _zip(
            folder / "trainDevTestTrees_PTB.zip", {f"trees/{s}.txt": tree for s in ("train", "dev", "test")}
        ),
        "SST-2.zip": _zip(
            folder / "SST-2.zip",
            {
                "SST-2/train.tsv": ("sentence\tlabel\n" + sst2_rows).encode(),
                "SST-2/dev.tsv": ("sentence\tlabel\n" + sst2_rows).encode(),
                "SST-2/test.tsv": b"index\tsentence\n0\t(a bad)\n1\ta good\n",
            },
        ),
        "rt-polaritydata.tar.gz": _tar(
            folder / "rt-polaritydata.tar.gz",
            {
                "rt-polaritydata/rt-polarity.pos": "".join(f"{t} \u2014 \n" for t, y in rows if y).encode("cp1252"),
                "rt-polaritydata/rt-polarity.neg": "".join(f"{t} \n" for t, y in rows if not y).encode("cp1252"),
                "rt-polaritydata.README.1.0.txt": b"readme\n",
            },
        ),
        "train_5500.label": _write(folder / "train_5500.label", trec),
        "TREC_10.label": _write(folder / "TREC_10.label", trec),
        "train.csv": _write(folder / "train.csv", _ag_csv(rows).encode()),
        "test.csv": _write(folder / "test.csv", _ag_csv(rows).encode()),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def evil_tar(path: Path, kind: str) -> Path:
    """A tar.gz with one unsafe member: ``traversal``, ``absolute`` or ``symlink``."""
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(
            {
                "traversal": "aclImdb/../../escaped.txt",
                "absolute": "/tmp/rnnbench-escaped.txt",
                "symlink": "aclImdb/link",
            }[kind]
        )
        if kind == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
        else:
            data = b"escaped\n"
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def evil_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("SST-2/../../escaped.txt", b"escaped\n")
    return path
