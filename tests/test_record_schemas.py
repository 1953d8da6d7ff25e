"""Issue 24 item 5: one declared, versioned schema a kind of record, in rnnbench/records.py.

Every committed record fits its schema and declares nothing its schema does not; a record made here by
each writer (``rnnbench run``, a sweep's stand-in, ``rnnbench check``, ``rnnbench bench`` in its modes) does
too, so a writer that adds a field without declaring it fails here. The report stays tolerant: an extra
field is fine, a field of the wrong type skips its record with one warning naming the field.
"""

from __future__ import annotations

import copy
import functools
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnnbench import cli, records
from rnnbench.records import (
    BENCH_SCHEMA,
    CHECK_SCHEMA,
    KNOWN_SCHEMAS,
    RUN_SCHEMA,
    SCHEMA_BY_NAME,
    SCHEMAS,
    Each,
    Loose,
    Open,
    OrNull,
    Required,
    read_records,
    record_problem,
    undeclared_fields,
)

from text_fixtures import sentiment_texts, write_user_file

RESULTS = Path(__file__).resolve().parents[1] / "results"
TINY = ["--embed-size", "4", "--hidden-size", "4", "--no-progress"]


def _fits(record: dict) -> None:
    """``record`` fits its schema, and its schema declares every field it holds."""
    assert record_problem(record, strict=True) is None, record_problem(record, strict=True)
    assert undeclared_fields(record) == [], undeclared_fields(record)[:20]


@functools.lru_cache(maxsize=None)
def _committed_records() -> tuple:
    return tuple(read_records(RESULTS, schemas=None))


def _committed(kind: str) -> dict:
    """A committed record of ``kind`` (a fresh copy)."""
    return copy.deepcopy(next(r for _, r in _committed_records() if KNOWN_SCHEMAS[r["schema"]] == kind))


# ------------------------------------------------------------------------------------------ the declarations


def test_known_schemas_and_the_written_versions_derive_from_the_declarations():
    assert KNOWN_SCHEMAS == {"rnnbench.run/1": "run", "rnnbench.check/1": "check", "rnnbench.bench/1": "bench"}
    assert (RUN_SCHEMA, CHECK_SCHEMA, BENCH_SCHEMA) == ("rnnbench.run/1", "rnnbench.check/1", "rnnbench.bench/1")
    assert KNOWN_SCHEMAS == {s.name: s.kind for s in SCHEMAS} and len(SCHEMA_BY_NAME) == len(SCHEMAS)
    for schema in SCHEMAS:
        assert schema.name == f"rnnbench.{schema.kind}/{schema.version}"
        assert isinstance(schema.fields["schema"], Required)
    from rnnbench.bench import record as bench_record

    assert bench_record.SCHEMA == BENCH_SCHEMA


