"""``rnnbench bench``: its options, its table, and the one record it leaves.

The parser half imports nothing heavy; the handler builds the grid (every bad
option fails here, in a second, before anything runs), measures this machine's
matrix-multiply peak, times each configuration in its own worker process, prints
the table (or JSON) and writes one ``rnnbench.bench/1`` record (never over another).
Exit status 1 when any configuration failed, or when none could run at all.
"""
from __future__ import annotations

import sys
from dataclasses import replace

from rnnbench.errors import RnnbenchError


def add_parser(commands) -> None:
    bench = commands.add_parser(
        "bench", help="time forward and forward+backward passes of every backend; GFLOP/s and %% of peak",
        description="Time recurrent and recursive cells on every backend, each configuration in a fresh "
                    "process, and compare them: median ms, IQR, GFLOP/s from counted FLOPs, the fraction of "
                    "this machine's measured matrix-multiply peak, and the ratio to the fastest backend.")
    bench.add_argument("--suite", choices=("smoke", "cpu", "deepbench"),
                       help="a named grid (default: a custom grid from the options below)")
    bench.add_argument("--cells", metavar="LIST", help="rnn, lstm, gru, recursive, treelstm (comma-separated)")
    bench.add_argument("--backends", metavar="LIST", help="numpy, torch, tensorflow (default: all registered)")
    bench.add_argument("--impls", metavar="LIST",
                       help="backend implementations (native, loop, compiled, xla) and tree schedules "
                            "(level-batched, node-by-node); default: each backend's default, level-batched")
    bench.add_argument("--sizes", metavar="LIST", help="sequence sizes BATCHxSTEPSxINPUTxHIDDEN, e.g. 64x100x128x256")
    bench.add_argument("--tree-sizes", metavar="LIST", help="tree sizes TREESxINPUTxHIDDEN, e.g. 64x300x150")
    bench.add_argument("--trees", action="store_true", help="add the tree cells to a custom grid")
    bench.add_argument("--dtype", metavar="LIST", help="float32 (default) and/or float64")
    bench.add_argument("--pass", dest="passes", metavar="LIST", help="forward, forward+backward (default: both)")
    bench.add_argument("--threads", type=int, metavar="N",
                       help="threads of every framework and of the peak measurement (default: usable CPUs)")
    bench.add_argument("--device", metavar="DEVICE", help="cpu (default), cuda, cuda:N, gpu")
    bench.add_argument("--isolation", choices=("config", "backend"),
                       help="a fresh process per configuration (default) or per backend (smoke's default)")
    bench.add_argument("--min-samples", type=int, metavar="N", help="samples per configuration at least")
    bench.add_argument("--budget", type=float, metavar="S", help="seconds of sampling per configuration")
    bench.add_argument("--timeout", type=float, default=900.0, metavar="S",
                       help="give up on a configuration after S seconds (default 900)")
    bench.add_argument("--overhead", action="store_true",
                       help="measure the harness against bare loops (same callable; plain framework layer)")
    bench.add_argument("--data-dir", metavar="DIR", help="where sst/train.txt is (default $RNNBENCH_DATA_DIR)")
    bench.add_argument("--results-dir", default="results", metavar="DIR", help="where the record goes")
    bench.add_argument("--no-record", action="store_true", help="write no record")
    bench.add_argument("--format", choices=("table", "json"), default="table")
    bench.set_defaults(handler=handle)


def handle(args) -> int:
    import json

    from rnnbench.bench import record, sweep, table
    from rnnbench.bench.grid import build_grid
    from rnnbench.machine import load_average
    from rnnbench.record_fallback import save_record
    from rnnbench.results import ensure_writable

    grid = build_grid(args)
    policy = _policy(grid.suite.policy, args)
    grid.config["timing"] = policy.as_dict()
    if args.overhead:
        grid.config["mode"] = "overhead"
    if not args.no_record:
        ensure_writable(args.results_dir)
    threads, device = grid.config["threads"], grid.config["device"]
    started, load_start = record.now(), load_average()
    print(f"bench: {len(grid.configs)} configurations, {threads} thread(s), {device}, "
          f"one process per {grid.config['isolation']}", file=sys.stderr)
    peaks = {}
    if len(grid.unavailable) < len(grid.backends):
        for dtype in grid.config["dtypes"]:
            peaks[dtype] = sweep.measure_peak(device=device, threads=threads, sizes=grid.suite.peak_sizes,
                                              dtype=dtype, policy=policy, timeout=args.timeout)
    rows = sweep.run_configs(grid.configs, threads=threads, policy=policy, isolation=grid.config["isolation"],
                             mode="overhead" if args.overhead else "time", timeout=args.timeout,
                             unavailable=grid.unavailable, progress=_progress)
    record.annotate(rows, peaks)
    result = record.build_record(dataset="overhead" if args.overhead else grid.dataset, config=grid.config,
                                 rows=rows, peaks=peaks, started_at=started, load_start=load_start,
                                 load_end=load_average())
    if args.format == "json":
        print(json.dumps(result, indent=1))
    else:
        print(table.format_rows(rows, peaks))
        if args.overhead:
            print(table.format_overhead(rows))
    if not args.no_record:
        path = save_record(args.results_dir, result)
        print(f"record: {path}", file=sys.stderr if args.format == "json" else sys.stdout)
    if not any(row["status"] == "ok" for row in rows):
        print("rnnbench: nothing could be timed (every configuration is unavailable or failed)", file=sys.stderr)
        return 1
    return 1 if result["status"] == "failed" else 0


def _policy(policy, args):
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
    error = f": {row['error']}" if row.get("error") else ""
    name = " ".join(str(p) for p in (row["backend"], row.get("impl"), row["cell"], size_label(row), row["pass"]) if p)
    print(f"[{done}/{total}] {name}: {median}{error}", file=sys.stderr, flush=True)
