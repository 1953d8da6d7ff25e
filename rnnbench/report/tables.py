"""The report's tables by name, and building the ones asked for (or every one that has data).

The core's tables come first; a task's own tables (``Task.report_tables``,
:mod:`rnnbench.report.hooks`) follow under the names the task gives them.
"""

from __future__ import annotations

from rnnbench.errors import RnnbenchError
from rnnbench.report.accuracy import accuracy_section
from rnnbench.report.hooks import task_tables
from rnnbench.report.lengths import lengths_section
from rnnbench.report.parity import parity_section
from rnnbench.report.speed import speed_section
from rnnbench.report.summary import cost_section, summary_section

#: In report order: the side-by-side summary first, then the detailed tables.
BUILDERS = {
    "summary": summary_section,
    "accuracy": accuracy_section,
    "cost": cost_section,
    "speed": speed_section,
    "lengths": lengths_section,
    "parity": parity_section,
}
#: What each table reads, for the message when it has nothing to show.
SOURCES = {
    "summary": "any record",
    "accuracy": "run records from rnnbench run",
    "cost": "run records from rnnbench run (their epoch timings and dev history)",
    "speed": "bench records from rnnbench bench",
    "lengths": "bench records from rnnbench bench --suite lengths",
    "parity": "check records from rnnbench check",
}


def table_names() -> list[str]:
    """Every table a report can show: the core's, then the tasks' own."""
    return [*BUILDERS, *task_tables(BUILDERS)]


def table_source(name: str) -> str:
    """What the table ``name`` reads, for the message when it has nothing to show."""
    return SOURCES[name] if name in SOURCES else task_tables(BUILDERS)[name][1]


def parse_table_names(text: str) -> list[str]:
    """``all`` or a comma-separated list of table names, checked."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = table_names()
    if not names or names == ["all"]:  # the summary already holds the cost tables, under their accuracy tables
        return [name for name in known if name != "cost"]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RnnbenchError(f"unknown table {unknown[0]!r}; choose from all, {', '.join(known)}")
    return names


def build_sections(frame, names: list[str]) -> tuple[list, list[str]]:
    """The sections with data among ``names``, and the names that had none."""
    sections, empty = [], []
    tasks = task_tables(BUILDERS)
    for name in names:
        section = BUILDERS[name](frame) if name in BUILDERS else tasks[name][0].report_section(name, frame)
        (sections.append(section) if section is not None else empty.append(name))
    return sections, empty