def test_the_type_vocabulary():
    schema = records.Schema(
        "toy",
        1,
        {
            "schema": Required(records.TEXT),
            "n": Required(records.INTEGER),
            "x": records.NUMBER,
            "flag": records.BOOLEAN,
            "tags": [records.TEXT],
            "gaps": [OrNull(records.NUMBER)],
            "by": Each(records.TEXT),
            "nested": {"a": records.TEXT},
            "open": Open({"a": records.INTEGER}),
            "loose": Loose([records.NUMBER]),
        },
    )
    records.SCHEMA_BY_NAME[schema.name] = schema
    try:
        good = {
            "schema": schema.name,
            "n": 1,
            "x": 1.5,
            "flag": True,
            "tags": ["a"],
            "gaps": [1, None],
            "by": {"k": "v"},
            "nested": {"a": "b"},
            "open": {"a": 1, "anything": [1, {}]},
        }
        assert record_problem(good) is None and undeclared_fields(good) == []
        assert record_problem({**good, "x": None}) is None  # an optional field may be null or absent
        for change, problem in [
            ({"n": None}, "n is missing"),
            ({"n": 1.5}, "n is a number, not an integer"),
            ({"x": True}, "x is true/false, not a number"),
            ({"flag": 1}, "flag is a number, not true/false"),
            ({"tags": ["a", None]}, "tags[1] is missing"),
            ({"tags": "a"}, "tags is text, not a list"),
            ({"gaps": [None, "1"]}, "gaps[1] is text, not a number"),
            ({"by": {"k": 2}}, "by.k is a number, not text"),
            ({"nested": {"a": []}}, "nested.a is a list, not text"),
            ({"open": {"a": "1"}}, "open.a is text, not an integer"),
            ({"nested": 3}, "nested is a number, not an object"),
        ]:
            assert record_problem({**good, **change}) == problem, change
        # a loose field: the writers are held to its type, the reader lets another value through
        assert record_problem({**good, "loose": "x"}) is None
        assert record_problem({**good, "loose": [1, "x"]}, strict=True) == "loose[1] is text, not a number"
        assert record_problem({**good, "loose": [1.5]}, strict=True) is None
        assert sorted(undeclared_fields({**good, "new": 1, "nested": {"a": "b", "new": 2}})) == ["nested.new", "new"]
    finally:
        del records.SCHEMA_BY_NAME[schema.name]
    assert record_problem({"schema": "rnnbench.run/9"}) == "not a record of a known schema"


# ------------------------------------------------------------------------------------------ committed records


def test_every_committed_record_fits_its_schema_and_declares_every_field():
    found = _committed_records()
    assert len(found) > 100 and {r["schema"] for _, r in found} == set(KNOWN_SCHEMAS)
    misfits = {p.name: record_problem(r, strict=True) for p, r in found if record_problem(r, strict=True)}
    assert not misfits, misfits
    undeclared = {p.name: undeclared_fields(r)[:5] for p, r in found if undeclared_fields(r)}
    assert not undeclared, undeclared


# ------------------------------------------------------------------------------------------ each writer


def test_a_run_record_fits_and_declares_every_field(tmp_path, capsys):
    toy = write_user_file(tmp_path / "toy.tsv", sentiment_texts(60))
    results = tmp_path / "results"
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            str(toy),
            "--results-dir",
            str(results),
            "--max-steps",
            "2",
            "--epochs",
            "1",
            "--eval-every",
            "1",
            *TINY,
        ]
    )
    assert code == 0, capsys.readouterr().err
    ((_, record),) = read_records(results)
    assert record["schema"] == RUN_SCHEMA and record["evals"] and record["epochs"]
    _fits(record)


def test_a_sweeps_stand_in_run_record_fits_and_declares_every_field():
    from rnnbench.sweep.stand_in import stand_in_record

    config = SimpleNamespace(
        task="textclf",
        backend="numpy",
        seed=3,
        resolved={"dataset": "trec", "model": "lstm"},
        argv=lambda: ["run", "--task", "textclf", "--backend", "numpy"],
    )
    for node in (None, "worker-1 (10.0.0.2)"):
        record = stand_in_record(config, "failed", "the worker died", started=0.0, finished=1.5, node=node)
        assert record["schema"] == RUN_SCHEMA
        _fits(json.loads(records.record_json(record)))


def test_a_check_record_fits_and_declares_every_field(tmp_path, capsys):
    results = tmp_path / "results"
    code = cli.main(["check", "--backend", "numpy", "--cells", "rnn", "--results-dir", str(results)])
    assert code == 0, capsys.readouterr().out
    ((_, record),) = read_records(results, schemas=(CHECK_SCHEMA,))
    assert record["rows"]
    _fits(record)


BENCH_MODES = {  # mode -> its options (small sizes, numpy only)
    "grid": [
        "--cells",
        "lstm,treelstm",
        "--sizes",
        "2x3x4x5,2x3x4x5:L2:bi",
        "--tree-sizes",
        "2x4x5",
        "--pass",
        "forward",
        "--min-samples",
        "3",
        "--budget",
        "0",
    ],
    "overhead": [
        "--overhead",
        "--cells",
        "rnn",
        "--sizes",
        "2x3x4x5",
        "--pass",
        "forward",
        "--min-samples",
        "3",
        "--budget",
        "0",
    ],
    "train": ["--train", "--train-batches", "2", "--train-rounds", "2"],
    "lengths": [
        "--suite",
        "lengths",
        "--datasets",
        "trec",
        "--strategies",
        "bucketed,packed",
        "--token-budget",
        "64",
        "--budget",
        "0",
    ],
}


