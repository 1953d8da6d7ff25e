"""The worker's side of interleaved rounds: timers kept alive between requests, one JSON line each way.

``python -m rnnbench.bench.worker --serve`` answers requests until its stdin closes (or ``quit``)::

    {"op": "prepare", "id": "7", "config": {...}, "policy": {...}}
        -> {"row": {backend_info, threads, impl, flops, nodes, ..., kernel, kernel_warnings},
            "loops": N, "call_s": s, "warmup_calls": n, "slow": bool, "first_call_s": s, "items": n}
           or {"row": {"status": "unavailable" | "failed", "error": "..."}}
    {"op": "sample", "id": "7", "samples": K}  -> {"samples_s": [K seconds per call]}  (after one untimed call)
    {"op": "finish", "id": "7"}  -> {"cpu": {...}, "peak_bytes": b, "peak_method": m}  (timer freed)
    {"op": "free", "id": "7"}    -> {}                                                  (timer freed)

A request that raises is answered ``{"error": "..."}`` and the worker goes on. Why a session:
a ratio is only as good as the conditions both rows were timed under, and a timer that stays
alive can be visited again and again, alternating with the other rows, so load drift lands on
all of them alike (docs/design.md §7). Each visit's samples run inside a
:class:`~rnnbench.bench.probes.CpuWindow`; the peak-memory probe runs after the timed calls,
on calls of its own, so it never slows a sample.
"""

from __future__ import annotations

import gc
import json

from rnnbench.bench.run_config import build_timer, get_backend, kernel_of, one_line
from rnnbench.errors import RnnbenchError, UnsupportedError


class Session:
    """The prepared rows of one worker process, by id."""

    def __init__(self):
        self.backends = {}  # run_config's cache: backends and kernel info, built once a process
        self.rows = {}  # id -> {"timer", "loops", "windows", "slow"}

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "prepare":
            return self.prepare(str(request["id"]), request["config"], request.get("policy", {}))
        if op == "sample":
            return self.sample(str(request["id"]), int(request["samples"]))
        if op == "finish":
            return self.finish(str(request["id"]))
        if op == "free":
            self.free(str(request["id"]))
            return {}
        raise ValueError(f"unknown op {op!r}")

    def prepare(self, key: str, config: dict, policy: dict) -> dict:
        from rnnbench.bench.probes import first_call
        from rnnbench.bench.timing import TimingPolicy, warm_and_calibrate

        try:
            backend = get_backend(config, self.backends)
        except RnnbenchError as exc:
            return {"row": {"status": "unavailable", "error": str(exc).splitlines()[0]}}
        except Exception as exc:  # noqa: BLE001  (an import or start-up failure is this row's failure)
            return {"row": {"status": "failed", "error": one_line(exc)}}
        timer = None
        try:
            info = backend.info()
            row = {"backend_info": info, "threads": info.get("threads"), "impl": config.get("impl") or backend.impl}
            timer, items = build_timer(backend, config, row)
            first_s = first_call(timer)
            calibration = warm_and_calibrate(timer, TimingPolicy(**policy))
            row["kernel"], row["kernel_warnings"] = kernel_of(config["backend"], self.backends)
        except UnsupportedError as exc:
            del timer
            return {"row": {"status": "unsupported", "error": str(exc).splitlines()[0]}}
        except Exception as exc:  # noqa: BLE001
            del timer
            gc.collect()
            return {"row": {"status": "failed", "error": one_line(exc)}}
        self.rows[key] = {
            "timer": timer,
            "loops": calibration["loops"],
            "windows": [],
            "slow": bool(calibration.get("slow")),
        }
        return {"row": row, "first_call_s": first_s, "items": items, **calibration}

    def sample(self, key: str, count: int) -> dict:
        from rnnbench.bench.probes import CpuWindow
        from rnnbench.bench.timing import take_samples

        prepared = self.rows[key]
        if not prepared.get("slow"):
            # One untimed call first: the other rows' workers ran since this one's last visit, so its caches
            # are cold and its thread pool asleep; a sample that pays for waking up measures the interleaving.
            prepared["timer"]()
        with CpuWindow() as window:
            samples = take_samples(prepared["timer"], prepared["loops"], count)
        prepared["windows"].append(window)
        return {"samples_s": samples}

    def finish(self, key: str) -> dict:
        from rnnbench.bench.probes import CpuWindow, peak_bytes

        prepared = self.rows[key]
        try:
            cpu = CpuWindow.merge(prepared["windows"]) if prepared["windows"] else None
            peak, method = peak_bytes(prepared["timer"])
        finally:
            self.free(key)
        return {"cpu": cpu, "peak_bytes": peak, "peak_method": method}

    def free(self, key: str) -> None:
        """Forget a row's timer and its tensors before the next comparison."""
        self.rows.pop(key, None)
        gc.collect()


def serve(requests, answers) -> None:
    """Answer each line of ``requests`` on ``answers`` (one JSON line, flushed) until EOF or ``quit``."""
    session = Session()
    for line in iter(requests.readline, ""):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if request.get("op") == "quit":
                break
            answer = session.handle(request)
        except Exception as exc:  # noqa: BLE001  (a bad request is answered, the session goes on)
            answer = {"error": one_line(exc)}
        answers.write(json.dumps(answer, default=_jsonable) + "\n")
        answers.flush()


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")
