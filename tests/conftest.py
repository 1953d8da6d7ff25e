"""Shared test set-up: framework import order, hermetic plugins, offline.

``RNNBENCH_REQUIRE_BACKENDS=numpy,torch,tensorflow`` turns any skip that names
one of those frameworks into a failure, so a full environment can never pass
by silently skipping a backend: rnnbench's pytest plugin does it
(rnnbench/pytest_plugin.py, a ``pytest11`` entry point), here and in rnnbench-jax's tests.
"""

from __future__ import annotations

import importlib.util
import os
import signal

import pytest

from fetch_fixtures import mirror, server  # noqa: F401  (fixtures: datasets served on 127.0.0.1)

# torch must be imported before TensorFlow when both live in one process.
if importlib.util.find_spec("torch") is not None:
    import torch  # noqa: F401

os.environ.setdefault("RNNBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
# No test may reach for the network by accident: the tests that download serve
# their own archives on 127.0.0.1 and turn this off themselves.
os.environ.setdefault("RNNBENCH_OFFLINE", "1")
# Ctrl-C as a terminal delivers it: a shell that starts a job in the background without job control (nohup, a CI
# runner's script) leaves SIGINT ignored, and an ignored signal stays ignored across exec, in every process the
# tests start (sweeps, Ray's workers, the runs): the Ctrl-C tests would then measure the launching shell, not
# rnnbench. A handled signal is reset to the default in an exec'd child, so Python's own handler here restores it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# readline, loaded in the pytest process, puts COLUMNS=80 and LINES=24 into the C environment (not os.environ), and the
# pytest-xdist workers inherit them; the report's text wraps at COLUMNS, and the tests expect what a run without a
# terminal gets (shutil's fallback), as in one process.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadgroup`` (``make test``), xdist's group scheduler that also keeps the serial tests together
    (tests/xdist_serial.py)."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist_serial import serial_group_scheduler

    return serial_group_scheduler(config, log)


@pytest.fixture
def rnnbench_cli(capsys):
    """``rnnbench_cli(*argv)``: ``rnnbench ARGV`` run in-process, its ``CliResult(code, out, err)``
    (tests/cli_helpers.py; pair it with ``one_line_error`` for a user's mistake)."""
    from cli_helpers import invoke

    return lambda *argv: invoke(capsys, *argv)


@pytest.fixture
def data_dir():
    """The real datasets (CI sets RNNBENCH_DATA_DIR); tests that need them skip with a reason otherwise."""
    path = os.environ.get("RNNBENCH_DATA_DIR")
    if not path or not os.path.isdir(path):
        pytest.skip("RNNBENCH_DATA_DIR is not set to the datasets folder")
    return path


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The system temporary directory, here and in every child process: fallback records land in it."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder
