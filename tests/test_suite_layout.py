"""The test suite's own shape (issue 24): shared helpers live in helper modules, never in a test module that
another imports, and each is defined once."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
FOLDERS = (REPO / "tests", REPO / "plugins" / "rnnbench-jax" / "tests")


def _modules():
    for folder in FOLDERS:
        for path in sorted(folder.glob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_another():
    """Nor does a script that a test runs in a fresh process (a string that imports a test_ module)."""
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path, tree in _modules()
        for name in sorted(_imported(tree))
        if name.startswith("test_")
    ]
    offenders += [
        f"{path.relative_to(REPO)}:{node.lineno} runs {node.value[:60]!r}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.search(r"\b(from|import) test_", node.value)
    ]
    assert offenders == []


def test_one_line_error_is_defined_once_in_the_cli_helpers():
    defined = [
        str(path.relative_to(REPO))
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "one_line_error"
    ]
    assert defined == ["tests/cli_helpers.py"]


def test_no_helper_checks_the_error_line_under_another_name():
    """A copy renamed (``_one_line``, ``one_line``) is still a copy: outside the cli helpers, only a test itself
    may spell out the error prefix (to pin one exact message)."""
    copies = [
        f"{path.relative_to(REPO)}: {node.name}"
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("test")
        and path.name != "cli_helpers.py"
        and "rnnbench: error: " in ast.unparse(node)
    ]
    assert copies == []


def test_the_cli_fixture_runs_a_command(rnnbench_cli):
    from cli_helpers import one_line_error

    result = rnnbench_cli("plugins")
    assert result.code == 0 and "numpy" in result.out
    code, _, err = rnnbench_cli("run", "--backend", "numpy", "--task", "no-such-task")
    assert "no-such-task" in one_line_error(code, err)


def test_the_serial_tests_exist_and_xdist_runs_them_as_one_unit():
    """Each prefix of tests/xdist_serial.py names a test file (and, where it names one, a test in it), so a rename
    cannot quietly let two Ray instances start at once; the scheduler puts them in one unit, every other test in its
    own, and still honours a working ``xdist_group`` mark (``@name`` at the end of the node id)."""
    from xdist_serial import SERIAL, serial_group_scheduler

    for prefix in SERIAL:
        path, _, test = prefix.partition("::")
        assert (REPO / path).is_file(), prefix
        if test:
            tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
            assert test in {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}, prefix
    two_workers = SimpleNamespace(getvalue={"tx": ["popen", "popen"]}.get)  # what -n 2 sets
    split = serial_group_scheduler(two_workers, None)._split_scope
    assert split("tests/test_sweep_ray.py::test_unreachable_cluster_is_one_line") == "serial"
    assert (
        split("tests/test_sweep_local.py::test_a_signal_interrupts_the_running_run_and_starts_nothing_new[2-130]")
        == "serial"
    )
    other = "tests/test_hostile_records.py::test_a_deeply_nested_json_file_does_not_stop_a_sweep_dry_run"
    assert split(other) == other
    assert split("tests/test_x.py::test_y@gpu") == "gpu"
