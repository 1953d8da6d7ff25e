"""Pretrained word vectors (``--vectors FILE``): read once, streamed, only the vocabulary's words kept.

Why a module of its own: a GloVe file is gigabytes (glove.840B.300d.txt, 5.6 GB,
2.2M words) while a task's vocabulary is tens of thousands of words, so the file
is read line by line and only the vectors of vocabulary words are kept: memory
follows the vocabulary, never the file. The same single pass hashes the file's
bytes (sha256, the compressed bytes of a ``.gz``), so the run record names
exactly which vectors it started from.

Format: text, one word a line followed by its values, separated by single
spaces (GloVe); word2vec's text format adds a first line ``count dim`` (a first
line of two integers is read as that header). gzip is recognised by its magic
bytes, whatever the name. The dimension is the first vector line's. GloVe 840B
holds a few words with spaces in them: a line with more fields than ``dim + 1``
takes its last ``dim`` fields as the vector and the rest as the word (such a
word can never match a vocabulary token, which has no spaces). Values are
parsed for vocabulary words only; a line with too few fields, a bad value in a
kept vector, bytes that are not UTF-8 end the read with one line naming
``file:line``. word2vec's binary format (GoogleNews-vectors-negative300.bin) is
not read.

Matching: a vocabulary word takes the file word spelled exactly the same; when
the task lower-cases its vocabulary (``lowercase=True``) and the file is cased,
a file word whose lower-case form is a vocabulary word fills it if no exact
match exists (an exact match beats a lower-cased one wherever it comes in the
file; among lower-cased ones the first wins). Padding and unknown (ids 0 and 1)
never take a vector: they keep the seeded draw, as every word the file lacks.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.text import SPECIALS

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


@dataclass
class Pretrained:
    """What was read: ``rows [V, dim]`` (float64; zero where nothing was found), ``found [V]``, ``info``."""

    rows: np.ndarray
    found: np.ndarray
    info: dict

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    def init_params(self, base):
        """``(spec, seed) -> params``: ``base``'s seeded draw with the found words' embedding rows overwritten."""
        rows, found = self.rows, self.found

        def init(spec, seed: int) -> dict:
            params = base(spec, seed)
            embedding = params["embedding"]
            if embedding.shape != rows.shape:
                raise RnnbenchError(
                    f"the embedding is {embedding.shape[0]}x{embedding.shape[1]}, "
                    f"the vectors {rows.shape[0]}x{rows.shape[1]}"
                )
            embedding = embedding.copy()
            embedding[found] = rows[found].astype(embedding.dtype)
            params["embedding"] = embedding
            return params

        return init


class _HashingReader(io.RawIOBase):
    """The file's bytes, hashed as they are read (so one pass both parses and checksums)."""

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
        return n

    def drain(self) -> None:
        """Hash the rest of the file (bytes after the gzip stream, or after an early end)."""
        buffer = bytearray(CHUNK)
        while self.readinto(buffer):
            pass


def _open(path: Path):
    """Check ``path`` names a readable file; return it opened in binary, and whether it is gzip."""
    if not path.exists():
        from rnnbench.data.readers import why_missing

        reason = why_missing(path)
        raise RnnbenchError(
            f"--vectors {path}: no such file" if reason == "does not exist" else f"--vectors {path} {reason}"
        )
    if path.is_dir():
        raise RnnbenchError(f"--vectors {path} is a directory; give the vectors file itself")
    if not path.is_file():
        raise RnnbenchError(f"--vectors {path} is not a regular file")
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise RnnbenchError(f"--vectors {path}: {error.strerror or error}") from None
    is_gzip = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    return handle, is_gzip


def _lines(path: Path):
    """``(reader, is_gzip, line iterator)``: lines as bytes, decompressed when the file is gzip."""
    handle, is_gzip = _open(path)
    reader = _HashingReader(handle)
    buffered = io.BufferedReader(reader, CHUNK)
    stream = gzip.GzipFile(fileobj=buffered, mode="rb") if is_gzip else buffered
    return handle, reader, is_gzip, stream


def _split(raw: bytes, path, number: int) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RnnbenchError(
            f"{path}:{number}: not UTF-8 text (byte {error.start} of the line); a vectors file is "
            "text (word2vec's binary .bin format is not read: convert it to text)"
        ) from None
    text = text.rstrip("\r\n ")
    if number == 1 and text.startswith("\ufeff"):
        text = text[1:]
    return text.split(" ") if text else []


def _header(fields: list[str]) -> tuple[int, int] | None:
    """``(count, dim)`` when a first line is word2vec's header (two integers), else None."""
    if len(fields) != 2:
        return None
    try:
        return int(fields[0]), int(fields[1])
    except ValueError:
        return None


