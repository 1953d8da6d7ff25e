"""``rnnbench bench --suite lengths``: what ragged text costs on each framework, batched four ways.

Real text is ragged (IMDB reviews run from 10 to about 2,500 words, TREC questions from 2 to 33),
and what a user pays is decided by how much padding the batches carry and how a framework skips
it. Every row times forward+backward of the textclf model (embedding -> encoder -> mean over the
real steps -> linear head -> cross-entropy; the task's default sizes) over the same few batches of
one dataset's real lengths, batched by one **strategy**:

``random``
    shuffle, cut into batches, pad each to its longest text (what a plain data loader does);
``bucketed``
    the tasks' own batching (:func:`rnnbench.batching.training_order`: pools of 50 batches sorted by
    length, then cut), what ``rnnbench run`` trains on;
``sorted``
    the whole split sorted by length, cut, batches shuffled (the least padding a batch order can have);
``packed``
    the random batches through the framework's own path that skips padded steps (torch
    ``pack_padded_sequence``; NumPy's ragged loop over the rows still running). A framework whose
    ragged path still computes every padded step (Keras masks, JAX length masks: that *is* its
    ``random`` row) has no ``packed`` row: it is ``unsupported``, with the reason.

The batch size is fixed by a **token budget**: ``round(budget / mean length)`` texts, so a batch
holds ``budget`` real tokens on average whatever the dataset (IMDB 18 texts, TREC about 450). Each
strategy's epoch is planned over the whole training split (its ``epoch_padding_fraction``); the
timed call runs :data:`TIMED_BATCHES` of its batches picked at evenly spaced quantiles of their
padded size, so long and short batches are both in it. Rows record ``padding_fraction`` (padded
steps over all steps of the timed batches), ``real_tokens``, ``useful_tokens_per_s`` (real tokens
only) and ``ms_per_1k_tokens``; the rows of one backend and dataset are timed in interleaved rounds,
so ``ratio_to_fastest`` is each strategy's ratio to that backend's best one, with its interval.

Lengths come from the dataset's training split, tokenized as the textclf task does (words,
lower-cased, untruncated: the lengths as they are). A dataset that cannot be read (absent and
``--offline``, or a download that fails) uses the recorded histogram of its lengths
(``length_histograms.json``, written by ``python -m rnnbench.bench.lengths --record``), and the row
says so (``lengths_source``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from rnnbench.errors import RnnbenchError, UnsupportedError

DATASETS = ("imdb", "sst2", "trec")
STRATEGIES = ("random", "bucketed", "sorted", "packed")
#: Real tokens a batch holds on average (the batch size is this over the mean length).
TOKEN_BUDGET = 4096
#: Batches of one timed call (picked at evenly spaced quantiles of the epoch's padded sizes).
TIMED_BATCHES = 6
SEED = 0
HISTOGRAMS = Path(__file__).with_name("length_histograms.json")
#: Why a backend without a padding-skipping path has no ``packed`` row.
NO_SKIP_PATH = (
    "{backend} has no path that skips padded steps: its ragged path masks them and still "
    "computes every step (that is its random row)"
)


# ---------------------------------------------------------------------- lengths of a dataset


def dataset_lengths(name: str, data_dir=None) -> tuple[np.ndarray, dict]:
    """``(lengths of the training texts, source)``: the data's, else the recorded histogram's (seeded).

    Empty texts (no word after tokenizing: SST-2 has two) are left out: a batch of them teaches nothing.
    """
    try:
        from rnnbench.data.readers import read_builtin
        from rnnbench.text import tokenize

        texts = read_builtin(name, data_dir).splits["train"].texts
        lengths = np.array([len(tokenize(text)) for text in texts], dtype=np.int64)
        source = {
            "source": name,
            "split": "train",
            "tokenizer": "words",
            "texts": int(len(lengths)),
            "empty_left_out": int((lengths == 0).sum()),
        }
        return lengths[lengths > 0], source
    except RnnbenchError as exc:
        lengths, recorded = histogram_lengths(name)
        return lengths, {
            "source": "synthetic",
            "histogram_of": name,
            "recorded": recorded,
            "why": str(exc).splitlines()[0],
            "texts": int(len(lengths)),
            "seed": SEED,
        }


def histogram_lengths(name: str) -> tuple[np.ndarray, str]:
    """As many seeded lengths as the recorded split had texts, drawn from its recorded length counts."""
    histograms = json.loads(HISTOGRAMS.read_text())
    if name not in histograms:
        raise RnnbenchError(f"no recorded length histogram for {name!r}; recorded: {', '.join(histograms)}")
    entry = histograms[name]
    values = np.array([int(k) for k in entry["counts"]], dtype=np.int64)
    counts = np.array(list(entry["counts"].values()), dtype=np.float64)
    rng = np.random.default_rng([SEED, 0x1E46])
    drawn = rng.choice(values, size=int(counts.sum()), p=counts / counts.sum())
    return drawn, entry["recorded"]


def record_histograms(data_dir=None, out=HISTOGRAMS) -> dict:
    """Write every dataset's exact length counts (what ``--offline`` falls back on); returns them."""
    from datetime import date

    histograms = {}
    for name in DATASETS:
        lengths, source = dataset_lengths(name, data_dir)
        if source["source"] == "synthetic":
            raise RnnbenchError(f"cannot record {name}'s histogram: {source['why']}")
        values, counts = np.unique(lengths, return_counts=True)
        histograms[name] = {
            "recorded": f"{name} train split, words tokenizer, {date.today().isoformat()}",
            "counts": {str(int(v)): int(c) for v, c in zip(values, counts)},
        }
    out.write_text(json.dumps(histograms, indent=0, sort_keys=False) + "\n")
    return histograms