BENCH_KINDS = {"grid": {"sequence", "tree"}, "overhead": {"sequence"}, "train": {"train"}, "lengths": {"lengths"}}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", list(BENCH_MODES))
def test_a_bench_record_fits_and_declares_every_field(mode, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "no-data"))  # synthetic trees, texts and lengths
    if mode == "train":
        import rnnbench.bench.train as train

        small = train.synthetic_batches
        monkeypatch.setattr(
            train, "synthetic_batches", lambda count, vocab, batch, length, seed=0: small(count, vocab, 4, 12, seed)
        )
    results = tmp_path / "results"
    code = cli.main(
        [
            "bench",
            "--backends",
            "numpy",
            "--threads",
            "1",
            "--peak-frameworks",
            "numpy",
            "--settle",
            "0",
            "--offline",
            "--results-dir",
            str(results),
            *BENCH_MODES[mode],
        ]
    )
    assert code == 0, capsys.readouterr()
    ((_, record),) = read_records(results, schemas=(BENCH_SCHEMA,))
    rows = record["rows"]
    assert rows and all(row["status"] in ("ok", "unsupported") for row in rows), [row["error"] for row in rows]
    assert {row["kind"] for row in rows} == BENCH_KINDS[mode]
    if mode == "grid":
        assert any(row.get("layers") == 2 and row.get("bidirectional") for row in rows)
    if mode == "overhead":
        assert all(row["overhead"] for row in rows)
    if mode == "lengths":
        assert {row["padding_path"] for row in rows} == {"mask", "pack"}
    _fits(record)


# ------------------------------------------------------------------------------------------ what the tests catch


def test_a_field_a_writer_adds_without_declaring_it_is_named():
    for kind in ("run", "check", "bench"):
        record = _committed(kind)
        record["planted"] = 1
        if kind == "run":
            record["epochs"][0]["planted_too"] = "x"
        else:
            record["rows"][1]["planted_too"] = "x"
        where = "epochs[0]" if kind == "run" else "rows[1]"
        assert sorted(undeclared_fields(record)) == sorted(["planted", f"{where}.planted_too"])
        assert record_problem(record) is None  # the reader does not mind


PLANTED = {  # kind -> (path to the field, a value of the wrong type, the problem named)
    "run": (("best", "dev"), "0.9", "best.dev is text, not a number"),
    "check": (("rows", 1, "tolerance"), "x", "rows[1].tolerance is text, not a number"),
    "bench": (("rows", 0, "peak_bytes"), 1.5, "rows[0].peak_bytes is a number, not an integer"),
}


@pytest.mark.parametrize("kind", list(PLANTED))
def test_a_planted_wrong_type_skips_its_record_with_one_warning_naming_the_field(kind, tmp_path):
    from rnnbench.report import load_results

    keys, value, problem = PLANTED[kind]
    record = _committed(kind)
    target = record
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    assert record_problem(record) == problem
    good = _committed(kind)
    good["a_field_from_a_newer_writer"] = {"anything": [1]}  # an extra field is fine
    (good["rows"][0] if kind != "run" else good)["another_new_one"] = 1
    (tmp_path / "bad.json").write_text(records.record_json(record))
    (tmp_path / "good.json").write_text(records.record_json(good))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load_results(tmp_path)
    messages = [str(w.message) for w in caught if issubclass(w.category, records.RecordWarning)]
    assert messages == [f"skipped bad.json: not a {kind} record the report can read ({problem})"]
    assert set(frame["path"]) == {str(tmp_path / "good.json")}