def read_vectors(
    path, vocabulary_tokens, lowercase: bool = False, token_counts=None, frozen: bool = False, dtype: str = "float64"
) -> Pretrained:
    """The vectors of ``vocabulary_tokens`` (ids 0 and 1 the specials, never matched) found in ``path``.

    ``token_counts`` (word -> count over the training tokens, every token counted,
    unknown ones included) adds ``coverage_train_tokens`` to the info. A value the
    run's ``dtype`` cannot hold (past float32's 3.4e38) is refused with its line,
    rather than becoming an infinite weight.
    """
    largest = float(np.finfo(dtype).max)
    path = Path(path)
    tokens = list(vocabulary_tokens)
    ids = {token: i for i, token in enumerate(tokens) if i >= len(SPECIALS)}
    handle, reader, is_gzip, stream = _lines(path)
    rows = found = lowered = None
    exact = None
    fmt, dim, header_count, file_words, spaced = "glove", None, None, 0, 0
    number = 0
    try:
        try:
            for number, raw in enumerate(stream, start=1):
                fields = _split(raw, path, number)
                if not fields:
                    continue
                if dim is None:
                    header = _header(fields) if number == 1 else None
                    if header is not None:
                        header_count, dim = header
                        fmt = "word2vec"
                        if dim < 1:
                            raise RnnbenchError(
                                f"{path}:1: the word2vec header gives dimension {dim}; it must be at least 1"
                            )
                        continue
                    dim = len(fields) - 1
                    if dim < 1:
                        raise RnnbenchError(
                            f"{path}:{number}: a word with no values (dimension 0); "
                            "each line is a word and its vector's values"
                        )
                if rows is None:
                    rows = np.zeros((len(tokens), dim))
                    exact = np.zeros(len(tokens), dtype=bool)
                    lowered = np.zeros(len(tokens), dtype=bool)
                file_words += 1
                if len(fields) != dim + 1:
                    if len(fields) < dim + 1:
                        raise RnnbenchError(
                            f"{path}:{number}: {len(fields) - 1} values where the file's vectors "
                            f"have {dim} (dimension set by line {2 if fmt == 'word2vec' else 1})"
                        )
                    spaced += 1  # GloVe 840B: a word with spaces in it, which no vocabulary token has
                    continue
                word = fields[0]
                index = ids.get(word)
                by_case = False
                if index is None or exact[index]:
                    if not lowercase or index is not None:
                        continue
                    index = ids.get(word.lower())
                    if index is None or exact[index] or lowered[index]:
                        continue
                    by_case = True
                try:
                    vector = np.array(fields[1:], dtype=np.float64)
                except ValueError:
                    bad = next(v for v in fields[1:] if not _is_float(v))
                    raise RnnbenchError(
                        f"{path}:{number}: value {bad[:40]!r} of word {word[:40]!r} is not a number"
                    ) from None
                if not np.all(np.isfinite(vector)):
                    raise RnnbenchError(f"{path}:{number}: word {word[:40]!r} has a value that is not finite")
                if np.any(np.abs(vector) > largest):
                    value = fields[1 + int(np.argmax(np.abs(vector) > largest))]
                    raise RnnbenchError(
                        f"{path}:{number}: value {value[:40]} of word {word[:40]!r} is beyond the "
                        f"largest {dtype} ({largest:.4g}), the run's --dtype; rescale the vectors "
                        "or use --dtype float64"
                    )
                rows[index] = vector
                if by_case:
                    lowered[index] = True
                else:
                    exact[index] = True
                    lowered[index] = False
        except (OSError, EOFError, zlib.error) as error:
            if not is_gzip:
                raise RnnbenchError(f"--vectors {path}: {getattr(error, 'strerror', None) or error}") from None
            raise RnnbenchError(f"{path}:{number + 1}: the gzip stream is damaged ({error})") from None
        reader.drain()
    finally:
        handle.close()
    if dim is None or rows is None:
        raise RnnbenchError(f"--vectors {path} holds no vectors (an empty file, or a header alone)")
    found = exact | lowered
    vocabulary_words = max(len(tokens) - len(SPECIALS), 0)
    info = {
        "file": path.name,
        "path": str(path),
        "bytes": os.path.getsize(path),
        "sha256": reader.sha256.hexdigest(),
        "format": fmt,
        "gzip": is_gzip,
        "dim": dim,
        "file_words": file_words,
        "vocabulary_words": vocabulary_words,
        "found": int(found.sum()),
        "found_lowercased": int(lowered.sum()),
        "coverage_types": round(float(found.sum()) / vocabulary_words, 4) if vocabulary_words else 0.0,
    }
    if header_count is not None:
        info["header_words"] = header_count
    if spaced:
        info["words_with_spaces"] = spaced
    if token_counts is not None:
        total = sum(token_counts.values())
        covered = sum(count for word, count in token_counts.items() if word in ids and found[ids[word]])
        info["coverage_train_tokens"] = round(covered / total, 4) if total else 0.0
    info["frozen"] = bool(frozen)
    return Pretrained(rows=rows, found=found, info=info)


