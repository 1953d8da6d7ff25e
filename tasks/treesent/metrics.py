"""Sentiment-treebank metrics, as the literature reports them, and the figures to read ours against.

SST labels are 0..4 (very negative .. very positive). Three numbers:

* ``root_fine`` — 5-class accuracy on whole sentences (roots);
* ``root_binary`` — negative (0, 1) vs positive (3, 4) on the roots whose gold
  label is not neutral (2), the neutral sentences left out as in Socher et al.
  (2013). A binary model (``labels=binary``, two outputs, trained without the
  neutral phrases, as the literature's binary rows are) calls its argmax; a
  fine-grained model calls the larger of P(0)+P(1) and P(3)+P(4);
* ``all_fine`` — 5-class accuracy over every node (phrases and words);
  ``all_binary`` its binary twin over the non-neutral nodes.

Scores read ``targets [N, 2]``: the gold label and a root flag per output row.
"""

from __future__ import annotations

import numpy as np

from rnnbench import RnnbenchError

NEUTRAL = 2

#: Published test figures (percent) beside which our tables print their own.
PUBLISHED = [
    {
        "source": "Socher et al. 2013, EMNLP (Table 1)",
        "model": "recursive",
        "metric": "root_fine",
        "value": 43.2,
        "note": "RNN, trained word vectors (d=25-35), no pretraining",
    },
    {
        "source": "Socher et al. 2013, EMNLP (Table 1)",
        "model": "recursive",
        "metric": "root_binary",
        "value": 82.4,
        "note": "RNN; a separate binary model",
    },
    {
        "source": "Socher et al. 2013, EMNLP (Table 1)",
        "model": "recursive",
        "metric": "all_fine",
        "value": 79.0,
        "note": "RNN",
    },
    {
        "source": "Tai et al. 2015, ACL (Table 2)",
        "model": "treelstm",
        "metric": "root_fine",
        "value": 51.0,
        "note": "constituency Tree-LSTM, GloVe 300d vectors (ours: none)",
    },
    {
        "source": "Tai et al. 2015, ACL (Table 2)",
        "model": "treelstm",
        "metric": "root_binary",
        "value": 88.0,
        "note": "constituency Tree-LSTM, GloVe, a separate binary model",
    },
    {
        "source": "Tai et al. 2015, ACL (Table 2)",
        "model": "lstm",
        "metric": "root_fine",
        "value": 46.4,
        "note": "sequential LSTM, GloVe",
    },
    {
        "source": "Tai et al. 2015, ACL (Table 2)",
        "model": "lstm",
        "metric": "root_binary",
        "value": 84.9,
        "note": "sequential LSTM, GloVe",
    },
]


def _split(outputs: np.ndarray, targets: np.ndarray):
    targets = np.asarray(targets)
    if targets.ndim != 2 or targets.shape[1] != 2 or len(targets) != len(outputs):
        raise RnnbenchError(f"tree scores need targets [N, 2] (label, is_root), got {targets.shape}")
    return np.asarray(outputs), targets[:, 0], targets[:, 1].astype(bool)


def root_fine(outputs: np.ndarray, targets: np.ndarray) -> float:
    """5-class accuracy over the root rows: the dev-selection metric."""
    outputs, labels, roots = _split(outputs, targets)
    if not roots.any():
        raise RnnbenchError("cannot score a split without sentences")
    return float(np.mean(outputs[roots].argmax(axis=1) == labels[roots]))


def to_binary(labels: np.ndarray) -> np.ndarray:
    """SST labels as binary training targets: 0, 1 -> 0; 3, 4 -> 1; neutral -> -1 (not scored)."""
    labels = np.asarray(labels)
    return np.where(labels == NEUTRAL, -1, (labels > NEUTRAL).astype(np.int64))


def binary_calls(logits: np.ndarray) -> np.ndarray:
    """1 for a positive call: a binary model's argmax, a fine-grained one's P(3)+P(4) > P(0)+P(1)."""
    if logits.shape[1] == 2:
        return logits.argmax(axis=1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return (probs[:, 3:].sum(axis=1) > probs[:, :2].sum(axis=1)).astype(np.int64)


def root_binary(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Positive vs negative over the non-neutral roots: the dev-selection metric of a binary model."""
    outputs, labels, roots = _split(outputs, targets)
    polar = roots & (labels != NEUTRAL)
    if not polar.any():
        raise RnnbenchError("cannot score a split without non-neutral sentences")
    return _binary_accuracy(outputs, labels, polar)


def _binary_accuracy(outputs: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> float:
    """Positive/negative calls against the gold side on ``rows`` (non-neutral rows only)."""
    return float(np.mean(binary_calls(outputs[rows]) == (labels[rows] > NEUTRAL)))


def sentiment_metrics(outputs: np.ndarray, targets: np.ndarray) -> dict:
    """Every figure the outputs allow (fine ones need 5 classes), and how many rows each read."""
    outputs, labels, roots = _split(outputs, targets)
    polar = labels != NEUTRAL
    fine = outputs.shape[1] == 5
    metrics = {"roots": int(roots.sum()), "binary_roots": int((roots & polar).sum())}
    if fine:
        metrics["root_fine"] = root_fine(outputs, targets)
    if metrics["binary_roots"]:
        metrics["root_binary"] = root_binary(outputs, targets)
    if not roots.all():  # tree models score every node; sequence models only sentences
        metrics["nodes"] = int(len(labels))
        if fine:
            metrics["all_fine"] = float(np.mean(outputs.argmax(axis=1) == labels))
        metrics["all_binary"] = _binary_accuracy(outputs, labels, polar)
    return metrics
