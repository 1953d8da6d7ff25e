"""Simulated entry points, so plugin loading is tested without installing a distribution."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from rnnbench import plugins


class FakeEntryPoint:
    """Quacks like ``importlib.metadata.EntryPoint``: name, dist, load()."""

    def __init__(self, name: str, module: str, dist: str = "rnnbench-fake", version: str = "1.0"):
        self.name = name
        self.module = module
        self.dist = SimpleNamespace(name=dist, version=version)

    def load(self):
        return importlib.import_module(self.module)


def registry_with(monkeypatch, *entry_points):
    """A fresh registry that sees ``entry_points`` in the ``rnnbench`` group."""
    monkeypatch.delenv(plugins.DISABLE_AUTOLOAD, raising=False)
    monkeypatch.setattr(
        plugins.metadata, "entry_points", lambda group: list(entry_points) if group == plugins.ENTRY_POINT_GROUP else []
    )
    return plugins.build_registry()
