"""``rnnbench compare A B``: did B get slower (or worse) than A, beyond noise? A regression gate.

A and B are record files or results directories; ``--rev REV`` reads A from the records committed at
another git commit. The comparison itself is :mod:`rnnbench.report.compare`, the same code as
``rnnbench report --compare``. The parser imports nothing heavy; pandas and scipy only when comparing.
Exit status: 0, or 1 with ``--fail-on-regression`` when a row is slower (or an accuracy or parity
regression); 2 on bad input and when the two sides have no row in common.
"""

from __future__ import annotations

import sys

from rnnbench.errors import RnnbenchError
from rnnbench.number_types import nonnegative_float


def add_parser(commands, argv=None) -> None:
    parser = commands.add_parser(
        "compare",
        help="B against A, row by row: faster, slower or same beyond noise (a regression gate)",
        description="Match every bench row (and run and check record) of B with A's and say, for each, whether "
        "B is faster, slower or the same: ratio of medians with a 95%% interval and the Mann-Whitney "
        "U p-value over the raw samples; a change counts when p < 0.01 and beyond --threshold. Rows "
        "of one side only are listed.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="A B",
        help="two record files or results directories (with --rev: B alone, or A's path at REV and then B)",
    )
    parser.add_argument(
        "--rev", metavar="GIT_REV", help="read A from the records committed at GIT_REV (e.g. HEAD, HEAD~3, a tag)"
    )
    parser.add_argument(
        "--threshold",
        type=nonnegative_float,
        default=5.0,
        metavar="PCT",
        help="a change smaller than PCT%% is 'same' however significant (default 5)",
    )
    parser.add_argument(
        "--accuracy-threshold",
        type=nonnegative_float,
        default=1.0,
        metavar="POINTS",
        help="an accuracy more than POINTS percentage points lower is a regression (default 1)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when any row is slower, or an accuracy or parity regression",
    )
    parser.add_argument(
        "--format",
        choices=("table", "markdown", "json"),
        default="table",
        help="table for the terminal (default), markdown, or json (every row's numbers)",
    )
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    import importlib.util

    for module in ("pandas", "scipy"):
        if importlib.util.find_spec(module) is None:
            raise RnnbenchError(f"rnnbench compare needs {module}: pip install {module}")
    import tempfile

    from rnnbench.report.sources import load_side, sides

    (path_a, path_b), labels = sides(args.paths, args.rev)
    with tempfile.TemporaryDirectory(prefix="rnnbench-compare-") as scratch:
        frame_a, notes_a = load_side(path_a, args.rev, labels[0], scratch)
        frame_b, notes_b = load_side(path_b, None, labels[1], scratch)
    if labels[0] == labels[1]:
        labels = [f"A {labels[0]}", f"B {labels[1]}"]
    from rnnbench.report.compare import comparison

    result = comparison(frame_a, frame_b, labels[0], labels[1], args.threshold / 100.0, args.accuracy_threshold)
    if not result.matched:
        raise RnnbenchError(
            f"no row in common between {labels[0]} ({_count(frame_a)}) and {labels[1]} "
            f"({_count(frame_b)}): nothing to compare"
        )
    notes = [f"{label}: {note}" for label, part in zip(labels, (notes_a, notes_b)) for note in part]
    _emit(args, result, labels, notes)
    slower = result.regressions
    if slower:
        print(f"rnnbench compare: {slower} regression(s) of {result.matched} row(s)", file=sys.stderr)
    return 1 if slower and args.fail_on_regression else 0


def _count(frame) -> str:
    counts = frame["kind"].value_counts()
    return ", ".join(f"{n} {kind} row(s)" for kind, n in sorted(counts.items())) or "no rows"


def _emit(args, result, labels, notes) -> None:
    from rnnbench.report.output import write_stdout

    if args.format == "json":
        write_stdout(_json(args, result, labels, notes))
        return
    from rnnbench.report.render import Meta, render

    verdicts = result.section.frame["verdict"].value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
    meta = Meta(f"{labels[0]} vs {labels[1]}", f"{result.matched} row(s) compared: {summary}", notes)
    write_stdout(render("text" if args.format == "table" else "markdown", [result.section], meta))


#: The numbers a JSON row carries (those a kind lacks are null).
JSON_FIELDS = (
    "kind",
    "configuration",
    "a",
    "b",
    "n_a",
    "n_b",
    "ratio",
    "lo",
    "hi",
    "change",
    "p_value",
    "verdict",
    "regression",
    "stable_a",
    "stable_b",
)


def _json(args, result, labels, notes) -> str:
    import json

    from rnnbench.report.section import missing

    def plain(value):
        if hasattr(value, "item"):  # a NumPy scalar
            value = value.item()
        return None if missing(value) else value

    from rnnbench.bench.stats import ALPHA

    rows = [{name: plain(r.get(name)) for name in JSON_FIELDS} for _, r in result.section.frame.iterrows()]
    document = {
        "a": labels[0],
        "b": labels[1],
        "rev": args.rev,
        "threshold": args.threshold / 100.0,
        "alpha": ALPHA,
        "rows": rows,
        "regressions": result.regressions,
        "only_in_a": result.only_a,
        "only_in_b": result.only_b,
        "notes": result.section.notes + [n for b in result.section.blocks for n in b.notes] + notes,
    }
    return json.dumps(document, indent=1) + "\n"
