"""What each accuracy cost to train: seconds per epoch, examples/s, ratio to the fastest, time to target.

Read from the run records the accuracy tables already use, so a cost row is
the same runs as the accuracy row above it. A run whose record shows the
machine busy (:func:`busy`: other processes' CPU while it ran, or for older
records the load average) is left out of every timing figure and counted in a
note; its accuracy still counts, since results do not depend on load. Time to target is
the training wall time (evaluation excluded, the first epoch's warm-up and
compilation included) until the dev metric first reached the task's declared
target (:meth:`rnnbench.task.Task.dev_target`), read from the epoch ends and,
where the run was made with ``--eval-every``, from its finer history.
"""

from __future__ import annotations

import math
import statistics

from rnnbench.bench.verdict import OTHER_CPUS_LIMIT, STEAL_LIMIT
from rnnbench.errors import RnnbenchError
from rnnbench.report.section import Block, missing, sig


def busy(record: dict) -> bool:
    """True when other work took the machine while the run trained, so its times are not the framework's.

    A record with the run's CPU accounting (``cpu``, rnnbench.bench.probes.CpuWindow) is judged as a
    bench row is: other processes kept more than ``OTHER_CPUS_LIMIT`` CPUs busy on average, or the
    hypervisor stole more than ``STEAL_LIMIT`` of the CPU time. The load average cannot say this: it
    counts the run's own threads (a framework's thread pool loads 2 CPUs by itself). An older record,
    without it, is busy when its load average (1 minute, start or end) exceeds the CPUs it could use.
    """
    cpu = record.get("cpu")
    other = cpu.get("other_cpus") if isinstance(cpu, dict) else None
    if isinstance(other, (int, float)) and not isinstance(other, bool):
        steal = cpu.get("steal_fraction")
        stolen = isinstance(steal, (int, float)) and not isinstance(steal, bool) and steal > STEAL_LIMIT
        return other > OTHER_CPUS_LIMIT or stolen
    load = record.get("load_average") or {}
    machine = record.get("machine") or {}
    cpus = machine.get("usable_cpus") or machine.get("logical_cpus")
    if not cpus:
        return False
    ones = [
        point[0]
        for point in (load.get("start"), load.get("end"))
        if isinstance(point, (list, tuple)) and point and isinstance(point[0], (int, float))
    ]
    return bool(ones) and max(ones) > float(cpus)


def epoch_seconds(record: dict) -> float | None:
    """Median training seconds of the run's full epochs (evaluation excluded); None when it has none."""
    epochs = [
        e
        for e in record.get("epochs") or []
        if isinstance(e, dict) and isinstance(e.get("train_seconds"), (int, float))
    ]
    if not epochs:
        return None
    full = max(e.get("steps") or 0 for e in epochs)
    return statistics.median(e["train_seconds"] for e in epochs if (e.get("steps") or 0) == full)


def history(record: dict) -> list[tuple[float, float]]:
    """``(training seconds so far, dev metric)`` at every point dev was scored, in time order."""
    points, trained = [], 0.0
    for entry in record.get("epochs") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("train_seconds"), (int, float)):
            return points  # an older or damaged record: what came before still counts
        trained += entry["train_seconds"]
        if isinstance(entry.get("dev"), (int, float)):
            points.append((trained, float(entry["dev"])))
    for entry in record.get("evals") or []:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("train_seconds"), (int, float))
            and isinstance(entry.get("dev"), (int, float))
        ):
            points.append((float(entry["train_seconds"]), float(entry["dev"])))
    return sorted(points)


def time_to_target(record: dict, target: float, higher_is_better: bool = True) -> float | None:
    """Training seconds until dev first reached ``target``; None when it never did."""
    for seconds, dev in history(record):
        if (dev >= target) if higher_is_better else (dev <= target):
            return seconds
    return None


def check_target(value: float, metric: str, percent: bool) -> float:
    """A ``--target`` in the table's unit (percent for accuracies), as the metric's own scale; one line if not."""
    if not math.isfinite(value):
        raise RnnbenchError(f"--target {value}: not a finite number")
    if percent:
        if not 0 < value <= 100:
            raise RnnbenchError(f"--target {value:g}: a target for {metric} is a percentage in (0, 100]")
        return value / 100.0
    if value <= 0:
        raise RnnbenchError(f"--target {value:g}: a target for {metric} must be above 0")
    return value


def declared_target(task: str, dataset: str, metric: str):
    """The task's declared dev target for ``dataset`` and ``metric``, or None (unknown task, none declared)."""
    from rnnbench.plugins import known_task

    declared = getattr(known_task(task), "dev_target", None)
    return declared(dataset, metric) if declared is not None else None


