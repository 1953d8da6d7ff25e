"""Records: the JSON files every command leaves in a results directory, written and read in one place.

- **Schemas**: one declared, versioned :class:`Schema` a kind of record:
  ``rnnbench.run/1`` (one a run), ``rnnbench.check/1`` and ``rnnbench.bench/1``
  (one an invocation), each with every field its writers write and that field's
  type: the record formats' documentation. :data:`KNOWN_SCHEMAS` (each version
  to its kind) and :data:`RUN_SCHEMA` and its siblings (the version the writers
  write) derive from them; :func:`record_problem` says whether a record fits its
  schema. A rename, a removal or a new type is a new version declared beside the
  old one; a new optional field keeps the version (docs/design.md §3.4).
- **Header**: :func:`record_header`, the fields every record starts with
  (what, when, on which machine, with which versions, at which commit).
- **Writer**: :func:`write_record` puts a record under a new name through
  :func:`rnnbench.atomic.write_new`, which never replaces: two runs finishing at
  once into one directory both land (the second takes the next free suffix),
  and a reader never sees half a file.
- **Fallback**: when the results directory fails at the end (removed,
  read-only, disk full), :func:`save_record` puts the record in a new file in
  the system temporary directory, or on standard output, and says where with
  one :class:`RecordNotWritten` line: a finished run is never lost.
- **Tolerant reader**: :func:`read_records` skips files still being written,
  and unreadable or foreign files (with a :class:`RecordWarning` when asked),
  so one bad file never stops a report or a resumed sweep.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from rnnbench.atomic import TMP_PREFIX, write_new
from rnnbench.errors import RnnbenchError

# --- schemas ---------------------------------------------------------------------------------------------------
#
# A field's type is one of: TEXT, NUMBER, INTEGER, BOOLEAN, SCALAR (any of those), ``Required(type)`` (the record
# cannot be placed in any table without it), a list ``[type]`` (every item of that type; no gaps unless the item
# is ``OrNull(type)``), ``Each(type)`` (an object with any keys, each value of that type), a nested object
# ``{field: type}`` (its fields declared like a record's) or ``Open({field: type})`` (an object whose listed fields
# are typed and which may hold others: a task's configuration, a backend's ``info()``). A field not marked
# required may be absent or null. ``Loose(type)``: the writers write that type, but the report reads the field
# defensively (a bench row's trust fields, the kernels), so a record holding something else there is still
# placed. Extra fields are never an error for the reader (a newer writer may add an optional one); the tests
# hold the writers to their declarations (``record_problem(strict=True)``, :func:`undeclared_fields`).


def _text(value) -> bool:
    """text"""
    return isinstance(value, str)


def _number(value) -> bool:
    """a number"""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value) -> bool:
    """an integer"""
    return isinstance(value, int) and not isinstance(value, bool)


def _boolean(value) -> bool:
    """true/false"""
    return isinstance(value, bool)


def _scalar(value) -> bool:
    """a plain value"""
    return isinstance(value, (str, int, float, bool))


TEXT, NUMBER, INTEGER, BOOLEAN, SCALAR = _text, _number, _integer, _boolean, _scalar


class Required:
    """A field that must be present (not None) for the record to be placed in any table."""

    def __init__(self, spec):
        self.spec = spec


class OrNull:
    """A list item that may be null (a list holds no gaps otherwise)."""

    def __init__(self, spec):
        self.spec = spec


class Loose:
    """A field the writers write as ``spec`` but the report reads defensively: the reader does not skip a record
    for another value there (only ``record_problem(..., strict=True)`` checks it)."""

    def __init__(self, spec):
        self.spec = spec


class Each:
    """An object with any keys, each value as ``spec``."""

    def __init__(self, spec):
        self.spec = spec


class Open:
    """An object whose declared ``fields`` are typed and which may hold any others."""

    def __init__(self, fields: dict | None = None):
        self.fields = fields or {}


@dataclass(frozen=True)
class Schema:
    """One version of one kind of record: ``rnnbench.<kind>/<version>`` and its top-level fields."""

    kind: str  # the kind of row the report makes of it: run, check, bench
    version: int
    fields: dict  # field -> type, in the vocabulary above
    name: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "name", f"rnnbench.{self.kind}/{self.version}")


# Every record starts with record_header's fields.
_MACHINE = {
    "hostname": TEXT,
    "platform": TEXT,
    "cpu_model": TEXT,
    "logical_cpus": INTEGER,
    "usable_cpus": INTEGER,
    "isa_level": TEXT,  # rnnbench.machine.cpu_level: one hostname has meant CPUs with and without AVX-512
    "memory_bytes": INTEGER,
    "python": TEXT,
    "python_implementation": TEXT,
    "gpu": SCALAR,  # read by the report when present; no writer sets it today
    "ip": TEXT,
    "note": TEXT,  # a sweep's stand-in record of a run on a Ray node knows only its host and address
}
_HEADER = {
    "schema": Required(TEXT),
    "task": TEXT,
    "dataset": TEXT,
    "backend": TEXT,
    "seed": INTEGER,
    "status": TEXT,  # run: ok, diverged, interrupted, failed; check and bench: ok, failed
    "started_at": TEXT,
    "finished_at": TEXT,  # ISO 8601, UTC
    "machine": _MACHINE,
    "versions": Each(SCALAR),  # package -> version, for rnnbench and every framework installed
    "git": {"commit": TEXT, "dirty": SCALAR},  # null when not run from a git checkout
    "load_average": {"start": [NUMBER], "end": [NUMBER]},  # 1-, 5- and 15-minute load averages
    "config": Open(),  # what was asked for; each kind declares what it holds
}
#: A backend's ``info()``: these fields, and any others the backend adds.
_BACKEND_INFO = Open({"framework": TEXT, "version": TEXT, "impl": TEXT, "device": TEXT, "threads": INTEGER})
#: The extra figures a task's ``metrics`` reports next to its one metric (root and all-node accuracy, ...).
_METRICS = Each(SCALAR)

#: What the machine did besides the measured work (rnnbench.bench.probes.CpuWindow): other processes' CPUs, steal.
_CPU_WINDOW = {
    "wall_s": NUMBER,
    "own_cpu_s": NUMBER,
    "other_cpus": NUMBER,
    "steal_fraction": NUMBER,
    "load": [OrNull(NUMBER)],
}

RUN_1 = Schema(
    "run",
    1,
    {
        **_HEADER,
        "task": Required(TEXT),
        "dataset": Required(TEXT),
        "backend": Required(TEXT),
        "seed": Required(INTEGER),
        "status": Required(TEXT),
        "error": TEXT,
        "traceback": TEXT,  # a failure that was not an rnnbench error
        "signal": TEXT,  # an interrupted run: SIGINT, SIGTERM, SIGHUP
        "model": TEXT,  # the cell
        "metric": Required(TEXT),
        "metric_higher_is_better": SCALAR,
        # the epoch with the best dev score, and test measured once with its parameters
        "best": Required(
            {
                "epoch": INTEGER,
                "step": INTEGER,
                "dev": NUMBER,
                "test": NUMBER,
                "test_eval_seconds": NUMBER,
                "dev_metrics": _METRICS,
                "test_metrics": _METRICS,
            }
        ),
        "epochs": [
            {
                "epoch": Required(INTEGER),
                "steps": INTEGER,
                "examples": INTEGER,
                "tokens": INTEGER,
                "mean_loss": NUMBER,
                "last_loss": NUMBER,
                "train_seconds": NUMBER,
                "warmup_steps_excluded": INTEGER,  # this epoch's steps left out of its throughput
                "examples_per_s": NUMBER,
                "tokens_per_s": NUMBER,
                "step_seconds": [NUMBER],
                "dev": NUMBER,
                "eval_seconds": NUMBER,
                "dev_metrics": _METRICS,
            }
        ],
        # --eval-every N: dev scored every N steps, with the training seconds so far
        "evals": [{"step": INTEGER, "epoch": INTEGER, "dev": NUMBER, "train_seconds": NUMBER, "eval_seconds": NUMBER}],
        "diverged_at": {"epoch": INTEGER, "step": INTEGER, "loss": TEXT},  # the loss as repr(): nan, inf
        # mean over the probe batch of ||dLoss/dh_t|| for every t, at the task's probe steps
        "gradient_flow": [{"step": Required(NUMBER), "norms": Required([NUMBER])}],
        "config": Open(
            {
                "impl": TEXT,
                "device": TEXT,
                "threads": INTEGER,
                "hidden_size": INTEGER,
                "activation": TEXT,
                "problem": TEXT,
                "seq_len": INTEGER,
            }
        ),  # the task's resolved configuration
        "spec": Open(),  # the model spec (rnnbench.model.ModelSpec or TreeModelSpec) as a dict
        # the task's description of its data: split sizes, vocabulary, the published figures to read against
        "data": Open({"published": [Open({"model": SCALAR, "value": SCALAR, "metric": SCALAR, "source": SCALAR})]}),
        "notes": [TEXT],
        "backend_info": _BACKEND_INFO,
        "command": TEXT,  # the command line
        "steps": NUMBER,  # training steps taken
        "wall_seconds": NUMBER,
        "cpu": _CPU_WINDOW,  # over the whole run: what other processes took (the cost table's quiet rule)
        "timing": {  # over every timed step (warm-up left out); only warmup_steps when none was timed
            "warmup_steps": INTEGER,
            "timed_steps": INTEGER,
            "unit": TEXT,
            "step_median": NUMBER,
            "step_iqr": NUMBER,
            "step_min": NUMBER,
            "train_examples_per_s": NUMBER,
            "train_seconds_total": NUMBER,
            "eval_seconds_total": NUMBER,
            "note": TEXT,
        },
    },
)

CHECK_1 = Schema(
    "check",
    1,
    {
        **_HEADER,
        "dataset": Required(TEXT),  # what was checked: parity or trajectory
        "config": Open(
            {
                "targets": [[TEXT]],  # [backend, impl] pairs
                "cells": TEXT,
                "dtypes": [TEXT],
                "trajectory": SCALAR,
                "device": TEXT,
                "threads": INTEGER,
            }
        ),
        "rows": Required(
            [
                {
                    "backend": Required(TEXT),
                    "impl": Required(TEXT),
                    "case": Required(TEXT),
                    "dtype": Required(TEXT),
                    "max_abs": NUMBER,
                    "max_rel": NUMBER,
                    "worst": TEXT,  # the quantity with the largest relative error
                    "tolerance": NUMBER,
                    "passed": SCALAR,
                    "error": TEXT,
                }
            ]
        ),
    },
)

#: The process's BLAS and framework kernels (rnnbench.bench.kernels.kernel_info).
_KERNEL = Open(
    {
        "cpu_flags": [TEXT],
        "cpu_level": TEXT,
        "blas": [Open()],
        "pinned": Each(TEXT),
        "torch": Open(),
        "tensorflow": Open(),
    }
)
#: The fastest square GEMM this machine ran (rnnbench.bench.peak), the yardstick of ``peak_fraction``.
_PEAK = {
    "gflops": NUMBER,
    "dtype": TEXT,
    "threads": INTEGER,
    "size": INTEGER,
    "method": TEXT,
    "framework": TEXT,
    "device": TEXT,
    "statistic": TEXT,
    "error": TEXT,
    "warnings": [TEXT],
    "candidates": [
        {
            "method": TEXT,
            "framework": TEXT,
            "size": INTEGER,
            "median_s": NUMBER,
            "min_s": NUMBER,
            "gflops": NUMBER,
            "gflops_median": NUMBER,
            "warnings": [TEXT],
            "error": TEXT,
        }
    ],
    "kernels": Each(_KERNEL),  # framework -> its kernels
}
#: A bench row's timing statistics (seconds a call).
_TIMES = {"median_s": NUMBER, "iqr_s": NUMBER, "min_s": NUMBER, "count": INTEGER, "samples_s": [NUMBER]}

BENCH_1 = Schema(
    "bench",
    1,
    {
        **_HEADER,
        "dataset": TEXT,  # the suite, or "custom"
        "config": Open(
            {  # the grid (bench), the step and its data (--train) or the datasets (--suite lengths)
                "suite": TEXT,
                "mode": TEXT,
                "description": TEXT,
                "backends": [TEXT],
                "cells": [TEXT],
                "impls": Open(),
                "sizes": [[SCALAR]],  # BxTxDxH, then layers and bidirectional for a layered size
                "tree_sizes": [[INTEGER]],  # (extra_sizes: [cell, size] pairs a suite adds for one cell)
                "dtypes": [TEXT],
                "passes": [TEXT],
                "device": TEXT,
                "threads": INTEGER,
                "isolation": TEXT,
                "timing": Open(),  # the timing policy, target_ci (a fraction) and interleaved
                "peak_sizes": [INTEGER],
                "tree_source": Open(),
                "lengths": TEXT,
                "unavailable": Each(TEXT),
                "datasets": Each(Open()),
                "strategies": [TEXT],
                "spec": Open(),
                "data": Open(),
                "rounds": INTEGER,
                "batches": INTEGER,
                "warmup_passes": INTEGER,
            }
        ),
        "peak": _PEAK,  # the float32 peak (else the first measured)
        "peaks": Each(_PEAK),  # dtype -> its peak
        "cpu_flags": [TEXT],
        "pinned": Each(TEXT),  # environment variables that pin a kernel choice
        "kernels": Loose(Each(_KERNEL)),  # backend -> the kernels its rows ran
        "warnings": Loose([TEXT]),  # kernel and peak warnings, each once
        # each backend's fastest ok row of each configuration, the comparison the summary shows
        "fastest": [
            {
                "kind": TEXT,
                "cell": TEXT,
                "dtype": TEXT,
                "device": TEXT,
                "batch": INTEGER,
                "steps": INTEGER,
                "input": INTEGER,
                "hidden": INTEGER,
                "layers": INTEGER,
                "bidirectional": SCALAR,
                "pass": TEXT,
                "trees": INTEGER,
                "backend": TEXT,
                "impl": TEXT,
                "median_s": NUMBER,
                "iqr_s": NUMBER,
                "ci95_s": [NUMBER],
                "rel_ci": NUMBER,
                "gflops_per_s": NUMBER,
                "peak_fraction": NUMBER,
                "stable": SCALAR,
                "impls_timed": INTEGER,  # rows that competed
                "ratio_to_best": NUMBER,
                "ratio_ci95": [NUMBER],
            }
        ],  # against the best backend
        "settle": {
            "waited_s": NUMBER,
            "load_before": NUMBER,
            "load_after": NUMBER,
            "settled": BOOLEAN,
            "limit_s": NUMBER,
        },  # the wait for a quiet machine before timing
        "stable": Loose(BOOLEAN),
        "unstable_reasons": Loose([TEXT]),  # the record's verdict (rnnbench.bench.verdict)
        "rows": Required(
            [
                {
                    "kind": TEXT,  # sequence, tree, lengths (bench --suite lengths) or train (bench --train)
                    "cell": Required(TEXT),
                    "backend": Required(TEXT),
                    "impl": TEXT,
                    "device": TEXT,
                    "dtype": TEXT,
                    "pass": TEXT,  # forward, forward+backward, train-step
                    "status": TEXT,  # ok, failed, unavailable, unsupported
                    "error": TEXT,
                    "items_unit": TEXT,
                    "warnings": [TEXT],
                    "threads": INTEGER,
                    "batch": INTEGER,
                    "steps": INTEGER,
                    "input": INTEGER,
                    "hidden": INTEGER,
                    "layers": INTEGER,
                    "bidirectional": SCALAR,  # stacked and bidirectional sizes only
                    # tree rows: the trees timed, their nodes, leaves and levels, and where they came from
                    "trees": INTEGER,
                    "nodes": INTEGER,
                    "leaves": INTEGER,
                    "levels": INTEGER,
                    "tree_source": {"source": TEXT, "path": TEXT, "root": TEXT, "selection": TEXT, "seed": INTEGER},
                    **_TIMES,
                    "samples_s": Loose([NUMBER]),  # every timed sample
                    "max_s": NUMBER,
                    "loops": INTEGER,  # calls a sample
                    "warmup_calls": INTEGER,
                    "flops": NUMBER,
                    "gflops_per_s": NUMBER,
                    "peak_fraction": NUMBER,  # of the peak of the row's dtype
                    "items_per_s": NUMBER,  # tokens (batch x steps) or nodes a second
                    "backend_info": _BACKEND_INFO,
                    "kernel": _KERNEL,
                    "kernel_warnings": [TEXT],
                    # the uncertainty and the conditions of the measurement
                    "ci95_s": Loose([NUMBER]),  # interval of the median
                    "rel_ci": NUMBER,  # its half-width over the median
                    "ci_coverage": NUMBER,
                    "rounds": INTEGER,  # interleaved rounds sampled (1 outside rounds)
                    "round_seed": INTEGER,  # the seed of its comparison's visiting order
                    "stop_reason": TEXT,  # target, budget, max_rounds
                    "ratio_to_fastest": NUMBER,
                    "ratio_ci95": Loose([NUMBER]),  # against its comparison's fastest row
                    "first_call_s": NUMBER,
                    "peak_bytes": INTEGER,
                    "peak_method": TEXT,  # one call apart from the timed ones
                    "cpu": _CPU_WINDOW,
                    "stable": Loose(BOOLEAN),
                    "unstable_reasons": Loose([TEXT]),  # the row's verdict
                    # bench --overhead: the harness against bare loops of the same callable and of the framework's layer
                    # (medians and minima of each, and the harness's excess over each bare loop as a fraction)
                    "overhead": {
                        "rounds": INTEGER,
                        "loops": INTEGER,
                        "bare_framework_method": TEXT,
                        "harness_samples_s": [NUMBER],
                        "harness_s": NUMBER,
                        "harness_min_s": NUMBER,
                        "bare_same_callable_samples_s": [NUMBER],
                        "bare_same_callable_s": NUMBER,
                        "bare_same_callable_min_s": NUMBER,
                        "vs_bare_same_callable": NUMBER,
                        "vs_bare_same_callable_min": NUMBER,
                        "bare_framework_samples_s": [NUMBER],
                        "bare_framework_s": NUMBER,
                        "bare_framework_min_s": NUMBER,
                        "vs_bare_framework": NUMBER,
                        "vs_bare_framework_min": NUMBER,
                    },
                    # bench --train: rnnbench's training step against the backend's plain loop, in alternating rounds
                    "batches": INTEGER,  # --train: batches a pass; lengths: batches timed
                    "tokens_per_step": NUMBER,
                    "plain": {**_TIMES, "method": TEXT},
                    "ratio": {
                        "median": NUMBER,
                        "q1": NUMBER,
                        "q3": NUMBER,
                        "iqr": NUMBER,
                        "ci95": [NUMBER],  # the median ratio's 95% interval (order statistics)
                        "samples": [NUMBER],
                    },
                    # bench --suite lengths: one batching strategy over a dataset's real lengths
                    # (rnnbench.bench.lengths)
                    "lengths_of": TEXT,  # the dataset
                    "strategy": TEXT,
                    "padding_path": TEXT,  # mask or pack
                    "vocab_size": INTEGER,
                    "token_budget": INTEGER,
                    "batch_lengths": [[INTEGER]],
                    "real_tokens": INTEGER,
                    "padded_tokens": INTEGER,
                    "padding_fraction": NUMBER,
                    "epoch_padding_fraction": NUMBER,  # over a whole epoch of the strategy's batches
                    "lengths_source": TEXT,
                    "useful_tokens_per_s": NUMBER,
                    "ms_per_1k_tokens": NUMBER,
                }
            ]
        ),
    },
)

#: Every declared schema, old versions beside new ones.
SCHEMAS = (RUN_1, CHECK_1, BENCH_1)
#: Each schema's name -> its declaration.
SCHEMA_BY_NAME = {schema.name: schema for schema in SCHEMAS}
#: Every schema this version reads, and the kind of row the report makes of it.
KNOWN_SCHEMAS = {schema.name: schema.kind for schema in SCHEMAS}


def _current(kind: str) -> str:
    """The newest version of ``kind``: the one the writers write."""
    return max((s for s in SCHEMAS if s.kind == kind), key=lambda s: s.version).name


RUN_SCHEMA = _current("run")
CHECK_SCHEMA = _current("check")
BENCH_SCHEMA = _current("bench")


def record_problem(record: dict, *, strict: bool = False) -> str | None:
    """``None`` when ``record`` fits its schema (the one its ``schema`` field names); else the first misfit, in
    words, naming the field (``best.dev is text, not a number``). ``strict`` also checks the :class:`Loose`
    fields, which the report reads defensively: the tests hold the writers to them."""
    schema = SCHEMA_BY_NAME.get(record.get("schema")) if isinstance(record, dict) else None
    if schema is None:
        return "not a record of a known schema"
    return _problem(record, schema.fields, "", strict)


def undeclared_fields(record: dict) -> list[str]:
    """Every field of ``record`` its schema does not declare (``rows[3].new_field``), where the schema lists
    what an object holds; the tests hold every writer to its declarations with it."""
    schema = SCHEMA_BY_NAME.get(record.get("schema")) if isinstance(record, dict) else None
    return [] if schema is None else _undeclared(record, schema.fields, "")


def _at(where: str, key) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _problem(value, spec, where: str, strict: bool) -> str | None:
    if isinstance(spec, Loose):
        if not strict:
            return None
        spec = spec.spec
    if isinstance(spec, Required):
        if value is None:
            return f"{where} is missing"
        spec = spec.spec
    if isinstance(spec, OrNull):
        spec = spec.spec
    if value is None:
        return None
    if isinstance(spec, (dict, Open)):
        if not isinstance(value, dict):
            return f"{where or 'the record'} is {_kind(value)}, not an object"
        fields = spec.fields if isinstance(spec, Open) else spec
        problems = (_problem(value.get(key), inner, _at(where, key), strict) for key, inner in fields.items())
        return next((p for p in problems if p), None)
    if isinstance(spec, Each):
        if not isinstance(value, dict):
            return f"{where} is {_kind(value)}, not an object"
        return next((p for k, v in value.items() if (p := _problem(v, spec.spec, _at(where, k), strict))), None)
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where} is {_kind(value)}, not a list"
        item = spec[0] if isinstance(spec[0], (Required, OrNull)) else Required(spec[0])  # a list holds no gaps
        return next((p for i, v in enumerate(value) if (p := _problem(v, item, _at(where, i), strict))), None)
    return None if spec(value) else f"{where} is {_kind(value)}, not {spec.__doc__}"


def _undeclared(value, spec, where: str) -> list[str]:
    while isinstance(spec, (Required, OrNull, Loose)):
        spec = spec.spec
    found = []
    if isinstance(spec, (dict, Open)) and isinstance(value, dict):
        fields = spec.fields if isinstance(spec, Open) else spec
        for key, inner in value.items():
            if key in fields:
                found += _undeclared(inner, fields[key], _at(where, key))
            elif not isinstance(spec, Open):
                found.append(_at(where, key))
    elif isinstance(spec, Each) and isinstance(value, dict):
        for key, inner in value.items():
            found += _undeclared(inner, spec.spec, _at(where, key))
    elif isinstance(spec, list) and isinstance(value, list):
        for i, inner in enumerate(value):
            found += _undeclared(inner, spec[0], _at(where, i))
    return found


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


class RecordWarning(UserWarning):
    """A file in the results directory that a reader skipped, and why."""


class RecordNotWritten(RnnbenchError):
    """The record is safe, but not in the results directory; ``saved`` is where it is (None: stdout)."""

    def __init__(self, results_dir, reason: str, saved: Path | None):
        where = f"it was saved to {saved}" if saved else "it was printed to standard output instead"
        super().__init__(f"could not write the record to {results_dir} ({reason}); {where}")
        self.saved = saved


# --- header --------------------------------------------------------------------------------------------------


def record_header(
    schema: str, *, task, dataset, backend, seed, status: str, started_at: str, machine: dict | None = None
) -> dict:
    """The fields every record starts with; ``machine`` defaults to this machine's description."""
    from rnnbench.machine import git_commit, machine_info, package_versions

    return {
        "schema": schema,
        "task": task,
        "dataset": dataset,
        "backend": backend,
        "seed": seed,
        "status": status,
        "started_at": started_at,
        "machine": machine_info() if machine is None else machine,
        "versions": package_versions(),
        "git": git_commit(),
    }


