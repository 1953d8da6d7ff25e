"""``rnnbench bench``: its options, its table, and the one record it leaves.

The parser half imports nothing heavy; the handler builds the grid (every bad
option fails here, in a second, before anything runs), waits for the machine to
settle (``--settle``), measures this machine's matrix-multiply peak, times the
configurations that compare in interleaved rounds in worker processes, judges each
row and the record (stable or not, and why), prints the table (or JSON) and writes
one ``rnnbench.bench/1`` record (never over another). Exit status 1 when any
configuration failed, when none could run at all, or (``--require-stable``) when a
row or the record is unstable.
"""

from __future__ import annotations

import json
import os
import sys

from rnnbench.number_types import nonnegative_float, number, positive_float, positive_int

#: ``--target-ci PCT``: a percentage above 0, at most 100.
target_percent = number(float, 0, 100, low_open=True, name="percentage")


def add_parser(commands, argv=None) -> None:
    bench = commands.add_parser(
        "bench",
        help="time forward and forward+backward passes of every backend; GFLOP/s and %% of peak",
        description="Time recurrent and recursive cells on every backend, each in a worker process of its own, "
        "the rows that compare visited turn about in interleaved rounds, and compare them: median "
        "ms with its 95% interval, GFLOP/s from counted FLOPs, the fraction of this machine's "
        "measured matrix-multiply peak, the ratio to the fastest backend with its interval, peak "
        "memory, the first call's cost, and whether each row is stable.",
    )
    bench.add_argument(
        "--suite",
        choices=("smoke", "cpu", "deepbench", "lengths"),
        help="a named grid (default: a custom grid from the options below); lengths: the textclf "
        "model on real ragged text, batched random, bucketed, sorted and packed",
    )
    bench.add_argument("--cells", metavar="LIST", help="rnn, lstm, gru, recursive, treelstm (comma-separated)")
    bench.add_argument("--backends", metavar="LIST", help="numpy, torch, tensorflow (default: all registered)")
    bench.add_argument(
        "--impls",
        metavar="LIST",
        help="backend implementations (native, loop, compiled, xla) and tree schedules "
        "(level-batched, node-by-node); default: each backend's default, level-batched",
    )
    bench.add_argument(
        "--sizes",
        metavar="LIST",
        help="sequence sizes BATCHxSTEPSxINPUTxHIDDEN, e.g. 64x100x128x256; add :L<layers> and :bi "
        "for stacked and bidirectional encoders, e.g. 64x100x512x512:L2:bi",
    )
    bench.add_argument("--tree-sizes", metavar="LIST", help="tree sizes TREESxINPUTxHIDDEN, e.g. 64x300x150")
    bench.add_argument("--trees", action="store_true", help="add the tree cells to a custom grid")
    bench.add_argument("--dtype", metavar="LIST", help="float32 (default) and/or float64")
    bench.add_argument("--pass", dest="passes", metavar="LIST", help="forward, forward+backward (default: both)")
    bench.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="threads of every framework and of the peak measurement (default: usable CPUs)",
    )
    bench.add_argument("--device", metavar="DEVICE", help="cpu (default), cuda, cuda:N, gpu")
    bench.add_argument(
        "--isolation",
        choices=("config", "impl", "backend"),
        help="a fresh process per configuration (default), per backend and impl (one framework "
        "a process; compile caches shared), or per backend (smoke's default)",
    )
    bench.add_argument("--min-samples", type=positive_int, metavar="N", help="samples per configuration at least")
    bench.add_argument("--budget", type=nonnegative_float, metavar="S", help="seconds of sampling per configuration")
    bench.add_argument(
        "--timeout",
        type=positive_float,
        default=900.0,
        metavar="S",
        help="give up on a configuration after S seconds (default 900)",
    )
    bench.add_argument(
        "--target-ci",
        type=target_percent,
        default=3.0,
        metavar="PCT",
        help="sample until every row's 95%% interval is within PCT%% of its median, or the budget is spent (default 3)",
    )
    bench.add_argument(
        "--settle",
        type=nonnegative_float,
        default=30.0,
        metavar="S",
        help="first wait up to S seconds for the 1-minute load to fall below half the CPUs "
        "(default 30; 0: do not wait)",
    )
    bench.add_argument(
        "--require-stable",
        action="store_true",
        help="exit 1 when any row or the record is unstable (an interval too wide, a busy machine, a slow peak GEMM)",
    )
    bench.add_argument(
        "--overhead",
        action="store_true",
        help="measure the harness against bare loops (same callable; plain framework layer)",
    )
    bench.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where sst/train.txt is (default $RNNBENCH_DATA_DIR, then the user cache; fetched on first use)",
    )
    bench.add_argument(
        "--offline", action="store_true", help="never download SST: time synthetic SST-shaped trees when it is absent"
    )
    bench.add_argument(
        "--train",
        action="store_true",
        help="time one training step of the textclf model (IMDB default batches) on each backend "
        "against the plain loop a user of that framework writes, in alternating rounds",
    )
    bench.add_argument(
        "--train-batches", type=positive_int, metavar="N", help="batches a round of --train passes over (default 8)"
    )
    bench.add_argument(
        "--train-rounds", type=positive_int, metavar="N", help="alternating rounds of --train (default 10)"
    )
    bench.add_argument(
        "--datasets",
        metavar="LIST",
        help="--suite lengths: whose length distributions (imdb, sst2, trec; default all three)",
    )
    bench.add_argument(
        "--strategies", metavar="LIST", help="--suite lengths: random, bucketed, sorted, packed (default all four)"
    )
    bench.add_argument(
        "--token-budget",
        type=positive_int,
        metavar="N",
        help="--suite lengths: real tokens a batch holds on average (default 4096)",
    )
    bench.add_argument(
        "--peak-frameworks",
        metavar="LIST",
        help="frameworks whose GEMM may set the peak (default: numpy, torch, tensorflow, "
        "each installed one, each in its own process)",
    )
    bench.add_argument("--results-dir", default="results", metavar="DIR", help="where the record goes")
    bench.add_argument("--no-record", action="store_true", help="write no record")
    bench.add_argument("--format", choices=("table", "json"), default="table")
    bench.set_defaults(handler=handle)


