"""Seeded batching of variable-length sequences: bucketing by length, padding with id 0.

Sequences of similar length share a batch so that little time goes into padded
steps; which sequences share a batch, and in which order batches come, depend
only on the seed and the epoch, so every backend sees the same stream.
Padding uses id 0, a valid row of the embedding, because every position is
looked up (rnnbench.model); the encoder's masking keeps it out of the result.
"""

from __future__ import annotations

import numpy as np

PAD_ID = 0
#: How many batches' worth of examples are sorted by length together before cutting batches.
BUCKET_POOL = 50


def training_order(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int, pool: int = BUCKET_POOL
) -> list[np.ndarray]:
    """Index arrays, one a batch, for one epoch: shuffle, sort pools by length, cut, shuffle batches."""
    rng = np.random.default_rng([seed, epoch, 0x7E47])
    order = rng.permutation(len(lengths))
    batches = []
    window = max(1, batch_size * pool)
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def evaluation_order(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index arrays sorted by length (no randomness): the least padding for a fixed split."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad(sequences: list[np.ndarray], indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [B, T] int64 padded with PAD_ID, lengths [B] int64)`` for the chosen sequences."""
    lengths = np.array([len(sequences[i]) for i in indices], dtype=np.int64)
    ids = np.full((len(indices), int(lengths.max())), PAD_ID, dtype=np.int64)
    for row, i in enumerate(indices):
        ids[row, : lengths[row]] = sequences[i]
    return ids, lengths
