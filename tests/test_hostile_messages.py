"""Issue 22, items 12 and 14: a plugin that exits on import is skipped like any failing plugin, and messages say
what the user did (the option they gave, the option to lower, a symlink loop, where a sweep include's task goes)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugin_fixtures import FakeEntryPoint, registry_with
from rnnbench import cli
from rnnbench.errors import RnnbenchError
from rnnbench.registry import Entry

# -- 12. a plugin that calls sys.exit() on import --------------------------------------------------------------

EXITING = """
import sys

sys.exit(3)
"""


def _exiting_distribution(folder: Path) -> Path:
    """An installed-looking distribution on ``folder``: entry point ``exiter`` of group rnnbench, which exits 3."""
    (folder / "exiting_plugin.py").write_text(EXITING)
    info = folder / "rnnbench_exiter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rnnbench-exiter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rnnbench]\nexiter = exiting_plugin\n")
    return folder


def test_a_plugin_that_exits_while_loading_is_a_problem_not_the_end(monkeypatch, tmp_path):
    (tmp_path / "exiting_plugin.py").write_text(EXITING)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("exiter", "exiting_plugin"))
    assert "numpy" in registry.backends
    assert registry.errors == ["plugin 'exiter' (rnnbench-fake 1.0) failed to load: it called sys.exit(3)"]


def test_a_plugin_that_exits_while_registering_is_a_problem_not_the_end(monkeypatch, tmp_path):
    (tmp_path / "exit_on_register.py").write_text(textwrap.dedent("""
        import sys

        from rnnbench.hookspecs import hookimpl

        @hookimpl
        def rnnbench_register_tasks(register):
            sys.exit("no tasks today")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("exiter", "exit_on_register"))
    assert "textclf" in registry.tasks
    assert registry.errors == ["plugin 'exiter' failed to register tasks: it called sys.exit('no tasks today')"]


def test_a_backend_whose_module_exits_on_import_is_one_line(monkeypatch, tmp_path):
    (tmp_path / "exiting_backend.py").write_text(EXITING)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RnnbenchError, match=r"cannot load exiting_backend:Backend \(its import called sys.exit\(3\)\)"):
        Entry("exiter", "exiting_backend:Backend").load()


@pytest.mark.parametrize("argv,code", [(["plugins"], 0), (["--help"], 0),
                                       (["run", "--backend", "numpy", "--task", "longrange", "--show-config"], 0)],
                         ids=["plugins", "help", "run"])
def test_every_command_survives_an_installed_plugin_that_exits_on_import(tmp_path, argv, code):
    folder = _exiting_distribution(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    env.pop("RNNBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    process = subprocess.run([sys.executable, "-m", "rnnbench.cli", *argv], capture_output=True, text=True,
                             env=env, timeout=120)
    assert process.returncode == code, process.stderr
    assert "Traceback" not in process.stderr
    assert process.stdout.strip(), "the command did its work"
    if argv == ["plugins"]:
        assert ("warning: plugin 'exiter' (rnnbench-exiter 1.0) failed to load: it called sys.exit(3)"
                in process.stderr)
        assert "backend  numpy" in process.stdout
