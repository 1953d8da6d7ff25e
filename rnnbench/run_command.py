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

#: Options handed to the task's configuration as they are (None = the task's default).
TASK_OPTIONS = ("dataset", "model", "epochs", "max_steps", "batch_size", "eval_batch_size", "dtype",
                "embed_size", "hidden_size", "pooling", "activation", "optimizer", "lr", "clip_norm", "l2",
                "vocab_size", "min_count", "max_length", "truncate", "tokenizer", "split_seed", "dev_fraction",
                "folds", "fold", "text_column", "label_column", "label_names", "dev_file", "test_file",
                "data_dir", "problem", "init", "steps_per_epoch", "dev_size", "test_size", "success_fraction",
                "probe_steps", "labels", "encoding", "layers", "bidirectional")


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="train a task on a backend; one JSON record per seed",
        description="Train a model on real data with one backend. Options left out take the task's defaults "
                    "for the dataset (see `rnnbench run --backend numpy --task textclf --show-config`).")
    run.add_argument("--backend", required=True, metavar="NAME", help="numpy, torch, tensorflow, ...")
    run.add_argument("--task", required=True, metavar="NAME", help="textclf, longrange, ...")
    run.add_argument("--model", metavar="CELL", help="rnn, lstm, gru; treesent also recursive, treelstm")
    run.add_argument("--dataset", metavar="NAME|PATH",
                     help="a registered dataset (textclf: imdb, sst2, mr, trec, ag_news) or a .tsv/.csv/.jsonl file")
    run.add_argument("--epochs", type=int, metavar="N")
    run.add_argument("--max-steps", type=int, metavar="N", help="stop after N training steps in all")
    run.add_argument("--batch-size", type=int, metavar="N")
    run.add_argument("--seeds", default="0", metavar="LIST", help="comma-separated seeds, one run each (default 0)")
    run.add_argument("--device", metavar="DEVICE", help="cpu (default), cuda, cuda:N, gpu")
    run.add_argument("--impl", metavar="IMPL", help="backend implementation, e.g. torch native/loop/compiled")
    run.add_argument("--dtype", choices=("float32", "float64"))
    run.add_argument("--threads", type=int, metavar="N",
                     help="framework threads (default: the CPUs this process may use); recorded")
    run.add_argument("--results-dir", default="results", metavar="DIR", help="where records go (default results/)")
    run.add_argument("--data-dir", metavar="DIR", help="datasets folder (default $RNNBENCH_DATA_DIR, then the "
                                                       "user cache)")
    run.add_argument("--offline", action="store_true",
                     help="never download: a missing dataset is an error (also RNNBENCH_OFFLINE=1)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--show-config", action="store_true", help="print the resolved configuration and exit")
    model = run.add_argument_group("model and optimizer")
    model.add_argument("--embed-size", type=int, metavar="N")
    model.add_argument("--hidden-size", type=int, metavar="N")
    model.add_argument("--layers", type=int, metavar="N",
                       help="stacked recurrent layers, each reading the one below (default 1; rnn, lstm, gru)")
    model.add_argument("--bidirectional", action="store_const", const=True,
                       help="a forward and a backward direction in every layer, outputs concatenated (2H)")
    model.add_argument("--pooling", choices=("mean", "last", "max"))
    model.add_argument("--activation", choices=("tanh", "relu"), help="rnn cell only")
    model.add_argument("--optimizer", choices=("adam", "sgd", "adagrad"))
    model.add_argument("--lr", type=float, metavar="X")
    model.add_argument("--clip-norm", type=float, metavar="X", help="global gradient-norm clip (0: none)")
    model.add_argument("--l2", type=float, metavar="X")
    model.add_argument("--eval-batch-size", type=int, metavar="N")
    text = run.add_argument_group("text (textclf)")
    text.add_argument("--vocab-size", type=int, metavar="N", help="ids in all, padding and unknown included")
    text.add_argument("--min-count", type=int, metavar="N", help="training count a word needs to get an id")
    text.add_argument("--max-length", type=int, metavar="N", help="tokens kept per text")
    text.add_argument("--truncate", choices=("head", "tail"), help="keep the first (head) or last tokens")
    text.add_argument("--tokenizer", choices=("words", "words+punct"))
    text.add_argument("--split-seed", type=int, metavar="N", help="seed of the fixed dev/test splits (default 0)")
    text.add_argument("--dev-fraction", type=float, metavar="X")
    text.add_argument("--folds", type=int, metavar="K", help="folds for datasets without a test split")
    text.add_argument("--fold", type=int, metavar="I", help="which fold is test (0..K-1)")
    text.add_argument("--text-column", metavar="NAME", help="user file: text column or field (default text)")
    text.add_argument("--label-column", metavar="NAME", help="user file: label column or field (default label)")
    text.add_argument("--label-names", metavar="LIST", help="user file: the allowed labels, comma-separated")
    text.add_argument("--dev-file", metavar="PATH", help="user file: a dev file with the same columns")
    text.add_argument("--test-file", metavar="PATH", help="user file: a test file with the same columns")
    text.add_argument("--encoding", metavar="NAME",
                      help="user files: their text encoding (default utf-8, a byte-order mark skipped; "
                           "e.g. latin-1, cp1252, utf-16)")
    trees = run.add_argument_group("tree sentiment (treesent)")
    trees.add_argument("--labels", choices=("fine", "binary"),
                       help="fine: 5 classes (default); binary: the separate positive/negative model, neutral "
                            "phrases left out of training")
    longrange = run.add_argument_group("long-range (longrange)")
    longrange.add_argument("--problem", metavar="NAME", help="adding (default) or copy")
    longrange.add_argument("--seq-len", metavar="T[,T...]",
                           help="sequence length T (copy: the blank stretch; T+20 steps in all); a comma list "
                                "sweeps, one run and record per T and seed")
    longrange.add_argument("--init", metavar="KIND",
                           help="initial weights: default, identity (rnn; with --activation relu: IRNN), "
                                "orthogonal; treesent recursive: average (its default)")
    longrange.add_argument("--steps-per-epoch", type=int, metavar="N",
                           help="training steps between dev evaluations (default 200); --max-steps is the budget")
    longrange.add_argument("--dev-size", type=int, metavar="N", help="dev sequences (default 1000)")
    longrange.add_argument("--test-size", type=int, metavar="N", help="test sequences (default 4000)")
    longrange.add_argument("--success-fraction", type=float, metavar="X",
                           help="success: test metric below X times the baseline (default 0.1)")
    longrange.add_argument("--probe-steps", metavar="LIST",
                           help="training steps at which to record ||dLoss/dh_t|| for every t "
                                "(default: first, middle, last; 'none': never)")
    run.set_defaults(handler=handle)


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RnnbenchError(f"--seeds takes comma-separated integers, got {text!r}") from None
    if not seeds:
        raise RnnbenchError("--seeds needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise RnnbenchError(f"--seeds repeats a seed: {text}")
    return seeds


def parse_seq_lens(text: str | None) -> list:
    """``--seq-len``: ``[None]`` when absent (the task's default), else the lengths in the order given."""
    if text is None:
        return [None]
    try:
        lengths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RnnbenchError(f"--seq-len takes comma-separated integers, got {text!r}") from None
    if not lengths:
        raise RnnbenchError("--seq-len needs at least one length")
    if len(set(lengths)) != len(lengths):
        raise RnnbenchError(f"--seq-len repeats a length: {text}")
    return lengths


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
    registry = get_registry()
    backend_entry = registry.backend(args.backend)
    if not backend_entry.available:
        raise RnnbenchError(f"backend {args.backend} is unavailable: {backend_entry.unavailable_reason()}")
    task = registry.task(args.task).load()()
    given = {name: getattr(args, name) for name in TASK_OPTIONS}
    seq_lens = parse_seq_lens(args.seq_len)
    if seq_lens != [None] and "seq_len" not in task.defaults(task.datasets[0] if task.datasets else None):
        raise RnnbenchError(f"--seq-len applies to tasks with a sequence-length parameter (longrange); "
                            f"{task.name} has none")
    configs = []  # one a sequence length: a sweep is several runs of one command
    for seq_len in seq_lens:
        config = task.resolve_config(given if seq_len is None else {**given, "seq_len": seq_len})
        config.update(backend=args.backend, seeds=seeds, device=args.device, impl=args.impl,
                      threads=args.threads or _usable_cpus())
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

        raise RnnbenchError(out_of_memory_message("preparing the run", exc, given)) from None
    codes = []
    for config, job in zip(configs, prepared):
        for note in job.notes:
            print(f"note: {note}", file=sys.stderr)
        codes.append(_run_seeds(job, backend, config, seeds, results_dir,
                                progress=False if args.no_progress else None))
        if codes[-1] > 128:  # interrupted (128 + the signal): later sequence lengths do not start
            return codes[-1]
    return max(codes)


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _make_backend(entry, config):
    options = {"threads": config["threads"]}
    for key in ("device", "impl"):
        if config.get(key) is not None:
            options[key] = config[key]
    return entry.load()(**options)


def _run_seeds(prepared, backend, config, seeds, results_dir, progress) -> int:
    """Train and save each seed; an interruption stops the rest (exit 128 + signal), so does a failed save."""
    from rnnbench import runner, signals
    from rnnbench.records import RecordNotWritten, save_record
    from rnnbench.run_summary import result_line, summary_table

    written, not_written, stopped_by = [], None, None
    with signals.deferred():  # a signal between runs or during a write waits: no record is cut short
        for seed in seeds:
            print(f"run: {config['task']} {config['dataset']} {config.get('model', '')} on {backend.name}, "
                  f"seed {seed}", file=sys.stderr)
            record = runner.run(prepared, backend, config, seed, progress=progress,
                                command="rnnbench " + shlex.join(sys.argv[1:]))
            print(result_line(record), file=sys.stderr, flush=True)  # the result first, whatever the write does
            try:
                path = save_record(results_dir, record)
            except RecordNotWritten as exc:
                path, not_written = exc.saved or "(printed above)", exc
            written.append((path, record))
            # stopped by the signal that ended this run, or by one that came while its record was written
            stopped_by = signals.number(record["signal"]) if record["status"] == "interrupted" \
                else signals.take_pending()
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
