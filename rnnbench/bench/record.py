"""The one ``rnnbench.bench/1`` record of a ``rnnbench bench`` invocation, and the derived row fields.

Every field below, with its type, is declared in :data:`rnnbench.records.BENCH_1`; a field added here is
declared there too (tests/test_record_schemas.py fails otherwise).

Schema (every key always present; ``rows`` never drops a configuration)::

    schema "rnnbench.bench/1", task "bench", dataset <suite or "custom">, backend "numpy+torch" (sorted),
    seed 0, status "ok" | "failed", started_at, finished_at, config {the grid}, machine, versions, git,
    load_average {"start", "end"}, peak {gflops, dtype, threads, size, method, framework, candidates,
    kernels, warnings}, peaks {dtype: peak} (one per dtype timed), rows [...],
    kernels {backend: kernel info}, cpu_flags, pinned {variable: value}, warnings [...] (kernel and peak
    warnings, each once), fastest [{the configuration, backend, impl, median_s, ratio_to_best,
    ratio_ci95, ...}] (each backend's fastest impl of each configuration, the comparison the summary
    table shows), stable (every ok row stable and no record-level reason), unstable_reasons [...],
    settle {waited_s, load_before, load_after, settled, limit_s}; config.timing holds the policy with
    target_ci (a fraction) and interleaved (rows measured in interleaved rounds)

Each row: kind, cell, backend, impl, device, dtype, threads, batch, steps, input, hidden, pass,
samples_s, median_s, iqr_s, min_s, count, flops, gflops_per_s, peak_fraction, items_per_s,
ratio_to_fastest, warnings, status ("ok" | "failed" | "unavailable"), error, plus loops, max_s,
items_unit, backend_info (the backend's ``info()``), kernel (the BLAS / oneDNN libraries and kernels
that process ran, :mod:`rnnbench.bench.kernels`) and kernel_warnings. Tree rows add trees, nodes, leaves,
levels, tree_source; their ``batch`` is the number of trees and ``steps`` the number of sequential
compositions of the schedule (its levels; one per internal node for ``node-by-node``).
Throughput ``items_per_s`` counts tokens (batch x steps) for sequences, nodes for trees.

Rows also carry the uncertainty and the conditions of their measurement (issue 20): ci95_s [lo, hi]
(order-statistic interval of the median of samples_s), rel_ci (its half-width over the median),
ci_coverage, rounds (interleaved rounds sampled; 1 for a row measured outside rounds), round_seed
(the seed of its comparison's visiting order), ratio_ci95 (interval of the per-round ratios; null
below 2 rounds), stop_reason ("target", "budget", "max_rounds"), first_call_s, peak_bytes and
peak_method (one separate call after the timed ones), cpu {wall_s, own_cpu_s, other_cpus,
steal_fraction, load [start, end]}, stable and unstable_reasons (:mod:`rnnbench.bench.verdict`).
Older records lack these fields; readers must cope.

Ragged-text rows (``bench --suite lengths``, record ``dataset`` "lengths", :mod:`rnnbench.bench.lengths`) have
kind "lengths", ``batch`` the texts a batch, ``steps`` null, ``input``/``hidden`` the embedding and hidden
sizes, and lengths_of (the dataset), strategy, padding_path ("mask" | "pack"), batch_lengths, batches,
real_tokens, padded_tokens, padding_fraction, epoch_padding_fraction, token_budget, vocab_size,
lengths_source, useful_tokens_per_s, ms_per_1k_tokens; ``flops`` null; status may be "unsupported" (a
strategy the backend has no path for, with the reason). Their comparison is one backend's strategies on
one dataset, and config.datasets describes each dataset's lengths.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rnnbench.records import BENCH_SCHEMA as SCHEMA  # every schema lives in rnnbench.records
from rnnbench.records import record_header

#: What identifies "the same configuration" across backends and impls (for the ratio to the fastest).
#: A plain size has no ``layers`` (None), so it never compares with a stacked or bidirectional one.
COMPARABLE = (
    "kind",
    "cell",
    "dtype",
    "device",
    "batch",
    "steps",
    "input",
    "hidden",
    "layers",
    "bidirectional",
    "pass",
    "trees",
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def annotate(rows: list[dict], peaks: dict) -> None:
    """Add ``peak_fraction`` (against the peak of the row's dtype) and ``ratio_to_fastest`` in place.

    A row measured in interleaved rounds (it has a ``round_seed``) keeps the ratio the rounds gave
    it (:mod:`rnnbench.bench.rounds`: the median of per-round ratios). Any other row's
    ``ratio_to_fastest`` is its median over the fastest ok median among rows of the same
    configuration (1.0 for the fastest), with no interval; None when the row has no median.
    Node-by-node rows share a configuration with level-batched ones, so their ratio is the
    batching speed-up.
    """
    for row in rows:
        peak = (peaks.get(row.get("dtype")) or {}).get("gflops")
        ok = row.get("status") == "ok" and row.get("gflops_per_s") is not None
        row["peak_fraction"] = row["gflops_per_s"] / peak if ok and peak else None
        if row["peak_fraction"] is not None and row["peak_fraction"] > 1:
            note = (
                f"above the measured peak ({100 * row['peak_fraction']:.0f}%): this row's kernel beat every "
                "square GEMM candidate (counted FLOPs include elementwise work; see the peak's candidates)"
            )
            row["warnings"] = [w for w in row.get("warnings") or () if not w.startswith("above the measured peak")]
            row["warnings"].append(note)
    fastest = {}
    for row in rows:
        if row.get("status") == "ok" and row.get("median_s"):
            key = comparison_key(row)
            fastest[key] = min(fastest.get(key, float("inf")), row["median_s"])
    for row in rows:
        if row.get("round_seed") is not None:
            continue
        best = fastest.get(comparison_key(row))
        ok = row.get("status") == "ok" and row.get("median_s")
        row["ratio_to_fastest"] = row["median_s"] / best if ok and best else None
        row["ratio_ci95"] = None


def comparison_key(row: dict) -> tuple:
    """What rows must share to be compared (timed in one set of rounds, divided by one another). Tree rows:
    "steps" is the schedule's length (it differs between impls), so it is left out. Ragged-text rows
    (``bench --suite lengths``) compare the strategies of one backend on one dataset."""
    key = tuple(row.get(k) for k in COMPARABLE if not (k == "steps" and row.get("kind") == "tree"))
    if row.get("kind") == "lengths":
        key += (row.get("lengths_of"), row.get("backend"), row.get("token_budget"))
    return key


def fastest_impls(rows: list[dict]) -> list[dict]:
    """Each backend's fastest ok row of each configuration (sequence impls and tree schedules alike),
    with ``impls_timed`` (how many rows competed), ``ratio_to_best`` against the best backend, and
    ``ratio_ci95``: for rows from interleaved rounds the ratio and interval are the row's own
    (its per-round ratios to the round's fastest row, which is the best backend's fastest path);
    otherwise the ratio of medians, with no interval."""
    best = {}
    counts = {}
    for row in rows:
        if row.get("status") != "ok" or not row.get("median_s") or row.get("kind") == "lengths":
            continue  # ragged-text rows compare strategies within a backend (rnnbench.bench.lengths)
        key = (*comparison_key(row), row["backend"])
        counts[key] = counts.get(key, 0) + 1
        if key not in best or row["median_s"] < best[key]["median_s"]:
            best[key] = row
    fields = (
        "kind",
        "cell",
        "dtype",
        "device",
        "batch",
        "steps",
        "input",
        "hidden",
        "layers",
        "bidirectional",
        "pass",
        "trees",
        "backend",
        "impl",
        "median_s",
        "iqr_s",
        "ci95_s",
        "rel_ci",
        "gflops_per_s",
        "peak_fraction",
        "stable",
    )
    chosen = [dict({k: row.get(k) for k in fields}, impls_timed=counts[key]) for key, row in best.items()]
    overall = {}
    for item in chosen:
        config = comparison_key(item)
        overall[config] = min(overall.get(config, float("inf")), item["median_s"])
    for item, row in zip(chosen, best.values()):
        if row.get("round_seed") is not None and row.get("ratio_to_fastest") is not None:
            item["ratio_to_best"], item["ratio_ci95"] = row["ratio_to_fastest"], row.get("ratio_ci95")
        else:
            item["ratio_to_best"], item["ratio_ci95"] = item["median_s"] / overall[comparison_key(item)], None
    return chosen


def judge_rows(rows: list[dict], target_ci: float, cpus: int | None = None) -> None:
    """Each row's ``stable`` and ``unstable_reasons`` (:func:`rnnbench.bench.verdict.row_verdict`), in place."""
    from rnnbench.bench.verdict import row_verdict

    for row in rows:
        row["stable"], row["unstable_reasons"] = row_verdict(row, target_ci, cpus)


def judge_record(record: dict, results_dir=None) -> None:
    """The record's ``stable`` and ``unstable_reasons`` against this machine's best recorded peak GEMM."""
    from rnnbench.bench.verdict import best_recorded_peaks, record_verdict

    best = best_recorded_peaks(results_dir, record) if results_dir is not None else {}
    record["stable"], record["unstable_reasons"] = record_verdict(record, best)


def build_record(
    *,
    dataset: str,
    config: dict,
    rows: list[dict],
    peaks: dict,
    started_at: str,
    load_start,
    load_end,
    settle: dict | None = None,
) -> dict:
    from rnnbench.bench.kernels import pinned_variables
    from rnnbench.machine import cpu_flags

    backends = sorted({row["backend"] for row in rows})
    kernels = {}
    warnings = []
    for peak in peaks.values():
        warnings += [w for w in (peak or {}).get("warnings") or () if w not in warnings]
    for row in rows:
        if row.get("kernel") and row["backend"] not in kernels:
            kernels[row["backend"]] = row["kernel"]
        for w in row.get("kernel_warnings") or ():
            line = f"{row['backend']}: {w}"
            if line not in warnings and not any(line.endswith(x) for x in warnings):
                warnings.append(line)
    header = record_header(
        SCHEMA,
        task="bench",
        dataset=dataset,
        backend="+".join(backends),
        seed=0,
        status="failed" if any(row["status"] == "failed" for row in rows) else "ok",
        started_at=started_at,
    )
    return {
        **header,
        "finished_at": now(),
        "config": config,
        "load_average": {"start": load_start, "end": load_end},
        "peak": peaks.get("float32") or next(iter(peaks.values()), None),
        "peaks": peaks,
        "cpu_flags": cpu_flags(),
        "pinned": pinned_variables(),
        "kernels": kernels,
        "warnings": warnings,
        "fastest": fastest_impls(rows),
        "settle": settle,
        "stable": None,
        "unstable_reasons": [],
        "rows": rows,
    }