# ---------------------------------------------------------------------- batching


def batch_size(lengths: np.ndarray, budget: int = TOKEN_BUDGET) -> int:
    """Texts a batch holds so that it carries ``budget`` real tokens on average."""
    return max(1, int(round(budget / float(np.mean(lengths)))))


def plan_epoch(lengths: np.ndarray, strategy: str, size: int, seed: int = SEED) -> list[np.ndarray]:
    """One epoch's batches (index arrays into ``lengths``) under ``strategy``; ``packed`` batches as ``random``."""
    if strategy in ("random", "packed"):
        order = np.random.default_rng([seed, 0x7A4D]).permutation(len(lengths))
        return [order[i : i + size] for i in range(0, len(order), size)]
    if strategy == "bucketed":
        from rnnbench.batching import training_order

        return training_order(lengths, size, seed, 0)
    if strategy == "sorted":
        from rnnbench.batching import evaluation_order

        batches = evaluation_order(lengths, size)
        return [batches[i] for i in np.random.default_rng([seed, 0x5047]).permutation(len(batches))]
    raise RnnbenchError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")


def padding(batches: list[np.ndarray]) -> dict:
    """``real_tokens``, ``padded_tokens`` (rows x longest, every batch) and ``padding_fraction`` (padded
    steps that hold no token, over all steps) of batches given as arrays of lengths."""
    real = int(sum(int(np.sum(b)) for b in batches))
    padded = int(sum(len(b) * int(np.max(b)) for b in batches if len(b)))
    return {
        "real_tokens": real,
        "padded_tokens": padded,
        "padding_fraction": (padded - real) / padded if padded else 0.0,
    }


def timed_selection(batches: list[np.ndarray], count: int = TIMED_BATCHES) -> list[np.ndarray]:
    """``count`` of an epoch's batches (arrays of lengths) that stand for it: the epoch's batches sorted by
    padded size (rows x longest) and cut into ``count`` equal bands, from each band the batch whose padding
    fraction is closest to the whole epoch's. Short and long batches are both timed, and the timed padding
    is the epoch's (six batches picked by size alone can miss it by a factor of two on IMDB's long tail)."""
    if len(batches) <= count:
        return list(batches)
    epoch = padding(batches)["padding_fraction"]
    sizes = np.array([len(b) * int(np.max(b)) for b in batches])
    order = np.argsort(sizes, kind="stable")
    picks = []
    for band in np.array_split(order, count):
        fractions = np.array([padding([batches[i]])["padding_fraction"] for i in band])
        picks.append(band[int(np.argmin(np.abs(fractions - epoch)))])
    return [batches[i] for i in picks]


# ---------------------------------------------------------------------- the grid (parent side)


def model_config(dataset: str) -> dict:
    """The textclf task's default model for ``dataset`` (cell, sizes, vocabulary)."""
    from rnnbench.plugins import get_registry

    config = get_registry().task("textclf").load()().resolve_config({"dataset": dataset})
    return {
        "model": config["model"],
        "embed_size": config["embed_size"],
        "hidden_size": config["hidden_size"],
        "vocab_size": config["vocab_size"],
    }


