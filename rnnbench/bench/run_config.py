"""Time one configuration inside a worker process and return its row (never raise).

A configuration that cannot run becomes a row with ``status`` ``unavailable`` (the
backend refused its options: no such device, say) or ``failed`` (anything that went
wrong while building inputs or timing), and the first line of the error; it is
never a missing row.
"""

from __future__ import annotations

import gc
import statistics
import time

from rnnbench.bench import flops as flop_counts
from rnnbench.bench.inputs import sequence_inputs, tree_inputs
from rnnbench.bench.timing import measure
from rnnbench.errors import RnnbenchError, UnsupportedError

#: Rounds of the overhead comparison (harness, bare callable, bare framework loop, interleaved).
OVERHEAD_ROUNDS = 5


def empty_row(config: dict, status: str = "failed", error: str | None = None) -> dict:
    """A row with every result field present (null until measured)."""
    row = dict(config)
    row.update(
        samples_s=[],
        loops=None,
        median_s=None,
        iqr_s=None,
        min_s=None,
        max_s=None,
        count=0,
        flops=None,
        gflops_per_s=None,
        peak_fraction=None,
        items_per_s=None,
        items_unit="nodes" if config.get("kind") == "tree" else "tokens",
        warnings=[],
        kernel=None,
        kernel_warnings=[],
        status=status,
        error=error,
        ci95_s=None,
        rel_ci=None,
        ci_coverage=None,
        rounds=0,
        ratio_to_fastest=None,
        ratio_ci95=None,
        stop_reason=None,
        first_call_s=None,
        peak_bytes=None,
        peak_method=None,
        cpu=None,
        stable=False,
        unstable_reasons=[],
    )
    return row


def interval_fields(samples: list[float]) -> dict:
    """``ci95_s``, ``rel_ci`` and ``ci_coverage`` of a row's samples (:mod:`rnnbench.bench.stats`)."""
    from rnnbench.bench.stats import median_interval

    interval = median_interval(samples)
    return {"ci95_s": interval.as_list(), "rel_ci": interval.rel_halfwidth, "ci_coverage": interval.coverage}


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def kernel_of(backend_name: str, cache: dict) -> tuple[dict, list[str]]:
    """``(kernel info, warnings)`` of ``backend_name``'s framework in this process, gathered once."""
    from rnnbench.bench.kernels import kernel_info, kernel_warnings

    key = ("kernel", backend_name)
    if key not in cache:
        framework = backend_name if backend_name in ("torch", "tensorflow") else None
        info = kernel_info(framework)
        cache[key] = (info, kernel_warnings(info, backend_name))
    return cache[key]


def get_backend(config: dict, cache: dict):
    """The configuration's backend, built once per (name, impl, device, threads) in this process."""
    impl = config["impl"] if config["kind"] == "sequence" else None
    key = (config["backend"], impl, config["device"], config["threads"])
    if key not in cache:
        from rnnbench.plugins import get_backend as make

        cache[key] = make(config["backend"], impl=impl, device=config["device"], threads=config["threads"])
    return cache[key]


def build_timer(backend, config: dict, row: dict):
    """``(timer, items per call)`` for ``config``; fills the row's shape fields (FLOPs, nodes, levels).

    Items are what throughput counts: tokens (batch x steps) for sequences, nodes for trees.
    """
    if config["kind"] == "lengths":  # the textclf model over ragged batches (bench --suite lengths)
        from rnnbench.bench.lengths import lengths_timer

        return lengths_timer(backend, config, row)
    backward = config["pass"] == "forward+backward"
    cell, dtype, D, H = config["cell"], config["dtype"], config["input"], config["hidden"]
    if config["kind"] == "sequence":
        B, T = config["batch"], config["steps"]
        layering = {"num_layers": config.get("layers", 1), "bidirectional": config.get("bidirectional", False)}
        params, x = sequence_inputs(cell, B, T, D, H, dtype, **layering)
        row.update(flops=flop_counts.layered_sequence_flops(cell, B, T, D, H, config["pass"], **layering))
        if layering["num_layers"] > 1 or layering["bidirectional"]:
            return backend.sequence_timer(cell, params, x, None, backward, **layering), B * T
        return backend.sequence_timer(cell, params, x, None, backward), B * T
    from rnnbench.bench.treedata import load_tree_batch, one_node_per_level

    batch = load_tree_batch(config["tree_source"], config["trees"])
    schedule = one_node_per_level(batch) if config["impl"] == "node-by-node" else batch
    params, x = tree_inputs(cell, batch.num_leaves, D, H, dtype)
    row.update(
        flops=flop_counts.tree_flops(cell, batch.num_leaves, batch.num_nodes, D, H, config["pass"]),
        nodes=batch.num_nodes,
        leaves=batch.num_leaves,
        levels=len(batch.levels),
        steps=len(schedule.levels),
    )
    return backend.tree_timer(cell, params, x, schedule, backward), batch.num_nodes


