"""Which committed sweep file made the records of a summary table, for the note under it.

A sweep file (``rnnbench sweep FILE``) whose description starts with
"README" reproduces a README table; the note under the generated table names
it, so a reader can remake the records that table came from.
"""

from __future__ import annotations

from pathlib import Path


def sweep_files(folder) -> list[tuple[Path, list[dict], str]]:
    """``(path, entries, description)`` of every README sweep in ``folder``.

    One entry per ``[matrix]`` and ``[[include]]`` table, with ``[options]`` under it:
    ``{"tasks", "datasets" (empty: any), "models" (empty: any), "options"}``.
    """
    import tomllib

    found = []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        description = str(spec.get("description") or "")
        if not description.startswith("README"):
            continue
        options = spec.get("options") or {}
        tables = [spec.get("matrix") or {}] + [t for t in spec.get("include") or [] if isinstance(t, dict)]
        entries = []
        for table in tables:
            merged = {**options, **table}
            if not _values([merged], "task"):
                continue
            entries.append(
                {
                    "tasks": _values([merged], "task"),
                    "datasets": _values([merged], "dataset") | _values([merged], "problem"),
                    "models": _values([merged], "model"),
                    "options": merged,
                }
            )
        found.append((path, entries, description))
    return found


def add_sweep_notes(section, folder, shown_as: str | None = None) -> None:
    """Put under each summary table the README sweeps that run its task, dataset and models (and, for a
    split table, the split option's value: ``supervision = "roots"`` given, or the default)."""
    files = sweep_files(folder)
    for block in section.blocks:
        if not block.source:
            continue
        task, dataset = block.source
        made = [
            path
            for path, entries, _description in files
            if any(_makes(entry, task, dataset, block) for entry in entries)
        ]
        names = [f"{shown_as.rstrip('/')}/{path.name}" if shown_as else str(path) for path in made]
        if names:  # first, above the table's own notes; one line however many files
            block.notes[:0] = [sweep_note(names)]


def sweep_note(names: list[str]) -> str:
    """``Sweep: `rnnbench sweep a.toml``` for one file, ``Sweeps: `rnnbench sweep a.toml`, `b.toml``` for more."""
    first, rest = names[0], names[1:]
    return f"Sweep{'s' if rest else ''}: `rnnbench sweep {first}`" + "".join(f", `{name}`" for name in rest)


def _makes(entry: dict, task, dataset, block) -> bool:
    if task not in entry["tasks"] or (entry["datasets"] and dataset not in entry["datasets"]):
        return False
    if block.models and entry["models"] and not entry["models"] & {str(m) for m in block.models}:
        return False
    if block.split is not None:
        key, value = block.split
        if str(value) not in (_values([entry["options"]], key) or {str(_split_default(task))}):
            return False
    return True


def _split_default(task):
    from rnnbench.plugins import known_task

    declared = getattr(known_task(task), "summary_split", None)
    return declared[2] if declared else None


def _values(tables, key) -> set:
    values = set()
    for table in tables:
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, list):
            values.update(str(v) for v in value)
        elif value is not None:
            values.add(str(value))
    return values
