"""Every record of a results directory as one tidy pandas DataFrame.

One row per run record, per row of a check record and per row of a bench
record, with a ``kind`` column (run, check, bench) and the fields tables
group by flattened into columns. The record itself stays in the ``record``
column (and its file in ``path``), so plots can read per-epoch curves and
gradient-flow arrays that do not fit in a cell. Bench rows carry whether the report
trusts them (``trusted``, ``trust_reasons``: :mod:`rnnbench.report.trust`).
"""

from __future__ import annotations

import warnings

import pandas as pd

from rnnbench.machine import machine_identity, machine_label
from rnnbench.records import KNOWN_SCHEMAS, RecordWarning, read_records, record_problem
from rnnbench.report.filters import apply_filters
from rnnbench.report.variants import diff_key, run_diff

#: Columns every frame has, even an empty one, so filters and tables can rely on them.
BASE_COLUMNS = [
    "kind",
    "task",
    "dataset",
    "model",
    "backend",
    "impl",
    "device",
    "threads",
    "seed",
    "status",
    "host",
    "started_at",
    "path",
    "record",
]


def load_results(results_dir, **filters) -> pd.DataFrame:
    """Read every record in ``results_dir`` into a frame; ``filters`` keep rows by column value.

    ``load_results("results", task="textclf", backend=["torch", "numpy"], status="ok")``:
    a filter value is one value, a comma-separated string or a list. Unreadable
    files, unknown schemas and records of the wrong shape are skipped with a
    :class:`RecordWarning`.
    """
    rows = []
    for path, record in read_records(results_dir, schemas=None, warn=True, must_exist=True):
        rows.extend(_rows_or_warning(path, record))
    frame = pd.DataFrame(rows)
    for column in BASE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(dtype=object)
    from rnnbench.report.trust import judge  # before the filters: a machine's best peak is over all its records

    return apply_filters(judge(frame), filters).reset_index(drop=True)


def _rows_or_warning(path, record: dict) -> list[dict]:
    """The record's rows; a record of the wrong shape is skipped with a warning naming its file, so one bad
    file never breaks the whole report."""
    kind = KNOWN_SCHEMAS[record["schema"]]
    try:
        problem = record_problem(record)
        if problem is None:
            return _ROW_MAKERS[kind](path, record)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:  # a misfit the schema does not describe
        problem = f"{type(exc).__name__}: {exc}"
    warnings.warn(
        RecordWarning(f"skipped {path.name}: not a {kind} record the report can read ({problem})"), stacklevel=3
    )
    return []


