"""The docs' maps of the code match the code: design.md §1's per-backend modules, docs/plugins.md's rnnbench-jax
layout and what it says a task may declare."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
PLUGINS = ROOT / "docs" / "plugins.md"


def _modules(folder: pathlib.Path) -> set[str]:
    return {path.stem for path in folder.glob("*.py")}


def test_design_lists_every_backends_modules():
    text = " ".join(DESIGN.read_text(encoding="utf-8").split())
    sentence = re.search(r"Each backend has the same modules: (.*?)\(`tests/", text).group(1)
    shared, _, added = sentence.partition("torch and TensorFlow add")
    backends = {path.name: _modules(path) for path in (ROOT / "backends").iterdir() if (path / "__init__.py").exists()}
    assert set(backends) == {"numpy", "torch", "tensorflow"}
    common = set.intersection(*backends.values())
    assert set(re.findall(r"`(\w+)`", shared)) == common
    assert set(re.findall(r"`(\w+)`", added)) == (backends["torch"] & backends["tensorflow"]) - backends["numpy"]
    assert set.union(*backends.values()) == common | set(re.findall(r"`(\w+)`", added))


def test_plugins_md_lists_every_rnnbench_jax_module():
    text = PLUGINS.read_text(encoding="utf-8")
    layout = text[text.index("  src/rnnbench_jax/") : text.index("  tests/")]
    listed = set(re.findall(r"(\w+)\.py", layout))
    assert listed == _modules(ROOT / "plugins" / "rnnbench-jax" / "src" / "rnnbench_jax") - {"__init__"}


def test_plugins_md_says_a_task_declares_its_own_options():
    text = " ".join(PLUGINS.read_text(encoding="utf-8").split())
    assert "`Task.add_options(group)`" in text
    assert "Command-line options are declared by `rnnbench run` itself" not in text