def handle(args) -> int:
    from rnnbench.bench.request import parse_request

    if args.offline:
        from rnnbench.data.paths import OFFLINE_VARIABLE

        os.environ[OFFLINE_VARIABLE] = "1"
    request = parse_request(args)  # every option read and checked, before anything runs
    if request.write_record:
        from rnnbench.records import ensure_writable

        ensure_writable(request.results_dir)
    from rnnbench.devices import warn_threads

    warn_threads(request.threads_given)
    run = {"train": _run_train, "lengths": _run_lengths}.get(request.mode, _run_grid)
    rows, result, text = run(request)
    return _finish(request, rows, result, text)


def _run_grid(request):
    """The grid (or ``--overhead``): peak GEMM, then every configuration in interleaved rounds."""
    from rnnbench.bench import record, sweep, table
    from rnnbench.bench.grid import build_grid
    from rnnbench.bench.timing import usable_cpus
    from rnnbench.bench.verdict import settle
    from rnnbench.machine import load_average

    grid = build_grid(request)
    policy, threads, device = request.policy, request.threads, request.device
    overhead = request.mode == "overhead"
    settled = settle(request.settle, usable_cpus())
    started, load_start = record.now(), load_average()
    print(
        f"bench: {len(grid.configs)} configurations, {threads} thread(s), {device}, "
        f"one process per {request.isolation}"
        + ("" if overhead else f", interleaved rounds to a {100 * policy.target_ci:g}% interval"),
        file=sys.stderr,
    )
    peaks = {}
    if len(grid.unavailable) < len(grid.backends):
        from rnnbench.bench.peak import FRAMEWORKS, available_frameworks

        # the fastest GEMM any installed framework offers, whichever backends are timed
        frameworks = available_frameworks(device, request.peak_frameworks or FRAMEWORKS)
        print(f"bench: peak GEMM of {', '.join(frameworks)}, each in its own process", file=sys.stderr)
        for dtype in request.dtypes:
            peaks[dtype] = sweep.measure_peak(
                device=device,
                threads=threads,
                sizes=request.suite.peak_sizes,
                dtype=dtype,
                policy=policy,
                timeout=request.timeout,
                frameworks=frameworks,
            )
    rows = sweep.run_configs(
        grid.configs,
        threads=threads,
        policy=policy,
        isolation=request.isolation,
        mode="overhead" if overhead else "time",
        timeout=request.timeout,
        unavailable=grid.unavailable,
        progress=_progress,
    )
    record.annotate(rows, peaks)
    record.judge_rows(rows, policy.target_ci, usable_cpus())
    result = record.build_record(
        dataset=request.dataset,
        config=grid.config,
        rows=rows,
        peaks=peaks,
        started_at=started,
        load_start=load_start,
        load_end=load_average(),
        settle=settled,
    )
    record.judge_record(result, request.results_dir)
    parts = []
    summary = table.format_summary(rows)
    if summary:
        parts.append(summary + "\n\nevery row:")
    parts.append(table.format_rows(rows, peaks))
    parts.append(table.format_unstable(rows, result["unstable_reasons"]))
    parts.append(table.format_kernels(result["warnings"], result["kernels"]))
    if overhead:
        parts.append(table.format_overhead(rows))
    return rows, result, parts


def _run_train(request):
    """``--train``: rnnbench's training step against each framework's plain loop (:mod:`rnnbench.bench.train`)."""
    from rnnbench.bench import record, table
    from rnnbench.bench.train import format_train, run_train_bench
    from rnnbench.machine import load_average

    started, load_start = record.now(), load_average()
    rows, info = run_train_bench(request)
    config = {
        "suite": "train",
        "mode": "train",
        "backends": list(request.backends),
        "impls": request.sequence_impls,
        "device": request.device,
        "threads": request.threads,
        **info,
    }
    result = record.build_record(
        dataset="train",
        config=config,
        rows=rows,
        peaks={},
        started_at=started,
        load_start=load_start,
        load_end=load_average(),
    )
    return rows, result, [format_train(rows, info["data"]), table.format_kernels(result["warnings"], result["kernels"])]


