"""``rnnbench report``: its options, and turning a results directory into tables, plots and comparisons.

The parser half imports nothing heavy (``rnnbench --help`` stays fast);
pandas and the report modules are imported inside the handler. Exit status:
0 when a report was written, 1 when there was nothing to report or a
comparison found a regression, 2 on bad input.
"""

from __future__ import annotations

import sys

from rnnbench.errors import RnnbenchError
from rnnbench.number_types import nonnegative_float

FILTERS = ("task", "dataset", "model", "backend", "host")
#: The core's tables, as ``rnnbench.report.tables.BUILDERS`` names them (that module imports pandas).
CORE_TABLES = ("summary", "accuracy", "cost", "speed", "lengths", "parity")


def add_parser(commands, argv=None) -> None:
    report = commands.add_parser(
        "report",
        help="the backends side by side, then every table and chart, from a results directory",
        description="Read every record in a results directory and print first the summary (backends as columns), "
        "then the tables that have data: accuracy (run records), speed (bench), parity (check) and "
        "long-range success vs T. HTML and Markdown written to a file add charts.",
    )
    report.add_argument("--results-dir", default="results", metavar="DIR", help="the records (default results/)")
    report.add_argument(
        "--table",
        default="all",
        metavar="NAME[,NAME]",
        help=f"summary, accuracy, cost, speed, lengths, parity{_task_tables(argv)} or all (default: "
        "all that have data; the summary holds the cost tables)",
    )
    report.add_argument(
        "--target",
        type=nonnegative_float,
        metavar="VALUE",
        help="the dev metric the cost tables' time to target reads (percent for accuracies; "
        "default: each task's declared target)",
    )
    report.add_argument(
        "--summary", action="store_true", help="only the side-by-side summary tables, no charts (what the README shows)"
    )
    report.add_argument(
        "--verbose", action="store_true", help="list every warning, not one line per kind with its count"
    )
    report.add_argument(
        "--format",
        choices=("text", "markdown", "csv", "html"),
        default="text",
        help="text for the terminal (default), markdown (with --output, charts as SVG files in "
        "NAME_files/ beside it), csv (one table), html (one self-contained page with charts)",
    )
    report.add_argument("--output", metavar="PATH", help="write to PATH instead of standard output")
    report.add_argument(
        "--into",
        metavar="FILE",
        help="write into the generated block of a Markdown FILE (between its BEGIN/END markers), "
        "as make readme does for README.md; the speed summary there shows the largest bench "
        "record alone (the others are named, and in the full report)",
    )
    report.add_argument(
        "--check",
        action="store_true",
        help="with --into: write nothing, exit 1 when FILE's block differs from what the records give",
    )
    report.add_argument(
        "--sweeps",
        metavar="DIR",
        help="name under each summary table the README sweep file in DIR that made its records",
    )
    report.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    keep = report.add_argument_group("filters (comma-separated values; shell patterns such as 'adding-*' too)")
    for name in FILTERS:
        keep.add_argument(f"--{name}", metavar="NAME")
    keep.add_argument(
        "--status",
        metavar="STATUS",
        help="runs and bench rows with this status (default ok; 'all' keeps every one); parity rows "
        "are ok/failed and, unless this is given, all shown",
    )
    compare = report.add_argument_group("comparing two result sets")
    which = compare.add_mutually_exclusive_group()
    which.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare results directory B against A")
    which.add_argument(
        "--compare-machines",
        nargs=2,
        metavar=("HOST_A", "HOST_B"),
        help="compare two machines' records within --results-dir",
    )
    compare.add_argument(
        "--threshold",
        type=nonnegative_float,
        default=5.0,
        metavar="PCT",
        help="flag a speed median (or a loss-like metric) more than PCT%% worse (default 5)",
    )
    compare.add_argument(
        "--accuracy-threshold",
        type=nonnegative_float,
        default=1.0,
        metavar="POINTS",
        help="flag an accuracy more than POINTS percentage points lower (default 1)",
    )
    report.set_defaults(handler=handle)


def _task_tables(argv) -> str:
    """``, longrange``: the tables the registered tasks add, for a ``report`` command line only (finding them
    loads every task; ``rnnbench --help`` and the other commands never pay for that)."""
    words = [word for word in argv or () if not word.startswith("-")]
    if words[:1] != ["report"]:
        return ""
    from rnnbench.report.hooks import task_tables

    return "".join(f", {name}" for name in task_tables(CORE_TABLES))


class NothingToReport(Exception):
    """Not an error in the input: the records asked for do not exist. Exit status 1."""


def handle(args) -> int:
    try:
        return _handle(args)
    except NothingToReport as exc:
        print(f"rnnbench report: nothing to report: {exc}", file=sys.stderr)
        return 1


