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
from dataclasses import replace

from rnnbench.errors import RnnbenchError
from rnnbench.number_types import nonnegative_float, number, positive_float, positive_int

#: ``--target-ci PCT``: a percentage above 0, at most 100.
target_percent = number(float, 0, 100, low_open=True, name="percentage")


def add_parser(commands, argv=None) -> None:
    bench = commands.add_parser(
        "bench", help="time forward and forward+backward passes of every backend; GFLOP/s and %% of peak",
        description="Time recurrent and recursive cells on every backend, each in a worker process of its own, "
                    "the rows that compare visited turn about in interleaved rounds, and compare them: median "
                    "ms with its 95% interval, GFLOP/s from counted FLOPs, the fraction of this machine's "
                    "measured matrix-multiply peak, the ratio to the fastest backend with its interval, peak "
                    "memory, the first call's cost, and whether each row is stable.")
    bench.add_argument("--suite", choices=("smoke", "cpu", "deepbench", "lengths"),
                       help="a named grid (default: a custom grid from the options below); lengths: the textclf "
                            "model on real ragged text, batched random, bucketed, sorted and packed")
    bench.add_argument("--cells", metavar="LIST", help="rnn, lstm, gru, recursive, treelstm (comma-separated)")
    bench.add_argument("--backends", metavar="LIST", help="numpy, torch, tensorflow (default: all registered)")
    bench.add_argument("--impls", metavar="LIST",
                       help="backend implementations (native, loop, compiled, xla) and tree schedules "
                            "(level-batched, node-by-node); default: each backend's default, level-batched")
    bench.add_argument("--sizes", metavar="LIST",
                       help="sequence sizes BATCHxSTEPSxINPUTxHIDDEN, e.g. 64x100x128x256; add :L<layers> and :bi "
                            "for stacked and bidirectional encoders, e.g. 64x100x512x512:L2:bi")
    bench.add_argument("--tree-sizes", metavar="LIST", help="tree sizes TREESxINPUTxHIDDEN, e.g. 64x300x150")
    bench.add_argument("--trees", action="store_true", help="add the tree cells to a custom grid")
    bench.add_argument("--dtype", metavar="LIST", help="float32 (default) and/or float64")
    bench.add_argument("--pass", dest="passes", metavar="LIST", help="forward, forward+backward (default: both)")
    bench.add_argument("--threads", type=positive_int, metavar="N",
                       help="threads of every framework and of the peak measurement (default: usable CPUs)")
    bench.add_argument("--device", metavar="DEVICE", help="cpu (default), cuda, cuda:N, gpu")
    bench.add_argument("--isolation", choices=("config", "impl", "backend"),
                       help="a fresh process per configuration (default), per backend and impl (one framework "
                            "a process; compile caches shared), or per backend (smoke's default)")
    bench.add_argument("--min-samples", type=positive_int, metavar="N", help="samples per configuration at least")
    bench.add_argument("--budget", type=nonnegative_float, metavar="S", help="seconds of sampling per configuration")
    bench.add_argument("--timeout", type=positive_float, default=900.0, metavar="S",
                       help="give up on a configuration after S seconds (default 900)")
    bench.add_argument("--target-ci", type=target_percent, default=3.0, metavar="PCT",
                       help="sample until every row's 95%% interval is within PCT%% of its median, or the "
                            "budget is spent (default 3)")
    bench.add_argument("--settle", type=nonnegative_float, default=30.0, metavar="S",
                       help="first wait up to S seconds for the 1-minute load to fall below half the CPUs "
                            "(default 30; 0: do not wait)")
    bench.add_argument("--require-stable", action="store_true",
                       help="exit 1 when any row or the record is unstable (an interval too wide, a busy "
                            "machine, a slow peak GEMM)")
    bench.add_argument("--overhead", action="store_true",
                       help="measure the harness against bare loops (same callable; plain framework layer)")
    bench.add_argument("--data-dir", metavar="DIR",
                       help="where sst/train.txt is (default $RNNBENCH_DATA_DIR, then the user cache; "
                            "fetched on first use)")
    bench.add_argument("--offline", action="store_true",
                       help="never download SST: time synthetic SST-shaped trees when it is absent")
    bench.add_argument("--train", action="store_true",
                       help="time one training step of the textclf model (IMDB default batches) on each backend "
                            "against the plain loop a user of that framework writes, in alternating rounds")
    bench.add_argument("--train-batches", type=positive_int, default=8, metavar="N",
                       help="batches a round of --train passes over (default 8)")
    bench.add_argument("--train-rounds", type=positive_int, default=10, metavar="N",
                       help="alternating rounds of --train (default 10)")
    bench.add_argument("--datasets", metavar="LIST",
                       help="--suite lengths: whose length distributions (imdb, sst2, trec; default all three)")
    bench.add_argument("--strategies", metavar="LIST",
                       help="--suite lengths: random, bucketed, sorted, packed (default all four)")
    bench.add_argument("--token-budget", type=positive_int, metavar="N",
                       help="--suite lengths: real tokens a batch holds on average (default 4096)")
    bench.add_argument("--peak-frameworks", metavar="LIST",
                       help="frameworks whose GEMM may set the peak (default: numpy, torch, tensorflow, "
                            "each installed one, each in its own process)")
    bench.add_argument("--results-dir", default="results", metavar="DIR", help="where the record goes")
    bench.add_argument("--no-record", action="store_true", help="write no record")
    bench.add_argument("--format", choices=("table", "json"), default="table")
    bench.set_defaults(handler=handle)