def _run_lengths(request):
    """``--suite lengths``: each backend's strategies for ragged text, in interleaved rounds
    (:mod:`rnnbench.bench.lengths`)."""
    from rnnbench.bench import lengths, record, sweep, table
    from rnnbench.bench.timing import usable_cpus
    from rnnbench.bench.verdict import settle
    from rnnbench.machine import load_average

    policy = request.policy
    configs, described = [], {}
    for cell in request.cells:
        for dtype in request.dtypes:
            more, described = lengths.build_configs(
                backends=list(request.backends),
                datasets=list(request.datasets),
                strategies=list(request.strategies),
                dtype=dtype,
                threads=request.threads,
                device=request.device,
                budget=request.token_budget,
                data_dir=request.data_dir,
                cell=cell,
            )
            configs += more
    settled = settle(request.settle, usable_cpus())
    started, load_start = record.now(), load_average()
    print(
        f"bench: {len(configs)} ragged-text configurations ({', '.join(request.datasets)} x "
        f"{', '.join(request.strategies)}), {request.threads} thread(s), {request.device}, one process per "
        f"backend, interleaved rounds to a {100 * policy.target_ci:g}% interval",
        file=sys.stderr,
    )
    rows = sweep.run_configs(
        configs,
        threads=request.threads,
        policy=policy,
        isolation=request.isolation,
        timeout=request.timeout,
        unavailable=request.unavailable,
        progress=_progress,
    )
    lengths.finish_rows(rows)
    record.annotate(rows, {})
    record.judge_rows(rows, policy.target_ci, usable_cpus())
    config = {
        "suite": "lengths",
        "description": "the textclf model on real ragged text, four batching strategies",
        "backends": list(request.backends),
        "cells": sorted({c["cell"] for c in configs}),
        "datasets": described,
        "strategies": list(request.strategies),
        "dtypes": list(request.dtypes),
        "passes": list(request.passes),
        "device": request.device,
        "threads": request.threads,
        "isolation": request.isolation,
        "timing": {**policy.as_dict(), "interleaved": True},
        "lengths": "ragged: each dataset's real lengths (config.datasets)",
        "unavailable": request.unavailable,
    }
    result = record.build_record(
        dataset="lengths",
        config=config,
        rows=rows,
        peaks={},
        started_at=started,
        load_start=load_start,
        load_end=load_average(),
        settle=settled,
    )
    record.judge_record(result, request.results_dir)
    return (
        rows,
        result,
        [
            lengths.format_lengths(rows, described),
            table.format_unstable(rows, result["unstable_reasons"]),
            table.format_kernels(result["warnings"], result["kernels"]),
        ],
    )


def _finish(request, rows: list[dict], result: dict, parts: list) -> int:
    """Every mode ends alike: the table (or JSON), the record (never over another), the exit status."""
    from rnnbench.records import save_record

    if request.output_format == "json":
        print(json.dumps(result, indent=1))
    else:
        for part in parts:
            if part:
                print(part)
    if request.write_record:
        path = save_record(request.results_dir, result)
        print(f"record: {path}", file=sys.stderr if request.output_format == "json" else sys.stdout)
    if not any(row["status"] == "ok" for row in rows):
        print("rnnbench: nothing could be timed (every configuration is unavailable or failed)", file=sys.stderr)
        return 1
    if request.require_stable and result.get("stable") is False:
        print(f"rnnbench: not stable (--require-stable): {_instability(rows, result)}", file=sys.stderr)
        return 1
    return 1 if result["status"] == "failed" else 0


def _instability(rows: list[dict], result: dict) -> str:
    """One line: which rows are unstable (the first few by name) and the record's own reasons."""
    from rnnbench.bench.table import row_name

    names = [row_name(r) for r in rows if r.get("status") == "ok" and not r.get("stable")]
    parts = []
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{len(names)} row(s) unstable ({shown})")
    parts += [r for r in result.get("unstable_reasons") or () if not r.endswith("rows unstable")]
    return "; ".join(parts) or "the record is unstable"


def _progress(done: int, total: int, row: dict) -> None:
    from rnnbench.bench.suites import size_label

    median = f"{row['median_s'] * 1e3:.3g} ms" if row.get("median_s") else row["status"]
    if row.get("median_s") and row.get("stop_reason"):
        from rnnbench.bench.stats import format_pm

        median += f" {format_pm(row['median_s'], row.get('ci95_s'))} ({row['rounds']} rounds, {row['stop_reason']})"
    error = f": {row['error']}" if row.get("error") else ""
    name = " ".join(str(p) for p in (row["backend"], row.get("impl"), row["cell"], size_label(row), row["pass"]) if p)
    print(f"[{done}/{total}] {name}: {median}{error}", file=sys.stderr, flush=True)