def _handle(args) -> int:
    import importlib.util

    if importlib.util.find_spec("pandas") is None:  # every report module needs it
        raise RnnbenchError("rnnbench report needs pandas: pip install pandas")
    from rnnbench.report.render import Meta, render

    if args.threshold < 0 or args.accuracy_threshold < 0:
        raise RnnbenchError("--threshold and --accuracy-threshold must not be negative")
    if args.compare or args.compare_machines:
        section, regressions, meta = _comparison(args)
        text = render(args.format, [section], meta)
        _emit(args, text)
        if regressions:
            print(f"rnnbench report: {regressions} regression(s) beyond the threshold", file=sys.stderr)
        return 1 if regressions else 0
    from rnnbench.report.tables import build_sections, parse_table_names, table_source

    if args.summary and args.table != "all":
        raise RnnbenchError("--summary is the summary table alone; leave out --table")
    if (args.into or args.check) and not (args.into and args.format == "markdown" and not args.output):
        raise RnnbenchError(
            "--into FILE writes Markdown into FILE: give --format markdown, no --output (and --check only with --into)"
        )
    names = parse_table_names("summary" if args.summary else args.table)
    frame, notes = _selected(args, args.results_dir)
    frame.attrs["target"] = args.target  # read by the cost tables, checked against each table's metric
    frame.attrs["brief"] = bool(args.into)  # the README's summary: the largest bench record's speed table alone
    sections, empty = build_sections(frame, names)
    if not sections:
        wanted = "; ".join(f"the {n} table reads {table_source(n)}" for n in names)
        raise NothingToReport(f"no data in {args.results_dir}{_filter_text(args)} ({wanted})")
    if args.table != "all":
        notes += [f"no data for the {name} table: it reads {table_source(name)}" for name in empty]
    if args.sweeps:
        from rnnbench.report.sweeps import add_sweep_notes

        for section in sections:
            if section.name == "summary":
                add_sweep_notes(section, args.sweeps, shown_as=_relative(args.sweeps, args.into))
    meta = Meta(
        _relative(args.results_dir, args.into),
        _summary(frame),
        notes,
        verbose=args.verbose,
        width=_width(args),
        heading=3 if args.into else 2,
    )
    fresh = _fresh_figures_folder(args)
    figures = _figures(args, frame)
    try:
        text = render(args.format, sections, meta, figures)
        if args.into:
            return _into(args, text)
        _emit(args, text)
    except RnnbenchError:
        if fresh is not None:  # charts made for a report that was not written must not stay behind
            from rnnbench.report.output import remove_figures_folder

            remove_figures_folder(fresh)
        raise
    return 0


def _fresh_figures_folder(args):
    """The charts folder a Markdown ``--output`` is about to create (None when there is none or it exists)."""
    if not (args.format == "markdown" and args.output) or args.summary:
        return None
    from rnnbench.report.output import figures_folder

    folder = figures_folder(args.output)
    return None if folder.exists() else folder


def _relative(path, into) -> str:
    """``path`` as seen from the folder of ``into`` (so a generated README names ``results``, not /home/...)."""
    if not into:
        return str(path)
    import os
    from pathlib import Path

    return Path(os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(into)))).as_posix()


def _into(args, text: str) -> int:
    from rnnbench.report import readme

    if args.check:
        _, old, _ = readme.split(args.into)
        if old != text:
            print(
                f"rnnbench report: the generated block of {args.into} differs from what {args.results_dir} "
                f"gives; run make readme",
                file=sys.stderr,
            )
            return 1
        return 0
    changed = readme.replace(args.into, text)
    print(f"report: {args.into} {'updated' if changed else 'unchanged'}", file=sys.stderr)
    return 0


def _width(args) -> int | None:
    """The terminal's width for text on standard output; files and other formats are not cut to a terminal."""
    if args.format != "text" or args.output:
        return None
    import shutil

    return max(40, shutil.get_terminal_size((100, 24)).columns)


def _figures(args, frame):
    """Charts for HTML (inlined) and Markdown written to a file (SVG files in ``NAME_files/`` beside it)."""
    wanted = args.format == "html" or (args.format == "markdown" and args.output)
    if args.summary or not wanted:
        return ()
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise RnnbenchError("charts need matplotlib: pip install matplotlib (or rnnbench report --summary)")
    from rnnbench.report.figures import all_figures

    figures = all_figures(frame)
    if args.format == "markdown":
        from rnnbench.report.output import write_figures

        figures = write_figures(args.output, figures, force=args.force)
    return figures


