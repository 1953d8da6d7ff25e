"""The fields the report reads from each kind of record, and the types it reads them as.

A record of a known schema can still hold a value of the wrong type (edited
by hand, written by another version): :func:`record_problem` names the first
such field, so that the frame skips that record with one warning instead of
letting it break every table. Fields the report does not read are not checked;
``None`` stands for "absent" wherever a field is not marked required.
"""
from __future__ import annotations


def _text(value) -> bool:
    """text"""
    return isinstance(value, str)


def _number(value) -> bool:
    """a number"""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value) -> bool:
    """an integer"""
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar(value) -> bool:
    """a plain value"""
    return isinstance(value, (str, int, float, bool))


class Required:
    """A field that must be present (not None) for the record to be placed in any table."""

    def __init__(self, spec):
        self.spec = spec


class Each:
    """An object with any keys, each value as ``spec``."""

    def __init__(self, spec):
        self.spec = spec


TEXT, NUMBER, INTEGER, SCALAR = _text, _number, _integer, _scalar

_COMMON = {
    "started_at": TEXT, "error": TEXT,
    "machine": {"hostname": TEXT, "cpu_model": TEXT, "logical_cpus": INTEGER, "usable_cpus": INTEGER,
                "gpu": SCALAR, "python": TEXT},
    "git": {"commit": TEXT, "dirty": SCALAR},
    "versions": Each(SCALAR),
}

RUN = {
    **_COMMON,
    "task": Required(TEXT), "dataset": Required(TEXT), "backend": Required(TEXT), "model": TEXT,
    "seed": Required(INTEGER), "status": Required(TEXT), "metric": Required(TEXT),
    "metric_higher_is_better": SCALAR, "steps": NUMBER, "wall_seconds": NUMBER,
    "best": Required({"epoch": INTEGER, "dev": NUMBER, "test": NUMBER, "dev_metrics": {}, "test_metrics": {}}),
    "epochs": [{"epoch": Required(INTEGER), "mean_loss": NUMBER, "dev": NUMBER, "examples_per_s": NUMBER}],
    "gradient_flow": [{"step": Required(NUMBER), "norms": Required([NUMBER])}],
    "config": {"impl": TEXT, "device": TEXT, "threads": INTEGER, "hidden_size": INTEGER, "activation": TEXT,
               "problem": TEXT, "seq_len": INTEGER},
    "backend_info": {"impl": TEXT, "device": TEXT, "threads": INTEGER, "version": TEXT},
    "timing": {"train_examples_per_s": NUMBER, "step_median": NUMBER},
    "data": {"published": [{"model": SCALAR, "value": SCALAR, "metric": SCALAR, "source": SCALAR}]},
}

CHECK = {
    **_COMMON,
    "task": TEXT, "dataset": Required(TEXT), "status": TEXT,
    "config": {"device": TEXT, "threads": INTEGER},
    "rows": Required([{"backend": Required(TEXT), "impl": Required(TEXT), "case": Required(TEXT),
                       "dtype": Required(TEXT), "max_abs": NUMBER, "max_rel": NUMBER, "worst": TEXT,
                       "tolerance": NUMBER, "passed": SCALAR, "error": TEXT}]),
}

BENCH = {
    **_COMMON,
    "task": TEXT, "dataset": TEXT, "status": TEXT,
    "peak": {"gflops": NUMBER}, "peaks": Each({"gflops": NUMBER}),
    "rows": Required([{
        "kind": TEXT, "cell": Required(TEXT), "backend": Required(TEXT), "impl": TEXT, "device": TEXT,
        "dtype": TEXT, "pass": TEXT, "status": TEXT, "error": TEXT, "items_unit": TEXT, "warnings": [TEXT],
        "threads": INTEGER, "batch": INTEGER, "steps": INTEGER, "input": INTEGER, "hidden": INTEGER,
        "layers": INTEGER, "bidirectional": SCALAR,
        "trees": INTEGER, "nodes": INTEGER, "count": INTEGER,
        "median_s": NUMBER, "iqr_s": NUMBER, "min_s": NUMBER, "flops": NUMBER, "gflops_per_s": NUMBER,
        "peak_fraction": NUMBER, "items_per_s": NUMBER}]),
}

SHAPES = {"run": RUN, "check": CHECK, "bench": BENCH}


def record_problem(kind: str, record: dict) -> str | None:
    """``None`` when ``record`` fits what the report reads for ``kind``; else the first misfit, in words."""
    return _problem(record, SHAPES[kind], "the record")


def _problem(value, spec, where: str) -> str | None:
    if isinstance(spec, Required):
        if value is None:
            return f"{where} is missing"
        spec = spec.spec
    if value is None:
        return None
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{where} is {_kind(value)}, not an object"
        for key, inner in spec.items():
            problem = _problem(value.get(key), inner, key if where == "the record" else f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(spec, Each):
        if not isinstance(value, dict):
            return f"{where} is {_kind(value)}, not an object"
        return next((p for k, v in value.items() if (p := _problem(v, spec.spec, f"{where}.{k}"))), None)
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where} is {_kind(value)}, not a list"
        item = spec[0] if isinstance(spec[0], Required) else Required(spec[0])  # a list holds no gaps
        return next((p for i, v in enumerate(value) if (p := _problem(v, item, f"{where}[{i}]"))), None)
    return None if spec(value) else f"{where} is {_kind(value)}, not {spec.__doc__}"


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)
