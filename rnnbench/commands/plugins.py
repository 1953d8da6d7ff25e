"""``rnnbench plugins``: every backend, task and command, available or not, where it came from, and why."""

from __future__ import annotations

import sys


def add_parser(commands, argv=None) -> None:
    plugins = commands.add_parser("plugins", help="list backends, tasks and commands, available or not, and why")
    plugins.set_defaults(handler=handle)


def handle(args) -> int:
    from rnnbench.plugins import get_registry
    from rnnbench.table import format_table

    registry = get_registry()
    rows = []
    for kind, entries in (("backend", registry.backends), ("task", registry.tasks), ("command", registry.commands)):
        for entry in entries.values():
            status = "available" if entry.available else "unavailable"
            note = entry.description if entry.available else entry.unavailable_reason()
            rows.append([kind, entry.name, status, entry.distribution, note])
    print(format_table(["kind", "name", "status", "from", "notes"], rows))
    for error in registry.errors:
        print(f"warning: {error}", file=sys.stderr)
    return 0
