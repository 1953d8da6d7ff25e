"""rnnbench's pytest plugin (rnnbench/pytest_plugin.py, the ``pytest11`` entry point ``rnnbench``): in any test
suite, with no conftest.py, a skip that hides a required backend or the browser fails; other skips stay skips."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

SUITE = """
import pytest

def test_jax():
    pytest.skip("backend jax: jax not installed (pip install jax)")

def test_layered():
    pytest.skip("optional feature: jax declares single layers only")

def test_mxnet():
    pytest.skip("backend mxnet: mxnet not installed")

def test_browser():
    pytest.skip("browser unavailable: no chromedriver on PATH")
"""


def test_the_plugin_is_a_pytest11_entry_point():
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "rnnbench"]
    assert entry.value == "rnnbench.pytest_plugin"


def _run(tmp_path, **env) -> subprocess.CompletedProcess:
    """The suite above in a fresh pytest, in a folder with no conftest.py: only the entry point can act."""
    (tmp_path / "test_suite.py").write_text(SUITE)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RNNBENCH_REQUIRE_")}
    clean.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_suite.py"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env, failed",
    [
        ({}, set()),
        ({"RNNBENCH_REQUIRE_BACKENDS": "numpy,jax"}, {"test_jax"}),
        ({"RNNBENCH_REQUIRE_BROWSER": "1"}, {"test_browser"}),
        ({"RNNBENCH_REQUIRE_BACKENDS": "jax", "RNNBENCH_REQUIRE_BROWSER": "1"}, {"test_jax", "test_browser"}),
    ],
)
def test_required_skips_fail_in_any_suite(tmp_path, env, failed):
    done = _run(tmp_path, **env)
    out = done.stdout
    got = {
        name
        for name in ("test_jax", "test_layered", "test_mxnet", "test_browser")
        if f"FAILED test_suite.py::{name}" in out
    }
    assert got == failed, out
    assert done.returncode == (1 if failed else 0), out
    assert f"{4 - len(failed)} skipped" in out
    if "test_jax" in failed:
        assert "skipped although RNNBENCH_REQUIRE_BACKENDS requires jax" in out
    if "test_browser" in failed:
        assert "skipped although RNNBENCH_REQUIRE_BROWSER=1" in out


def test_it_can_be_turned_off(tmp_path):
    (tmp_path / "test_suite.py").write_text(SUITE)
    done = _run(tmp_path, RNNBENCH_REQUIRE_BACKENDS="jax")
    assert done.returncode == 1
    off = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:rnnbench", "-p", "no:cacheprovider", "test_suite.py"],
        cwd=tmp_path,
        env={**os.environ, "RNNBENCH_REQUIRE_BACKENDS": "jax"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert off.returncode == 0 and "4 skipped" in off.stdout, off.stdout
