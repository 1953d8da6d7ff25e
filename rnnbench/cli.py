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

    # Each subcommand's parser lives beside its code; these modules import nothing heavy.
    from rnnbench import bench_command, check_command, report_command, run_command
    from rnnbench.data import command as data_command
    from rnnbench.sweep import command as sweep_command

    check_command.add_parser(commands)
    run_command.add_parser(commands)
    bench_command.add_parser(commands)
    report_command.add_parser(commands)
    data_command.add_parser(commands)
    sweep_command.add_parser(commands)
    return parser


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
    from rnnbench import signals

    try:
        with signals.handled():  # SIGTERM and SIGHUP stop a command as Ctrl-C does
            return args.handler(args)
    except RnnbenchError as exc:
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"rnnbench: interrupted by {signals.describe(exc)}", file=sys.stderr)
        return signals.exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
