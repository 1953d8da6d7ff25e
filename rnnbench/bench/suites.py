"""Named benchmark suites and the parsers of a custom grid (``--cells``, ``--sizes``, ...).

A suite is a default grid: cells x sizes x passes x dtypes, a timing policy and how
configurations share processes. Command-line options override its dimensions one
by one; :mod:`rnnbench.bench.grid` turns the result into configurations.

Sequence sizes are ``BATCHxSTEPSxINPUTxHIDDEN``, optionally with ``:L<layers>`` and ``:bi``
(``64x100x512x512:L2:bi``: two stacked layers, both directions; INPUT is the first layer's,
HIDDEN every unit's); tree sizes ``TREESxINPUTxHIDDEN``
(the number of trees in one TreeBatch; the recursive cell's leaf state is its input,
so it runs with input = hidden whatever the size says). All sequences of a batch are
full length: ragged batches time the masking paths, which is another question.

What the suites cost. ``smoke`` (QUICK: 3 to 5 rounds of one short sample) takes seconds a
backend. ``cpu`` on numpy + torch + tensorflow is 164 rows in 24 comparisons (7 rows each for a
sequence configuration: numpy, three torch impls, three TensorFlow impls; 6 for a tree one), each
row in its own process (``isolation`` "config"), sampled under CPU_SUITE: at most 3 s of sampling
a row, 8 to 30 rounds, plus one first call and one peak-memory call, one untimed call before each
visit's samples and the wait for the visited worker to go idle. Measured on the 2-core VM of the
committed records with jax as well (188 rows, ``--isolation impl``): 31 minutes for each of two runs
on 2026-12-07 (20.5 and 20 under the earlier 1.5 s and 6 rounds), nearly every row stopping on its
budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnbench.bench.flops import PASSES
from rnnbench.bench.timing import CAREFUL, CPU_SUITE, QUICK, TimingPolicy
from rnnbench.errors import RnnbenchError
from rnnbench.params import SEQUENCE_CELLS, TREE_CELLS

CELLS = SEQUENCE_CELLS + TREE_CELLS
TREE_IMPLS = ("level-batched", "node-by-node")
ISOLATION = ("config", "impl", "backend")


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    cells: tuple[str, ...]
    sizes: tuple[tuple[int, int, int, int], ...]
    tree_sizes: tuple[tuple[int, int, int], ...] = ()
    passes: tuple[str, ...] = PASSES
    dtypes: tuple[str, ...] = ("float32",)
    policy: TimingPolicy = CAREFUL
    #: "config": a fresh process per configuration; "impl": one per backend and impl (compile caches and
    #: start-up shared by that impl's configurations); "backend": one per backend (fast, for CI).
    isolation: str = "config"
    #: Square sizes of the matrix-multiply peak measurement.
    peak_sizes: tuple[int, ...] = (1024, 2048)
    #: Backends that also run the node-by-node tree schedule (it is slow; NumPy shows the point).
    node_by_node: tuple[str, ...] = ("numpy",)
    gpu_only: bool = False
    #: Time every impl of every backend (each framework at its fastest path), not just each default.
    all_impls: bool = False
    #: Further (cell, size) pairs timed for one cell only (e.g. a stacked bidirectional LSTM).
    extra: tuple[tuple[str, tuple[int, ...]], ...] = ()


SUITES = {
    "smoke": Suite(
        "smoke",
        "tiny sizes, every cell on every available backend, one process per backend (CI)",
        cells=CELLS,
        sizes=((4, 5, 8, 16),),
        tree_sizes=((4, 16, 16),),
        policy=QUICK,
        isolation="backend",
        peak_sizes=(256,),
    ),
    "cpu": Suite(
        "cpu",
        "laptop-scale: rnn/lstm/gru at three sizes plus SST-shaped trees, float32, every impl",
        cells=CELLS,
        sizes=((64, 100, 128, 256), (64, 100, 512, 512), (16, 100, 128, 128)),
        tree_sizes=((64, 300, 150),),
        all_impls=True,
        node_by_node=("numpy", "torch", "tensorflow"),
        extra=(("lstm", (64, 100, 256, 256, 2, 1)),),
        peak_sizes=(1024, 2048, 3072),
        policy=CPU_SUITE,
    ),
    "deepbench": Suite(
        "deepbench",
        "DeepBench-style large recurrent layers for a GPU (hidden 1024-2048, batch 16-64)",
        cells=SEQUENCE_CELLS,
        sizes=(
            (16, 25, 1024, 1024),
            (32, 50, 1024, 1024),
            (64, 25, 2048, 2048),
            (16, 100, 2048, 2048),
            (64, 50, 1536, 1536),
        ),
        peak_sizes=(4096, 8192),
        node_by_node=(),
        gpu_only=True,
    ),
}

#: The grid of a custom run (no --suite) before options override it.
CUSTOM = Suite(
    "custom",
    "a grid given on the command line",
    cells=SEQUENCE_CELLS,
    sizes=((64, 100, 128, 256),),
    tree_sizes=((64, 300, 150),),
)


def suite(name: str | None) -> Suite:
    if name is None:
        return CUSTOM
    if name not in SUITES:
        raise RnnbenchError(f"unknown suite {name!r}; valid: {', '.join(SUITES)}")
    return SUITES[name]


def parse_names(text: str, valid, option: str, noun: str | None = None) -> list[str]:
    """``"lstm,gru"`` -> ``["lstm", "gru"]``, each checked against ``valid`` (order kept, repeats dropped).

    ``option`` names the flag in messages (``--cells``), ``noun`` one value (default: ``option``).
    """
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise RnnbenchError(f"--{option} needs at least one name")
    for name in names:
        if valid is not None and name not in valid:
            raise RnnbenchError(f"unknown {noun or option} {name!r}; valid: {', '.join(valid)}")
    return names


def parse_sizes(text: str, fields: tuple[str, ...] = ("batch", "steps", "input", "hidden")) -> list[tuple]:
    """``"64x100x128x256,16x100x128x128"`` -> ``[(64, 100, 128, 256), ...]`` (positive integers).

    A sequence size may end in ``:L<n>`` and ``:bi`` (stacked layers, both directions):
    ``64x100x512x512:L2:bi`` -> ``(64, 100, 512, 512, 2, 1)``; without them the 4-tuple as before.
    """
    layout = "x".join(f.upper() for f in fields)
    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        part, *options = part.split(":")
        layering = _layering(part, options) if options and len(fields) == 4 else ()
        if options and len(fields) != 4:
            raise RnnbenchError(f"size {part!r}: :L<n> and :bi apply to sequence sizes only")
        pieces = part.lower().split("x")
        try:
            values = tuple(int(p) for p in pieces)
        except ValueError:
            values = ()
        if len(values) != len(fields) or min(values) < 1:
            raise RnnbenchError(
                f"size {part!r} is not {layout} with positive integers (e.g. "
                f"{'x'.join(str(v) for v in (64, 100, 128, 256)[: len(fields)])})"
            )
        sizes.append(values + layering)
    if not sizes:
        raise RnnbenchError(f"no size given; use {layout}")
    return list(dict.fromkeys(sizes))


def _layering(part: str, options: list[str]) -> tuple:
    """``(layers, 1 or 0)`` from ``["L2", "bi"]``; ``()`` when it is one forward layer (the plain size)."""
    layers, bidirectional = 1, 0
    for option in (o.strip().lower() for o in options):
        if option == "bi":
            bidirectional = 1
        elif option.startswith("l") and option[1:].isdigit() and int(option[1:]) >= 1:
            layers = int(option[1:])
        else:
            raise RnnbenchError(
                f"size {part}:{':'.join(options)}: unknown option {option!r}; "
                "use :L<layers> and :bi (e.g. 64x100x512x512:L2:bi)"
            )
    return (layers, bidirectional) if layers > 1 or bidirectional else ()


def layering(size) -> dict:
    """The row fields of a layered size (``layers``, ``bidirectional``); none for a plain one."""
    if len(size) > 4:
        return {"layers": int(size[4]), "bidirectional": bool(size[5])}
    return {}


def parse_tree_sizes(text: str) -> list[tuple]:
    return parse_sizes(text, ("trees", "input", "hidden"))


def size_label(row: dict) -> str:
    """How a row's size is written in tables: ``64x100x128x256`` or ``64 trees 300x150``."""
    if row.get("kind") == "lengths":
        return f"{row.get('lengths_of')} {row.get('strategy')} ({row['batch']} texts)"
    if row.get("kind") == "tree":
        return f"{row['batch']} trees {row['input']}x{row['hidden']}"
    label = f"{row['batch']}x{row['steps']}x{row['input']}x{row['hidden']}"
    if (row.get("layers") or 1) > 1:
        label += f":L{row['layers']}"
    return label + (":bi" if row.get("bidirectional") else "")
