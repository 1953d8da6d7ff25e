"""A sweep file read, expanded and checked: every configuration is known to be valid before any runs.

``[matrix]`` is a product of lists, ``[options]`` go to every run (an
include's own keys win), ``[[exclude]]`` drops matching combinations of the
matrix and ``[[include]]`` adds runs (a list value there expands too). A
mistake anywhere is one :class:`RnnbenchError` naming the file, the section,
the key and the valid names.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rnnbench.errors import RnnbenchError
from rnnbench.run_options import TASK_OPTIONS
from rnnbench.sweep.options import IDENTITY, check_key, check_task_key, convert, task_actions

TOP_LEVEL = ("description", "external_backends", "matrix", "options", "exclude", "include")


@dataclass(frozen=True)
class Configuration:
    """One run: task, backend, seed and the options given for it (as ``rnnbench run`` would get them)."""

    task: str
    backend: str
    seed: int
    options: tuple = ()  # ((key, text or None for a flag, typed value), ...) sorted by key
    resolved: dict = field(default_factory=dict, compare=False, hash=False, repr=False)
    source: str = field(default="", compare=False, hash=False)  # "[matrix]" or "[[include]] #2"

    def value(self, key, default=None):
        return next((typed for name, _, typed in self.options if name == key), default)

    @property
    def threads(self) -> int | None:
        return self.value("threads")

    @property
    def wants_gpu(self) -> bool:
        device = str(self.value("device") or "cpu").lower()
        return device.startswith(("cuda", "gpu"))

    def argv(self, **extra) -> list[str]:
        """Arguments of ``rnnbench run`` for this configuration; ``extra`` options are added if not set."""
        argv = ["run", "--backend", self.backend, "--task", self.task, "--seeds", str(self.seed)]
        given = {name for name, _, _ in self.options}
        items = [(k, t) for k, t, _ in self.options] + [(k, str(v)) for k, v in extra.items() if k not in given]
        for key, text in items:
            if text is None:  # a flag: given when true
                if self.value(key):
                    argv.append("--" + key.replace("_", "-"))
            else:
                argv += ["--" + key.replace("_", "-"), text]
        return argv

    @property
    def label(self) -> str:
        return self.describe()

    def describe(self, keys=None) -> str:
        """``task dataset backend model seed N (key=value, ...)``; only ``keys`` among the options if given."""
        shown = [
            f"{k}={t if t is not None else str(v).lower()}"
            for k, t, v in self.options
            if k not in ("dataset", "model") and (keys is None or k in keys)
        ]
        parts = [
            self.task,
            self.resolved.get("dataset") or self.value("dataset") or "",
            self.backend,
            self.resolved.get("model") or self.value("model") or "",
            f"seed {self.seed}",
        ]
        return " ".join(p for p in parts if p) + (f" ({', '.join(shown)})" if shown else "")


@dataclass
class Sweep:
    path: Path
    description: str
    configurations: list[Configuration]
    warnings: list[str]


def varying_keys(configurations) -> set[str]:
    """Options whose value is not the same in every configuration: the ones worth printing per run."""
    values = {}
    for config in configurations:
        for key, _, typed in config.options:
            values.setdefault(key, set()).add(typed)
    return {
        key
        for key, seen in values.items()
        if len(seen) > 1 or any(config.value(key) is None for config in configurations)
    }


def common_options(configurations) -> str:
    keys = {key for config in configurations for key, _, _ in config.options} - varying_keys(configurations)
    first = configurations[0] if configurations else None
    return ", ".join(
        f"{k}={t if t is not None else str(v).lower()}" for k, t, v in (first.options if first else ()) if k in keys
    )


def load_sweep(path) -> Sweep:
    """Read ``path``, expand it and check every configuration (names, option types, the task's resolution)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RnnbenchError(f"cannot read sweep file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RnnbenchError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _expand(path, data)
    except RnnbenchError as exc:
        raise RnnbenchError(f"{path}: {exc}") from None


def _expand(path: Path, data: dict) -> Sweep:
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        raise RnnbenchError(f"unknown top-level key {unknown[0]!r}; valid keys: {', '.join(TOP_LEVEL)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise RnnbenchError("description: expected a text")
    external = data.get("external_backends", [])
    if not isinstance(external, list) or not all(isinstance(name, str) and name for name in external):
        raise RnnbenchError("external_backends: expected a list of backend names")
    matrix = _table(data, "matrix")
    options = _table(data, "options")
    excludes = _tables(data, "exclude")
    includes = _tables(data, "include")
    if not matrix and not includes:
        raise RnnbenchError(
            "empty matrix: [matrix] needs at least one key with a list of values (or add [[include]] runs)"
        )
    lists = {key: _values(key, value, "[matrix]", scalar=False) for key, value in matrix.items()}
    fixed = {key: _values(key, value, "[options]", scalar=True)[0] for key, value in options.items()}
    both = sorted(set(lists) & set(fixed))
    if both:
        raise RnnbenchError(f"[options] {both[0]}: also in [matrix]; set it in one place")
    drops = [
        {k: _values(k, v, f"[[exclude]] #{i}", scalar=False) for k, v in entry.items()}
        for i, entry in enumerate(excludes, 1)
    ]
    empty = [i for i, drop in enumerate(drops, 1) if not drop]
    if empty:
        raise RnnbenchError(
            f"[[exclude]] #{empty[0]} is empty: it would remove every configuration of [matrix]; "
            "give it the keys and values of the configurations to leave out"
        )
    combos, used = [], [0] * len(drops)
    if lists:
        for values in itertools.product(*lists.values()):
            combo = dict(zip(lists, values))
            hits = [i for i, drop in enumerate(drops) if _matches({**fixed, **combo}, drop)]
            for i in hits:
                used[i] += 1
            if not hits:
                combos.append(
                    (
                        {**fixed, **combo},
                        {**{k: "[options]" for k in fixed}, **{k: "[matrix]" for k in combo}},
                        "[matrix]",
                    )
                )
    for i, entry in enumerate(includes, 1):
        where = f"[[include]] #{i}"
        extra = {k: _values(k, v, where, scalar=False) for k, v in entry.items()}
        for values in itertools.product(*extra.values()):
            combo = dict(zip(extra, values))
            combos.append(({**fixed, **combo}, {**{k: "[options]" for k in fixed}, **{k: where for k in combo}}, where))
    if not combos:  # every combination of the matrix excluded, and no include: a sweep of nothing is a mistake
        total = 1
        for values in lists.values():
            total *= len(values)
        raise RnnbenchError(
            f"[[exclude]] removes all {total} configurations of [matrix] and there is no [[include]]: nothing would run"
        )
    warnings = [f"[[exclude]] #{i + 1} matches no configuration" for i, n in enumerate(used) if not n]
    checker = _Checker(external)
    configurations, seen = [], set()
    for values, origin, source in combos:
        config = checker.configuration(values, origin, source)
        if config not in seen:
            seen.add(config)
            configurations.append(config)
    return Sweep(path, description, configurations, warnings)


def _missing(key: str, source: str) -> str:
    """A configuration without ``key``; an include is told why [matrix] did not give it one."""
    if source.startswith("[[include]]"):
        return (
            f"{source}: no {key}; an [[include]] is a run of its own: it takes the values of [options] but "
            f"not those of [matrix], so set {key} in the include (or in [options])"
        )
    return f"{source}: no {key}; set {key} in [matrix] or [options]"


def _table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RnnbenchError(f"{key}: expected a table [{key}]")
    return value


def _tables(data: dict, key: str) -> list[dict]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RnnbenchError(f"{key}: expected an array of tables [[{key}]]")
    return value


def _values(key: str, value, where: str, scalar: bool) -> list:
    """Check ``key`` and return its values as a list (``[matrix]`` must give a list, ``[options]`` one value)."""
    check_key(key, where)
    if where == "[matrix]" and not isinstance(value, list):
        raise RnnbenchError(
            f"[matrix] {key}: expected a list of values, got {value!r} (a single value belongs in [options])"
        )
    if scalar and isinstance(value, list):
        raise RnnbenchError(f"{where} {key}: expected one value, got a list (lists belong in [matrix])")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise RnnbenchError(f"{where} {key}: empty list")
    for v in values:
        convert(key, v, where)  # the run parser's type and choices, before anything else
    return values


def _matches(combo: dict, drop: dict) -> bool:
    return all(key in combo and combo[key] in values for key, values in drop.items())


class _Checker:
    """Names and values of each configuration checked against the registry and the task (cached)."""

    def __init__(self, external=()):
        from rnnbench.plugins import get_registry

        self.registry = get_registry()
        self.external = set(external)  # backends of other distributions: checked only when loaded
        self.tasks = {}

    def task(self, name: str, where: str):
        if name not in self.tasks:
            try:
                from rnnbench.commands.run import load_task

                self.tasks[name] = load_task(self.registry, name)
            except RnnbenchError as exc:
                raise RnnbenchError(f"{where} task: {exc}") from None
        return self.tasks[name]

    def configuration(self, values: dict, origin: dict, source: str) -> Configuration:
        for key in ("task", "backend"):
            if key not in values:
                raise RnnbenchError(_missing(key, source))
        converted = {key: convert(key, value, origin[key]) for key, value in values.items()}
        task = self.task(converted["task"][1], origin["task"])
        for key in converted:
            check_task_key(key, task.name, origin[key])
        backend = converted["backend"][1]
        if backend not in self.registry.backends and backend not in self.external:
            try:
                self.registry.backend(backend)
            except RnnbenchError as exc:
                raise RnnbenchError(f"{origin['backend']} backend: {exc}") from None
        if "device" in converted:  # a device run refuses by name (cuda on numpy), refused here, as run does
            from rnnbench.devices import check_device

            try:
                check_device(backend, converted["device"][1])
            except RnnbenchError as exc:
                raise RnnbenchError(f"{origin['device']} device: {exc}") from None
        if "model" in converted:
            _check_model(task, converted["model"][1], origin["model"])
        if "dataset" in converted:
            _check_dataset(task, converted["dataset"][1], origin["dataset"])
        options = tuple(sorted((k, t, v) for k, (t, v) in converted.items() if k not in IDENTITY))
        config = Configuration(task.name, backend, int(converted.get("seed", (None, 0))[1]), options, {}, source)
        try:
            resolved = resolve(task, config)
        except RnnbenchError as exc:
            raise RnnbenchError(f"{source}: {config.label}: {exc}") from None
        return Configuration(config.task, backend, config.seed, options, resolved, source)


def resolve(task, config: Configuration) -> dict:
    """The task's full configuration for ``config``, defaults filled in, as ``rnnbench run`` resolves it."""
    from rnnbench.runner import check_run_options

    names = (*TASK_OPTIONS, *task_actions(task.name)[1])
    given = {key: config.value(key) for key in names if config.value(key) is not None}
    (variant,) = task.expand(given)  # one value a key: one run a configuration
    resolved = task.resolve_config(variant)
    resolved.update(
        backend=config.backend,
        device=config.value("device"),
        impl=config.value("impl"),
        threads=config.value("threads"),
    )
    check_run_options(resolved)
    if resolved["threads"] is not None and int(resolved["threads"]) < 1:
        raise RnnbenchError(f"threads must be at least 1, got {resolved['threads']}")
    return resolved


def _check_model(task, model: str, where: str) -> None:
    """A model the task can train: its own list if it has one, else sequence cells (and tree cells for a
    task whose default model is a tree)."""
    from rnnbench.params import CELLS, SEQUENCE_CELLS, TREE_CELLS

    valid = getattr(task, "models", None)
    if valid is None:
        default = task.resolve_config({}).get("model")
        valid = CELLS if default in TREE_CELLS else SEQUENCE_CELLS
    if model not in valid:
        raise RnnbenchError(
            f"{where} model: unknown model {model!r} for task {task.name}; valid models: {', '.join(valid)}"
        )


def _check_dataset(task, dataset: str, where: str) -> None:
    """A registered dataset of the task, or an existing file (a user's TSV/CSV/JSONL for textclf)."""
    if dataset in task.datasets:
        return
    looks_like_file = Path(dataset).suffix != "" or "/" in dataset
    if looks_like_file and Path(dataset).expanduser().is_file():
        return
    hint = f"file {dataset!r} not found; " if looks_like_file else f"unknown dataset {dataset!r} for task {task.name}; "
    raise RnnbenchError(f"{where} dataset: {hint}valid datasets: {', '.join(task.datasets) or 'none'}")
