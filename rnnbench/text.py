"""Tokenisation and vocabulary for text tasks: documented, deterministic, built on train only.

Tokenisation: lowercase; the HTML line breaks of IMDB (``<br />``) become
spaces; a token is a run of letters and digits, with inner apostrophes kept
(``don't``, SST's ``n't``). Punctuation is dropped by the default ``words``
tokenizer and kept as one-character tokens by ``words+punct``.

Vocabulary ids: 0 is padding (never a real token), 1 is the unknown token;
then the training tokens seen at least ``min_count`` times, most frequent
first, ties broken alphabetically so that the ids are the same on every run,
capped at ``max_size`` ids in all.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from rnnbench.batching import PAD_ID
from rnnbench.errors import RnnbenchError

UNK_ID = 1
SPECIALS = ("<pad>", "<unk>")
TOKENIZERS = {
    "words": re.compile(r"[^\W_]+(?:'[^\W_]+)*"),
    "words+punct": re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]"),
}
TRUNCATE = ("head", "tail")


def tokenize(text: str, kind: str = "words") -> list[str]:
    if kind not in TOKENIZERS:
        raise RnnbenchError(f"unknown tokenizer {kind!r}; valid: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind].findall(text.lower().replace("<br />", " "))


class Vocabulary:
    """Token <-> id, with ids 0 (padding) and 1 (unknown) reserved."""

    def __init__(self, tokens: list[str]):
        self.tokens = list(SPECIALS) + list(tokens)
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        assert self.ids[SPECIALS[0]] == PAD_ID and self.ids[SPECIALS[1]] == UNK_ID

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, documents, max_size: int, min_count: int = 1) -> "Vocabulary":
        """The most frequent training tokens (count >= ``min_count``), at most ``max_size`` ids with the specials."""
        if max_size < len(SPECIALS) + 1:
            raise RnnbenchError(f"vocabulary size must be at least {len(SPECIALS) + 1}, got {max_size}")
        counts = Counter(token for document in documents for token in document)
        ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
        return cls([token for token, _ in ranked[: max_size - len(SPECIALS)]])

    def encode(self, tokens: list[str], max_length: int, truncate: str = "head") -> np.ndarray:
        """Ids of ``tokens`` (unknown -> 1), at most ``max_length`` of them; an empty text becomes ``[1]``.

        ``head`` keeps the first ``max_length`` tokens, ``tail`` the last ones.
        """
        if truncate not in TRUNCATE:
            raise RnnbenchError(f"unknown truncation {truncate!r}; valid: {', '.join(TRUNCATE)}")
        if len(tokens) > max_length:
            tokens = tokens[:max_length] if truncate == "head" else tokens[-max_length:]
        ids = [self.ids.get(token, UNK_ID) for token in tokens] or [UNK_ID]
        return np.asarray(ids, dtype=np.int64)
