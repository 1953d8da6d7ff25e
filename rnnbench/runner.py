"""The training loop: task batches in, backend model steps, one record out.

Per docs/design.md §3 the loop times what it does (every training step, each dev
evaluation), excludes warm-up from the throughput it reports, selects the
model on dev and measures test once, with the parameters of the best dev
point. Whatever happens, the run ends as a record with a status: ``ok``,
``diverged`` (a NaN/inf loss, with the step), ``interrupted`` (Ctrl-C, SIGTERM
or SIGHUP, with the signal and what was reached) or ``failed`` (an exception,
with the error).

With ``dropout`` > 0 in the config, the runner draws each step's dropout masks
itself (:func:`rnnbench.dropout.draw_masks`, one seeded NumPy stream a run)
and hands them to ``train_step(..., masks=...)``: every backend applies the
same masks. Evaluation and the gradient-flow probe run without them.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np

from rnnbench import signals
from rnnbench.bench.probes import CpuWindow
from rnnbench.dropout import check_rate, draw_masks, takes_masks
from rnnbench.errors import RnnbenchError
from rnnbench.machine import load_average
from rnnbench.model import init_model_params
from rnnbench.progress import EpochBar
from rnnbench.records import RUN_SCHEMA, record_header
from rnnbench.task import Batch, Prepared

#: Training steps at the start of a run left out of throughput (first calls build graphs, fill caches).
WARMUP_STEPS = 3


def check_run_options(config: dict) -> None:
    """The loop's own options, checked before any data is read."""
    if config["epochs"] < 1:
        raise RnnbenchError(f"epochs must be at least 1, got {config['epochs']}")
    if config.get("max_steps") is not None and config["max_steps"] < 1:
        raise RnnbenchError(f"max-steps must be at least 1, got {config['max_steps']}")
    check_rate(config.get("dropout") or 0.0)
    every = config.get("eval_every")
    if every is not None and (isinstance(every, bool) or int(every) < 1):
        raise RnnbenchError(f"--eval-every must be at least 1 step, got {every}")


def _dropout(config: dict, model, seed: int, backend_name: str):
    """``(rate, rng)`` of a run with dropout, after checking the model takes masks; None without dropout."""
    rate = check_rate(config.get("dropout") or 0.0)
    if rate == 0:
        return None
    if not takes_masks(model):
        raise RnnbenchError(
            f"backend {backend_name} does not support --dropout (its model's train_step takes no masks)"
        )
    return rate, np.random.default_rng([seed, 0xD7])


