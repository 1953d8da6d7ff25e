"""No import cycle anywhere: the module graph of rnnbench, the builtin backends and tasks and rnnbench-jax, read
from the sources (imports inside functions count: a function-level import that only hides a cycle is still one)."""

from __future__ import annotations

import ast
import pathlib

import rnnbench

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Source folder -> the package it is installed as (pyproject maps backends/ and tasks/ into rnnbench).
PACKAGES = {
    ROOT / "rnnbench": "rnnbench",
    ROOT / "backends": "rnnbench.backends",
    ROOT / "tasks": "rnnbench.tasks",
    ROOT / "plugins" / "rnnbench-jax" / "src" / "rnnbench_jax": "rnnbench_jax",
}


def modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """Every module's dotted name -> (its file, whether it is a package's ``__init__``)."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join([package, *(parts[:-1] if is_package else parts)])] = (path, is_package)
    return found


def _imported(node, name: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """``(module, names)`` an import statement asks for; relative imports resolved against module ``name``."""
    if isinstance(node, ast.Import):
        return [(alias.name, []) for alias in node.names]
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return [(".".join(base + ([node.module] if node.module else [])), [a.name for a in node.names])]
    return [(node.module, [a.name for a in node.names])]


def _dynamic(node) -> str | None:
    """The module of ``import_module("literal")`` / ``importlib.import_module("literal")``, else None."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in ("import_module", "_import_module") and isinstance(node.args[0].value, str):
            return node.args[0].value
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports, at module level or inside a function. ``from package import sub`` is
    an edge to the submodule; ``from rnnbench import NAME`` an edge to the module that defines the public NAME
    (the package root resolves it lazily from there, :data:`rnnbench.API`)."""
    known = modules()

    def owner(module: str) -> str | None:
        while module and module not in known:
            module = module.rpartition(".")[0]
        return module or None

    graph = {}
    for name, (path, is_package) in known.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for module, names in _imported(node, name, is_package):
                    for imported in names or [None]:
                        if module == "rnnbench" and imported in rnnbench.API:
                            targets.append(rnnbench.API[imported][0])
                        elif imported and f"{module}.{imported}" in known:
                            targets.append(f"{module}.{imported}")
                        else:
                            targets.append(module)
            elif _dynamic(node):
                targets.append(_dynamic(node))
            edges |= {t for t in map(owner, targets) if t and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_function_level_and_relative_imports():
    graph = import_graph()
    assert len(graph) > 100
    assert "rnnbench_jax.model" in graph["rnnbench_jax.backend"]  # inside build_model
    assert "rnnbench_jax.sequence" in graph["rnnbench_jax.layered"]  # from . import sequence
    assert "rnnbench.backend" in graph["rnnbench_jax.backend"]  # from rnnbench import Backend
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