def run_config(config: dict, policy, backends: dict) -> dict:
    row = empty_row(config)
    try:
        backend = get_backend(config, backends)
    except RnnbenchError as exc:
        row.update(status="unavailable", error=str(exc).splitlines()[0])
        return row
    except Exception as exc:  # noqa: BLE001  (an import or start-up failure is this row's failure)
        row["error"] = one_line(exc)
        return row
    timer = None
    try:
        info = backend.info()
        row.update(backend_info=info, threads=info.get("threads"), impl=row["impl"] or backend.impl)
        timer, items = build_timer(backend, config, row)
        timing = measure(timer, policy)
        row["kernel"], row["kernel_warnings"] = kernel_of(config["backend"], backends)
    except UnsupportedError as exc:
        row.update(status="unsupported", error=str(exc).splitlines()[0])
        return row
    except Exception as exc:  # noqa: BLE001
        row["error"] = one_line(exc)
        return row
    finally:
        del timer
        gc.collect()  # free this configuration's tensors before the next one in this process
    row.update(
        samples_s=timing.samples_s,
        loops=timing.loops,
        warmup_calls=timing.warmup_calls,
        median_s=timing.median_s,
        iqr_s=timing.iqr_s,
        min_s=timing.min_s,
        max_s=timing.max_s,
        count=timing.count,
        warnings=timing.warnings,
        status="ok",
        rounds=1,
        **interval_fields(timing.samples_s),
        gflops_per_s=row["flops"] / timing.median_s / 1e9,
        items_per_s=items / timing.median_s,
    )
    return row


def run_overhead(config: dict, policy, backends: dict) -> dict:
    """The harness against bare loops: the same callable, and a plain framework layer if the backend has one.

    Interleaved rounds of (1) :func:`~rnnbench.bench.timing.measure` on the backend's timer,
    (2) a bare ``for`` loop over that same timer between two clock reads, as many samples of
    as many calls as (1) took, (3) the same over the framework's own layer, when the backend offers
    one (``Backend.bare_sequence_timer``, announced by ``has_bare_timer``: e.g. ``torch.nn.LSTM``
    called directly). Samples are pooled over rounds; the overhead is the harness's statistic over the
    bare one, minus 1, for the median and for the minimum (which other load on the machine
    can only raise, so it is the steadier of the two on a busy machine).
    """
    row = run_config(config, policy, backends)
    if row["status"] != "ok" or config["kind"] != "sequence":
        return row
    try:
        backend = get_backend(config, backends)
        timer, _ = build_timer(backend, config, dict(row))
        bare = _bare_framework_timer(backend, config)
        samples = {"harness": [], "bare_same_callable": [], "bare_framework": []}
        for _ in range(OVERHEAD_ROUNDS):
            timing = measure(timer, policy)
            samples["harness"] += timing.samples_s
            samples["bare_same_callable"] += _bare_samples(timer, timing.loops, timing.count)
            if bare is not None:
                samples["bare_framework"] += _bare_samples(bare, timing.loops, timing.count)
    except Exception as exc:  # noqa: BLE001
        row.update(status="failed", error=one_line(exc))
        return row
    result = {"rounds": OVERHEAD_ROUNDS, "loops": row["loops"], "bare_framework_method": getattr(bare, "method", None)}
    for name, values in samples.items():
        if values:
            result[f"{name}_samples_s"] = values
            result[f"{name}_s"] = statistics.median(values)
            result[f"{name}_min_s"] = min(values)
    for name in ("bare_same_callable", "bare_framework"):
        if samples[name]:
            result[f"vs_{name}"] = result["harness_s"] / result[f"{name}_s"] - 1
            result[f"vs_{name}_min"] = result["harness_min_s"] / result[f"{name}_min_s"] - 1
    row["overhead"] = result
    return row


def _bare_framework_timer(backend, config):
    """The backend's bare timer for ``config``, or None when it offers none (its capability flag says so)."""
    if not backend.has_bare_timer or config.get("layers", 1) > 1 or config.get("bidirectional"):
        return None  # the bare layers are single-layer ones
    params, x = sequence_inputs(
        config["cell"], config["batch"], config["steps"], config["input"], config["hidden"], config["dtype"]
    )
    return backend.bare_sequence_timer(config["cell"], params, x, config["pass"] == "forward+backward")


def _bare_samples(fn, loops: int, count: int) -> list[float]:
    """``count`` samples of seconds per call over ``loops`` back-to-back calls, as one would time by hand."""
    fn()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return samples
