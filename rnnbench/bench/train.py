"""``rnnbench bench --train``: one training step of the real textclf model against the loop a user writes.

For each backend, in a worker process of its own (one framework per process):

* **rnnbench**: the backend's own ``build_model(spec, params)`` and ``train_step`` (the model
  ``rnnbench run --task textclf`` trains: embedding -> LSTM -> mean over the real steps -> softmax,
  the shared Adam formulas with global-norm clipping);
* **plain**: what a user of that framework writes for the same model (the backend's optional
  ``plain_train_step``, announced by ``has_plain_train_step``: torch ``nn.Embedding``/``nn.LSTM``/
  masked mean/``nn.Linear``, ``torch.optim.Adam`` and ``clip_grad_norm_``; TensorFlow a Keras ``Model`` with
  ``Embedding(mask_zero=True)``, ``LSTM``, masked mean, ``Dense``, ``Adam(global_clipnorm=...)`` and
  ``train_on_batch``). NumPy has no such loop: its row has the rnnbench figure alone.

Both start from the same weights and see the same batches: the first ``--train-batches`` training
batches of IMDB under the textclf task's default configuration (seed 0, epoch 1), prepared once by the
parent and handed to every worker as a ``.npz``; when IMDB is absent, a seeded synthetic set of the
same shapes (the record says which). After a warm-up pass (tracing, allocator growth), ``rounds``
alternating rounds each time one pass of both over the batches, the order flipping every round, so
drift in the machine's speed hits both alike. Each round gives seconds per step for both and their
ratio; the row reports the median and IQR of each over the rounds.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import statistics
import sys
import time

import numpy as np

from rnnbench.bench.probes import CpuWindow
from rnnbench.bench.stats import median_interval
from rnnbench.bench.sweep import WorkerError, call_worker
from rnnbench.errors import RnnbenchError

ROUNDS = 10
BATCHES = 8
WARMUP_PASSES = 2
SYNTHETIC_SEED = 0


# ---------------------------------------------------------------------- parent side


def prepare_batches(count: int, data_dir=None) -> tuple[dict, list[tuple], dict]:
    """``(spec as a dict, [(inputs, lengths, targets)] * count, source)`` of the textclf IMDB default.

    Never downloads: without IMDB the batches are seeded synthetic ones of IMDB's shapes.
    """
    from rnnbench.data.paths import OFFLINE_VARIABLE
    from rnnbench.plugins import get_registry

    task = get_registry().task("textclf").load()()
    config = task.resolve_config({"dataset": "imdb", "data_dir": data_dir})
    saved = os.environ.get(OFFLINE_VARIABLE)
    os.environ[OFFLINE_VARIABLE] = "1"
    try:
        prepared = task.prepare(config)
        batches = prepared.train_batches(0, 1)[:count]
        spec = prepared.spec
        source = {
            "source": "imdb",
            "selection": f"the first {len(batches)} training batches of seed 0, epoch 1",
            "config": {
                k: config[k]
                for k in (
                    "model",
                    "embed_size",
                    "hidden_size",
                    "vocab_size",
                    "max_length",
                    "truncate",
                    "batch_size",
                    "optimizer",
                    "lr",
                    "clip_norm",
                )
            },
            "vocab_size": spec.vocab_size,
        }
        arrays = [(b.inputs[0], b.inputs[1], b.targets) for b in batches]
    except RnnbenchError as exc:
        spec = task.model_spec(config, config["vocab_size"], 2)
        arrays = synthetic_batches(count, spec.vocab_size, config["batch_size"], config["max_length"])
        source = {
            "source": "synthetic",
            "seed": SYNTHETIC_SEED,
            "why": str(exc).splitlines()[0],
            "selection": f"{count} seeded batches of {config['batch_size']} texts, lengths up to "
            f"{config['max_length']} (IMDB's default shapes)",
            "vocab_size": spec.vocab_size,
        }
    finally:
        if saved is None:
            os.environ.pop(OFFLINE_VARIABLE, None)
        else:
            os.environ[OFFLINE_VARIABLE] = saved
    source["tokens_per_batch"] = [int(b[1].sum()) for b in arrays]
    source["steps_per_batch"] = [int(b[0].shape[1]) for b in arrays]
    return spec_to_dict(spec), arrays, source


def synthetic_batches(count: int, vocab: int, batch: int, max_length: int, seed: int = SYNTHETIC_SEED):
    """Seeded token batches: lengths bucketed as the task's training order would, padded with 0."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        steps = int(rng.integers(max_length // 4, max_length + 1))
        lengths = rng.integers(max(1, steps // 2), steps + 1, size=batch)
        lengths[0] = steps
        inputs = rng.integers(2, vocab, size=(batch, steps))
        inputs[np.arange(steps)[None, :] >= lengths[:, None]] = 0
        out.append((inputs.astype(np.int64), lengths.astype(np.int64), rng.integers(0, 2, size=batch)))
    return out


def spec_to_dict(spec) -> dict:
    return dataclasses.asdict(spec)


def spec_from_dict(data: dict):
    from rnnbench.model import ModelSpec, OptimizerSpec

    data = dict(data)
    data["optimizer"] = OptimizerSpec(**data["optimizer"])
    return ModelSpec(**data)


def save_batches(path, arrays) -> None:
    np.savez(
        path,
        **{
            f"{name}{i}": value
            for i, batch in enumerate(arrays)
            for name, value in zip(("inputs", "lengths", "targets"), batch)
        },
    )


def load_batches(path) -> list[tuple]:
    with np.load(path) as data:
        count = sum(1 for key in data.files if key.startswith("inputs"))
        return [(data[f"inputs{i}"], data[f"lengths{i}"], data[f"targets{i}"]) for i in range(count)]


# ---------------------------------------------------------------------- worker side


def run_train(config: dict, request: dict) -> dict:
    """One backend's row: rnnbench's train step against the plain loop, in alternating rounds."""
    from rnnbench.bench.run_config import get_backend, kernel_of, one_line

    row = dict(config)
    row.update(
        status="failed",
        error=None,
        warnings=[],
        kernel=None,
        kernel_warnings=[],
        samples_s=[],
        median_s=None,
        iqr_s=None,
        min_s=None,
        count=0,
        plain=None,
        ratio=None,
    )
    backends = {}
    try:
        backend = get_backend(config, backends)
    except RnnbenchError as exc:
        row.update(status="unavailable", error=str(exc).splitlines()[0])
        return row
    except Exception as exc:  # noqa: BLE001
        row["error"] = one_line(exc)
        return row
    try:
        from rnnbench.model import init_model_params

        info = backend.info()
        row.update(backend_info=info, threads=info.get("threads"), impl=row.get("impl") or backend.impl)
        spec = spec_from_dict(request["spec"])
        batches = load_batches(request["batches"])
        params = init_model_params(spec, seed=0)
        model = backend.build_model(spec, params)
        plain = _plain_step(backend, spec, params)
        steps = {"rnnbench": lambda b: model.train_step(*b)}
        if plain is not None:
            steps["plain"] = plain
        for _ in range(int(request.get("warmup_passes", WARMUP_PASSES))):
            for step in steps.values():
                for batch in batches:
                    step(batch)
        rounds = int(request.get("rounds", ROUNDS))
        per_round = {name: [] for name in steps}
        order = list(steps)
        with CpuWindow() as window:  # what other processes took meanwhile (the load average counts our threads)
            for r in range(rounds):
                for name in order if r % 2 == 0 else order[::-1]:
                    per_round[name].append(_one_pass(steps[name], batches))
        row["cpu"] = window.as_dict()
        row["kernel"], row["kernel_warnings"] = kernel_of(config["backend"], backends)
    except Exception as exc:  # noqa: BLE001
        row["error"] = one_line(exc)
        return row
    row.update(
        _stats(per_round["rnnbench"]),
        samples_s=per_round["rnnbench"],
        status="ok",
        batches=len(batches),
        rounds=rounds,
        tokens_per_step=float(np.mean([b[1].sum() for b in batches])),
    )
    row["items_per_s"] = row["tokens_per_step"] / row["median_s"]
    if plain is not None:
        ratios = [a / b for a, b in zip(per_round["rnnbench"], per_round["plain"])]
        row["plain"] = dict(
            _stats(per_round["plain"]), samples_s=per_round["plain"], method=getattr(plain, "method", None)
        )
        q1, q3 = _quartiles(ratios)
        interval = median_interval(ratios)  # distribution-free, as every bench row's (rnnbench.bench.stats)
        row["ratio"] = {
            "median": statistics.median(ratios),
            "q1": q1,
            "q3": q3,
            "iqr": q3 - q1,
            "ci95": [interval.lo, interval.hi],
            "samples": ratios,
        }
    return row


def _other_cpus(row) -> str:
    """CPUs other processes kept busy while the row's rounds ran ("-" when unknown)."""
    other = (row.get("cpu") or {}).get("other_cpus")
    return "-" if other is None else f"{other:.2f}"


def _plain_step(backend, spec, params):
    """The backend's plain training loop for ``spec``, or None when it offers none (its capability flag)."""
    return backend.plain_train_step(spec, params) if backend.has_plain_train_step else None


def _one_pass(step, batches) -> float:
    """Seconds per step over one pass of ``batches`` (garbage collector off, as in :mod:`.timing`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for batch in batches:
            step(batch)
        return (time.perf_counter() - start) / len(batches)
    finally:
        if enabled:
            gc.enable()


def _quartiles(values):
    if len(values) == 1:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _stats(values) -> dict:
    q1, q3 = _quartiles(values)
    return {"median_s": statistics.median(values), "iqr_s": q3 - q1, "min_s": min(values), "count": len(values)}


# ---------------------------------------------------------------------- command side


def train_configs(backends, impls, device: str, threads: int, spec: dict) -> list[dict]:
    configs = []
    for backend in backends:
        for impl in impls.get(backend, [None]):
            configs.append(
                {
                    "kind": "train",
                    "cell": spec["cell"],
                    "backend": backend,
                    "impl": impl,
                    "device": device,
                    "dtype": spec["dtype"],
                    "threads": threads,
                    "batch": None,
                    "steps": None,
                    "input": spec["embed_size"],
                    "hidden": spec["hidden_size"],
                    "pass": "train-step",
                }
            )
    return configs


def format_train(rows: list[dict], source: dict) -> str:
    from rnnbench.table import format_table

    header = [
        "backend",
        "impl",
        "rnnbench ms/step",
        "IQR",
        "plain ms/step",
        "IQR",
        "rnnbench / plain",
        "IQR of ratio",
        "95% interval",
        "other CPUs",
        "rounds",
        "plain loop",
        "status",
    ]
    lines = []

    def ms(v):
        return "-" if v is None else f"{v * 1e3:.1f}"

    for row in rows:
        plain, ratio = row.get("plain") or {}, row.get("ratio") or {}
        lines.append(
            [
                row["backend"],
                row.get("impl") or "-",
                ms(row.get("median_s")),
                ms(row.get("iqr_s")),
                ms(plain.get("median_s")),
                ms(plain.get("iqr_s")),
                f"{ratio['median']:.3f}x" if ratio else "-",
                f"{ratio['q1']:.3f}-{ratio['q3']:.3f}" if ratio else "-",
                f"{ratio['ci95'][0]:.3f}-{ratio['ci95'][1]:.3f}" if ratio.get("ci95") else "-",
                _other_cpus(row),
                row.get("rounds") or "-",
                plain.get("method") or "-",
                row["status"] + (f": {row['error']}" if row.get("error") else ""),
            ]
        )
    what = (
        f"IMDB, {source['selection']}"
        if source["source"] == "imdb"
        else f"SYNTHETIC batches ({source['why']}): {source['selection']}"
    )
    return (
        f"training step of the textclf model ({what}; mean {np.mean(source['tokens_per_batch']):.0f} real "
        "tokens a batch), rnnbench's build_model + train_step against the plain loop, alternating rounds, "
        "one framework per process; medians over rounds:\n" + format_table(header, lines)
    )


def run_train_bench(request) -> tuple[list, dict]:
    """Prepare the batches, run every backend's worker for ``request`` (a ``--train``
    :class:`rnnbench.bench.request.BenchRequest`), return ``(rows, info for the record)``."""
    import tempfile

    threads, unavailable = request.threads, request.unavailable
    spec, arrays, source = prepare_batches(request.train_batches, request.data_dir)
    print(f"bench --train: {len(arrays)} batches from {source['source']}", file=sys.stderr)
    configs = train_configs(list(request.backends), request.sequence_impls, request.device, threads, spec)
    for config in configs:  # batch: texts a step; steps: the mean padded length of the batches
        config.update(
            batch=int(arrays[0][0].shape[0]), steps=int(round(float(np.mean([b[0].shape[1] for b in arrays]))))
        )
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnbench-train-") as folder:
        path = os.path.join(folder, "batches.npz")
        save_batches(path, arrays)
        for config in configs:
            if config["backend"] in unavailable:
                rows.append(
                    dict(
                        config,
                        status="unavailable",
                        error=unavailable[config["backend"]],
                        warnings=[],
                        samples_s=[],
                        median_s=None,
                    )
                )
                continue
            asked = {
                "mode": "train",
                "threads": threads,
                "configs": [config],
                "spec": spec,
                "batches": path,
                "rounds": request.train_rounds,
            }
            try:
                (row,) = call_worker(asked, request.timeout)["rows"]
            except (WorkerError, KeyError, TypeError, ValueError) as exc:
                row = dict(config, status="failed", error=str(exc), warnings=[], samples_s=[], median_s=None)
            rows.append(row)
            ratio = (row.get("ratio") or {}).get("median")
            print(
                f"[{len(rows)}/{len(configs)}] {row['backend']} {row.get('impl') or ''}: "
                + (f"{row['median_s'] * 1e3:.1f} ms/step" if row.get("median_s") else row["status"])
                + (f", {ratio:.3f}x the plain loop" if ratio else "")
                + (f": {row['error']}" if row.get("error") else ""),
                file=sys.stderr,
                flush=True,
            )
    return rows, {
        "spec": spec,
        "data": source,
        "rounds": request.train_rounds,
        "batches": len(arrays),
        "warmup_passes": WARMUP_PASSES,
    }
