"""From a typed :class:`rnnbench.bench.request.BenchRequest` to the list of configurations to time.

Every option was read and checked by :func:`rnnbench.bench.request.parse_request`; here the request's cells,
sizes, dtypes, passes, backends and impls are only multiplied out, and what the record keeps of them is put
together. A backend that is registered but not installed keeps its rows (``unavailable`` with the reason), so a
record shows what was not measured and why. No framework is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnbench.bench import suites
from rnnbench.errors import RnnbenchError
from rnnbench.params import SEQUENCE_CELLS, TREE_CELLS

#: Fields every row carries (sequence and tree alike); the worker fills in the measurement.
ROW_FIELDS = (
    "kind",
    "cell",
    "backend",
    "impl",
    "device",
    "dtype",
    "threads",
    "batch",
    "steps",
    "input",
    "hidden",
    "pass",
)


@dataclass
class Grid:
    suite: suites.Suite
    dataset: str  # the suite's name, or "custom"
    backends: list[str]
    unavailable: dict[str, str]  # backend -> why it cannot run here
    configs: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)  # what the record stores under "config"


def build_grid(request) -> Grid:
    """Every configuration of ``request`` (a grid or ``--overhead`` request), and the record's ``config``."""
    grid = Grid(request.suite, request.suite.name, list(request.backends), request.unavailable)
    cells, device, threads = request.cells, request.device, request.threads
    source = None
    if any(c in TREE_CELLS for c in cells):
        from rnnbench.bench.treedata import tree_source

        source = tree_source(request.data_dir)
    for cell in cells:
        for dtype in request.dtypes:
            for pass_ in request.passes:
                if cell in SEQUENCE_CELLS:
                    for size in request.sizes + tuple(s for c, s in request.extra if c == cell):
                        B, T, D, H = size[:4]
                        for backend in request.backends:
                            for impl in request.sequence_impls[backend]:
                                config = _config(
                                    "sequence", cell, backend, impl, device, dtype, threads, pass_, B, T, D, H
                                )
                                config.update(suites.layering(size))
                                grid.configs.append(config)
                    continue
                for n, D, H in request.tree_sizes:
                    for backend in request.backends:
                        for impl in request.tree_impls:
                            if impl == "node-by-node" and backend not in request.suite.node_by_node:
                                continue
                            config = _config(
                                "tree",
                                cell,
                                backend,
                                impl,
                                device,
                                dtype,
                                threads,
                                pass_,
                                n,
                                None,
                                H if cell == "recursive" else D,
                                H,
                            )
                            config.update(trees=n, tree_source=source)
                            grid.configs.append(config)
    if not grid.configs:
        raise RnnbenchError("the grid is empty: no configuration matches these options")
    sequence = any(c in SEQUENCE_CELLS for c in cells)
    grid.config = {
        "suite": grid.dataset,
        "description": request.suite.description,
        "cells": list(cells),
        "backends": list(request.backends),
        "impls": {"sequence": request.sequence_impls, "tree": list(request.tree_impls)},
        "sizes": [list(s) for s in request.sizes] if sequence else [],
        **({"extra_sizes": [[c, list(s)] for c, s in request.extra if c in cells]} if request.extra else {}),
        "tree_sizes": [list(s) for s in request.tree_sizes] if any(c in TREE_CELLS for c in cells) else [],
        "dtypes": list(request.dtypes),
        "passes": list(request.passes),
        "device": device,
        "threads": threads,
        "isolation": request.isolation,
        "timing": {**request.policy.as_dict(), "interleaved": request.mode != "overhead"},
        **({"mode": "overhead"} if request.mode == "overhead" else {}),
        "peak_sizes": list(request.suite.peak_sizes),
        "tree_source": source,
        "lengths": "all full length",
        "unavailable": request.unavailable,
    }
    return grid


def _config(kind, cell, backend, impl, device, dtype, threads, pass_, batch, steps, input_size, hidden) -> dict:
    return dict(
        zip(ROW_FIELDS, (kind, cell, backend, impl, device, dtype, threads, batch, steps, input_size, hidden, pass_))
    )
