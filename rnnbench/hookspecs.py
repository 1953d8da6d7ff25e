"""Every rnnbench hook, in one place.

A plugin is a module (or object) with functions named like these specs and
decorated with :data:`hookimpl`. Builtin backends and tasks are such modules;
third-party ones are found through the ``rnnbench`` entry-point group.

Registration must be cheap: a plugin describes what it offers (a name and an
import path) and never imports its framework here, so that ``rnnbench --help``
and ``rnnbench plugins`` stay fast with every framework installed.
"""

from __future__ import annotations

from typing import Callable

import pluggy

from rnnbench.entry import Entry

hookspec = pluggy.HookspecMarker("rnnbench")
hookimpl = pluggy.HookimplMarker("rnnbench")


@hookspec
def rnnbench_register_backends(register: Callable[[Entry], None]) -> None:
    """Offer backends: call ``register(Entry(name, target, requires, extra, description))``
    once per backend. ``target`` ("module:Class") is imported only when the backend is
    used; ``requires`` lists the modules it needs, so availability is known without
    importing them. A duplicate name is rejected with an error naming both plugins."""


@hookspec
def rnnbench_register_tasks(register: Callable[[Entry], None]) -> None:
    """Offer tasks, exactly as :func:`rnnbench_register_backends` offers backends."""


@hookspec
def rnnbench_register_commands(register: Callable[[Entry], None]) -> None:
    """Offer subcommands: ``register(Entry(name, "module:add_parser", description=...))``.

    ``add_parser(commands, argv)`` adds the command's subparser to argparse's
    ``commands`` and sets its ``handler(args) -> exit status``; ``argv`` is the
    whole command line. Its module is imported for every ``rnnbench --help``, so
    it imports no framework; the handler imports what it needs.
    """
