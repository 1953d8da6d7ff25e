"""``rnnbench data list`` and ``rnnbench data fetch NAME``: the parser half is light, handlers import lazily."""

from __future__ import annotations


def add_parser(commands, argv=None) -> None:
    data = commands.add_parser(
        "data",
        help="list the datasets present, or fetch one",
        description="Datasets live in --data-dir, else $RNNBENCH_DATA_DIR, "
        "else ~/.cache/rnnbench/data ($XDG_CACHE_HOME/rnnbench/data).",
    )
    verbs = data.add_subparsers(dest="data_command", metavar="VERB")
    listing = verbs.add_parser(
        "list",
        help="each registered dataset: present, unusable (a file empty or truncated), partial or missing, and where",
    )
    listing.add_argument("--data-dir", metavar="DIR")
    listing.set_defaults(handler=_list)
    fetch = verbs.add_parser("fetch", help="download the original files, verify, extract safely, convert")
    fetch.add_argument("name", metavar="NAME", help="dataset name (see `rnnbench data list`)")
    fetch.add_argument("--data-dir", metavar="DIR")
    fetch.add_argument("--force", action="store_true", help="fetch again even if present")
    fetch.add_argument("--no-progress", action="store_true")
    fetch.set_defaults(handler=_fetch)
    data.set_defaults(handler=lambda args: _usage(data))


def _usage(parser) -> int:
    parser.print_help()
    return 2


def _list(args) -> int:
    from rnnbench.data.local import all_statuses
    from rnnbench.data.paths import resolve_data_dir
    from rnnbench.table import format_table

    data_dir = resolve_data_dir(args.data_dir)
    print(f"data directory: {data_dir.describe()}")
    rows = []
    for status in all_statuses(data_dir, check_sizes=True):  # an empty or truncated file: not usable
        source = status.source
        note = f"missing {', '.join(status.missing)}" if status.missing and status.state == "partial" else ""
        if status.damaged:
            note = (
                "; ".join(n for n in (note, *status.damaged) if n)
                + f"; not usable: `rnnbench data fetch {source.name} --force` fetches it again"
            )
        note = "; ".join(n for n in (note, source.notes) if n)
        rows.append(
            [
                source.name,
                status.state,
                f"{status.size_bytes / 1e6:.1f} MB" if status.size_bytes else "-",
                source.classes,
                source.title,
                note,
            ]
        )
    print(format_table(["name", "state", "size", "classes", "dataset", "notes"], rows))
    return 0


def _fetch(args) -> int:
    from rnnbench.data.fetch import fetch
    from rnnbench.data.paths import resolve_data_dir
    from rnnbench.data.registry import get_source

    source = get_source(args.name)
    fetch(source, resolve_data_dir(args.data_dir), force=args.force, progress=False if args.no_progress else None)
    return 0