def handle(args) -> int:

    from rnnbench.bench import record, sweep, table
    from rnnbench.bench.grid import build_grid
    from rnnbench.machine import load_average
    from rnnbench.records import ensure_writable, save_record

    if args.offline:
        from rnnbench.data.paths import OFFLINE_VARIABLE

        os.environ[OFFLINE_VARIABLE] = "1"
    if args.train:
        return _handle_train(args)
    if args.suite == "lengths":
        return _handle_lengths(args)
    for option in ("datasets", "strategies", "token_budget"):
        if getattr(args, option) is not None:
            raise RnnbenchError(f"--{option.replace('_', '-')} applies to --suite lengths only")
    grid = build_grid(args)
    policy = _policy(grid.suite.policy, args)
    grid.config["timing"] = {**policy.as_dict(), "interleaved": not args.overhead}
    if args.overhead:
        grid.config["mode"] = "overhead"
    if not args.no_record:
        ensure_writable(args.results_dir)
    threads, device = grid.config["threads"], grid.config["device"]
    from rnnbench.bench.timing import usable_cpus
    from rnnbench.bench.verdict import settle
    from rnnbench.devices import warn_threads

    warn_threads(args.threads)
    settled = settle(args.settle, usable_cpus())
    started, load_start = record.now(), load_average()
    print(f"bench: {len(grid.configs)} configurations, {threads} thread(s), {device}, "
          f"one process per {grid.config['isolation']}"
          + ("" if args.overhead else f", interleaved rounds to a {100 * policy.target_ci:g}% interval"),
          file=sys.stderr)
    peaks = {}
    if len(grid.unavailable) < len(grid.backends):
        from rnnbench.bench.peak import FRAMEWORKS, available_frameworks
        from rnnbench.bench.suites import parse_names

        # the fastest GEMM any installed framework offers, whichever backends are timed
        wanted = parse_names(args.peak_frameworks, FRAMEWORKS, "peak-frameworks", "framework") \
            if args.peak_frameworks else FRAMEWORKS
        frameworks = available_frameworks(device, wanted)
        print(f"bench: peak GEMM of {', '.join(frameworks)}, each in its own process", file=sys.stderr)
        for dtype in grid.config["dtypes"]:
            peaks[dtype] = sweep.measure_peak(device=device, threads=threads, sizes=grid.suite.peak_sizes,
                                              dtype=dtype, policy=policy, timeout=args.timeout,
                                              frameworks=frameworks)
    rows = sweep.run_configs(grid.configs, threads=threads, policy=policy, isolation=grid.config["isolation"],
                             mode="overhead" if args.overhead else "time", timeout=args.timeout,
                             unavailable=grid.unavailable, progress=_progress)
    record.annotate(rows, peaks)
    record.judge_rows(rows, policy.target_ci, usable_cpus())
    result = record.build_record(dataset="overhead" if args.overhead else grid.dataset, config=grid.config,
                                 rows=rows, peaks=peaks, started_at=started, load_start=load_start,
                                 load_end=load_average(), settle=settled)
    record.judge_record(result, args.results_dir)
    if args.format == "json":
        print(json.dumps(result, indent=1))
    else:
        summary = table.format_summary(rows)
        if summary:
            print(summary + "\n\nevery row:")
        print(table.format_rows(rows, peaks))
        unstable = table.format_unstable(rows, result["unstable_reasons"])
        if unstable:
            print(unstable)
        kernels = table.format_kernels(result["warnings"], result["kernels"])
        if kernels:
            print(kernels)
        if args.overhead:
            print(table.format_overhead(rows))
    if not args.no_record:
        path = save_record(args.results_dir, result)
        print(f"record: {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    if not any(row["status"] == "ok" for row in rows):
        print("rnnbench: nothing could be timed (every configuration is unavailable or failed)", file=sys.stderr)
        return 1
    if args.require_stable and not result["stable"]:
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


def _handle_train(args) -> int:
    """``--train``: rnnbench's training step against each framework's plain loop (:mod:`rnnbench.bench.train`)."""
    from rnnbench.bench import record, table
    from rnnbench.bench.grid import _impls
    from rnnbench.bench.timing import usable_cpus
    from rnnbench.bench.train import format_train, run_train_bench
    from rnnbench.machine import load_average
    from rnnbench.plugins import get_registry
    from rnnbench.records import ensure_writable, save_record

    if args.train_batches < 1 or args.train_rounds < 1:
        raise RnnbenchError("--train-batches and --train-rounds must be at least 1")
    if args.timeout <= 0:
        raise RnnbenchError(f"--timeout must be positive, got {args.timeout}")
    threads = args.threads if args.threads is not None else usable_cpus()
    if threads < 1:
        raise RnnbenchError(f"--threads must be at least 1, got {threads}")
    from rnnbench.devices import warn_threads

    warn_threads(args.threads)
    device = (args.device or "cpu").strip().lower()
    registry = get_registry()
    backends, unavailable = _backends(args)
    impls, _ = _impls(args.impls, backends, unavailable, registry)
    if not args.no_record:
        ensure_writable(args.results_dir)
    started, load_start = record.now(), load_average()
    rows, info = run_train_bench(args, backends, unavailable, impls, threads, device, args.timeout)
    config = {"suite": "train", "mode": "train", "backends": backends, "impls": impls, "device": device,
              "threads": threads, **info}
    result = record.build_record(dataset="train", config=config, rows=rows, peaks={}, started_at=started,
                                 load_start=load_start, load_end=load_average())
    if args.format == "json":
        print(json.dumps(result, indent=1))
    else:
        print(format_train(rows, info["data"]))
        kernels = table.format_kernels(result["warnings"], result["kernels"])
        if kernels:
            print(kernels)
    if not args.no_record:
        path = save_record(args.results_dir, result)
        print(f"record: {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    if not any(row["status"] == "ok" for row in rows):
        print("rnnbench: nothing could be timed (every configuration is unavailable or failed)", file=sys.stderr)
        return 1
    return 1 if result["status"] == "failed" else 0


def _handle_lengths(args) -> int:
    """``--suite lengths``: each backend's strategies for ragged text, in interleaved rounds
    (:mod:`rnnbench.bench.lengths`)."""
    from rnnbench.bench import lengths, record, sweep, table
    from rnnbench.bench.suites import CAREFUL, DTYPES, parse_names
    from rnnbench.bench.timing import usable_cpus
    from rnnbench.bench.verdict import settle
    from rnnbench.devices import warn_threads
    from rnnbench.machine import load_average
    from rnnbench.params import SEQUENCE_CELLS
    from rnnbench.records import ensure_writable, save_record

    for option in ("sizes", "tree_sizes", "impls", "passes"):
        if getattr(args, option):
            raise RnnbenchError(f"--{option.replace('_', '-').replace('passes', 'pass')} does not apply to "
                                "--suite lengths (its sizes are the textclf task's; it times forward+backward)")
    if args.trees or args.overhead:
        raise RnnbenchError(f"--{'trees' if args.trees else 'overhead'} does not apply to --suite lengths")
    datasets = parse_names(args.datasets, lengths.DATASETS, "datasets", "dataset") if args.datasets \
        else list(lengths.DATASETS)
    strategies = parse_names(args.strategies, lengths.STRATEGIES, "strategies", "strategy") if args.strategies \
        else list(lengths.STRATEGIES)
    cells = parse_names(args.cells, SEQUENCE_CELLS, "cells", "cell") if args.cells else [None]
    dtypes = parse_names(args.dtype, DTYPES, "dtype") if args.dtype else ["float32"]
    budget = args.token_budget or lengths.TOKEN_BUDGET
    threads = args.threads if args.threads is not None else usable_cpus()
    device = (args.device or "cpu").strip().lower()
    backends, unavailable = _backends(args)
    policy = _policy(CAREFUL, args)
    if not args.no_record:
        ensure_writable(args.results_dir)
    warn_threads(args.threads)
    configs, described = [], {}
    for cell in cells:
        for dtype in dtypes:
            more, described = lengths.build_configs(backends=backends, datasets=datasets, strategies=strategies,
                                                    dtype=dtype, threads=threads, device=device, budget=budget,
                                                    data_dir=args.data_dir, cell=cell)
            configs += more
    settled = settle(args.settle, usable_cpus())
    started, load_start = record.now(), load_average()
    print(f"bench: {len(configs)} ragged-text configurations ({', '.join(datasets)} x {', '.join(strategies)}), "
          f"{threads} thread(s), {device}, one process per backend, interleaved rounds to a "
          f"{100 * policy.target_ci:g}% interval", file=sys.stderr)
    rows = sweep.run_configs(configs, threads=threads, policy=policy, isolation="impl", timeout=args.timeout,
                             unavailable=unavailable, progress=_progress)
    lengths.finish_rows(rows)
    record.annotate(rows, {})
    record.judge_rows(rows, policy.target_ci, usable_cpus())
    config = {"suite": "lengths", "description": "the textclf model on real ragged text, four batching strategies",
              "backends": backends, "cells": sorted({c["cell"] for c in configs}), "datasets": described,
              "strategies": strategies, "dtypes": dtypes, "passes": ["forward+backward"], "device": device,
              "threads": threads, "isolation": "impl", "timing": {**policy.as_dict(), "interleaved": True},
              "lengths": "ragged: each dataset's real lengths (config.datasets)", "unavailable": unavailable}
    result = record.build_record(dataset="lengths", config=config, rows=rows, peaks={}, started_at=started,
                                 load_start=load_start, load_end=load_average(), settle=settled)
    record.judge_record(result, args.results_dir)
    if args.format == "json":
        print(json.dumps(result, indent=1))
    else:
        print(lengths.format_lengths(rows, described))
        unstable = table.format_unstable(rows, result["unstable_reasons"])
        if unstable:
            print(unstable)
        kernels = table.format_kernels(result["warnings"], result["kernels"])
        if kernels:
            print(kernels)
    if not args.no_record:
        path = save_record(args.results_dir, result)
        print(f"record: {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    if not any(row["status"] == "ok" for row in rows):
        print("rnnbench: nothing could be timed (every configuration is unavailable or failed)", file=sys.stderr)
        return 1
    if args.require_stable and not result["stable"]:
        print(f"rnnbench: not stable (--require-stable): {_instability(rows, result)}", file=sys.stderr)
        return 1
    return 1 if result["status"] == "failed" else 0


def _backends(args) -> tuple[list[str], dict]:
    from rnnbench.bench.grid import select_backends
    from rnnbench.plugins import get_registry

    return select_backends(args.backends, get_registry())


def _policy(policy, args):
    policy = replace(policy, target_ci=args.target_ci / 100)
    if args.min_samples is not None:
        if args.min_samples < 1:
            raise RnnbenchError(f"--min-samples must be at least 1, got {args.min_samples}")
        policy = replace(policy, min_samples=args.min_samples, max_samples=max(policy.max_samples, args.min_samples))
    if args.budget is not None:
        if args.budget < 0:
            raise RnnbenchError(f"--budget must be >= 0 seconds, got {args.budget}")
        policy = replace(policy, budget_s=args.budget)
    if args.timeout <= 0:
        raise RnnbenchError(f"--timeout must be positive, got {args.timeout}")
    return policy


def _progress(done: int, total: int, row: dict) -> None:
    from rnnbench.bench.suites import size_label

    median = f"{row['median_s'] * 1e3:.3g} ms" if row.get("median_s") else row["status"]
    if row.get("median_s") and row.get("stop_reason"):
        from rnnbench.bench.stats import format_pm

        median += f" {format_pm(row['median_s'], row.get('ci95_s'))} ({row['rounds']} rounds, {row['stop_reason']})"
    error = f": {row['error']}" if row.get("error") else ""
    name = " ".join(str(p) for p in (row["backend"], row.get("impl"), row["cell"], size_label(row), row["pass"]) if p)
    print(f"[{done}/{total}] {name}: {median}{error}", file=sys.stderr, flush=True)
