"""``rnnbench bench``'s command line, parsed once into a typed :class:`BenchRequest`.

Every option is read and checked here, in one pass, before any process starts: names against their
vocabularies, sizes, which options apply to which mode (the grid, ``--overhead``, ``--train``, ``--suite
lengths``), the backends to time and each one's implementations, the timing policy. What comes out is typed
and final: :func:`rnnbench.bench.grid.build_grid`, the ``--train`` and lengths runners and the command's
handler read fields of the request and never the command line. No framework is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rnnbench.bench import suites
from rnnbench.bench.timing import CAREFUL, TimingPolicy, usable_cpus
from rnnbench.errors import RnnbenchError
from rnnbench.names import DTYPES
from rnnbench.params import SEQUENCE_CELLS, TREE_CELLS

MODES = ("grid", "overhead", "train", "lengths")
#: Options that shape a grid of sizes; ``--suite lengths`` and ``--train`` take their sizes from the textclf task.
_GRID_ONLY = {"sizes": "--sizes", "tree_sizes": "--tree-sizes", "passes": "--pass"}
_LENGTHS_ONLY = {"datasets": "--datasets", "strategies": "--strategies", "token_budget": "--token-budget"}


@dataclass(frozen=True)
class BenchRequest:
    """What one ``rnnbench bench`` invocation asks for, every value typed and checked."""

    mode: str  # one of MODES
    suite: suites.Suite  # the named suite, or suites.CUSTOM
    dataset: str  # the suite's name, "custom", "overhead", "train" or "lengths"
    cells: tuple  # lengths: (None,) = the textclf model's own cell
    backends: tuple[str, ...]
    unavailable: dict  # backend -> why it cannot run here
    sequence_impls: dict  # backend -> [impl, ...] (None: the backend's default)
    tree_impls: tuple[str, ...]
    sizes: tuple[tuple, ...]
    extra: tuple[tuple, ...]  # the suite's one-cell sizes (a stacked BiLSTM)
    tree_sizes: tuple[tuple, ...]
    dtypes: tuple[str, ...]
    passes: tuple[str, ...]
    threads: int
    threads_given: int | None  # --threads as given (None: the usable CPUs)
    device: str
    isolation: str
    policy: TimingPolicy
    timeout: float
    settle: float
    require_stable: bool
    peak_frameworks: tuple[str, ...] | None
    data_dir: str | None
    results_dir: str
    write_record: bool
    output_format: str
    datasets: tuple[str, ...] = ()  # lengths
    strategies: tuple[str, ...] = ()  # lengths
    token_budget: int = 0  # lengths
    train_batches: int = 0  # train
    train_rounds: int = 0  # train


def parse_request(args, registry=None) -> BenchRequest:
    """The typed request of ``rnnbench bench``'s parsed ``args``; a bad or misplaced option is one line."""
    if registry is None:
        from rnnbench.plugins import get_registry

        registry = get_registry()
    mode = "train" if args.train else "lengths" if args.suite == "lengths" else "overhead" if args.overhead else "grid"
    _check_mode_options(args, mode)
    base = suites.suite(None if mode in ("train", "lengths") else args.suite)
    device = (args.device or "cpu").strip().lower()
    if base.gpu_only and device == "cpu":
        raise RnnbenchError(
            f"the {base.name} suite is sized for a GPU (hidden up to 2048); run it with "
            "--device cuda, or on a CPU use --suite cpu or --sizes"
        )
    threads = args.threads if args.threads is not None else usable_cpus()
    policy = _policy(CAREFUL if mode == "lengths" else base.policy, args)
    backends, unavailable = select_backends(args.backends, registry)
    common = dict(
        mode=mode,
        backends=tuple(backends),
        unavailable=unavailable,
        threads=threads,
        threads_given=args.threads,
        device=device,
        policy=policy,
        timeout=args.timeout,
        settle=args.settle,
        require_stable=args.require_stable,
        data_dir=args.data_dir,
        peak_frameworks=_peak_frameworks(args.peak_frameworks),
        results_dir=args.results_dir,
        write_record=not args.no_record,
        output_format=args.format,
    )
    if mode == "train":
        from rnnbench.bench.train import BATCHES, ROUNDS

        sequence_impls, tree_impls = resolve_impls(args.impls, backends, unavailable, registry)
        return BenchRequest(
            **common,
            suite=base,
            dataset="train",
            cells=("lstm",),
            sequence_impls=sequence_impls,
            tree_impls=tuple(tree_impls),
            sizes=(),
            extra=(),
            tree_sizes=(),
            dtypes=("float32",),
            passes=("forward+backward",),
            isolation="backend",
            train_batches=args.train_batches or BATCHES,
            train_rounds=args.train_rounds or ROUNDS,
        )
    if mode == "lengths":
        from rnnbench.bench import lengths

        return BenchRequest(
            **common,
            suite=base,
            dataset="lengths",
            cells=tuple(_names(args.cells, SEQUENCE_CELLS, "cells", "cell") or (None,)),
            sequence_impls={b: [None] for b in backends},
            tree_impls=(),
            sizes=(),
            extra=(),
            tree_sizes=(),
            dtypes=tuple(_names(args.dtype, DTYPES, "dtype") or ("float32",)),
            passes=("forward+backward",),
            isolation="impl",
            datasets=tuple(_names(args.datasets, lengths.DATASETS, "datasets", "dataset") or lengths.DATASETS),
            strategies=tuple(
                _names(args.strategies, lengths.STRATEGIES, "strategies", "strategy") or lengths.STRATEGIES
            ),
            token_budget=args.token_budget or lengths.TOKEN_BUDGET,
        )
    cells = _cells(args, base)
    tree_sizes = tuple(suites.parse_tree_sizes(args.tree_sizes) if args.tree_sizes else base.tree_sizes)
    if any(c in TREE_CELLS for c in cells) and not tree_sizes:
        raise RnnbenchError("tree cells need --tree-sizes TREESxINPUTxHIDDEN (e.g. 64x300x150)")
    sequence_impls, tree_impls = resolve_impls(args.impls, backends, unavailable, registry, base.all_impls)
    node_by_node = "node-by-node" in (_names(args.impls, None, "impls") or ())
    return BenchRequest(
        **common,
        suite=replace(base, node_by_node=tuple(backends)) if node_by_node else base,
        dataset="overhead" if mode == "overhead" else base.name if args.suite else "custom",
        cells=tuple(cells),
        sequence_impls=sequence_impls,
        tree_impls=tuple(tree_impls),
        sizes=tuple(suites.parse_sizes(args.sizes) if args.sizes else base.sizes),
        extra=() if args.sizes else tuple(base.extra),
        tree_sizes=tree_sizes,
        dtypes=tuple(_names(args.dtype, DTYPES, "dtype") or base.dtypes),
        passes=tuple(_names(args.passes, suites.PASSES, "pass") or base.passes),
        isolation=args.isolation or base.isolation,
    )


