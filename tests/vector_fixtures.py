"""Word vector files and the frozen-embedding training run, shared by tests/test_vectors.py and the fresh
processes it starts for TensorFlow and JAX (not a test module itself, so a subprocess imports no test module)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from rnnbench import get_backend
from rnnbench.tasks.treesent.task import TreeSentiment

from sst_fixtures import write_sst


def write(path: Path, lines, compress=False) -> Path:
    """``lines`` written to ``path``, one a line, gzip-compressed when asked; the path."""
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def vectors_file(folder: Path) -> Path:
    """Vectors for most of test_treesent's words, cased as SST is (the vocabulary is lower-cased)."""
    rng = np.random.default_rng(5)
    words = ("good", "bad", "film", "The", "plot", "is", "not", "fun", "elsewhere")
    return write(folder / "vec.txt", [f"{w} " + " ".join(f"{v:.5f}" for v in rng.uniform(-1, 1, 6)) for w in words])


def frozen_run(backend: str, model: str, folder: str, steps: int = 3) -> dict:
    """Train ``steps`` batches of a tiny treesent model with frozen vectors (float64); what changed."""
    folder = Path(folder)
    sst = folder / "data" / "sst"
    if not sst.exists():
        write_sst(sst)
    task = TreeSentiment()
    given = {
        "model": model,
        "data_dir": str(sst.parent),
        "batch_size": 8,
        "dtype": "float64",
        "l2": 1e-3,
        "vectors": str(vectors_file(folder)),
        "freeze_embeddings": True,
    }
    if model != "recursive":
        given["hidden_size"] = 5
    prepared = task.prepare(task.resolve_config(given))
    start = prepared.init_params(prepared.spec, 0)
    net = get_backend(backend).build_model(prepared.spec, start)
    losses = [float(net.train_step(*batch.inputs, batch.targets)) for batch in prepared.train_batches(0, 1)[:steps]]
    end = net.get_params()
    return {
        "losses": losses,
        "embedding_kept": bool(np.array_equal(end["embedding"], start["embedding"])),
        "others_moved": all(not np.array_equal(end[k], start[k]) for k in start if k != "embedding"),
    }


FROZEN_MODELS = ("recursive", "treelstm", "lstm")