def build_configs(
    *,
    backends: list[str],
    datasets: list[str],
    strategies: list[str],
    dtype: str,
    threads: int,
    device: str,
    budget: int,
    data_dir=None,
    cell: str | None = None,
) -> tuple[list[dict], dict]:
    """Every (dataset, backend, strategy) configuration, and what the record keeps of each dataset."""
    configs, described = [], {}
    for dataset in datasets:
        lengths, source = dataset_lengths(dataset, data_dir)
        size = batch_size(lengths, budget)
        model = model_config(dataset)
        model["model"] = cell or model["model"]
        plans = {}
        for strategy in strategies:
            epoch = [lengths[b] for b in plan_epoch(lengths, strategy, size)]
            chosen = timed_selection(epoch)
            plans[strategy] = {"epoch": padding(epoch), "timed": [b.tolist() for b in chosen]}
        described[dataset] = {
            "lengths_source": source,
            "batch_size": size,
            "token_budget": budget,
            "mean_length": float(np.mean(lengths)),
            "max_length": int(np.max(lengths)),
            "median_length": float(np.median(lengths)),
            **model,
            "epoch_padding_fraction": {s: p["epoch"]["padding_fraction"] for s, p in plans.items()},
        }
        for backend in backends:
            for strategy in strategies:
                timed = plans[strategy]["timed"]
                shape = padding([np.array(b) for b in timed])
                configs.append(
                    {
                        "kind": "lengths",
                        "cell": model["model"],
                        "backend": backend,
                        "impl": None,
                        "device": device,
                        "dtype": dtype,
                        "threads": threads,
                        "batch": size,
                        "steps": None,
                        "input": model["embed_size"],
                        "hidden": model["hidden_size"],
                        "pass": "forward+backward",
                        "lengths_of": dataset,
                        "strategy": strategy,
                        "vocab_size": model["vocab_size"],
                        "token_budget": budget,
                        "batch_lengths": timed,
                        "batches": len(timed),
                        **shape,
                        "epoch_padding_fraction": plans[strategy]["epoch"]["padding_fraction"],
                        "lengths_source": source["source"],
                    }
                )
    return configs, described


# ---------------------------------------------------------------------- the timer (worker side)


def lengths_timer(backend, config: dict, row: dict):
    """``(timer, real tokens a call)``: forward+backward of the textclf model over the row's batches.

    A ``packed`` row on a backend without a padding-skipping path raises :class:`UnsupportedError`.
    """
    from rnnbench.model import ModelSpec, init_model_params

    padding_path = "pack" if config["strategy"] == "packed" else "mask"
    if padding_path not in getattr(backend, "padding_paths", ("mask",)):
        raise UnsupportedError(NO_SKIP_PATH.format(backend=config["backend"]))
    spec = ModelSpec(
        cell=config["cell"],
        hidden_size=config["hidden"],
        num_outputs=2,
        vocab_size=config["vocab_size"],
        embed_size=config["input"],
        dtype=config["dtype"],
    )
    params = init_model_params(spec, seed=SEED)
    model = (
        backend.build_model(spec, params, padding=padding_path)
        if padding_path != "mask"
        else backend.build_model(spec, params)
    )
    batches = synthetic_batches(config["batch_lengths"], config["vocab_size"])
    row.update(padding_path=padding_path, flops=None)

    def timer():
        for ids, lengths, targets in batches:
            model.loss_and_grads(ids, lengths, targets)

    return timer, int(sum(int(lengths.sum()) for _, lengths, _ in batches))


