"""What the registered tasks add to the report: their own tables, summary blocks and charts (``Task``'s report
hooks, docs/plugins.md §6).

The core report never names a task: it asks every task the registry can load,
in registration order, and a task that fails to load is skipped (its records
are still reported by the core tables). Importing this module imports no
pandas, so the report's parser can list the task tables' names.
"""

from __future__ import annotations

from rnnbench import plugins


def report_tasks() -> list:
    """Every registered task that loads, as the task object, in registration order."""
    tasks = (plugins.known_task(name) for name in plugins.get_registry().tasks)  # looked up now: the registry in use
    return [task for task in tasks if task is not None]


def task_tables(core=()) -> dict:
    """``{table name: (task, what it reads)}`` of every task's own tables; a name the core (``core``) or an
    earlier task already uses is left out, so no task can replace another's table."""
    tables = {}
    for task in report_tasks():
        for name, reads in (getattr(task, "report_tables", None) or {}).items():
            if name not in core and name not in tables:
                tables[name] = (task, reads)
    return tables


def task_summaries(frame, brief: bool) -> tuple[list, list[str], list[tuple[str, str]]]:
    """Every task's summary contributions, concatenated: ``(blocks, notes, variant lines)``."""
    blocks, notes, lines = [], [], []
    for task in report_tasks():
        hook = getattr(task, "summary_blocks", None)
        if hook is None:
            continue
        built, built_notes, built_lines = hook(frame, brief)
        blocks += built
        notes += built_notes
        lines += built_lines
    return blocks, notes, lines


def task_figures(frame) -> list:
    """Every task's chart groups, ``[(heading, [Figure, ...]), ...]``, in registration order."""
    groups = []
    for task in report_tasks():
        hook = getattr(task, "report_figures", None)
        groups += hook(frame) if hook is not None else []
    return groups
