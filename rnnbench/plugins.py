"""The plugin manager: builtin plugins, third-party entry points, and the registry they fill.

Builtin backends and tasks are ordinary hook implementations registered by
module name. Third-party plugins come from the ``rnnbench`` entry-point group
unless ``RNNBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` (hermetic tests). A plugin that
fails to load or to register is reported by ``rnnbench plugins``, never fatal.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field, replace
from importlib import metadata

import pluggy

from rnnbench import hookspecs
from rnnbench.entry import Entry
from rnnbench.errors import RnnbenchError

ENTRY_POINT_GROUP = "rnnbench"
DISABLE_AUTOLOAD = "RNNBENCH_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_PLUGINS = (
    "rnnbench.backends.numpy",
    "rnnbench.backends.torch",
    "rnnbench.backends.tensorflow",
    "rnnbench.tasks.textclf",
    "rnnbench.tasks.longrange",
    "rnnbench.tasks.treesent",
    "rnnbench.commands",
)
BUILTIN_DISTRIBUTION = "rnnbench (builtin)"


@dataclass
class Registry:
    """Everything the plugins offered, and every problem they had doing so."""

    backends: dict[str, Entry] = field(default_factory=dict)
    tasks: dict[str, Entry] = field(default_factory=dict)
    commands: dict[str, Entry] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def backend(self, name: str) -> Entry:
        return _lookup("backend", self.backends, name)

    def task(self, name: str) -> Entry:
        return _lookup("task", self.tasks, name)


def _lookup(kind: str, entries: dict[str, Entry], name: str) -> Entry:
    if name not in entries:
        valid = ", ".join(sorted(entries)) or "none registered"
        raise RnnbenchError(f"unknown {kind} {name!r}; valid {kind}s: {valid}")
    return entries[name]


def _third_party_plugins(errors: list[str]):
    """(name, plugin object, distribution) for each loadable entry point of the group."""
    if os.environ.get(DISABLE_AUTOLOAD, "").strip() not in ("", "0"):
        return
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        dist_name = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
        try:
            plugin = entry_point.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin must not break rnnbench, not even by sys.exit()
            errors.append(f"plugin {entry_point.name!r} ({dist_name}) failed to load: {failure(exc)}")
            continue
        yield entry_point.name, plugin, dist_name


def build_registry() -> Registry:
    """Load all plugins and collect what they register (no framework is imported)."""
    registry = Registry()
    manager = pluggy.PluginManager("rnnbench")
    manager.add_hookspecs(hookspecs)
    distributions = {}
    for module_name in BUILTIN_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
        distributions[module_name] = BUILTIN_DISTRIBUTION
    for name, plugin, dist_name in _third_party_plugins(registry.errors):
        try:
            manager.register(plugin, name=name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            registry.errors.append(f"plugin {name!r} ({dist_name}) was rejected: {exc}")
            continue
        distributions[name] = dist_name
    for hook, kind, entries in (
        (manager.hook.rnnbench_register_backends, "backend", registry.backends),
        (manager.hook.rnnbench_register_tasks, "task", registry.tasks),
        (manager.hook.rnnbench_register_commands, "command", registry.commands),
    ):
        # Call plugins one at a time so that each entry knows its plugin and one
        # plugin's exception does not hide the others' entries.
        for impl in hook.get_hookimpls():  # registration order: builtins first
            register = functools.partial(
                _register, kind, entries, registry.errors, impl.plugin_name, distributions.get(impl.plugin_name, "")
            )
            try:
                impl.function(register=register)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                registry.errors.append(f"plugin {impl.plugin_name!r} failed to register {kind}s: {failure(exc)}")
    return registry


def failure(exc: BaseException) -> str:
    """How a plugin's failure is named: ``ValueError: ...``, or the ``sys.exit`` it called."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def _register(kind, entries, errors, plugin_name, distribution, entry: Entry) -> None:
    if not isinstance(entry, Entry):
        errors.append(f"plugin {plugin_name!r} registered a {kind} that is not an rnnbench Entry: {entry!r}")
        return
    if entry.name in entries:
        first = entries[entry.name]
        errors.append(
            f"plugin {plugin_name!r} registered {kind} {entry.name!r} again; "
            f"keeping the one from {first.plugin!r} ({first.distribution})"
        )
        return
    if not all(isinstance(impl, str) and impl for impl in entry.impls):
        errors.append(
            f"plugin {plugin_name!r} registered {kind} {entry.name!r} with impls that are not names: {entry.impls!r}"
        )
        return
    entries[entry.name] = replace(entry, plugin=plugin_name, distribution=distribution)


@functools.lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    return build_registry()


@functools.lru_cache(maxsize=None)
def known_task(name):
    """The task object for a record's task name (no framework is imported), or None when it is not registered."""
    if not isinstance(name, str):
        return None
    try:
        return get_registry().task(name).load()()
    except Exception:  # noqa: BLE001 - an unknown or broken task: its records are still read as written
        return None


def get_backend(name: str, **options):
    """A ready backend object: ``get_backend("torch", impl="loop", threads=2)``."""
    return load_backend(get_registry().backend(name))(**options)


def load_backend(entry: Entry):
    """The backend class ``entry`` names, refused in one line unless it implements the whole contract and
    honours what it declares: the impls its registration lists, the optional methods its flags offer."""
    from rnnbench.backend import CAPABILITIES, Backend

    backend_class = entry.load()
    if not (isinstance(backend_class, type) and issubclass(backend_class, Backend)):
        raise RnnbenchError(f"backend {entry.name}: {entry.target} is not an rnnbench.backend.Backend subclass")
    missing = sorted(getattr(backend_class, "__abstractmethods__", ()))
    if missing:
        raise RnnbenchError(f"backend {entry.name}: {backend_class.__name__} does not implement {', '.join(missing)}")
    impls = tuple(getattr(backend_class, "impls", ()))
    if entry.impls and entry.impls != impls:
        raise RnnbenchError(
            f"backend {entry.name}: its registration declares impls {', '.join(entry.impls)} "
            f"but {backend_class.__name__}.impls is {', '.join(impls) or 'empty'}"
        )
    for flag, method in CAPABILITIES.items():
        if getattr(backend_class, flag) and getattr(backend_class, method) is getattr(Backend, method):
            raise RnnbenchError(
                f"backend {entry.name}: {backend_class.__name__} sets {flag} but does not implement {method}"
            )
    return backend_class
