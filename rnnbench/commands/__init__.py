"""The builtin commands, registered through the same hook a plugin uses to add one.

A command is an :class:`rnnbench.entry.Entry` whose target is its
``add_parser(commands, argv)`` function: it adds its subparser to argparse's
``commands`` (``argv`` is the whole command line, for a command whose options
depend on it, as ``run``'s do on ``--task``) and sets ``handler``. The module
holding it must import nothing heavy: every command's parser is built for
``rnnbench --help``.
"""

from rnnbench.entry import Entry
from rnnbench.hookspecs import hookimpl

BUILTIN_COMMANDS = (
    ("plugins", "rnnbench.commands.plugins:add_parser", "list backends, tasks and commands, and why"),
    ("check", "rnnbench.commands.check:add_parser", "cross-framework correctness against the NumPy reference"),
    ("run", "rnnbench.commands.run:add_parser", "train a task on a backend; one record per seed"),
    ("bench", "rnnbench.commands.bench:add_parser", "speed suites, one process per configuration"),
    ("report", "rnnbench.commands.report:add_parser", "tables and plots from the records"),
    ("compare", "rnnbench.commands.compare:add_parser", "B against A row by row, beyond noise: a regression gate"),
    ("data", "rnnbench.commands.data:add_parser", "list or fetch datasets"),
    ("sweep", "rnnbench.commands.sweep:add_parser", "a whole matrix of runs, locally or on Ray"),
)


@hookimpl
def rnnbench_register_commands(register):
    for name, target, description in BUILTIN_COMMANDS:
        register(Entry(name, target, description=description))