# --- atomic writer -------------------------------------------------------------------------------------------


def ensure_writable(results_dir) -> Path:
    """Create ``results_dir`` if needed and prove a file can be written there, before any long work."""
    path = Path(results_dir).expanduser()
    try:
        return _writable(path)
    except OSError as exc:
        raise RnnbenchError(
            f"results directory {path} is not writable ({exc.strerror or exc}); choose another with --results-dir"
        ) from None


def _writable(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=TMP_PREFIX + "probe-"):
        pass
    return path


#: The longest part of a record's name taken as it is; a longer one is cut and ends in a hash of the whole.
#: File names stop at 255 bytes, and the name must leave room for ``-N.json`` and the fallback's prefix.
NAME_PART_LIMIT = 60


def record_stem(record: dict) -> str:
    """``<UTC start>_<task>_<dataset>_<backend>_<model>_seed<N>``, with unsafe characters replaced.

    A part longer than :data:`NAME_PART_LIMIT` (a long dataset file stem) is cut
    and ends in a hash of the whole part, so the name stays short enough for any
    file system and two long names that differ only at the end still differ.
    """
    stamp = re.sub(r"[^0-9T]", "", record["started_at"])[:15]  # 2026-01-02T03:04:05.6Z -> 20260102T030405
    dataset = Path(str(record.get("dataset") or "data")).stem
    parts = [stamp, record["task"], dataset, record["backend"], record.get("model") or "", f"seed{record['seed']}"]
    return "_".join(_name_part(str(p)) for p in parts if p)


