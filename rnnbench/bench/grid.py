"""From a suite and the command-line options to the list of configurations to time.

All validation happens here, before any process starts: a bad name or size is a
one-line :class:`RnnbenchError`. A backend the user *named* but that is not
installed is an error too; one that is merely registered but not installed gets
``unavailable`` rows, so a record shows what was not measured and why.

No framework is imported: a backend's implementations are the ones its registration
declares (``Entry.impls``). Only for a plugin that declares none is its class loaded to
learn them (in a worker process, or here when ``--impls`` names implementations).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rnnbench.bench import suites
from rnnbench.bench.timing import usable_cpus
from rnnbench.errors import RnnbenchError
from rnnbench.params import SEQUENCE_CELLS, TREE_CELLS

#: Fields every row carries (sequence and tree alike); the worker fills in the measurement.
ROW_FIELDS = ("kind", "cell", "backend", "impl", "device", "dtype", "threads", "batch", "steps", "input", "hidden",
              "pass")


@dataclass
class Grid:
    suite: suites.Suite
    dataset: str                      # the suite's name, or "custom"
    backends: list[str]
    unavailable: dict[str, str]       # backend -> why it cannot run here
    configs: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)  # what the record stores under "config"


def build_grid(options) -> Grid:
    """``options`` has the command's attributes: suite, cells, backends, impls, sizes, tree_sizes,
    dtype, passes, trees, threads, device, data_dir, isolation (None = the suite's choice)."""
    from rnnbench.plugins import get_registry

    base = suites.suite(options.suite)
    device = (options.device or "cpu").strip().lower()
    if base.gpu_only and device == "cpu":
        raise RnnbenchError(f"the {base.name} suite is sized for a GPU (hidden up to 2048); run it with "
                            "--device cuda, or on a CPU use --suite cpu or --sizes")
    threads = options.threads if options.threads is not None else usable_cpus()
    if threads < 1:
        raise RnnbenchError(f"--threads must be at least 1, got {threads}")
    cells = _cells(options, base)
    sizes = suites.parse_sizes(options.sizes) if options.sizes else list(base.sizes)
    extra = [] if options.sizes else list(base.extra)  # the suite's one-cell sizes (a stacked BiLSTM)
    tree_sizes = suites.parse_tree_sizes(options.tree_sizes) if options.tree_sizes else list(base.tree_sizes)
    if any(c in TREE_CELLS for c in cells) and not tree_sizes:
        raise RnnbenchError("tree cells need --tree-sizes TREESxINPUTxHIDDEN (e.g. 64x300x150)")
    dtypes = suites.parse_names(options.dtype, suites.DTYPES, "dtype") if options.dtype else list(base.dtypes)
    passes = suites.parse_names(options.passes, suites.PASSES, "pass") if options.passes else list(base.passes)
    isolation = options.isolation or base.isolation

    registry = get_registry()
    backends, unavailable = select_backends(options.backends, registry)
    sequence_impls, tree_impls = _impls(options.impls, backends, unavailable, registry, base.all_impls)

    grid = Grid(base, base.name if options.suite else "custom", backends, unavailable)
    source = None
    if any(c in TREE_CELLS for c in cells):
        from rnnbench.bench.treedata import tree_source

        source = tree_source(options.data_dir)
    explicit_node_by_node = bool(options.impls) and "node-by-node" in suites.parse_names(options.impls, None, "impls")
    for cell in cells:
        for dtype in dtypes:
            for pass_ in passes:
                if cell in SEQUENCE_CELLS:
                    for size in sizes + [s for c, s in extra if c == cell]:
                        B, T, D, H = size[:4]
                        for backend in backends:
                            for impl in sequence_impls[backend]:
                                config = _config("sequence", cell, backend, impl, device, dtype, threads, pass_,
                                                 B, T, D, H)
                                config.update(suites.layering(size))
                                grid.configs.append(config)
                    continue
                for n, D, H in tree_sizes:
                    for backend in backends:
                        for impl in tree_impls:
                            if impl == "node-by-node" and not (explicit_node_by_node or backend in base.node_by_node):
                                continue
                            config = _config("tree", cell, backend, impl, device, dtype, threads, pass_, n, None,
                                             H if cell == "recursive" else D, H)
                            config.update(trees=n, tree_source=source)
                            grid.configs.append(config)
    if not grid.configs:
        raise RnnbenchError("the grid is empty: no configuration matches these options")
    grid.config = {
        "suite": grid.dataset, "description": base.description, "cells": cells, "backends": backends,
        "impls": {"sequence": sequence_impls, "tree": tree_impls},
        "sizes": [list(s) for s in sizes] if any(c in SEQUENCE_CELLS for c in cells) else [],
        **({"extra_sizes": [[c, list(s)] for c, s in extra if c in cells]} if extra else {}),
        "tree_sizes": [list(s) for s in tree_sizes] if any(c in TREE_CELLS for c in cells) else [],
        "dtypes": dtypes, "passes": passes, "device": device, "threads": threads, "isolation": isolation,
        "timing": base.policy.as_dict(), "peak_sizes": list(base.peak_sizes), "tree_source": source,
        "lengths": "all full length", "unavailable": unavailable,
    }
    return grid


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


def _cells(options, base) -> list[str]:
    if options.cells:
        return suites.parse_names(options.cells, suites.CELLS, "cells", "cell")
    cells = list(base.cells)
    if options.trees:
        cells += [c for c in TREE_CELLS if c not in cells]
    return cells


def backend_impls(backend: str, registry) -> list[str]:
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


def _impls(text, backends, unavailable, registry, all_impls=False):
    """Per backend, the sequence impls to time; and the tree schedules (shared by all backends)."""
    if not text:
        if all_impls:  # every impl of every available backend: each framework at its fastest path
            return ({b: [None] if b in unavailable else backend_impls(b, registry) for b in backends},
                    list(suites.TREE_IMPLS))
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


def _config(kind, cell, backend, impl, device, dtype, threads, pass_, batch, steps, input_size, hidden) -> dict:
    return dict(zip(ROW_FIELDS, (kind, cell, backend, impl, device, dtype, threads, batch, steps, input_size,
                                 hidden, pass_)))
