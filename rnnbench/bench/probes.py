"""What a timed call cost besides time: the machine's other load while it ran, its peak memory, its first call.

A median alone cannot say whether it was measured on a quiet machine; these probes record the
facts a verdict (:mod:`rnnbench.bench.verdict`) needs. Linux first, from ``/proc``; elsewhere
a value the OS does not tell is None, never a guess and never an exception. Standard library
only (psutil when installed), so a worker can import it before any framework.

* :class:`CpuWindow` brackets sampling: the process's own CPU seconds (``getrusage``, all
  threads), the CPUs *other* processes kept busy (``/proc/stat`` busy jiffies minus our own),
  steal time, and the 1-minute load at both ends. Windows merge, because a row is sampled
  over many interleaved rounds.
* :func:`peak_bytes` resets the kernel's resident high-water mark (``/proc/self/clear_refs``)
  and reads ``VmHWM`` after the calls: exact, and free for the call itself. Where the reset is
  not allowed (some containers, other systems) a thread samples the RSS every millisecond.
* :func:`first_call` times the one call that includes tracing, compiling and autotuning.
* :func:`wait_idle` waits until a worker process stops using CPU after a visit: OpenBLAS's
  threads spin for about 0.1 s after a call, and on a 2-CPU machine that takes a CPU from
  whichever worker is timed next.
"""

from __future__ import annotations

import gc
import os
import resource
import threading
import time
from pathlib import Path

#: The kernel's files; module attributes so that tests can point them elsewhere.
PROC_STAT = Path("/proc/stat")
CLEAR_REFS = Path("/proc/self/clear_refs")
PROC_STATUS = Path("/proc/self/status")
PROC_STATM = Path("/proc/self/statm")
#: How often the fallback thread reads the RSS (seconds): fine enough for calls of a few milliseconds.
SAMPLE_INTERVAL_S = 0.001


def load_1min() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def own_cpu_seconds() -> float | None:
    """User + system CPU seconds of this process, every thread included."""
    try:
        usage = resource.getrusage(resource.RUSAGE_SELF)
    except (OSError, ValueError):
        return None
    return usage.ru_utime + usage.ru_stime


def _clock_ticks() -> int | None:
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return None
    return ticks if ticks > 0 else None


def read_stat() -> tuple[float, float, float] | None:
    """``(busy, steal, total)`` seconds of every CPU together from ``/proc/stat``'s ``cpu`` line.

    Busy is user + nice + system + irq + softirq + steal (idle and iowait are not); guest time
    is already inside user, so it is not added again. None when there is no ``/proc/stat``.
    """
    ticks = _clock_ticks()
    try:
        with open(PROC_STAT, encoding="ascii") as f:
            first = f.readline().split()
        if ticks is None or not first or first[0] != "cpu":
            return None
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in (first[1:9] + ["0"] * 8)[:8])
    except (OSError, ValueError):
        return None
    busy = user + nice + system + irq + softirq + steal
    total = busy + idle + iowait
    return busy / ticks, steal / ticks, total / ticks


class CpuWindow:
    """``with CpuWindow() as w: ...`` then ``w.wall_s``, ``w.own_cpu_s``, ``w.other_cpus``,
    ``w.steal_fraction``, ``w.load`` and ``w.as_dict()`` (the row's ``cpu`` field).

    ``other_cpus`` is the average number of CPUs other processes kept busy during the window:
    what the machine spent beyond this process, over the wall time (0 at least; a child process
    of ours counts as other). ``/proc/stat`` counts in clock ticks (10 ms), so one short window is
    rough: over 0.1 s on 2 CPUs ``other_cpus`` is only good to about ±0.2; :meth:`merge` the windows
    of a row's rounds before judging it. The readers are parameters so that tests can feed numbers.
    """

    def __init__(self, *, clock=time.perf_counter, stat=read_stat, own_cpu=own_cpu_seconds, load=load_1min):
        self._clock, self._stat, self._own_cpu, self._load = clock, stat, own_cpu, load
        self.wall_s = self.own_cpu_s = self.other_cpus = self.steal_fraction = None
        self.load: list = [None, None]

    def __enter__(self) -> CpuWindow:
        self.load = [_safe(self._load), None]
        self._start = (_safe(self._stat), _safe(self._own_cpu), self._clock())
        return self

    def __exit__(self, *exc) -> bool:
        end = (_safe(self._stat), _safe(self._own_cpu), self._clock())
        self.load[1] = _safe(self._load)
        (stat0, own0, t0), (stat1, own1, t1) = self._start, end
        self.wall_s = max(0.0, t1 - t0)
        self.own_cpu_s = max(0.0, own1 - own0) if own0 is not None and own1 is not None else None
        if stat0 is not None and stat1 is not None:
            busy, steal, total = (b - a for a, b in zip(stat0, stat1))
            self.steal_fraction = max(0.0, steal / total) if total > 0 else 0.0
            if self.own_cpu_s is not None and self.wall_s > 0:
                self.other_cpus = max(0.0, (busy - self.own_cpu_s) / self.wall_s)
        return False

    def as_dict(self) -> dict:
        """The row's ``cpu`` field: wall_s, own_cpu_s, other_cpus, steal_fraction, load [enter, exit]."""
        return {
            "wall_s": self.wall_s,
            "own_cpu_s": self.own_cpu_s,
            "other_cpus": self.other_cpus,
            "steal_fraction": self.steal_fraction,
            "load": list(self.load),
        }

    @staticmethod
    def merge(windows) -> dict:
        """One ``cpu`` dict for many windows (CpuWindow objects or their ``as_dict()``, in time order).

        Wall, own CPU and other processes' CPU seconds add up; ``other_cpus`` and
        ``steal_fraction`` are the wall-weighted averages of the windows that know them;
        ``load`` is [the first window's enter, the last window's exit].
        """
        parts = [w.as_dict() if isinstance(w, CpuWindow) else dict(w) for w in windows]
        wall = sum(p.get("wall_s") or 0.0 for p in parts)
        owns = [p["own_cpu_s"] for p in parts if p.get("own_cpu_s") is not None]

        def weighted(key):
            known = [(p[key], p.get("wall_s") or 0.0) for p in parts if p.get(key) is not None]
            seconds = sum(w for _, w in known)
            return sum(v * w for v, w in known) / seconds if known and seconds > 0 else None

        loads = [p.get("load") or [None, None] for p in parts]
        return {
            "wall_s": wall,
            "own_cpu_s": sum(owns) if owns else None,
            "other_cpus": weighted("other_cpus"),
            "steal_fraction": weighted("steal_fraction"),
            "load": [loads[0][0], loads[-1][1]] if loads else [None, None],
        }


