"""The test suite's own shape (issue 24): shared helpers live in helper modules, never in a test module that
another imports, and each is defined once."""
from __future__ import annotations

import ast
from pathlib import Path

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
    offenders = [f"{path.relative_to(REPO)} imports {name}" for path, tree in _modules()
                 for name in sorted(_imported(tree)) if name.startswith("test_")]
    assert offenders == []


def test_one_line_error_is_defined_once_in_the_cli_helpers():
    defined = [str(path.relative_to(REPO)) for path, tree in _modules() for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef) and node.name == "one_line_error"]
    assert defined == ["tests/cli_helpers.py"]


def test_no_helper_checks_the_error_line_under_another_name():
    """A copy renamed (``_one_line``, ``one_line``) is still a copy: outside the cli helpers, only a test itself
    may spell out the error prefix (to pin one exact message)."""
    copies = [f"{path.relative_to(REPO)}: {node.name}" for path, tree in _modules() for node in ast.walk(tree)
              if isinstance(node, ast.FunctionDef) and not node.name.startswith("test")
              and path.name != "cli_helpers.py" and "rnnbench: error: " in ast.unparse(node)]
    assert copies == []


def test_the_cli_fixture_runs_a_command(rnnbench_cli):
    from cli_helpers import one_line_error

    result = rnnbench_cli("plugins")
    assert result.code == 0 and "numpy" in result.out
    code, _, err = rnnbench_cli("run", "--backend", "numpy", "--task", "no-such-task")
    assert "no-such-task" in one_line_error(code, err)