def _check_mode_options(args, mode: str) -> None:
    """An option that the chosen mode ignores is a mistake, said in one line rather than silently dropped."""
    if mode != "lengths":
        for dest, flag in _LENGTHS_ONLY.items():
            if getattr(args, dest) is not None:
                raise RnnbenchError(f"{flag} applies to --suite lengths only")
    if mode == "lengths":
        for dest, flag in {**_GRID_ONLY, "impls": "--impls"}.items():
            if getattr(args, dest):
                raise RnnbenchError(
                    f"{flag} does not apply to --suite lengths (its sizes are the textclf task's; "
                    "it times forward+backward)"
                )
        if args.trees or args.overhead:
            raise RnnbenchError(f"--{'trees' if args.trees else 'overhead'} does not apply to --suite lengths")
    if mode == "train":  # the textclf model's IMDB batches, forward+backward, float32, one process a backend
        for dest, flag in {
            "suite": "--suite",
            **_GRID_ONLY,
            "cells": "--cells",
            "dtype": "--dtype",
            "isolation": "--isolation",
            "trees": "--trees",
            "overhead": "--overhead",
        }.items():
            if getattr(args, dest):
                raise RnnbenchError(
                    f"{flag} does not apply to --train (it times the textclf model's training step on IMDB's batches)"
                )
    elif args.train_batches is not None or args.train_rounds is not None:
        raise RnnbenchError("--train-batches and --train-rounds apply to --train only")