def _load(results_dir):
    """Every record in ``results_dir``; files it skipped are reported on stderr, one line each."""
    import warnings

    from rnnbench.records import RecordWarning
    from rnnbench.report.frame import load_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordWarning)
        full = load_results(results_dir)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    if full.empty:
        raise NothingToReport(f"{results_dir} holds no records (run rnnbench run, check or bench first)")
    return full


def _selected(args, results_dir, full=None, host=None):
    """The rows the filters keep, and a note on what the default status filter left out."""
    from rnnbench.report.filters import apply_filters, explain_empty

    full = _load(results_dir) if full is None else full
    filters = {name: getattr(args, name) for name in FILTERS}
    if host is not None:
        filters["host"] = host
    if args.status not in (None, "all"):
        filters["status"] = args.status
    frame = apply_filters(full, filters)
    if frame.empty:
        raise NothingToReport(f"in {results_dir}: {explain_empty(full, filters)}")
    if args.status is not None:
        return frame, []
    # By default only finished runs and measurements count; a check's failures are its content.
    hidden = frame[(frame["kind"] != "check") & (frame["status"] != "ok")]
    if hidden.empty:
        return frame, []
    counts = ", ".join(f"{n} {s}" for s, n in hidden["status"].value_counts().sort_index().items())
    if len(hidden) == len(frame):
        raise NothingToReport(f"in {results_dir}: no record with status ok ({counts}); try --status all")
    return frame.drop(hidden.index), [
        f"left out {len(hidden)} row(s) whose status is not ok ({counts}); --status all shows them"
    ]


def _comparison(args):
    from rnnbench.report.compare import compare
    from rnnbench.report.render import Meta

    if args.compare:
        (dir_a, dir_b), labels = args.compare, list(args.compare)
        frame_a, notes_a = _selected(args, dir_a)
        frame_b, notes_b = _selected(args, dir_b)
        source = f"{dir_a} vs {dir_b}"
    else:
        labels = list(args.compare_machines)
        full = _load(args.results_dir)
        present = set(full["host"].dropna()) | set(full["hostname"].dropna() if "hostname" in full else ())
        for host in labels:
            if host not in present:
                raise RnnbenchError(
                    f"no records from host {host!r} in {args.results_dir} "
                    f"(hosts: {', '.join(sorted(present)) or 'none'})"
                )
        frame_a, notes_a = _selected(args, args.results_dir, full, host=labels[0])
        frame_b, notes_b = _selected(args, args.results_dir, full, host=labels[1])
        source = f"{args.results_dir}: {labels[0]} vs {labels[1]}"
    if labels[0] == labels[1]:
        labels = [f"A {labels[0]}", f"B {labels[1]}"]
    section, regressions = compare(
        frame_a, frame_b, labels[0], labels[1], args.threshold / 100.0, args.accuracy_threshold
    )
    if not section.blocks:
        raise NothingToReport(f"no configuration appears in both {labels[0]} and {labels[1]}{_filter_text(args)}")
    notes = [f"{label}: {note}" for label, part in zip(labels, (notes_a, notes_b)) for note in part]
    return section, regressions, Meta(source, f"{regressions} regression(s)", notes)


def _emit(args, text: str) -> None:
    if args.output:
        from rnnbench.report.output import write_output

        path = write_output(args.output, text, force=args.force)
        print(f"report: {path}", file=sys.stderr)
    else:
        from rnnbench.report.output import write_stdout

        write_stdout(text)


def _summary(frame) -> str:
    records = frame.drop_duplicates("path")
    kinds = ", ".join(f"{n} {k}" for k, n in records["kind"].value_counts().sort_index().items())
    # A machine by name, CPU model and count, with the ISA levels its records name beside it (records from
    # before machine.isa_level, all but the bench ones, cannot tell those CPUs apart).
    names = ["hostname", "cpu_model", "logical_cpus"]
    records = records.assign(**{c: records[c] if c in records else None for c in names + ["isa_level"]})
    described = []
    for key, part in records.groupby(names, sort=False, dropna=False):
        levels = sorted({str(v) for v in part["isa_level"] if isinstance(v, str)})
        isa = f"; ISA {' or '.join(levels)}" if levels else ""
        described.append(f"{key[0]} ({key[1] if isinstance(key[1], str) else '?'}, {_int(key[2])} CPUs{isa})")
    return (
        f"{_plural(len(records), 'record')} ({kinds}) from {_plural(len(described), 'machine')}: {', '.join(described)}"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _filter_text(args) -> str:
    given = [f"--{name} {getattr(args, name)}" for name in FILTERS + ("status",) if getattr(args, name)]
    return f" matching {' '.join(given)}" if given else ""


def _int(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "?"