def _common(kind: str, path, record: dict) -> dict:
    machine = record.get("machine") or {}
    git = record.get("git") or {}
    row = {
        "kind": kind,
        "schema": record.get("schema"),
        "task": record.get("task"),
        "dataset": record.get("dataset"),
        "seed": record.get("seed"),
        "status": record.get("status"),
        "error": record.get("error"),
        "started_at": record.get("started_at"),
        "host": machine_label(record),  # with the ISA level where known: one name has meant two CPUs
        "hostname": machine.get("hostname"),
        "isa_level": machine_identity(record)[-1],
        "cpu_model": machine.get("cpu_model"),
        "logical_cpus": machine.get("logical_cpus"),
        "usable_cpus": machine.get("usable_cpus"),
        "gpu": machine.get("gpu"),
        "python": machine.get("python"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "path": str(path),
        "record": record,
    }
    for name, version in (record.get("versions") or {}).items():
        row[f"version_{name}"] = version
    return row


def _run_rows(path, record: dict) -> list[dict]:
    config = record.get("config") or {}
    info = record.get("backend_info") or {}
    best = record.get("best") or {}
    timing = record.get("timing") or {}
    variant = run_diff(config)  # what it changed from its task's defaults; runs of one variant pool their seeds
    row = _common("run", path, record)
    row.update(
        {
            "model": record.get("model"),
            "backend": record.get("backend"),
            "impl": info.get("impl") or config.get("impl"),
            "device": info.get("device") or config.get("device") or "cpu",
            "threads": info.get("threads") or config.get("threads"),
            "framework_version": info.get("version"),
            "metric": record.get("metric"),
            "higher_is_better": record.get("metric_higher_is_better", True),
            "dev": best.get("dev"),
            "test": best.get("test"),
            "best_epoch": best.get("epoch"),
            "steps": record.get("steps"),
            "epochs_run": len(record.get("epochs") or []),
            "wall_seconds": record.get("wall_seconds"),
            "examples_per_s": timing.get("train_examples_per_s"),
            "step_median_s": timing.get("step_median"),
            "hidden_size": config.get("hidden_size"),
            "activation": config.get("activation"),
            "problem": config.get("problem"),
            "seq_len": config.get("seq_len"),
            "variant": variant,
            "config_key": diff_key(variant),
            "has_gradient_flow": bool(record.get("gradient_flow")),
        }
    )
    for split in ("dev", "test"):
        for name, value in (best.get(f"{split}_metrics") or {}).items():
            if isinstance(value, (float, bool)):  # an int here counts rows scored, not a metric
                row[f"{split}_{name}"] = value
    return [row]


def _check_rows(path, record: dict) -> list[dict]:
    config = record.get("config") or {}
    rows = []
    for entry in record.get("rows") or []:
        row = _common("check", path, record)
        case = str(entry.get("case", ""))
        row.update(
            {
                "backend": entry.get("backend"),
                "impl": entry.get("impl"),
                "case": case,
                "model": case.split(" ")[0],
                "dtype": entry.get("dtype"),
                "max_abs": entry.get("max_abs"),
                "max_rel": entry.get("max_rel"),
                "worst": entry.get("worst"),
                "tolerance": entry.get("tolerance"),
                "passed": bool(entry.get("passed")),
                "error": entry.get("error") or None,
                "status": "ok" if entry.get("passed") else "failed",
                "check_mode": record.get("dataset"),
                "device": config.get("device") or "cpu",
                "threads": config.get("threads"),
            }
        )
        rows.append(row)
    return rows


#: The fields of a ragged-text row (``bench --suite lengths``) the report reads (rnnbench.report.lengths).
LENGTHS_FIELDS = (
    "lengths_of",
    "strategy",
    "padding_fraction",
    "epoch_padding_fraction",
    "real_tokens",
    "padded_tokens",
    "useful_tokens_per_s",
    "ms_per_1k_tokens",
    "token_budget",
    "lengths_source",
    "padding_path",
    "vocab_size",
    "batches",
)


def _bench_rows(path, record: dict) -> list[dict]:
    rows = []
    for entry in record.get("rows") or []:
        # the peak of the row's own dtype where the record measured one per dtype
        peak = (record.get("peaks") or {}).get(entry.get("dtype")) or record.get("peak") or {}
        # a ragged-text row is its own kind: it compares strategies, never a cell size with the speed table's rows
        lengths = entry.get("kind") == "lengths"
        row = _common("lengths" if lengths else "bench", path, record)
        if lengths:
            row.update({key: entry.get(key) for key in LENGTHS_FIELDS})
        row.update(
            {
                key: entry.get(key)
                for key in (
                    "backend",
                    "impl",
                    "device",
                    "dtype",
                    "threads",
                    "batch",
                    "steps",
                    "input",
                    "hidden",
                    "trees",
                    "nodes",
                    "pass",
                    "median_s",
                    "iqr_s",
                    "min_s",
                    "count",
                    "flops",
                    "gflops_per_s",
                    "peak_fraction",
                    "items_per_s",
                )
            }
        )
        row.update(
            {
                "suite": record.get("dataset"),
                "structure": entry.get("kind"),
                "cell": entry.get("cell"),
                "model": entry.get("cell"),
                "status": entry.get("status") or record.get("status"),
                "error": entry.get("error"),
                "warnings": "; ".join(entry.get("warnings") or []) or None,
                "warning_list": tuple(entry.get("warnings") or ()),
                "items_unit": entry.get("items_unit"),
                "peak_gflops": peak.get("gflops"),
                # stacked and bidirectional sizes (64x100x512x512:L2:bi); a record from before them is one
                # layer, one way
                "layers": entry.get("layers") or 1,
                "bidirectional": bool(entry.get("bidirectional")),
            }
        )
        row.update(_bench_trust(entry, record))
        if row["peak_fraction"] is None and row["gflops_per_s"] and peak.get("gflops"):
            row["peak_fraction"] = row["gflops_per_s"] / peak["gflops"]
        rows.append(row)
    return rows


def _bench_trust(entry: dict, record: dict) -> dict:
    """The row's interval (recorded, or from its samples), its ratio's interval, peak memory and first call, and
    its own verdict (``row_stable``, ``row_reasons``; :mod:`rnnbench.report.trust` adds the record's)."""
    from rnnbench.report.trust import interval, ratio_interval, row_trust

    stable, reasons = row_trust(entry, record)
    ci = interval(entry)
    return {
        "ci95_s": tuple(ci) if ci else None,
        "rel_ci": entry.get("rel_ci"),
        "rounds": entry.get("rounds"),
        "ratio_to_fastest": entry.get("ratio_to_fastest"),
        "ratio_ci95": tuple(ratio_interval(entry) or ()) or None,
        "stop_reason": entry.get("stop_reason"),
        "first_call_s": entry.get("first_call_s"),
        "peak_bytes": entry.get("peak_bytes"),
        "peak_method": entry.get("peak_method"),
        "row_stable": bool(stable),
        "row_reasons": tuple(reasons),
    }


_ROW_MAKERS = {"run": _run_rows, "check": _check_rows, "bench": _bench_rows}