def _policy(policy: TimingPolicy, args) -> TimingPolicy:
    """The suite's timing policy with ``--target-ci``, ``--min-samples`` and ``--budget`` applied (their ranges
    are the parser's number types)."""
    policy = replace(policy, target_ci=args.target_ci / 100)
    if args.min_samples is not None:
        policy = replace(policy, min_samples=args.min_samples, max_samples=max(policy.max_samples, args.min_samples))
    if args.budget is not None:
        policy = replace(policy, budget_s=args.budget)
    return policy


def _names(text, valid, option: str, noun: str | None = None) -> list | None:
    return suites.parse_names(text, valid, option, noun) if text else None


def _peak_frameworks(text) -> tuple[str, ...] | None:
    if not text:
        return None
    from rnnbench.bench.peak import FRAMEWORKS

    return tuple(suites.parse_names(text, FRAMEWORKS, "peak-frameworks", "framework"))


def _cells(args, base) -> list[str]:
    if args.cells:
        return suites.parse_names(args.cells, suites.CELLS, "cells", "cell")
    cells = list(base.cells)
    if args.trees:
        cells += [c for c in TREE_CELLS if c not in cells]
    return cells


def select_backends(text: str | None, registry) -> tuple[list[str], dict]:
    """The backends to time (``text``'s names, else every registered one) and why each unavailable one cannot
    run; a backend the user named that is not installed is an error, an unknown name a one-line error."""
    named = suites.parse_names(text, None, "backends") if text else None
    backends = named or list(registry.backends)
    unavailable = {}
    for name in backends:
        entry = registry.backend(name)
        if not entry.available:
            if named:
                raise RnnbenchError(f"backend {name} is unavailable: {entry.unavailable_reason()}")
            unavailable[name] = entry.unavailable_reason()
    return backends, unavailable


def backend_impls(backend: str, registry) -> list:
    """Every impl ``backend`` offers, the default first; the parent process imports no framework.

    The impls its registration declares (``Entry.impls``); a backend that declares none is asked in a
    worker process, which imports it.
    """
    entry = registry.backend(backend)
    if entry.impls:
        return list(entry.impls)
    from rnnbench.bench.sweep import WorkerError, call_worker

    try:
        return list(call_worker({"mode": "impls", "threads": 1, "backend": backend}, 300)["impls"]) or [None]
    except (WorkerError, KeyError, TypeError):
        return [None]  # the worker will report why the backend cannot run


def resolve_impls(text, backends, unavailable, registry, all_impls=False) -> tuple[dict, list]:
    """Per backend, the sequence impls to time; and the tree schedules (shared by all backends)."""
    if not text:
        if all_impls:  # every impl of every available backend: each framework at its fastest path
            return (
                {b: [None] if b in unavailable else backend_impls(b, registry) for b in backends},
                list(suites.TREE_IMPLS),
            )
        # None: the backend's default impl, named by the worker. Node-by-node runs where the suite says.
        return {b: [None] for b in backends}, list(suites.TREE_IMPLS)
    names = suites.parse_names(text, None, "impls")
    tree_impls = [n for n in names if n in suites.TREE_IMPLS] or list(suites.TREE_IMPLS)
    wanted = [n for n in names if n not in suites.TREE_IMPLS]
    sequence_impls = {}
    known = set()
    for backend in backends:
        if backend in unavailable:
            sequence_impls[backend] = wanted[:1] or [None]
            continue
        entry = registry.backend(backend)
        offered = entry.impls or getattr(entry.load(), "impls", ("native",))
        known.update(offered)
        sequence_impls[backend] = [n for n in wanted if n in offered] or ([] if wanted else [offered[0]])
    unknown = [n for n in wanted if n not in known]
    if unknown:
        valid = sorted(known | set(suites.TREE_IMPLS))
        raise RnnbenchError(f"no selected backend has impl {unknown[0]!r}; valid: {', '.join(valid)}")
    return sequence_impls, tree_impls