def cost_block(
    title: str,
    rows_by_label,
    columns,
    *,
    keys: int,
    target,
    percent: bool,
    higher: bool,
    metric: str,
    brief: bool = False,
) -> tuple[Block | None, list[dict], str | None]:
    """The cost table under one accuracy table, its numbers for CSV, and, when no row had a run timed on a
    quiet machine, no table but one line for under the accuracy table.

    ``rows_by_label``: ``[(label cells, {column: [run records]})]`` in the accuracy table's row order.
    ``brief`` (the README): seconds per epoch and its ratio without examples per second, and no count of the
    runs left out as busy (both in results/report.md).
    """
    scale, unit = (100.0, "%") if percent else (1.0, "")
    goal = "-" if target is None else f"{sig(target * scale, 3)}{unit}"
    header = ["model"] + (["variant"] if keys == 2 else []) + ([] if brief else ["measure"]) + list(columns)
    printed, numbers, left_out, untimed = [], [], 0, 0
    for label, cells in rows_by_label:
        figures = {column: _figures(cells.get(column, []), target, higher) for column in columns}
        left_out += sum(f["busy"] for f in figures.values())
        fastest = min((f["epoch_seconds"] for f in figures.values() if f["epoch_seconds"]), default=None)
        for column, f in figures.items():
            f["ratio_to_fastest"] = f["epoch_seconds"] / fastest if fastest and f["epoch_seconds"] else None
            numbers.append(
                {
                    "model": label[0],
                    "variant": label[1] if keys == 2 else None,
                    "backend": column,
                    "target": target,
                    **f,
                }
            )
        if fastest is None:  # nothing timed on a quiet machine in this row: counted, not printed
            untimed += 1
            continue
        if brief:  # one row a model: "seconds per epoch (× fastest) · seconds to target", the title says so
            printed.append(list(label) + [_brief_cell(figures[c], target, scale, unit) for c in columns])
            continue
        printed.append(list(label) + ["epoch"] + [_epoch_cell(figures[c], brief) for c in columns])
        printed.append(list(label) + [f"to {goal}"] + [_target_cell(figures[c], target, scale, unit) for c in columns])
    notes = []
    left = [f"{untimed} row(s) with no quiet run"] if untimed else []
    left += [f"{left_out} run(s) on a busy machine (their accuracy counts above)"] if left_out else []
    if left and not brief:
        notes.append("left out of the cost figures: " + "; ".join(left))
    if target is None:
        notes.append("no dev target declared for this table: `rnnbench report --target VALUE` sets one")
    if not printed:
        return None, numbers, f"training cost: no run of this table was timed on a quiet machine ({left_out} busy)"
    if brief:
        title += f": s/epoch (× fastest) · s to {goal}"
    return Block(title, header, printed, keys=keys + (0 if brief else 1), notes=notes), numbers, None


def _figures(records: list[dict], target, higher: bool) -> dict:
    """One backend's cost figures over the seeds of one row: medians of the runs not on a busy machine."""
    quiet = [r for r in records if not busy(r)]
    seconds = [s for s in (epoch_seconds(r) for r in quiet) if s is not None]
    speeds = [
        s for s in ((r.get("timing") or {}).get("train_examples_per_s") for r in quiet) if isinstance(s, (int, float))
    ]
    reached = (
        [t for t in (time_to_target(r, target, higher) for r in quiet) if t is not None] if target is not None else []
    )
    bests = [max(d for _, d in h) if higher else min(d for _, d in h) for h in map(history, quiet) if h]
    return {
        "runs": len(records),
        "busy": len(records) - len(quiet),
        "epoch_seconds": statistics.median(seconds) if seconds else None,
        "examples_per_s": statistics.median(speeds) if speeds else None,
        "time_to_target_s": statistics.median(reached) if reached else None,
        "reached": len(reached),
        "timed": len(quiet),
        "best_dev": (max(bests) if higher else min(bests)) if bests else None,
    }


#: Said once under the summary, for every cost table.
COST_NOTE = (
    "training cost: epoch is the median over seeds of each run's median training seconds per epoch "
    "(evaluation excluded), its ratio to the row's fastest backend, and training examples per second; to "
    "target is the median training time until dev first reached the task's target (seeds that reached it / "
    "seeds timed); a run on a busy machine (other processes above a quarter CPU while it ran; older records: "
    "load average above its usable CPUs) is left out of both"
)
#: The same for the README, whose cost tables have one row a model (seconds per epoch · to target) and leave out
#: examples per second, the seeds that reached the target and the count of busy runs.
COST_NOTE_BRIEF = (
    "training cost: s/epoch is the median over seeds of a run's median seconds per training epoch (× the row's "
    "fastest), s to target the median training seconds until dev first reached the task's target; runs on a "
    "busy machine left out, counted in results/report.md with the seeds that reached the target"
)


def _epoch_cell(f: dict, brief: bool = False) -> str:
    """``3.18 s (1.00×), 2,722/s``: seconds per epoch, its ratio to the row's fastest, examples per second
    (``brief``: without the examples per second)."""
    if f["epoch_seconds"] is None:
        return _empty(f)
    speed = "" if f["examples_per_s"] is None or brief else f", {f['examples_per_s']:,.0f}/s"
    return f"{sig(f['epoch_seconds'])} s ({f['ratio_to_fastest']:.2f}×){speed}"


def _brief_cell(f: dict, target, scale: float, unit: str) -> str:
    """The README's one cell a backend: ``11.4 s (1.07×) · 24.3 s`` (the seeds reached/timed left out)."""
    if f["epoch_seconds"] is None:
        return _empty(f)
    to = _target_cell(f, target, scale, unit)
    to = to.split(" (")[0] if to.endswith(")") and not to.startswith("not reached") else to
    return f"{_epoch_cell(f, brief=True)} · {to}"


def _target_cell(f: dict, target, scale: float, unit: str) -> str:
    if target is None or not f["timed"] or missing(f["best_dev"]):  # no dev history: an older record
        return _empty(f)
    if f["time_to_target_s"] is None:
        best = "-" if missing(f["best_dev"]) else f"{sig(f['best_dev'] * scale, 3)}{unit}"
        return f"not reached (best {best})"
    return f"{sig(f['time_to_target_s'])} s ({f['reached']}/{f['timed']})"


def _empty(f: dict) -> str:
    return f"- ({f['busy']} busy)" if f["busy"] else "-"
