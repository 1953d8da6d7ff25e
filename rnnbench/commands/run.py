"""``rnnbench run``: its options and what it does with them.

The parser half imports nothing heavy (``rnnbench --help`` stays fast); the
handler resolves names first (unknown backend, task, model or dataset fail in
well under a second, before any data is read), proves the results directory
writable, prepares the task once, then trains each seed and writes its record.
"""

from __future__ import annotations

import os
import shlex
import sys

from rnnbench.errors import RnnbenchError
from rnnbench.run_options import TASK_OPTIONS, add_options


def add_parser(commands, argv=None) -> None:
    """``rnnbench run``, with the options of the task ``argv`` names (``--task X``), if any."""
    run = commands.add_parser(
        "run",
        help="train a task on a backend; one JSON record per seed",
        description="Train a model on real data with one backend. Options left out take the task's defaults "
        "for the dataset (see `rnnbench run --backend numpy --task textclf --show-config`). "
        "Each task adds options of its own: `rnnbench run --task NAME --help` lists them.",
    )
    add_options(run, {"model": run.add_argument_group("model and optimizer")})
    task_options = add_task_options(run, task_named(argv))
    run.set_defaults(handler=handle, task_options=task_options)


def task_named(argv) -> str | None:
    """The value of ``--task`` in a ``run`` command line (``--task X`` or ``--task=X``), else None."""
    argv = list(argv or [])
    for i, word in enumerate(argv):
        if word == "--task" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--task="):
            return word.split("=", 1)[1]
    return None


def add_task_options(run, task_name: str | None) -> tuple[str, ...]:
    """Add the options task ``task_name`` declares, in a group of their own; their ``dest`` names.

    An unknown or broken task adds nothing here: the handler then says what is
    wrong in one line, as for every other bad name.
    """
    if not task_name:
        return ()
    from rnnbench.plugins import get_registry

    try:
        task_class = get_registry().task(task_name).load()
    except RnnbenchError:
        return ()
    recorder = _OptionRecorder(run.add_argument_group(f"options of the {task_name} task"))
    task_class.add_options(recorder)
    return tuple(recorder.dests)


class _OptionRecorder:
    """An argparse group that remembers the ``dest`` of every option a task adds to it."""

    def __init__(self, group):
        self._group, self.dests = group, []

    def add_argument(self, *args, **kwargs):
        action = self._group.add_argument(*args, **kwargs)
        self.dests.append(action.dest)
        return action


def parse_seeds(text: str) -> list[int]:
    """``--seeds 0,1,2``: distinct non-negative integers (NumPy seeds no generator with a negative one)."""
    from rnnbench.number_types import seed
    from rnnbench.task import parse_int_list

    return [seed.check(value, "--seeds") for value in parse_int_list(text, "--seeds", "seed")]


def handle(args) -> int:
    from rnnbench.plugins import get_registry
    from rnnbench.records import ensure_writable
    from rnnbench.runner import check_run_options

    if args.offline:
        from rnnbench.data.paths import OFFLINE_VARIABLE

        os.environ[OFFLINE_VARIABLE] = "1"  # for this process and any it starts
    seeds = parse_seeds(args.seeds)
    if args.threads is not None and args.threads < 1:
        raise RnnbenchError(f"--threads must be at least 1, got {args.threads}")
    from rnnbench.devices import check_device, warn_threads

    check_device(args.backend, args.device)  # the check a sweep makes of each configuration, too
    warn_threads(args.threads)
    registry = get_registry()
    backend_entry = registry.backend(args.backend)
    if not backend_entry.available:
        raise RnnbenchError(f"backend {args.backend} is unavailable: {backend_entry.unavailable_reason()}")
    task = load_task(registry, args.task)
    given = {name: getattr(args, name) for name in (*TASK_OPTIONS, *args.task_options)}
    configs = []  # a task may expand one command line into several runs (longrange: one a sequence length)
    for variant in task.expand(given):
        config = task.resolve_config(variant)
        config.update(
            backend=args.backend,
            seeds=seeds,
            device=args.device,
            impl=args.impl,
            threads=args.threads or _usable_cpus(),
        )
        if args.eval_every is not None:
            config["eval_every"] = args.eval_every
        check_run_options(config)
        configs.append(config)
    if args.show_config:
        import json

        print(json.dumps(configs[0] if len(configs) == 1 else configs, indent=1, default=str))
        return 0
    results_dir = ensure_writable(args.results_dir)
    backend = _make_backend(backend_entry, configs[0])
    try:
        prepared = [task.prepare(config) for config in configs]  # every bad option fails before any training
    except MemoryError as exc:  # numpy's _ArrayMemoryError too: a size the tasks' own estimates let through
        from rnnbench.memory import out_of_memory_message

        raise RnnbenchError(out_of_memory_message("preparing the run", exc, given, configs[0])) from None
    codes = []
    for config, job in zip(configs, prepared):
        for note in job.notes:
            print(f"note: {note}", file=sys.stderr)
        codes.append(_run_seeds(job, backend, config, seeds, results_dir, progress=False if args.no_progress else None))
        if codes[-1] > 128:  # interrupted (128 + the signal): later sequence lengths do not start
            return codes[-1]
    return max(codes)


def load_task(registry, name: str):
    """An instance of task ``name``; a task class that does not implement the whole interface is one line."""
    from rnnbench.task import Task

    task_class = registry.task(name).load()
    if not (isinstance(task_class, type) and issubclass(task_class, Task)):
        raise RnnbenchError(f"task {name}: {registry.task(name).target} is not an rnnbench.task.Task subclass")
    missing = sorted(getattr(task_class, "__abstractmethods__", ()))
    if missing:
        raise RnnbenchError(f"task {name}: {task_class.__name__} does not implement {', '.join(missing)}")
    return task_class()


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _make_backend(entry, config):
    options = {"threads": config["threads"]}
    for key in ("device", "impl"):
        if config.get(key) is not None:
            options[key] = config[key]
    from rnnbench.plugins import load_backend

    return load_backend(entry)(**options)


def _run_seeds(prepared, backend, config, seeds, results_dir, progress) -> int:
    """Train and save each seed; an interruption stops the rest (exit 128 + signal), so does a failed save."""
    from rnnbench import runner, signals
    from rnnbench.records import RecordNotWritten, save_record
    from rnnbench.run_summary import result_line, summary_table

    written, not_written, stopped_by = [], None, None
    with signals.deferred():  # a signal between runs or during a write waits: no record is cut short
        for seed in seeds:
            print(
                f"run: {config['task']} {config['dataset']} {config.get('model', '')} on {backend.name}, seed {seed}",
                file=sys.stderr,
            )
            record = runner.run(
                prepared, backend, config, seed, progress=progress, command="rnnbench " + shlex.join(sys.argv[1:])
            )
            print(result_line(record), file=sys.stderr, flush=True)  # the result first, whatever the write does
            try:
                path = save_record(results_dir, record)
            except RecordNotWritten as exc:
                path, not_written = exc.saved or "(printed above)", exc
            written.append((path, record))
            # stopped by the signal that ended this run, or by one that came while its record was written
            stopped_by = (
                signals.number(record["signal"]) if record["status"] == "interrupted" else signals.take_pending()
            )
            if stopped_by or not_written:
                break
        print(summary_table([r for _, r in written]))
        for path, record in written:
            print(f"record: {path}" + (f"  ({record['status']}: {record['error']})" if record["error"] else ""))
        stopped_by = stopped_by or signals.take_pending()
    if not_written:
        raise not_written
    if stopped_by:
        return 128 + stopped_by
    return 0 if {r["status"] for _, r in written} == {"ok"} else 1
