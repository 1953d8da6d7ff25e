"""``rnnbench report`` over damaged records: a record it cannot interpret is one warning naming the file, the rest
are reported, and nothing but the one-line error ever leaves ``cli.main``.

The fuzz starts from valid run, longrange, check and bench records and damages one of them (keys deleted, values
replaced by JSON of other types, anywhere in the nesting); the failing examples it found are kept below as
ordinary tests.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnbench.cli import main

from report_fixtures import bench_record, bench_row, check_record, check_row, longrange_record, run_record

BASE = json.loads(
    json.dumps(  # through JSON: no two records share a nested object, as no two files do
        [run_record(seed=s, test=0.8) for s in range(2)]
        + [
            longrange_record(
                model=m,
                seq_len=20,
                seed=0,
                gradient_flow=[
                    {"step": 0, "norms": [0.9 ** (20 - t) for t in range(1, 21)]},
                    {"step": 50, "norms": [1.0] * 20},
                ],
            )
            for m in ("rnn", "lstm")
        ]
        + [
            check_record([check_row(), check_row(backend="numpy", max_rel=float("nan"), error="boom")]),
            bench_record([bench_row(), bench_row(backend="numpy", structure="tree", trees=4, nodes=30)]),
        ]
    )
)
FORMATS = [
    ["--format", "text"],
    ["--format", "markdown"],
    ["--format", "html"],
    ["--format", "csv", "--table", "accuracy"],
    ["--format", "csv", "--table", "longrange"],
]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**12) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _paths(value, prefix=()):
    """Every place in a record: dict keys and list positions, nested."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _mutate(record, path, new, delete):
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new


def _report(records, argv) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as folder:
        for n, record in enumerate(records):
            Path(folder, f"{n:03d}_record.json").write_text(json.dumps(record), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["report", "--results-dir", folder, *argv])
    return code, out.getvalue(), err.getvalue()


def _assert_reported(code, out, err, argv, damaged: int):
    """Exit 0 (1 only for a one-table csv whose only source was damaged), no traceback; warnings name a file."""
    assert code in ((0, 1) if "csv" in argv else (0,)), err
    assert "Traceback" not in err and "rnnbench: error" not in err, err
    if code == 0:
        assert out.strip()
    for line in err.splitlines():
        if line.startswith("warning: "):
            assert line.startswith(f"warning: skipped {damaged:03d}_record.json: "), line


@st.composite
def damaged_records(draw):
    records = copy.deepcopy(BASE)
    index = draw(st.integers(0, len(records) - 1))
    for _ in range(draw(st.integers(1, 3))):
        paths = sorted(_paths(records[index]), key=repr)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _mutate(records[index], path, draw(JSON), delete=draw(st.booleans()))
    return index, records


def _fast_charts():
    """Charts built from the records as usual but not rendered to SVG (seconds each with matplotlib): what is
    fuzzed here is reading the records; the explicit cases below render for real."""
    from unittest import mock

    from rnnbench.report import figures

    def closed(fig):
        import matplotlib.pyplot as plt

        plt.close(fig)
        return "<svg></svg>"

    return mock.patch.object(figures, "to_svg", closed, create=True)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged=damaged_records(), argv=st.sampled_from(FORMATS))
def test_one_damaged_record_never_breaks_the_report(damaged, argv):
    index, records = damaged
    with _fast_charts():
        code, out, err = _report(records, argv)
    _assert_reported(code, out, err, argv, index)


# -- examples the fuzz found, kept as ordinary tests ----------------------------------------------------------------


def _damaged(index, *changes):
    records = copy.deepcopy(BASE)
    for path, value in changes:
        _mutate(records[index], path, value, delete=value is _DELETE)
    return records


_DELETE = object()

#: (index of the damaged record in BASE, [(path, new value or _DELETE)]): the brief's cases and the fuzz's finds.
FOUND = {
    "best a string": (0, [(("best",), "high")]),
    "task missing": (0, [(("task",), _DELETE)]),
    "machine a string": (0, [(("machine",), "laptop")]),
    "versions a number": (0, [(("versions",), 7)]),
    "seed missing": (1, [(("seed",), None)]),
    "started_at a number": (1, [(("started_at",), 10**13)]),
    "metric an object": (2, [(("metric",), {"a": False})]),
    "test a list": (2, [(("best", "test"), [])]),
    "epochs a dict": (2, [(("epochs",), {"1": 0.5})]),
    "an epoch a number": (2, [(("epochs", 1), 10**13)]),
    "a probe without its step": (2, [(("gradient_flow", 1, "step"), _DELETE)]),
    "a norm that is text": (3, [(("gradient_flow", 0, "norms", 3), "")]),
    "config a list": (3, [(("config",), [{}])]),
    "schema an object": (3, [(("schema",), {})]),
    "rows not a list": (4, [(("rows",), "all passed")]),
    "a check row a number": (4, [(("rows", 1), 1.5)]),
    "tolerance text": (4, [(("rows", 1, "tolerance"), "x")]),
    "bench rows not a list": (5, [(("rows",), 3)]),
    "batch an object": (5, [(("rows", 0, "batch"), {"norms": True})]),
    "device a list": (5, [(("rows", 1, "device"), [1, "abc"])]),
    "median a list": (5, [(("rows", 0, "median_s"), [[]])]),
}
#: A title of each section, and the records it reads.
SECTIONS = {
    "Accuracy": {0, 1, 2, 3},
    "Long-range dependencies": {2, 3},
    "Parity with the NumPy reference": {4},
    "Speed": {5},
}


#: The cases whose damage lies in what the HTML charts draw: rendered for real, in HTML too.
CHARTED = [
    "test a list",
    "epochs a dict",
    "an epoch a number",
    "a probe without its step",
    "a norm that is text",
    "batch an object",
    "device a list",
    "median a list",
]


_SHAPE_CASES = [(n, a) for n in FOUND for a in FORMATS[:2]] + [(n, FORMATS[2]) for n in CHARTED]


@pytest.mark.parametrize("name,argv", [pytest.param(name, argv, id=f"{name}-{argv[1]}") for name, argv in _SHAPE_CASES])
def test_a_record_of_the_wrong_shape_is_one_warning_and_the_rest_are_reported(name, argv):
    index, changes = FOUND[name]
    code, out, err = _report(_damaged(index, *changes), argv)
    _assert_reported(code, out, err, argv, index)
    assert err.count("warning: ") == 1 and f"warning: skipped {index:03d}_record.json: " in err, err
    for title, sources in SECTIONS.items():
        assert (title in out) == bool(sources - {index}), title  # every section another record feeds is there
