"""A run that will not stop when asked, for the sweep stopping tests (local and Ray executors alike).

Written as ``sitecustomize.py`` into a folder put on PYTHONPATH, it makes every
``rnnbench.sweep.guarded`` process (a sweep's run, never the sweep itself) ignore
SIGINT, and with DEAF_TO_SIGTERM=1 SIGTERM too (it keeps ``rnnbench run`` from
installing its own handlers for them): only the sweep's escalation ends it.
"""

from __future__ import annotations

import os
from pathlib import Path

DEAF_RUN = """
import os, signal, sys

if "rnnbench.sweep.guarded" in getattr(sys, "orig_argv", []):
    deaf = [signal.SIGINT] + ([signal.SIGTERM] if os.environ.get("DEAF_TO_SIGTERM") == "1" else [])
    for signum in deaf:
        signal.signal(signum, signal.SIG_IGN)
    _install = signal.signal
    signal.signal = lambda signum, handler: signal.SIG_IGN if signum in deaf else _install(signum, handler)
"""


def deaf_env(folder: Path, deaf_to_sigterm: bool, grace_s: float = 2) -> dict:
    """The environment of a sweep whose runs are deaf: the ``sitecustomize.py`` written into ``folder`` and put
    first on PYTHONPATH, and a stop grace of ``grace_s`` seconds before each harder signal."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(DEAF_RUN)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
        "RNNBENCH_SWEEP_STOP_GRACE": f"{grace_s:g}",
        "DEAF_TO_SIGTERM": "1" if deaf_to_sigterm else "0",
    }