def _name_part(text: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "-", text)
    if len(safe) <= NAME_PART_LIMIT:
        return safe
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{safe[: NAME_PART_LIMIT - 13]}-{digest}"


def write_record(results_dir, record: dict) -> Path:
    """Write ``record`` under a new unique name in ``results_dir``; return its path.

    Raises ``OSError`` when it cannot (folder gone or read-only, disk full):
    :func:`save_record` then keeps the record elsewhere.
    """
    folder = _writable(Path(results_dir).expanduser())
    stem = record_stem(record)
    names = (folder / (f"{stem}.json" if n == 0 else f"{stem}-{n}.json") for n in count())
    return write_new(folder, record_json(record), names)


def record_json(record: dict) -> str:
    """The text of a record file."""
    return json.dumps(record, indent=1, sort_keys=False, default=_jsonable) + "\n"


def _jsonable(value):
    """NumPy scalars and arrays, paths and tuples as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in a record")


# --- fallback ------------------------------------------------------------------------------------------------


def save_record(results_dir, record: dict) -> Path:
    """:func:`write_record`, or keep the record elsewhere and raise :class:`RecordNotWritten` saying where."""
    try:
        return write_record(results_dir, record)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    text = record_json(record)
    try:
        saved = _write_fallback(text, record_stem(record))
    except OSError:
        sys.stdout.write(text)
        sys.stdout.flush()
        saved = None
    raise RecordNotWritten(results_dir, reason, saved)


def _write_fallback(text: str, stem: str) -> Path:
    """A new file ``rnnbench-record-<stem>-<random>.json`` in the temp directory (never an existing one)."""
    folder = Path(tempfile.gettempdir())
    names = (folder / f"rnnbench-record-{stem}-{secrets.token_hex(4)}.json" for _ in count())
    return write_new(folder, text, names, prefix=TMP_PREFIX + "rnnbench-")


# --- tolerant reader -----------------------------------------------------------------------------------------


def read_records(
    results_dir, schemas=(RUN_SCHEMA,), *, warn: bool = False, must_exist: bool = False
) -> list[tuple[Path, dict]]:
    """``(path, record)`` for every complete record of ``schemas`` (None: every known one), in file-name order.

    Hidden files (records still being written) are skipped; so are unreadable
    files and other schemas, each with a :class:`RecordWarning` when ``warn``.
    A missing folder is empty, or a one-line error when ``must_exist``.
    """
    folder = Path(results_dir).expanduser()
    if must_exist and not folder.exists():
        raise RnnbenchError(f"results directory {folder} does not exist; choose one with --results-dir")
    if must_exist and not folder.is_dir():
        raise RnnbenchError(f"{folder} is not a directory; --results-dir takes the folder of the records")
    wanted = set(KNOWN_SCHEMAS if schemas is None else schemas)
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):  # TMP_PREFIX: still being written
            continue
        record = _read(path, wanted, warn)
        if record is not None:
            found.append((path, record))
    return found


def _read(path: Path, wanted: set, warn: bool) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, a 5000-digit number
        if warn:
            warnings.warn(RecordWarning(f"skipped {path.name}: not readable JSON ({_reason(exc)})"), stacklevel=4)
        return None
    schema = record.get("schema") if isinstance(record, dict) else None
    if not isinstance(schema, str) or schema not in wanted:
        if warn and not (isinstance(schema, str) and schema in KNOWN_SCHEMAS):
            shown = schema if isinstance(record, dict) else type(record).__name__
            warnings.warn(RecordWarning(f"skipped {path.name}: unknown schema {shown!r}"), stacklevel=4)
        return None
    return record


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return getattr(exc, "strerror", None) or str(exc)