def _safe(read):
    try:
        return read()
    except (OSError, ValueError):
        return None


# --- peak memory ----------------------------------------------------------------------------------------------


def _status_bytes(field: str) -> int | None:
    """A ``kB`` line of ``/proc/self/status`` (VmRSS, VmHWM) in bytes."""
    try:
        for line in PROC_STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rss_reader():
    """A zero-argument function giving the current RSS in bytes, or None if none works here."""
    try:
        import psutil

        process = psutil.Process()
        process.memory_info()
        return lambda: process.memory_info().rss
    except Exception:  # noqa: BLE001  (not installed, or not allowed to read itself)
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")

        def statm() -> int:
            return int(PROC_STATM.read_text(encoding="ascii").split()[1]) * page

        statm()
        return statm
    except (OSError, ValueError, AttributeError, IndexError):
        return None  # ru_maxrss cannot be reset, so it cannot measure one call


def _release_free_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the kernel (glibc ``malloc_trim``).

    Without it the baseline RSS still holds memory earlier calls freed, a call that reuses it
    adds nothing to the RSS, and its peak reads far too low (a warmed-up timer most of all).
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to trim, or no way to ask
        pass


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open(CLEAR_REFS, "w", encoding="ascii") as f:
            f.write("5")
        return _status_bytes("VmHWM") is not None
    except OSError:
        return False


def peak_bytes(fn, calls: int = 1) -> tuple[int | None, str | None]:
    """``(bytes, method)``: the resident high-water mark ``calls`` calls of ``fn`` add above the current RSS.

    Method ``"vmhwm"`` (reset, then read the kernel's mark) or ``"rss-sampling"`` (a thread reading
    the RSS every millisecond; it can miss a spike shorter than that). ``(None, None)`` when neither
    works. A failure of the probe never raises; an exception of ``fn`` itself propagates.

    It is the process's resident memory, so the C allocator's slack counts: glibc serves mid-sized
    blocks from a fragmenting heap once a larger block has been freed, and the same call can read
    some 40% higher in a process that did other work first. Compare peaks measured alike.
    """
    _release_free_memory()
    if _reset_hwm():
        baseline = _status_bytes("VmRSS")
        for _ in range(calls):
            fn()
        hwm = _status_bytes("VmHWM")
        if baseline is None or hwm is None:
            return None, None
        return max(0, hwm - baseline), "vmhwm"
    rss = _rss_reader()
    if rss is None:
        return None, None
    return _sampled_peak(fn, calls, rss), "rss-sampling"


def _sampled_peak(fn, calls: int, rss) -> int | None:
    try:
        baseline = rss()
    except (OSError, ValueError):
        return None
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss())
            except (OSError, ValueError):
                return
            done.wait(SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, name="rnnbench-rss", daemon=True)
    sampler.start()
    try:
        for _ in range(calls):
            fn()
    finally:
        done.set()
        sampler.join()
    try:
        peak[0] = max(peak[0], rss())
    except (OSError, ValueError):
        pass
    return max(0, peak[0] - baseline)


def first_call(fn, clock=time.perf_counter) -> float:
    """Seconds of one call of ``fn``; the caller makes sure it is the first (compiling included)."""
    start = clock()
    fn()
    return clock() - start


def process_cpu_ns(pid: int) -> int | None:
    """CPU nanoseconds every thread of process ``pid`` has run (``/proc/PID/task/*/schedstat``,
    exact to the nanosecond, where ``/proc/PID/stat`` counts 10 ms ticks); None where unreadable."""
    total, found = 0, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total if found else None


def wait_idle(
    pid: int, *, quiet_s: float = 0.02, busy_fraction: float = 0.1, limit_s: float = 0.5, cpu_ns=process_cpu_ns
) -> float | None:
    """Wait until process ``pid`` used less than ``busy_fraction`` of one CPU over ``quiet_s``; the
    seconds waited (at most about ``limit_s``), or None where its CPU time cannot be read (no wait).

    The rounds of :mod:`rnnbench.bench.rounds` call it after each visit, so a worker's threads
    still spinning after its last call (OpenBLAS: about 0.1 s) never share the CPUs with the
    next worker's timed calls.
    """
    start = time.perf_counter()
    before = cpu_ns(pid)
    if before is None:
        return None
    while True:
        time.sleep(quiet_s)
        now = cpu_ns(pid)
        waited = time.perf_counter() - start
        if now is None or now - before < busy_fraction * quiet_s * 1e9 or waited >= limit_s:
            return waited
        before = now
