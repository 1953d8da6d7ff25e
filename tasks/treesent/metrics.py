"""Sentiment-treebank metrics, as the literature reports them, and the figures to read ours against.

SST labels are 0..4 (very negative .. very positive). Three numbers:

* ``root_fine`` — 5-class accuracy on whole sentences (roots);
* ``root_binary`` — negative (0, 1) vs positive (3, 4) on the roots whose gold
  label is not neutral (2), the neutral sentences left out as in Socher et al.
  (2013). One fine-grained model serves both: its binary call is the larger of
  P(0)+P(1) and P(3)+P(4), so the binary figure never sees a neutral class;
* ``all_fine`` — 5-class accuracy over every node (phrases and words).

Scores read ``targets [N, 2]``: the gold label and a root flag per output row.
"""
from __future__ import annotations

import numpy as np

from rnnbench.errors import RnnbenchError

NEUTRAL = 2

#: Published test figures (percent) beside which our tables print their own.
PUBLISHED = [
    {"source": "Socher et al. 2013, EMNLP (Table 1)", "model": "recursive", "metric": "root_fine", "value": 43.2,
     "note": "RNN, trained word vectors (d=25-35), no pretraining"},
    {"source": "Socher et al. 2013, EMNLP (Table 1)", "model": "recursive", "metric": "root_binary", "value": 82.4,
     "note": "RNN; a separate binary model"},
    {"source": "Socher et al. 2013, EMNLP (Table 1)", "model": "recursive", "metric": "all_fine", "value": 79.0,
     "note": "RNN"},
    {"source": "Tai et al. 2015, ACL (Table 2)", "model": "treelstm", "metric": "root_fine", "value": 51.0,
     "note": "constituency Tree-LSTM, GloVe 300d vectors (ours: none)"},
    {"source": "Tai et al. 2015, ACL (Table 2)", "model": "treelstm", "metric": "root_binary", "value": 88.0,
     "note": "constituency Tree-LSTM, GloVe, a separate binary model"},
    {"source": "Tai et al. 2015, ACL (Table 2)", "model": "lstm", "metric": "root_fine", "value": 46.4,
     "note": "sequential LSTM, GloVe"},
    {"source": "Tai et al. 2015, ACL (Table 2)", "model": "lstm", "metric": "root_binary", "value": 84.9,
     "note": "sequential LSTM, GloVe"},
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


def binary_calls(logits: np.ndarray) -> np.ndarray:
    """1 where P(3)+P(4) exceeds P(0)+P(1): a fine-grained model's positive/negative call."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return (probs[:, 3:].sum(axis=1) > probs[:, :2].sum(axis=1)).astype(np.int64)


def sentiment_metrics(outputs: np.ndarray, targets: np.ndarray) -> dict:
    """``root_fine``, ``root_binary`` (neutral roots excluded), ``all_fine`` and how many rows each read."""
    outputs, labels, roots = _split(outputs, targets)
    polar = roots & (labels != NEUTRAL)
    metrics = {"root_fine": root_fine(outputs, targets), "roots": int(roots.sum()), "binary_roots": int(polar.sum())}
    if polar.any():
        metrics["root_binary"] = float(np.mean(binary_calls(outputs[polar]) == (labels[polar] > NEUTRAL)))
    if not roots.all():  # tree models score every node; sequence models only sentences
        metrics["all_fine"] = float(np.mean(outputs.argmax(axis=1) == labels))
        metrics["nodes"] = int(len(labels))
    return metrics
