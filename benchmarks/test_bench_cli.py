"""Start-up cost of the command line with every framework installed.

Plugins register names and import paths only, so ``rnnbench --help`` and
``rnnbench plugins`` must stay well under a second even though torch and
TensorFlow (several seconds to import) are installed. Run with ``make bench``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = {
    "help": ["--help"],
    "plugins": ["plugins"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_startup(benchmark, command):
    argv = [sys.executable, "-m", "rnnbench.cli", *COMMANDS[command]]
    benchmark.group = "cli start-up (target: well under 1 s)"
    benchmark.extra_info["argv"] = " ".join(argv[2:])
    benchmark.pedantic(
        subprocess.run, args=(argv,), kwargs={"capture_output": True, "check": True}, rounds=10, warmup_rounds=1
    )
    assert benchmark.stats.stats.median < 1.0


def test_import_torch_for_scale(benchmark):
    """What one framework import costs, for comparison with the numbers above."""
    pytest.importorskip("torch")
    benchmark.group = "cli start-up (target: well under 1 s)"
    benchmark.pedantic(
        subprocess.run,
        args=([sys.executable, "-c", "import torch"],),
        kwargs={"check": True},
        rounds=3,
        warmup_rounds=1,
    )
