"""The ``rnnbench`` command line: parsing and dispatch only.

Subcommands import what they need inside their handler, so ``rnnbench --help``
costs no framework import.
"""
from __future__ import annotations

import argparse
import sys

from rnnbench import __version__
from rnnbench.errors import RnnbenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnbench",
        description="Recurrent and recursive networks in NumPy, PyTorch and TensorFlow: "
                    "the same function, checked, timed and trained.")
    parser.add_argument("--version", action="version", version=f"rnnbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    plugins = commands.add_parser("plugins", help="list backends and tasks, available or not, and why")
    plugins.set_defaults(handler=_plugins)

    check = commands.add_parser(
        "check", help="compare every backend with the float64 NumPy reference (outputs and gradients)")
    check.add_argument("--backend", action="append", metavar="NAME",
                       help="backend to check (repeatable; default: every available one)")
    check.add_argument("--impl", metavar="IMPL", help="only this implementation (e.g. native, loop)")
    check.add_argument("--cells", metavar="LIST",
                       help="comma-separated cases: rnn, rnn-relu, lstm, gru, recursive, treelstm (default: all)")
    check.add_argument("--dtype", choices=("float32", "float64"), action="append",
                       help="dtype to check (repeatable; default: both)")
    check.add_argument("--trajectory", action="store_true",
                       help="compare 50 optimizer steps of a small classifier instead")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.set_defaults(handler=_check)
    return parser


def _check(args) -> int:
    import json

    from rnnbench import check
    from rnnbench.parity import CASE_LABELS
    from rnnbench.table import format_table

    cases = [c.strip() for c in args.cells.split(",") if c.strip()] if args.cells else list(CASE_LABELS)
    unknown = sorted(set(cases) - set(CASE_LABELS))
    if unknown:
        raise RnnbenchError(f"unknown case {unknown[0]!r}; valid: {', '.join(CASE_LABELS)}")
    dtypes = tuple(args.dtype or check.DTYPES)
    targets = check.available_targets(args.backend)
    if args.impl:
        targets = [(name, impl) for name, impl in targets if impl == args.impl]
        if not targets:
            raise RnnbenchError(f"no selected backend has impl {args.impl!r}")
    if args.trajectory:
        cells = [c for c in cases if c in ("rnn", "lstm", "gru")]
        rows = check.trajectory_rows(targets, cells, dtypes)
    else:
        rows = check.reference_rows(cases) if "float64" in dtypes else []
        rows += check.parity_rows(targets, cases, dtypes)
    if args.format == "json":
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        print(format_table(
            ["backend", "impl", "case", "dtype", "max abs err", "max rel err", "worst", "tolerance", "result"],
            [[r.backend, r.impl, r.case, r.dtype, f"{r.max_abs:.2e}", f"{r.max_rel:.2e}", r.worst,
              f"{r.tolerance:.0e}", "pass" if r.passed else f"FAIL {r.error}".strip()] for r in rows]))
        failed = sum(not r.passed for r in rows)
        print(f"\n{len(rows) - failed} passed, {failed} failed")
    return 1 if any(not r.passed for r in rows) else 0


def _plugins(args) -> int:
    from rnnbench.plugins import get_registry
    from rnnbench.table import format_table

    registry = get_registry()
    rows = []
    for kind, entries in (("backend", registry.backends), ("task", registry.tasks)):
        for entry in entries.values():
            status = "available" if entry.available else "unavailable"
            note = entry.description if entry.available else entry.unavailable_reason()
            rows.append([kind, entry.name, status, entry.distribution, note])
    print(format_table(["kind", "name", "status", "from", "notes"], rows))
    for error in registry.errors:
        print(f"warning: {error}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except RnnbenchError as exc:
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
