"""Interleaved rounds: the rows of one comparison timed turn about, so load drift hits every row alike.

Rows that compare (the same cell, size, pass, dtype, ...:
:func:`rnnbench.bench.record.comparison_key`) form a
*comparison*. For each one the scheduler

1. **prepares** each row in its worker (:mod:`rnnbench.bench.serve`): builds the timer, times the very
   first call (``first_call_s``), warms up and calibrates the loops of a sample;
2. runs **rounds**: each round visits every row once, in an order shuffled by
   ``random.Random(seed)`` (``seed`` the comparison's index, kept as the row's ``round_seed``); a visit
   takes ``visit_samples`` samples (one when a sample is a single call: such a call is long already),
   and the round's median of each row feeds :func:`rnnbench.bench.stats.round_ratios`; after each
   visit (and each preparation) the scheduler waits until that worker's threads stop using CPU
   (:func:`rnnbench.bench.probes.wait_idle`, under the policy's ``idle_wait``), so the next visit
   has the machine to itself;
3. **stops** after at least ``min_rounds`` once every row's ``rel_ci`` is within ``target_ci``
   and, when rows compare, its ratio interval too (both ends within ``target_ci`` of the ratio)
   (``"target"``), or when the comparison's budget (``budget_s`` seconds of sampling a row) is
   spent (``"budget"``), or at ``max_rounds``; every row of the comparison records that ``stop_reason``;
4. **finishes** each row in its worker: CPU accounting of its visits, one peak-memory probe call,
   timer freed.

A worker that dies (crash, timeout, garbage) fails the row it was serving, with the reason, and any
other row it held; the other rows of the comparison go on, and the next comparison starts a fresh
worker. A one-row comparison runs the same code with one row.
"""

from __future__ import annotations

import math
import random
import statistics

from rnnbench.bench import stats
from rnnbench.bench.probes import wait_idle
from rnnbench.bench.record import comparison_key
from rnnbench.bench.run_config import empty_row, interval_fields
from rnnbench.bench.timing import load_warning, spread_warnings, summarize, usable_cpus
from rnnbench.bench.workers import Pool, RequestError, WorkerError

#: Row fields this module fills (besides the measurement fields of :func:`empty_row`).
ROUND_FIELDS = (
    "first_call_s",
    "rounds",
    "round_seed",
    "stop_reason",
    "ci95_s",
    "rel_ci",
    "ci_coverage",
    "ratio_to_fastest",
    "ratio_ci95",
    "peak_bytes",
    "peak_method",
    "cpu",
)


def comparisons(indices, configs) -> list[list[int]]:
    """``indices`` of ``configs`` grouped by what compares, in order of first appearance."""
    groups: dict = {}
    for i in indices:
        groups.setdefault(comparison_key(configs[i]), []).append(i)
    return list(groups.values())


def worker_key(config: dict, isolation: str, index: int):
    """Which worker serves a row: one per backend, per backend and impl, or per row (``config``)."""
    if isolation == "backend":
        return config["backend"]
    if isolation == "impl":
        return (config["backend"], config["impl"])
    return ("config", index)


def run_rounds(
    configs, indices, *, threads: int, policy, isolation: str, timeout: float, command, progress=None
) -> dict[int, dict]:
    """Rows of ``configs[i]`` for every ``i`` in ``indices``, by index, measured in interleaved rounds.

    Workers of ``isolation`` "impl" and "backend" live for the whole grid; "config" workers are started
    for a comparison's rows and closed after it. Every worker is stopped and reaped on the way out.
    """
    rows: dict[int, dict] = {}
    with Pool(command, threads) as pool:
        for seed, members in enumerate(comparisons(indices, configs)):
            keys = {i: worker_key(configs[i], isolation, i) for i in members}
            try:
                rows.update(Comparison(configs, members, keys, seed, policy, timeout, pool).run())
            finally:
                if isolation == "config":
                    for key in keys.values():
                        pool.close(key)
            if progress is not None:
                for i in members:
                    progress(rows[i])
    return rows


