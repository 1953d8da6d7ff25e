"""The registry: builtins, third-party entry points, broken plugins, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from rnnbench import plugins
from rnnbench.entry import Entry
from rnnbench.errors import RnnbenchError

from plugin_fixtures import FakeEntryPoint, registry_with


def test_builtin_backends_registered_from_rnnbench():
    registry = plugins.build_registry()
    assert list(registry.backends)[:3] == ["numpy", "torch", "tensorflow"]
    assert all(e.distribution == plugins.BUILTIN_DISTRIBUTION for e in registry.backends.values())
    assert registry.backends["numpy"].available
    assert registry.errors == []


def test_third_party_backend_loads_from_entry_point(monkeypatch):
    registry = registry_with(monkeypatch, FakeEntryPoint("fake", "fake_backend_plugin"))
    entry = registry.backend("fakenp")
    assert entry.distribution == "rnnbench-fake 1.0"
    assert entry.plugin == "fake"
    backend = entry.load()()
    assert backend.name == "fakenp"


def test_autoload_switch_keeps_tests_hermetic(monkeypatch):
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [FakeEntryPoint("fake", "fake_backend_plugin")])
    monkeypatch.setenv(plugins.DISABLE_AUTOLOAD, "1")
    assert "fakenp" not in plugins.build_registry().backends


def test_broken_plugin_is_reported_not_fatal(monkeypatch):
    registry = registry_with(monkeypatch, FakeEntryPoint("broken", "no_such_module_for_rnnbench"))
    assert "numpy" in registry.backends
    assert len(registry.errors) == 1
    assert "broken" in registry.errors[0] and "failed to load" in registry.errors[0]


def test_duplicate_name_is_rejected_and_builtin_kept(monkeypatch, tmp_path):
    (tmp_path / "dup_plugin.py").write_text(
        textwrap.dedent("""
        from rnnbench.hookspecs import hookimpl
        from rnnbench.entry import Entry

        @hookimpl
        def rnnbench_register_backends(register):
            register(Entry("numpy", "dup_plugin:Nothing"))
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("dup", "dup_plugin"))
    assert registry.backends["numpy"].distribution == plugins.BUILTIN_DISTRIBUTION
    assert any("'numpy' again" in error for error in registry.errors)


def test_plugin_that_raises_while_registering_is_reported(monkeypatch, tmp_path):
    (tmp_path / "raising_plugin.py").write_text(
        textwrap.dedent("""
        from rnnbench.hookspecs import hookimpl

        @hookimpl
        def rnnbench_register_backends(register):
            raise RuntimeError("boom")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("raising", "raising_plugin"))
    assert "numpy" in registry.backends
    assert any("boom" in error for error in registry.errors)


def test_unknown_backend_lists_valid_names():
    with pytest.raises(RnnbenchError, match="unknown backend 'nope'; valid backends: numpy"):
        plugins.build_registry().backend("nope")


def test_unavailable_backend_names_its_extra():
    entry = Entry("ghost", "ghost:Backend", requires=("rnnbench_no_such_framework",), extra="ghost")
    assert not entry.available
    assert "pip install 'rnnbench[ghost]'" in entry.unavailable_reason()
    with pytest.raises(RnnbenchError, match=r"ghost is unavailable: .*rnnbench\[ghost\]"):
        entry.load()


def test_registration_imports_no_framework():
    code = (
        "import sys, rnnbench.plugins as p; r = p.build_registry(); "
        "[e.available for e in r.backends.values()]; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plugins_command_lists_every_backend():
    out = subprocess.run([sys.executable, "-m", "rnnbench.cli", "plugins"], capture_output=True, text=True, check=True)
    for name in ("numpy", "torch", "tensorflow"):
        assert f"backend  {name}" in out.stdout
