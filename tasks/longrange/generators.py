"""Seeded generators of the two long-range problems, and the baselines a model has to beat.

Both problems put the information the answer needs at the start of a long
sequence and ask for it at the end, so a model succeeds only if gradient
reaches back across the whole stretch in between.

* **Adding problem** (Hochreiter & Schmidhuber 1997; the variant of Le et al.
  2015): inputs ``[B,T,2]``, channel 0 values uniform in [0, 1), channel 1 a
  marker with exactly two ones, one in the first half ``[0, T//2)`` and one in
  the second half ``[T//2, T)``; the target is the sum of the two marked
  values. Predicting the constant 1 (the mean of the sum) gives MSE
  ``Var(sum) = 2 * 1/12 = 1/6``: :func:`adding_baseline`.
* **Copy memory** (Arjovsky, Shah & Bengio 2016): token 0 is the blank, 1..8
  the symbols, 9 the delimiter. An input is 10 symbols, ``T - 1`` blanks, the
  delimiter, then 10 blanks (``T + 20`` steps, one-hot over 10 tokens); the
  target is a blank at every step but the last 10, which must repeat the 10
  symbols. A memoryless model outputs blanks until the delimiter and a uniform
  guess over the 8 symbols after it: ``10 log 8`` nats over ``T + 20`` scored
  steps, :func:`copy_baseline`.

Generators take a NumPy ``Generator``: the caller decides which stream (train,
dev, test) a batch comes from (:mod:`.task`).
"""

from __future__ import annotations

import math

import numpy as np

from rnnbench import RnnbenchError

PROBLEMS = ("adding", "copy")

#: Copy-memory alphabet: token ids of the blank and the delimiter, the symbol ids are 1..8.
BLANK, DELIMITER = 0, 9
SYMBOLS = 8
RECALL = 10  # symbols to remember
COPY_TOKENS = 10  # input one-hot size: blank, 8 symbols, delimiter
COPY_CLASSES = 9  # outputs: blank and the 8 symbols (the delimiter is never a target)


def check_seq_len(problem: str, seq_len) -> int:
    """The problem's length parameter ``T`` as an int, or a one-line error."""
    if problem not in PROBLEMS:
        raise RnnbenchError(f"unknown long-range problem {problem!r}; valid: {', '.join(PROBLEMS)}")
    smallest = 2 if problem == "adding" else 1
    why = "one marker in each half" if problem == "adding" else "the delimiter ends the blank stretch"
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < smallest:
        raise RnnbenchError(
            f"seq-len for the {problem} problem must be an integer >= {smallest} ({why}), got {seq_len!r}"
        )
    return int(seq_len)


def steps(problem: str, seq_len: int) -> int:
    """Steps a sequence of the problem has: ``T`` (adding) or ``T + 20`` (copy)."""
    return seq_len if problem == "adding" else seq_len + 2 * RECALL


def adding_batch(rng: np.random.Generator, batch: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs [B,T,2] float64, targets [B,1])`` of the adding problem."""
    T = check_seq_len("adding", seq_len)
    values = rng.random((batch, T))
    first = rng.integers(0, T // 2, size=batch)
    second = rng.integers(T // 2, T, size=batch)
    rows = np.arange(batch)
    marker = np.zeros((batch, T))
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    inputs = np.stack([values, marker], axis=2)
    targets = (values[rows, first] + values[rows, second])[:, None]
    return inputs, targets


def copy_tokens(rng: np.random.Generator, batch: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``(input token ids [B,T+20], target class ids [B,T+20])`` of the copy-memory task."""
    T = check_seq_len("copy", seq_len)
    symbols = rng.integers(1, SYMBOLS + 1, size=(batch, RECALL))
    tokens = np.full((batch, T + 2 * RECALL), BLANK, dtype=np.int64)
    tokens[:, :RECALL] = symbols
    tokens[:, T + RECALL - 1] = DELIMITER
    targets = np.full_like(tokens, BLANK)
    targets[:, -RECALL:] = symbols
    return tokens, targets


def one_hot(tokens: np.ndarray, size: int = COPY_TOKENS, dtype="float32") -> np.ndarray:
    """``[..., size]`` one-hot rows of ``tokens``."""
    return np.eye(size, dtype=dtype)[tokens]


def adding_baseline() -> float:
    """MSE of always predicting 1, the mean of the sum: the variance of a sum of two U[0,1) values."""
    return 1.0 / 6.0


def copy_baseline(seq_len: int) -> float:
    """Mean cross-entropy per step (nats) of the memoryless predictor over all ``T + 20`` steps."""
    return RECALL * math.log(SYMBOLS) / (seq_len + 2 * RECALL)


def baseline(problem: str, seq_len: int) -> float:
    return adding_baseline() if problem == "adding" else copy_baseline(seq_len)


# -- scores: (stacked outputs, stacked targets) -> float, as rnnbench.task.Prepared wants ------------


def mse(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error of ``outputs [N,1]`` against ``targets [N,1]``."""
    diff = np.asarray(outputs, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(np.sum(diff * diff, axis=1)))


def step_log_probs(outputs: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis, in float64."""
    logits = np.asarray(outputs, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def step_xent(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy (nats) over every scored (``>= 0``) step of ``outputs [N,S,C]``."""
    log_probs = step_log_probs(outputs)
    scored = targets >= 0
    picked = np.take_along_axis(log_probs, np.where(scored, targets, 0)[..., None], axis=-1)[..., 0]
    return float(-picked[scored].mean())


def recall_accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of the last 10 (recall) steps whose most likely class is the symbol to repeat."""
    recall = slice(-RECALL, None)
    return float(np.mean(np.argmax(outputs[:, recall], axis=-1) == targets[:, recall]))