def peek_dim(path) -> int:
    """The vectors' dimension from the file's first lines, without reading the rest (checked again by
    :func:`read_vectors`); the same one-line errors for a missing, empty or malformed start."""
    path = Path(path)
    handle, reader, is_gzip, stream = _lines(path)
    try:
        for number, raw in enumerate(stream, start=1):
            fields = _split(raw, path, number)
            if not fields:
                continue
            header = _header(fields) if number == 1 else None
            dim = header[1] if header is not None else len(fields) - 1
            if dim < 1:
                raise RnnbenchError(f"{path}:{number}: dimension {dim}; vectors need at least one value")
            return dim
    except (OSError, EOFError, zlib.error) as error:
        raise RnnbenchError(f"--vectors {path}: cannot read it ({error})") from None
    finally:
        handle.close()
    raise RnnbenchError(f"--vectors {path} holds no vectors (an empty file)")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def describe(info: dict) -> str:
    """One note for the user: how much of the vocabulary the file covered."""
    text = (
        f"vectors {info['file']}: {info['found']} of {info['vocabulary_words']} vocabulary words found "
        f"({100 * info['coverage_types']:.1f}%"
    )
    if "coverage_train_tokens" in info:
        text += f", {100 * info['coverage_train_tokens']:.1f}% of training tokens"
    text += f"); dimension {info['dim']} sets the embedding size"
    if info["found_lowercased"]:
        text += f"; {info['found_lowercased']} matched through lower-casing"
    return text + ("; the embedding is frozen" if info["frozen"] else "")


def vectors_option(config: dict):
    """The ``--vectors`` path of a resolved config, None when there is none (``none`` typed in a sweep too)."""
    value = config.get("vectors")
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return str(value)


def is_set(value) -> bool:
    """A flag's value as given on a command line (True) or in a sweep file (``true``, ``yes``, 1)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def sizes_from_vectors(config: dict, dim: int, hidden_follows: bool = False) -> dict:
    """``config`` with ``embed_size`` (and, for a net whose embedding is its state, ``hidden_size``) set by
    the vectors' dimension; one line when the user asked for another size. A size the user left out
    resolves to None when ``--vectors`` is given (the task's ``resolve_config``)."""
    path = vectors_option(config)
    config = dict(config)
    given = config.get("embed_size")
    if given is not None and int(given) != dim:
        raise RnnbenchError(
            f"--embed-size {given} differs from the dimension {dim} of --vectors {path}; "
            "leave --embed-size out: the vectors set the embedding size"
        )
    config["embed_size"] = dim
    if hidden_follows:
        given = config.get("hidden_size")
        if given is not None and int(given) != dim:
            raise RnnbenchError(
                f"a {config.get('model')} net's word vectors are its hidden states: --hidden-size "
                f"{given} differs from the dimension {dim} of --vectors {path}; leave "
                "--hidden-size out (it follows the vectors)"
            )
        config["hidden_size"] = dim
    return config


FROZEN_RANDOM_NOTE = "--freeze-embeddings without --vectors: the embedding keeps its random draw all through training"


def add_vector_options(group) -> None:
    """``--vectors`` and ``--freeze-embeddings``, for a task with a word embedding."""
    group.add_argument(
        "--vectors",
        metavar="FILE",
        help="pretrained word vectors, GloVe or word2vec text format, optionally .gz; their "
        "dimension sets the embedding size; words not in the file start at the usual random draw",
    )
    group.add_argument(
        "--freeze-embeddings", action="store_true", default=None, help="keep the (pretrained) embedding fixed"
    )


def sizes_left_to_vectors(config: dict, given: dict, hidden_follows: bool = False) -> dict:
    """A resolved config whose sizes the vectors file will set: ``embed_size`` (and ``hidden_size`` when
    it follows) None unless the user gave it, so that the record does not claim a default size it did
    not run with and :func:`sizes_from_vectors` can tell a size the user asked for."""
    if vectors_option(config) is None:
        return config
    keys = ("embed_size", "hidden_size") if hidden_follows else ("embed_size",)
    return {**config, **{key: None for key in keys if given.get(key) is None}}
