"""rnnbench's pytest plugin: a skip that hides a required backend, or the browser, is a failure.

Registered as the ``pytest11`` entry point ``rnnbench`` (pyproject.toml), so every
test suite run where rnnbench is installed has it: rnnbench's own, rnnbench-jax's
and any backend plugin's, with nothing in their ``conftest.py`` (``-p no:rnnbench``
turns it off). It changes nothing unless asked:

- ``RNNBENCH_REQUIRE_BACKENDS=numpy,torch`` (comma-separated): a skip whose reason
  names one of those backends fails instead, so a full environment can never pass by
  silently skipping a backend. A skip of a feature the contract leaves optional
  (reason starting ``optional feature: ``, :func:`rnnbench.testing.skip_optional`) stays a skip.
- ``RNNBENCH_REQUIRE_BROWSER=1``: a skip whose reason starts ``browser unavailable: ``
  (the HTML report's browser test without Chromium, its driver or selenium) fails instead.

It imports nothing but pytest (and no framework), since pytest loads it in every session.
"""

from __future__ import annotations

import os

import pytest

#: Marks a skip for a feature the contract leaves optional, which RNNBENCH_REQUIRE_BACKENDS does not turn into a
#: failure.
OPTIONAL = "optional feature"
#: Marks a skip for want of a browser, which RNNBENCH_REQUIRE_BROWSER=1 turns into a failure.
BROWSER = "browser unavailable"


def required_backends() -> list[str]:
    """The names in ``RNNBENCH_REQUIRE_BACKENDS`` (comma-separated)."""
    raw = os.environ.get("RNNBENCH_REQUIRE_BACKENDS", "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def fail_required_skips(report) -> None:
    """Turn a skip whose reason names a required backend (or, with ``RNNBENCH_REQUIRE_BROWSER=1``, the
    browser) into a failure; the report hooks below call it for every test and collection report."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    if f"{BROWSER}: " in reason:
        if os.environ.get("RNNBENCH_REQUIRE_BROWSER") == "1":
            report.outcome = "failed"
            report.longrepr = f"skipped although RNNBENCH_REQUIRE_BROWSER=1: {reason}"
        return
    if f"{OPTIONAL}: " in reason:
        return
    hit = [name for name in required_backends() if name in reason]
    if hit:
        report.outcome = "failed"
        report.longrepr = f"skipped although RNNBENCH_REQUIRE_BACKENDS requires {', '.join(hit)}: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_required_skips(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    fail_required_skips(outcome.get_result())
