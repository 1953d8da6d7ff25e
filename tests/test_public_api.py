"""The public API: ``rnnbench.__all__`` (lazily resolved), the list in docs/plugins.md generated from it, and the
JAX plugin and the builtin tasks importing nothing else from rnnbench."""

from __future__ import annotations

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

import rnnbench
from rnnbench import api_docs

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Code that must use the public API only: a third-party plugin, and the builtin tasks as the worked examples.
PUBLIC_API_USERS = (ROOT / "plugins" / "rnnbench-jax" / "src" / "rnnbench_jax", ROOT / "tasks")


def test_every_public_name_is_the_object_its_module_defines():
    assert set(rnnbench.__all__) == {*rnnbench.API, "__version__"}
    for name, (module, attribute) in rnnbench.API.items():
        assert not name.startswith("_") and not attribute.startswith("_"), name
        assert getattr(rnnbench, name) is getattr(importlib.import_module(module), attribute), name
        assert name in dir(rnnbench)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        rnnbench.nonexistent  # noqa: B018
    with pytest.raises(ImportError):
        exec("from rnnbench import nonexistent", {})


def test_importing_the_public_api_imports_nothing_heavy():
    code = (
        "import sys; import rnnbench; from rnnbench import __version__, __all__; "
        "print(sorted(m for m in ('numpy', 'torch', 'tensorflow', 'jax', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_docs_list_the_public_api_as_generated():
    text = api_docs.DOCS.read_text(encoding="utf-8")
    assert api_docs.current(text) == api_docs.render(), "docs/plugins.md is stale: run python -m rnnbench.api_docs"
    for name in rnnbench.API:
        assert f"| `{name}` |" in text


def test_the_generator_rewrites_a_stale_list_and_check_says_so(tmp_path, monkeypatch, capsys):
    docs = tmp_path / "plugins.md"
    docs.write_text(f"before\n{api_docs.BEGIN}\n| `gone` | old |\n{api_docs.END}\nafter\n", encoding="utf-8")
    monkeypatch.setattr(api_docs, "DOCS", docs)
    assert api_docs.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert api_docs.main([]) == 0
    assert docs.read_text(encoding="utf-8") == f"before\n{api_docs.render()}\nafter\n"
    assert api_docs.main(["--check"]) == 0


def _rnnbench_imports(path: pathlib.Path):
    """``(line, what)`` of every import of rnnbench in ``path``, at any depth (function-level imports too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rnnbench":
                    yield node.lineno, f"import {alias.name}", None
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "rnnbench":
            yield node.lineno, f"from {node.module} import ...", (node.module, [a.name for a in node.names])


def test_the_jax_plugin_and_the_builtin_tasks_import_only_public_names():
    public = set(rnnbench.__all__)
    sources = [path for folder in PUBLIC_API_USERS for path in sorted(folder.rglob("*.py"))]
    assert len(sources) > 10
    bad = []
    for path in sources:
        for line, what, names in _rnnbench_imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if names is None or names[0] != "rnnbench":
                bad.append(f"{where}: {what} (import the name from rnnbench)")
            else:
                bad += [f"{where}: rnnbench.{name} is not public" for name in names[1] if name not in public]
    assert not bad, "\n".join(bad)