def run(
    prepared: Prepared,
    backend,
    config: dict,
    seed: int,
    *,
    progress: bool | None = None,
    log=None,
    command: str | None = None,
) -> dict:
    """Train one seed and return its record (not yet written); never raises for a failed run.

    ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM/SIGHUP via :mod:`rnnbench.signals`) is
    caught, recorded as ``interrupted`` with the signal in ``record["signal"]``, so the
    caller can write the record, stop, and exit with the signal's status.
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    record = _new_record(prepared, backend, config, seed)
    record["command"] = command or " ".join(sys.argv)
    clock = time.perf_counter()
    state = _State()
    # what other processes took while this run trained: the report's quiet rule (load averages count our own threads)
    window = CpuWindow().__enter__()
    try:
        with signals.interruptible():  # the caller may hold signals back; training is where they stop us
            _train(prepared, backend, config, seed, record, state, progress, log)
    except KeyboardInterrupt as exc:
        record["status"] = "interrupted"
        state.interrupt = exc
    except MemoryError as exc:  # numpy's _ArrayMemoryError too: a size too large for this machine, not a bug
        from rnnbench.memory import out_of_memory_message

        record["status"] = "failed"
        record["error"] = f"MemoryError: {out_of_memory_message('training', exc, {}, config)}"
    except Exception as exc:  # a run that breaks is a record, never a missing row
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, RnnbenchError):
            record["traceback"] = traceback.format_exc()
    if record["status"] == "interrupted":
        record["signal"] = signals.signal_name(signals.signum_of(state.interrupt))
        record["error"] = (
            f"interrupted by {signals.describe(state.interrupt)} at epoch {state.epoch}, step {state.step}"
        )
    record["steps"] = state.step
    record["finished_at"] = _now()
    record["wall_seconds"] = round(time.perf_counter() - clock, 3)
    record["load_average"]["end"] = load_average()
    window.__exit__(None, None, None)
    record["cpu"] = window.as_dict()
    record["timing"] = _timing_summary(record["epochs"])
    return record


class _State:
    """Where the loop is, for the record of an interrupted or failed run."""

    epoch = 0
    step = 0
    best_params = None
    interrupt = KeyboardInterrupt()  # what stopped the run, when something did


def _train(prepared, backend, config, seed, record, state, progress, log):
    spec = prepared.spec
    model = backend.build_model(spec, (prepared.init_params or init_model_params)(spec, seed))
    dropout = _dropout(config, model, seed, backend.name)
    max_steps = config.get("max_steps")
    epochs = config["epochs"]
    best = record["best"]
    for epoch in range(1, epochs + 1):
        state.epoch = epoch
        entry = _train_epoch(
            model,
            prepared,
            epoch,
            epochs,
            state,
            max_steps,
            progress,
            record,
            dropout,
            _step_evaluator(config, prepared, record),
        )
        record["epochs"].append(entry)
        if record["status"] == "interrupted":
            return
        if record["status"] == "diverged":
            log(f"epoch {epoch}: loss became {entry['last_loss']} at step {state.step}: diverged")
            break
        dev, eval_seconds, dev_metrics = evaluate(
            model, prepared.dev, prepared.score, warm_up=epoch == 1, metrics=prepared.metrics
        )
        entry.update(dev=dev, eval_seconds=round(eval_seconds, 4))
        if dev_metrics:
            entry["dev_metrics"] = dev_metrics
        improved = best["dev"] is None or (dev > best["dev"] if prepared.higher_is_better else dev < best["dev"])
        if improved:
            best.update(epoch=epoch, step=state.step, dev=dev)
            if dev_metrics:
                best["dev_metrics"] = dev_metrics
            state.best_params = model.get_params()
        speed = f"{entry['examples_per_s']:.0f} ex/s" if entry["examples_per_s"] else "warm-up only"
        log(
            f"epoch {epoch}/{epochs}: loss {entry['mean_loss']:.4f}  dev {prepared.metric} {dev:.4f}"
            f"{' (best)' if improved else ''}  train {entry['train_seconds']:.1f}s ({speed})  "
            f"eval {eval_seconds:.1f}s"
        )
        if max_steps is not None and state.step >= int(max_steps):
            break
    if prepared.test and state.best_params is not None:
        best_model = backend.build_model(spec, state.best_params)
        test, seconds, test_metrics = evaluate(
            best_model, prepared.test, prepared.score, warm_up=True, metrics=prepared.metrics
        )
        best.update(test=test, test_eval_seconds=round(seconds, 6))
        if test_metrics:
            best["test_metrics"] = test_metrics
    if record["status"] == "running":
        record["status"] = "ok"


def _step_evaluator(config: dict, prepared: Prepared, record: dict):
    """With ``--eval-every N``: a function the epoch calls after each step that scores dev every N steps into
    ``record["evals"]`` (with the training seconds so far) and returns the seconds it took, which the epoch
    leaves out of its training time. Model selection stays at epoch ends, so the run's result is the same
    with or without it; the finer history is for time to target. None without the option."""
    every = config.get("eval_every")
    if not every:
        return None
    record.setdefault("evals", [])

    def evaluate_at(model, step: int, epoch: int, epoch_train_seconds: float) -> float:
        if step % int(every):
            return 0.0
        trained_before = sum(e["train_seconds"] for e in record["epochs"])  # the epochs already finished
        began = time.perf_counter()
        dev, seconds, _ = evaluate(model, prepared.dev, prepared.score)
        record["evals"].append(
            {
                "step": step,
                "epoch": epoch,
                "dev": dev,
                "train_seconds": round(trained_before + epoch_train_seconds, 4),
                "eval_seconds": round(seconds, 4),
            }
        )
        return time.perf_counter() - began  # all of it, scoring included, is left out of training time

    return evaluate_at


def _train_epoch(
    model, prepared: Prepared, epoch, epochs, state, max_steps, progress, record, dropout=None, evaluate_at=None
) -> dict:
    """One epoch of training steps; ``dropout``: ``(rate, rng)`` to draw each step's masks from, or None;
    ``evaluate_at``: :func:`_step_evaluator`'s function, or None (its time is not training time)."""
    batches = prepared.train_batches(record["seed"], epoch)
    step_seconds, losses, sizes, tokens = [], [], [], []
    bar = EpochBar(len(batches), f"epoch {epoch}/{epochs}", progress)
    started = time.perf_counter()
    evaluating = 0.0  # seconds spent in --eval-every evaluations inside this epoch
    try:
        for batch in batches:
            if max_steps is not None and state.step >= int(max_steps):
                break
            if state.step in prepared.probe_steps:
                record["gradient_flow"].append(_probe(model, prepared.probe_batch, state.step))
            if dropout is None:
                tick = time.perf_counter()
                loss = float(model.train_step(*batch.inputs, batch.targets))
            else:
                masks = draw_masks(prepared.spec, batch.inputs, dropout[0], dropout[1])
                tick = time.perf_counter()
                loss = float(model.train_step(*batch.inputs, batch.targets, masks=masks))
            step_seconds.append(time.perf_counter() - tick)
            state.step += 1
            losses.append(loss)
            sizes.append(batch.size)
            tokens.append(batch.tokens)
            if not math.isfinite(loss):
                record["status"] = "diverged"
                record["diverged_at"] = {"epoch": epoch, "step": state.step, "loss": repr(loss)}
                break
            if evaluate_at is not None:
                evaluating += evaluate_at(model, state.step, epoch, time.perf_counter() - started - evaluating)
            recent = slice(-50, None)
            bar.update(float(np.mean(losses[recent])), sum(sizes[recent]) / max(sum(step_seconds[recent]), 1e-9))
    except KeyboardInterrupt as exc:  # keep what this epoch reached; the caller stops
        record["status"] = "interrupted"
        state.interrupt = exc
    finally:
        bar.close()
    train_seconds = time.perf_counter() - started - evaluating
    warmup = max(0, WARMUP_STEPS - (state.step - len(step_seconds)))  # warm-up steps inside this epoch
    timed = slice(min(warmup, len(step_seconds)), None)
    timed_seconds = sum(step_seconds[timed])
    finite = [x for x in losses if math.isfinite(x)]
    return {
        "epoch": epoch,
        "steps": len(step_seconds),
        "examples": int(sum(sizes)),
        "tokens": int(sum(tokens)),
        "mean_loss": round(float(np.mean(finite)), 6) if finite else None,
        "last_loss": losses[-1] if losses else None,
        "train_seconds": round(train_seconds, 4),
        "warmup_steps_excluded": min(warmup, len(step_seconds)),
        "examples_per_s": round(sum(sizes[timed]) / timed_seconds, 3) if timed_seconds > 0 else None,
        "tokens_per_s": round(sum(tokens[timed]) / timed_seconds, 3) if timed_seconds > 0 else None,
        "step_seconds": [round(s, 6) for s in step_seconds],
    }


