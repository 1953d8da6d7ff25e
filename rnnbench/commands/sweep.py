"""``rnnbench sweep FILE.toml``: its options, and the order of work (check all, skip done, run, summarise).

The parser half imports nothing heavy; the handler reads and checks the whole
file before any run starts, so a typo in the last include costs a second,
not an evening of training.
"""

from __future__ import annotations

import sys

from rnnbench.errors import RnnbenchError
from rnnbench.number_types import positive_int


def add_parser(commands, argv=None) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run every configuration of a sweep file, here or on a Ray cluster",
        description="Run the product of a sweep file's [matrix] (less [[exclude]], plus [[include]]) with its "
        "[options], each configuration one `rnnbench run`, skipping those whose record already "
        "exists. See docs/sweeps.md.",
    )
    sweep.add_argument("file", metavar="FILE.toml", help="the sweep file (sweeps/smoke.toml runs in seconds)")
    sweep.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="local runs at once (default 1)")
    sweep.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local processes (default) or tasks on a Ray cluster",
    )
    sweep.add_argument(
        "--address",
        metavar="auto|HOST:PORT",
        help="the Ray cluster to join (default auto: the one `ray start` runs on this machine)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list every configuration, marking those done")
    sweep.add_argument("--rerun", action="store_true", help="run every configuration, done or not")
    sweep.add_argument(
        "--any-version", action="store_true", help="a record made by another commit still counts as done"
    )
    sweep.add_argument("--results-dir", default="results", metavar="DIR", help="where records go (default results/)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=handle)


def handle(args) -> int:
    from rnnbench.machine import git_commit
    from rnnbench.sweep.resume import find_done
    from rnnbench.sweep.spec import common_options, load_sweep, varying_keys

    if args.jobs < 1:
        raise RnnbenchError(f"--jobs must be at least 1, got {args.jobs}")
    if args.address and args.executor != "ray":
        raise RnnbenchError("--address applies to --executor ray")
    if args.jobs != 1 and args.executor == "ray":
        raise RnnbenchError(
            "--jobs applies to the local executor; Ray runs as many configurations at once as "
            "the cluster has CPUs for their threads"
        )
    if args.executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise RnnbenchError("the ray executor needs Ray, which is not installed: pip install 'rnnbench[ray]'")
    sweep = load_sweep(args.file)
    for warning in sweep.warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    configs = sweep.configurations
    args.label_keys = varying_keys(configs)
    common = common_options(configs)
    done = find_done(configs, args.results_dir, git_commit()["commit"], args.any_version)
    if args.dry_run:
        return _dry_run(configs, done, args, common)
    todo = configs if args.rerun else [c for c in configs if c not in done]
    skipped = [] if args.rerun else [done[c] for c in configs if c in done]
    from rnnbench.records import ensure_writable

    if args.executor == "local":
        _check_local(todo, args.jobs)
    results_dir = ensure_writable(args.results_dir)
    if args.executor == "ray" and todo:
        from rnnbench.sweep.ray_executor import connect, import_ray

        connect(import_ray(), args.address)  # before anything is said
    print(
        f"sweep {args.file}: {len(configs)} configurations, {len(skipped)} done, {len(todo)} to run "
        f"({args.executor}{f', {args.jobs} at once' if args.executor == 'local' else ''})"
        f"{f'; every run: {common}' if common else ''}",
        file=sys.stderr,
    )
    finished, signum = _execute(todo, results_dir, args)
    return _summarise(results_dir, finished, skipped, len(todo) - len(finished), signum)


def _dry_run(configs, done, args, common: str) -> int:
    from rnnbench.table import format_table

    rows = []
    for i, config in enumerate(configs, 1):
        state = ("done, rerun" if args.rerun else "done") if config in done else "to run"
        rows.append([i, state, config.describe(args.label_keys), done[config].name if config in done else ""])
    if common:
        print(f"every configuration: {common}")
    print(format_table(["#", "state", "configuration", "record"], rows))
    print(
        f"{len(configs)} configurations: {len(done)} done, "
        f"{len(configs) if args.rerun else len(configs) - len(done)} to run"
        f"{'' if args.any_version else ' (records of this commit only; --any-version accepts any)'}"
    )
    return 0


def _check_local(todo, jobs: int) -> None:
    """Every backend to run is installed here; warn when the runs ask for more threads than there are CPUs."""
    from rnnbench.plugins import get_registry
    from rnnbench.sweep.local import usable_cpus

    registry = get_registry()
    for name in sorted({c.backend for c in todo}):
        entry = registry.backend(name)
        if not entry.available:
            raise RnnbenchError(f"backend {name} is unavailable here: {entry.unavailable_reason()}")
    cpus = usable_cpus()
    threads = max([c.threads or cpus for c in todo], default=0)
    if todo and min(jobs, len(todo)) * threads > cpus:
        print(
            f"warning: --jobs {jobs} x {threads} threads exceeds the {cpus} usable CPUs: runs will slow each "
            f"other down and their timings will show it (set threads in [options])",
            file=sys.stderr,
        )


def _execute(todo, results_dir, args):
    """Run ``todo`` with the chosen executor: the finished runs, and the signal that stopped it (or None)."""
    from rnnbench.sweep.summary import run_line

    finished = []
    if not todo:
        return finished, None
    bar = _bar(len(todo), args.no_progress)

    def on_finished(result):
        finished.append(result)
        line = run_line(result, args.label_keys)
        if bar is not None:
            bar.write(line, file=sys.stdout)
            bar.update(1)
        else:
            print(line, flush=True)

    try:
        if args.executor == "ray":
            from rnnbench.sweep.ray_executor import run_ray

            signum = run_ray(todo, results_dir, args.address, on_finished)
        else:
            from rnnbench.sweep.local import run_local

            signum = run_local(todo, results_dir, args.jobs, on_finished)
    finally:
        if bar is not None:
            bar.close()
    return finished, signum


def _bar(total: int, disabled: bool):
    if disabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="sweep", unit="run", file=sys.stderr, dynamic_ncols=True, disable=None)


def _summarise(results_dir, finished, skipped, not_started: int, signum) -> int:
    from rnnbench.sweep.stopping import EXIT_CODES
    from rnnbench.sweep.summary import counts_line, records_table

    statuses = [f.record["status"] for f in finished] + ["skipped"] * len(skipped)
    table = records_table(results_dir, [f.path for f in finished if not f.elsewhere] + list(skipped))
    if table:
        print(table, end="")
    print(counts_line(statuses, not_started))
    elsewhere = [f for f in finished if f.elsewhere]
    if elsewhere:  # as `rnnbench run` does: the records are safe, but not where the report and a resume look
        kept = ", ".join(str(f.path) if f.path else "standard output (above)" for f in elsewhere)
        raise RnnbenchError(
            f"{len(elsewhere)} record(s) could not be written to {results_dir} and were kept "
            f"elsewhere: {kept}; move them into {results_dir}, which the report and a re-run "
            f"sweep read"
        )
    if signum is not None:
        return EXIT_CODES[signum]
    return 1 if any(f.record["status"] == "failed" for f in finished) else 0
