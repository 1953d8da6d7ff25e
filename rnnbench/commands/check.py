"""``rnnbench check``: its options, its table, and the record it leaves.

The parser half imports nothing heavy; the handler runs :mod:`rnnbench.check`,
prints the table (or JSON), writes one ``rnnbench.check/1`` record into the
results directory (never over an earlier one) and exits non-zero on any failure.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rnnbench.errors import RnnbenchError
from rnnbench.names import DTYPES
from rnnbench.number_types import positive_int


def add_parser(commands, argv=None) -> None:
    check = commands.add_parser(
        "check", help="compare every backend with the float64 NumPy reference (outputs and gradients)"
    )
    check.add_argument(
        "--backend", action="append", metavar="NAME", help="backend to check (repeatable; default: every available one)"
    )
    check.add_argument("--impl", metavar="IMPL", help="only this implementation (e.g. native, loop)")
    check.add_argument(
        "--cells",
        metavar="LIST",
        help="comma-separated cases: rnn, rnn-relu, lstm, gru, recursive, treelstm, and the "
        "2-layer bidirectional rnn-L2-bi, lstm-L2-bi, gru-L2-bi (default: all); with "
        "--trajectory also lstm-drop, treelstm-drop (dropout masks drawn as the runner does)",
    )
    check.add_argument("--dtype", choices=DTYPES, action="append", help="dtype to check (repeatable; default: both)")
    check.add_argument("--device", metavar="DEVICE", help="device of the checked backends: cpu, cuda, cuda:N, gpu")
    check.add_argument("--threads", type=positive_int, metavar="N", help="framework threads of the checked backends")
    check.add_argument(
        "--trajectory", action="store_true", help="compare 50 optimizer steps of a small classifier instead"
    )
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.add_argument(
        "--results-dir", default="results", metavar="DIR", help="where the check's record goes (default results/)"
    )
    check.add_argument("--no-record", action="store_true", help="write no record")
    check.set_defaults(handler=handle)


def handle(args) -> int:
    import json

    from rnnbench import check
    from rnnbench.parity import CASE_LABELS, LAYERED_CASE_LABELS
    from rnnbench.records import ensure_writable

    valid = CASE_LABELS + LAYERED_CASE_LABELS
    if args.trajectory:  # the dropout trajectories (lstm-drop, treelstm-drop) exist only there
        valid += tuple(c for c in check.TRAJECTORY_CASES if c not in valid)
    cases = [c.strip() for c in args.cells.split(",") if c.strip()] if args.cells else list(valid)
    unknown = sorted(set(cases) - set(valid))
    if unknown:
        raise RnnbenchError(f"unknown case {unknown[0]!r}; valid: {', '.join(valid)}")
    dtypes = tuple(args.dtype or check.DTYPES)
    if args.threads is not None and args.threads < 1:
        raise RnnbenchError(f"--threads must be at least 1, got {args.threads}")
    from rnnbench.devices import warn_threads

    warn_threads(args.threads)
    options = {k: v for k, v in (("device", args.device), ("threads", args.threads)) if v is not None}
    started = datetime.now(timezone.utc).isoformat()
    targets = check.available_targets(args.backend)
    if args.impl:
        targets = [(name, impl) for name, impl in targets if impl == args.impl]
        if not targets:
            raise RnnbenchError(f"no selected backend has impl {args.impl!r}")
    if options:
        _check_options(targets, options, chosen=bool(args.backend))
    if not args.no_record:
        ensure_writable(args.results_dir)
    if args.trajectory:
        cells = [c for c in cases if c in check.TRAJECTORY_CASES]
        rows = check.trajectory_rows(targets, cells, dtypes, options)
    else:
        rows = check.reference_rows(cases) if "float64" in dtypes else []
        rows += check.parity_rows(targets, cases, dtypes, options)
    if args.format == "json":
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        print(format_rows(rows))
    if not args.no_record:
        path = _write_record(args, rows, targets, options, started)
        if args.format == "table":
            print(f"record: {path}")
    return 1 if any(not r.passed for r in rows) else 0


def _check_options(targets, options, chosen: bool) -> None:
    """Build each backend once with ``--device``/``--threads``: an option that cannot apply is one
    error line before any row, not a table of FAIL rows that later reads as a numerical failure."""
    from rnnbench.plugins import get_backend

    for name in dict.fromkeys(name for name, _ in targets):
        try:
            get_backend(name, **options)
        except RnnbenchError as exc:
            hint = "" if chosen else "; choose the backends to check with --backend"
            raise RnnbenchError(f"{exc}{hint}") from None


def format_rows(rows) -> str:
    from rnnbench.table import format_table

    table = format_table(
        ["backend", "impl", "case", "dtype", "max abs err", "max rel err", "worst", "tolerance", "result"],
        [
            [
                r.backend,
                r.impl,
                r.case,
                r.dtype,
                f"{r.max_abs:.2e}",
                f"{r.max_rel:.2e}",
                r.worst,
                f"{r.tolerance:.0e}",
                "pass" if r.passed else f"FAIL {r.error}".strip(),
            ]
            for r in rows
        ],
    )
    failed = sum(not r.passed for r in rows)
    return f"{table}\n\n{len(rows) - failed} passed, {failed} failed"


def _write_record(args, rows, targets, options, started):
    from rnnbench.records import CHECK_SCHEMA, record_header, save_record

    record = record_header(
        CHECK_SCHEMA,
        task="check",
        dataset="trajectory" if args.trajectory else "parity",
        backend="+".join(sorted({name for name, _ in targets})),
        seed=0,
        status="ok" if all(r.passed for r in rows) else "failed",
        started_at=started,
    )
    record.update(
        {
            "finished_at": datetime.now(timezone.utc).isoformat(),
            "config": {
                "targets": [list(t) for t in targets],
                "cells": args.cells,
                "dtypes": args.dtype,
                "trajectory": args.trajectory,
                **options,
            },
            "rows": [row.as_dict() for row in rows],
        }
    )
    return save_record(args.results_dir, record)
