"""What machine a run ran on, and how busy it was: the facts a record needs to be read honestly.

Standard library only (``/proc`` where Linux offers it), cheap enough to call
at the start and the end of every run. The GPU and the threads actually used
come from the backend's ``info()``, which knows them; this module does not guess.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path


def machine_info() -> dict:
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "isa_level": cpu_level(cpu_flags()),  # a cloud VM keeps its name and model string across CPU generations
        "memory_bytes": _memory_bytes(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }


#: CPU flags worth recording (the ones kernels dispatch on).
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """The flags of :data:`CPU_FLAGS` this CPU has (``cpuinfo``: the text of /proc/cpuinfo, for tests)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            present = set(line.split(":", 1)[1].split())
            return [flag for flag in CPU_FLAGS if flag in present]
    return []


def cpu_level(flags) -> str | None:
    """The best float32-GEMM ISA level the CPU offers (None when its flags are unknown)."""
    flags = set(flags)
    if not flags:
        return None
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags and "fma" in flags:
        return "avx2"
    if "avx" in flags:
        return "avx"
    if "sse4_2" in flags:
        return "sse"
    return "generic"


def machine_identity(record: dict) -> tuple:
    """What tells the machine a record was made on from another: hostname, CPU model and count, and the
    CPU's ISA level (``machine.isa_level``; older bench records: their ``cpu_flags``). A cloud VM keeps its
    name and model string across CPU generations: this project's ``vm`` / ``AMD EPYC`` ran with AVX-512 on
    some days and without on others, and the two must never share a peak, a speed table or a ratio."""
    machine = record.get("machine") if isinstance(record.get("machine"), dict) else {}
    level = machine.get("isa_level") if isinstance(machine.get("isa_level"), str) else None
    flags = record.get("cpu_flags")  # bench records from before machine.isa_level
    if level is None and isinstance(flags, list) and all(isinstance(f, str) for f in flags):
        level = cpu_level(flags)
    return tuple(str(machine.get(k)) for k in ("hostname", "cpu_model", "logical_cpus")) + (level,)


def machine_label(record: dict) -> str | None:
    """The hostname, with the ISA level when the record knows it (``vm (avx512)``): a report's ``host``."""
    machine = record.get("machine") if isinstance(record.get("machine"), dict) else {}
    host, level = machine.get("hostname"), machine_identity(record)[-1]
    return f"{host} ({level})" if host is not None and level else host


def load_average() -> list[float] | None:
    """1-, 5- and 15-minute load averages: other work on the machine slows a run down."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def package_versions(names=("numpy", "torch", "tensorflow", "keras", "tqdm")) -> dict:
    """Installed versions (from metadata, so nothing is imported); None when not installed."""
    from importlib import metadata

    from rnnbench import __version__

    versions = {"rnnbench": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(start: Path | None = None) -> dict:
    """The project commit and whether the working tree had changes (None outside a git checkout)."""
    folder = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
