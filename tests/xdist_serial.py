"""The tests that pytest-xdist must run one at a time on one worker (not a test module itself).

``make test`` runs ``-n 2 --dist loadgroup``; tests/conftest.py hands xdist :func:`serial_group_scheduler`. The tests
under the :data:`SERIAL` node-id prefixes form one unit, run on one worker one after another: each starts a heavy
process tree that waits on the clock (a Ray instance, a sweep stopped by signals, Chromium), so two never start at
once, and the module fixtures of the Ray and local sweep tests start once, not once a worker. An ``xdist_group``
mark would say it per test, but pytest 9.2's structured node ids make pytest-xdist 3.8 drop the mark silently
(pytest-xdist issue 1386); this list works with either, and a marked test still forms its own group.
"""

from __future__ import annotations

SERIAL = (
    "tests/test_sweep_ray.py::",
    "tests/test_sweep_local.py::",
    "tests/test_report_browser.py::",
    "tests/test_hostile_records.py::test_a_killed_sweep_takes_its_runs_with_it_and_they_leave_interrupted_records",
    "tests/test_hostile_records.py::test_sighup_stops_a_sweep_like_sigterm_with_interrupted_records",
)


def serial_scope(nodeid: str) -> str | None:
    """``"serial"`` for a test under :data:`SERIAL` (parametrized cases included), else None."""
    return "serial" if nodeid.startswith(SERIAL) else None


def serial_group_scheduler(config, log):
    """xdist's ``loadgroup`` scheduler with the :data:`SERIAL` tests as one more group (imports xdist)."""
    from xdist.scheduler import LoadGroupScheduling

    class SerialGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return serial_scope(nodeid) or super()._split_scope(nodeid)

    return SerialGroupScheduling(config, log)