class Comparison:
    """The rows of one comparison, their workers and their rounds."""

    def __init__(self, configs, members, keys, seed, policy, timeout, pool):
        self.configs, self.members, self.keys = configs, members, keys
        self.seed, self.policy, self.timeout, self.pool = seed, policy, timeout, pool
        self.rows = {i: new_row(configs[i], seed) for i in members}
        self.live: dict[int, dict] = {}  # prepared rows still sampled: samples, loops, slow, items

    def run(self) -> dict[int, dict]:
        for i in self.members:
            self._prepare(i)
        reason, medians = self._rounds()
        for i in list(self.live):
            self._finish(i, reason)
        self._ratios(medians)
        return self.rows

    def _ask(self, i: int, request: dict) -> dict | None:
        """The worker's answer for row ``i``; None after failing the row (and, if the worker died, every
        other row that worker held)."""
        key = self.keys[i]
        try:
            return self.pool.get(key).ask({**request, "id": str(i)}, self.timeout)
        except WorkerError as exc:
            self._fail(i, str(exc))
            for j in [j for j in self.live if self.keys[j] == key]:
                self._fail(j, f"its worker died while timing another row: {exc}")
        except RequestError as exc:
            self._fail(i, str(exc))
            self._free(i)
        return None

    def _free(self, i: int) -> None:
        worker = self.pool.workers.get(self.keys[i])
        if worker is not None and not worker.dead:
            try:
                worker.ask({"op": "free", "id": str(i)}, self.timeout)
            except (WorkerError, RequestError):
                pass

    def _settle(self, i: int) -> None:
        """Wait until row ``i``'s worker is idle (its BLAS threads may spin on after answering)."""
        worker = self.pool.workers.get(self.keys[i])
        if self.policy.idle_wait and worker is not None and not worker.dead:
            wait_idle(worker.pid)

    def _fail(self, i: int, reason: str) -> None:
        self.rows[i].update(status="failed", error=reason)
        state = self.live.pop(i, None)
        if state is not None:  # keep what was measured before the failure: nothing is lost
            self.rows[i].update(samples_s=state["samples"], count=len(state["samples"]), rounds=state["rounds"])

    def _prepare(self, i: int) -> None:
        answer = self._ask(i, {"op": "prepare", "config": self.configs[i], "policy": self.policy.as_dict()})
        self._settle(i)
        if answer is None:
            return
        row = self.rows[i]
        try:
            row.update(answer["row"])
            if answer["row"].get("status", "ok") != "ok":
                return
            row.update(
                first_call_s=float(answer["first_call_s"]),
                loops=int(answer["loops"]),
                warmup_calls=answer.get("warmup_calls"),
            )
            self.live[i] = {
                "samples": [],
                "rounds": 0,
                "loops": int(answer["loops"]),
                "slow": bool(answer.get("slow")),
                "items": answer.get("items"),
                "call_s": answer.get("call_s"),
            }
        except (KeyError, TypeError, ValueError) as exc:
            self._fail(i, f"worker answered a malformed preparation ({type(exc).__name__}: {exc})")
            self._free(i)

    def _rounds(self) -> tuple[str | None, list[dict]]:
        policy = self.policy
        rng = random.Random(self.seed)
        first = max(1, policy.min_rounds, math.ceil(policy.min_samples / max(1, policy.visit_samples)))
        last = max(first, policy.max_rounds)
        budget = policy.budget_s * len(self.live)
        spent, medians = 0.0, []
        for done in range(1, last + 1):
            order = list(self.live)
            rng.shuffle(order)
            this_round = {}
            for i in order:
                if i not in self.live:
                    continue  # its worker died earlier in this round
                state = self.live[i]
                count = 1 if state["slow"] or state["loops"] == 1 else max(1, policy.visit_samples)
                answer = self._ask(i, {"op": "sample", "samples": count})
                self._settle(i)
                samples = _samples(answer, count)
                if answer is not None and samples is None:
                    self._fail(i, "worker answered malformed samples")
                    self._free(i)
                if samples is None:
                    continue
                state["samples"] += samples
                state["rounds"] += 1
                spent += sum(samples) * state["loops"]
                this_round[i] = statistics.median(samples)
            medians.append(this_round)
            if not self.live:
                return None, medians
            if done < first:
                continue
            if self._within_target(medians):
                return "target", medians
            if spent >= budget:
                return "budget", medians
        return "max_rounds", medians

    def _within_target(self, medians: list[dict]) -> bool:
        """Every live row's median interval, and its ratio interval when rows compare, within ``target_ci``."""
        target = self.policy.target_ci
        if any((stats.rel_ci(s["samples"]) or 0.0) > target for s in self.live.values()):
            return False
        if len(self.live) < 2:
            return True
        ratios = stats.round_ratios([{i: m for i, m in r.items() if i in self.live} for r in medians])
        return all(len(values) >= 2 and stats.median_interval(values).rel_reach <= target for values in ratios.values())

    def _finish(self, i: int, reason: str | None) -> None:
        state = self.live[i]
        answer = self._ask(i, {"op": "finish"})
        if answer is None:
            return
        self.live.pop(i)
        row, samples = self.rows[i], state["samples"]
        summary = summarize(samples)
        cpu = answer.get("cpu") if isinstance(answer.get("cpu"), dict) else None
        load_end = (cpu or {}).get("load") or [None, None]
        row.update(
            samples_s=samples,
            **summary,
            **interval_fields(samples),
            rounds=state["rounds"],
            stop_reason=reason,
            cpu=cpu,
            peak_bytes=answer.get("peak_bytes"),
            peak_method=answer.get("peak_method"),
            status="ok",
            error=None,
            warnings=spread_warnings(samples, summary["median_s"] * state["loops"])
            + load_warning(load_end[-1] if isinstance(load_end, list) and load_end else None, usable_cpus()),
        )
        if state["slow"]:
            row["warnings"].append(
                f"slow calls ({state['call_s']:.1f} s, over {self.policy.slow_call_s:g} s): "
                "one-call samples, one a visit"
            )
        if row.get("flops") is not None:
            row["gflops_per_s"] = row["flops"] / summary["median_s"] / 1e9
        if state["items"]:
            row["items_per_s"] = state["items"] / summary["median_s"]

    def _ratios(self, medians: list[dict]) -> None:
        """Each ok row's median of per-round ratios to the round's fastest ok row, and their interval."""
        ok = {i for i, row in self.rows.items() if row["status"] == "ok"}
        ratios = stats.round_ratios([{i: m for i, m in r.items() if i in ok} for r in medians])
        for i in ok:
            values = ratios.get(i) or []
            self.rows[i]["ratio_to_fastest"] = statistics.median(values) if values else None
            self.rows[i]["ratio_ci95"] = stats.median_interval(values).as_list() if len(values) >= 2 else None


def new_row(config: dict, seed: int) -> dict:
    """An empty row with the round fields present (null until measured)."""
    row = empty_row(config, "failed", "not measured")
    row.update({name: None for name in ROUND_FIELDS}, round_seed=seed, rounds=0)
    return row


def _samples(answer, count: int) -> list[float] | None:
    """The answer's samples if they are ``count`` positive finite numbers; else None."""
    if answer is None:
        return None
    values = answer.get("samples_s")
    if not isinstance(values, list) or len(values) != count:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values):
        return None
    return [float(v) for v in values]
