"""The report's tables by name, and building the ones asked for (or every one that has data)."""
from __future__ import annotations

from rnnbench.errors import RnnbenchError
from rnnbench.report.accuracy import accuracy_section
from rnnbench.report.lengths import lengths_section
from rnnbench.report.longrange import longrange_section
from rnnbench.report.parity import parity_section
from rnnbench.report.speed import speed_section
from rnnbench.report.summary import cost_section, summary_section

#: In report order: the side-by-side summary first, then the detailed tables.
BUILDERS = {"summary": summary_section, "accuracy": accuracy_section, "cost": cost_section, "speed": speed_section,
            "lengths": lengths_section, "parity": parity_section, "longrange": longrange_section}
#: What each table reads, for the message when it has nothing to show.
SOURCES = {"summary": "any record", "accuracy": "run records from rnnbench run",
           "cost": "run records from rnnbench run (their epoch timings and dev history)",
           "speed": "bench records from rnnbench bench",
           "lengths": "bench records from rnnbench bench --suite lengths",
           "parity": "check records from rnnbench check",
           "longrange": "run records with a seq_len from rnnbench run --task longrange"}


def parse_table_names(text: str) -> list[str]:
    """``all`` or a comma-separated list of table names, checked."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or names == ["all"]:  # the summary already holds the cost tables, under their accuracy tables
        return [name for name in BUILDERS if name != "cost"]
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise RnnbenchError(f"unknown table {unknown[0]!r}; choose from all, {', '.join(BUILDERS)}")
    return names


def build_sections(frame, names: list[str]) -> tuple[list, list[str]]:
    """The sections with data among ``names``, and the names that had none."""
    sections, empty = [], []
    for name in names:
        section = BUILDERS[name](frame)
        (sections.append(section) if section is not None else empty.append(name))
    return sections, empty