def evaluate(model, batches: list[Batch], score, warm_up: bool = False, metrics=None):
    """``(metric, seconds, further metrics or None)`` over fixed batches.

    ``warm_up`` runs one untimed batch first; ``metrics`` (the task's) adds
    the figures a single number cannot hold, e.g. root and all-node accuracy.
    """
    if warm_up and batches:
        model.predict(*batches[0].inputs)
    started = time.perf_counter()
    outputs = [np.asarray(model.predict(*batch.inputs)) for batch in batches]
    seconds = time.perf_counter() - started
    outputs = np.concatenate(outputs)
    targets = np.concatenate([batch.scored for batch in batches])
    further = None
    if metrics is not None:
        further = {
            k: round(float(v), 6) if isinstance(v, (float, np.floating)) else v
            for k, v in metrics(outputs, targets).items()
        }
    return round(float(score(outputs, targets)), 6), seconds, further


def _probe(model, batch: Batch, step: int) -> dict:
    """The gradient-flow diagnostic at one step: mean over the batch of ||dLoss/dh_t|| for every t."""
    norms = np.asarray(model.state_gradient_norms(*batch.inputs, batch.targets), dtype=np.float64)
    return {"step": step, "norms": [float(f"{v:.6g}") for v in norms]}


def _timing_summary(epochs: list[dict]) -> dict:
    steps = [s for e in epochs for s in e["step_seconds"][e["warmup_steps_excluded"] :]]
    if not steps:
        return {"warmup_steps": WARMUP_STEPS}
    q1, median, q3 = np.percentile(steps, [25, 50, 75])
    timed_examples = sum(
        e["examples_per_s"] * sum(e["step_seconds"][e["warmup_steps_excluded"] :])
        for e in epochs
        if e["examples_per_s"]
    )
    return {
        "warmup_steps": WARMUP_STEPS,
        "timed_steps": len(steps),
        "unit": "seconds per training step",
        "step_median": round(float(median), 6),
        "step_iqr": round(float(q3 - q1), 6),
        "step_min": round(float(min(steps)), 6),
        "train_examples_per_s": round(timed_examples / sum(steps), 3),
        "train_seconds_total": round(sum(e["train_seconds"] for e in epochs), 3),
        "eval_seconds_total": round(sum(e.get("eval_seconds", 0.0) for e in epochs), 3),
        "note": "step times vary with the padded length of each bucketed batch; compare examples/s",
    }


def _new_record(prepared: Prepared, backend, config: dict, seed: int) -> dict:
    record = record_header(
        RUN_SCHEMA,
        task=config["task"],
        dataset=config["dataset"],
        backend=backend.name,
        seed=seed,
        status="running",
        started_at=_now(),
    )
    return {
        **record,
        "error": None,
        "model": getattr(prepared.spec, "cell", None),
        "metric": prepared.metric,
        "metric_higher_is_better": prepared.higher_is_better,
        "best": {"epoch": None, "step": None, "dev": None, "test": None},
        "epochs": [],
        "diverged_at": None,
        "gradient_flow": [],
        "config": {k: v for k, v in config.items() if k != "seeds"},
        "spec": asdict(prepared.spec),
        "data": prepared.info,
        "notes": list(prepared.notes),
        "backend_info": backend.info(),
        "load_average": {"start": load_average(), "end": None},
        "command": None,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
