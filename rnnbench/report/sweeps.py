"""Which committed sweep file made the records of a summary table, for the note under it.

A sweep file (``rnnbench sweep FILE``) whose description starts with
"README" reproduces a README table; the note under the generated table names
it, so a reader can remake the records that table came from.
"""
from __future__ import annotations

from pathlib import Path


def sweep_files(folder) -> list[tuple[Path, set, set, str]]:
    """``(path, tasks, datasets, description)`` of every README sweep in ``folder``; datasets empty: any."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: no notes rather than a dependency
        return []
    found = []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        description = str(spec.get("description") or "")
        if not description.startswith("README"):
            continue
        tables = [spec.get("options") or {}, spec.get("matrix") or {}] + list(spec.get("include") or [])
        found.append((path, _values(tables, "task"), _values(tables, "dataset") | _values(tables, "problem"),
                      description))
    return found


def add_sweep_notes(section, folder, shown_as: str | None = None) -> None:
    """Put under each summary table the README sweeps that name its task and dataset."""
    files = sweep_files(folder)
    for block in section.blocks:
        if not block.source:
            continue
        task, dataset = block.source
        for path, tasks, datasets, description in files:
            if task in tasks and (not datasets or dataset in datasets):
                name = f"{shown_as.rstrip('/')}/{path.name}" if shown_as else str(path)
                block.notes.append(f"Sweep: `rnnbench sweep {name}`")


def _values(tables, key) -> set:
    values = set()
    for table in tables:
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, list):
            values.update(str(v) for v in value)
        elif value is not None:
            values.add(str(value))
    return values
