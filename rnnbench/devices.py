"""Device names and thread counts, checked without importing a framework: what ``run`` and ``sweep`` share.

``rnnbench run`` checks a device name here before it builds the backend, and
``rnnbench sweep`` (its ``--dry-run`` too) checks each configuration with the
same function, so a sweep never plans a run that ``run`` would refuse by name
(``device = "cuda"`` on numpy). Whether a named GPU is actually present is
only known where the run happens (a Ray cluster's nodes, not the machine that
plans the sweep), so that stays the backend's check when it is built.
"""

from __future__ import annotations

import os
import re
import sys

from rnnbench.errors import RnnbenchError

#: The device names each builtin backend accepts (as its constructor parses them), and how to say them.
#: A plugin's backend is not listed: its device is checked when it is built.
DEVICE_NAMES = {
    "numpy": (r"cpu", "cpu only"),
    "torch": (r"cpu|gpu|cuda(:\d+)?", "cpu, cuda, cuda:N (gpu: cuda)"),
    "tensorflow": (r"cpu(:0)?|(gpu|cuda)(:\d+)?", "cpu, gpu, gpu:N (cuda, cuda:N)"),
}


#: What a process's thread pools read their size from: a ``bench`` worker's environment sets them all.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)


def thread_environment(threads: int) -> dict:
    """Environment variables that fix every known thread pool's size (set before import)."""
    return {name: str(threads) for name in THREAD_VARIABLES}


def check_device(backend: str, device) -> None:
    """A one-line error when builtin ``backend`` cannot run on ``device`` at all (None: its default)."""
    if device is None or backend not in DEVICE_NAMES:
        return
    pattern, valid = DEVICE_NAMES[backend]
    name = str(device)
    if backend == "torch":  # torch reads the name stripped and case-insensitively
        name = name.strip().lower()
    if not re.fullmatch(pattern, name):
        raise RnnbenchError(f"{backend} backend runs on {valid}; got device={device!r}")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def warn_threads(threads, option: str = "--threads") -> None:
    """One warning line on stderr when ``threads`` exceeds the usable CPUs; the command goes on."""
    if threads is None:
        return
    cpus = usable_cpus()
    if int(threads) > cpus:
        print(
            f"warning: {option} {threads} exceeds the {cpus} CPUs this process may use: the threads will "
            "contend for them and the timings will show it",
            file=sys.stderr,
        )