def synthetic_batches(batch_lengths: list[list[int]], vocab_size: int) -> list[tuple]:
    """Seeded token ids (padding id 0 past each length) and labels for batches of the given lengths."""
    rng = np.random.default_rng([SEED, 0xB47C])
    batches = []
    for lengths in batch_lengths:
        lengths = np.asarray(lengths, dtype=np.int64)
        ids = rng.integers(2, vocab_size, size=(len(lengths), int(lengths.max())), dtype=np.int64)
        ids[np.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
        batches.append((ids, lengths, rng.integers(0, 2, size=len(lengths), dtype=np.int64)))
    return batches


def finish_rows(rows: list[dict]) -> None:
    """``useful_tokens_per_s`` and ``ms_per_1k_tokens`` of each timed row, in place."""
    for row in rows:
        ok = row.get("status") == "ok" and row.get("median_s")
        row["useful_tokens_per_s"] = row["real_tokens"] / row["median_s"] if ok else None
        row["ms_per_1k_tokens"] = 1e6 * row["median_s"] / row["real_tokens"] if ok else None


# ---------------------------------------------------------------------- the table


def format_lengths(rows: list[dict], described: dict | None = None) -> str:
    """One block a dataset: per backend its best strategy first, then the others with their ratio to it."""
    from rnnbench.bench.stats import format_pm
    from rnnbench.table import format_table

    header = ["dataset", "backend", "strategy", "padding", "ms / 1k tokens", "real tokens/s", "× best [95%]", "status"]
    lines, notes = [], {}
    for dataset in dict.fromkeys(r["lengths_of"] for r in rows):
        for backend in dict.fromkeys(r["backend"] for r in rows if r["lengths_of"] == dataset):
            group = [r for r in rows if r["lengths_of"] == dataset and r["backend"] == backend]
            # best first: by the ratio from the rounds (1.00x is the best), else by the median
            group.sort(
                key=lambda r: (
                    r.get("ms_per_1k_tokens") is None,
                    r.get("ratio_to_fastest") or 0,
                    r.get("ms_per_1k_tokens") or 0,
                )
            )
            best = min((r["ms_per_1k_tokens"] for r in group if r.get("ms_per_1k_tokens")), default=None)
            for r in group:
                ms = r.get("ms_per_1k_tokens")
                pm = format_pm(r["median_s"], r.get("ci95_s")) if ms else ""
                status = r["status"] if r["status"] != "ok" else ("stable" if r.get("stable") else "unstable")
                if r["status"] != "ok" and r.get("error"):
                    notes.setdefault(f"{r['status']}: {r['error']}", []).append(f"{backend} {r['strategy']}")
                lines.append(
                    [
                        dataset,
                        backend,
                        r["strategy"],
                        f"{r['padding_fraction']:.2f}",
                        f"{ms:.3g}{' ' + pm if pm else ''}" if ms else "-",
                        f"{r['useful_tokens_per_s']:,.0f}" if ms else "-",
                        _ratio(r, best),
                        status,
                    ]
                )
    sources = "".join(f"\n{', '.join(dict.fromkeys(where))}: {why}" for why, where in notes.items())
    if described:
        sources += "\n" + "\n".join(f"{name}: {_describe(info)}" for name, info in described.items())
    return (
        "forward+backward of the textclf model over the same batches of each dataset's real lengths; per "
        "backend its best strategy first (× best: the median of per-round ratios [95% interval]):\n"
        + format_table(header, lines)
        + sources
    )


def _ratio(row: dict, best) -> str:
    if not row.get("ms_per_1k_tokens") or not best:
        return "-"
    ratio, interval = row.get("ratio_to_fastest"), row.get("ratio_ci95")
    if ratio is None:
        ratio = row["ms_per_1k_tokens"] / best
    text = f"{ratio:.2f}×"
    if interval:
        text += f" [{interval[0]:.2f}–{interval[1]:.2f}]"
    return text


def _describe(info: dict) -> str:
    source = info["lengths_source"]
    where = (
        f"train split, {source['texts']} texts"
        if source["source"] != "synthetic"
        else f"SYNTHETIC lengths from the recorded histogram of {source['histogram_of']} ({source['why']})"
    )
    return (
        f"{where}; mean {info['mean_length']:.1f} tokens, max {info['max_length']}; batches of "
        f"{info['batch_size']} texts ({info['token_budget']} real tokens on average); {info['model']} "
        f"embed {info['embed_size']} hidden {info['hidden_size']} vocab {info['vocab_size']}"
    )


def main(argv=None) -> int:
    """``python -m rnnbench.bench.lengths --record [DATA_DIR]``: rewrite the recorded length histograms."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "--record":
        print("usage: python -m rnnbench.bench.lengths --record [DATA_DIR]", file=sys.stderr)
        return 2
    histograms = record_histograms(argv[1] if len(argv) > 1 else None)
    print(f"{HISTOGRAMS}: " + ", ".join(f"{k} ({sum(v['counts'].values())} texts)" for k, v in histograms.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
