"""Test set-up of rnnbench-jax: hermetic plugins, offline, required backends (from rnnbench.testing)."""
from __future__ import annotations

import os

import pytest

from rnnbench.testing import fail_required_skips

# The tests register the plugin explicitly; only the CLI tests turn autoloading on, in a subprocess.
os.environ.setdefault("RNNBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
os.environ.setdefault("RNNBENCH_OFFLINE", "1")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_required_skips(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    fail_required_skips(outcome.get_result())
