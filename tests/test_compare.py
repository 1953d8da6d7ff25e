"""``rnnbench compare A B``: B against A row by row, beyond noise (issue 20 item 7), on synthetic sample sets.

Every sample set is drawn from a seeded lognormal (timing noise is skewed) and written as a bench record in a
tmp folder; nothing is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import one_line_error
from report_fixtures import bench_record, bench_row, run_record, write_records

pytest.importorskip("pandas")
pytest.importorskip("scipy")

CONFIGS = [("torch", "lstm"), ("numpy", "lstm"), ("torch", "gru")]


def _row(backend, cell, samples, **fields):
    row = bench_row(backend=backend, cell=cell, median_s=float(np.median(samples)), **fields)
    row.update(samples_s=[float(s) for s in samples], count=len(samples))
    return row


def _samples(seed, median=0.01, n=20, sigma=0.03):
    return median * np.exp(np.random.default_rng(seed).normal(0.0, sigma, n))


def _bench_dir(folder, scale=None, seed=0, configs=CONFIGS, sigma=0.03, **record):
    """One bench record: each configuration's samples drawn from its own seed; ``scale`` multiplies some."""
    scale = scale or {}
    rows = [_row(b, c, _samples(seed + i, sigma=sigma) * scale.get((b, c), 1.0)) for i, (b, c) in enumerate(configs)]
    return write_records(folder, [bench_record(rows, **record)])


def _verdicts(out: str) -> dict:
    document = json.loads(out)
    return {
        row["configuration"].split(" threads=2 ")[1] + " " + row["configuration"].split()[0]: row["verdict"]
        for row in document["rows"]
    }


def test_identical_sample_sets_are_same_and_exit_0(tmp_path, rnnbench_cli):
    a, b = _bench_dir(tmp_path / "a"), _bench_dir(tmp_path / "b")
    result = rnnbench_cli("compare", a, b, "--fail-on-regression", "--format", "json")
    assert result.code == 0, result.err
    assert _verdicts(result.out) == {
        "torch native lstm": "same",
        "numpy native lstm": "same",
        "torch native gru": "same",
    }
    assert all(row["ratio"] == 1.0 and row["p_value"] == 1.0 for row in json.loads(result.out)["rows"])


def test_one_row_25_percent_slower_is_the_only_slower_row_and_fails_the_gate(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a")
    b = _bench_dir(tmp_path / "b", scale={("numpy", "lstm"): 1.25})
    result = rnnbench_cli("compare", a, b, "--fail-on-regression", "--format", "json")
    assert result.code == 1, result.err
    assert _verdicts(result.out) == {
        "torch native lstm": "same",
        "numpy native lstm": "slower",
        "torch native gru": "same",
    }
    slower = [r for r in json.loads(result.out)["rows"] if r["verdict"] == "slower"][0]
    assert slower["ratio"] == pytest.approx(1.25) and slower["lo"] < 1.25 < slower["hi"] and slower["p_value"] < 1e-6
    assert "1 regression(s) of 3 row(s)" in result.err
    assert rnnbench_cli("compare", a, b).code == 0  # without the gate it only reports
    table = rnnbench_cli("compare", a, b)
    assert "slower" in table.out and "1.250x" in table.out and "+25.0%" in table.out
    faster = rnnbench_cli("compare", b, a, "--fail-on-regression", "--format", "json")  # the other way round
    assert faster.code == 0 and _verdicts(faster.out)["numpy native lstm"] == "faster"


def test_a_2_percent_shift_with_realistic_noise_is_same(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a", sigma=0.05)
    b = _bench_dir(tmp_path / "b", seed=100, sigma=0.05, scale={c: 1.02 for c in CONFIGS})  # fresh noise, +2%
    result = rnnbench_cli("compare", a, b, "--fail-on-regression", "--format", "json")
    assert result.code == 0, result.err
    assert set(_verdicts(result.out).values()) == {"same"}
    # the same shift counts once the threshold is below it and the samples are many and quiet
    a = _bench_dir(tmp_path / "c", sigma=0.005)
    b = _bench_dir(tmp_path / "d", seed=100, sigma=0.005, scale={c: 1.02 for c in CONFIGS})
    result = rnnbench_cli("compare", a, b, "--threshold", "1", "--fail-on-regression", "--format", "json")
    assert result.code == 1 and set(_verdicts(result.out).values()) == {"slower"}


def test_rows_of_one_side_only_are_listed(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a", configs=CONFIGS[:2])
    b = _bench_dir(tmp_path / "b", configs=CONFIGS[1:])
    result = rnnbench_cli("compare", a, b)
    assert result.code == 0, result.err
    only_a = [line for line in result.out.splitlines() if f"only in {a}:" in line]
    only_b = [line for line in result.out.splitlines() if f"only in {b}:" in line]
    assert len(only_a) == 1 and "lstm" in only_a[0] and "torch native" in only_a[0]
    assert len(only_b) == 1 and "gru" in only_b[0] and "torch native" in only_b[0]
    document = json.loads(rnnbench_cli("compare", a, b, "--format", "json").out)
    assert [r["configuration"].split()[-2:] + [r["configuration"].split()[0]] for r in document["only_in_a"]] == [
        ["torch", "native", "lstm"]
    ]
    assert [r["kind"] for r in document["only_in_b"]] == ["speed"] and len(document["rows"]) == 1


def test_no_row_in_common_is_one_line_and_exit_2(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a", configs=CONFIGS[:1])
    b = _bench_dir(tmp_path / "b", configs=CONFIGS[1:])
    result = rnnbench_cli("compare", a, b, "--fail-on-regression")
    one_line_error(result.code, result.err, "no row in common", "nothing to compare")
    assert result.out == ""


def test_malformed_empty_and_foreign_files_are_one_line_each(tmp_path, rnnbench_cli):
    a, b = _bench_dir(tmp_path / "a"), _bench_dir(tmp_path / "b")
    (b / "broken.json").write_text('{"schema": "rnnbench.bench/1", "rows": [', encoding="utf-8")
    (b / "empty.json").write_text("", encoding="utf-8")
    (b / "foreign.json").write_text(json.dumps({"schema": "someone.else/3", "rows": []}), encoding="utf-8")
    (b / "misshapen.json").write_text(json.dumps({"schema": "rnnbench.bench/1", "rows": "many"}), encoding="utf-8")
    result = rnnbench_cli("compare", a, b, "--fail-on-regression")
    assert result.code == 0
    assert "Traceback" not in result.err
    skipped = [line for line in result.err.splitlines() if line.startswith("warning: ")]
    assert len(skipped) == len(result.err.splitlines()) == 4, result.err
    for name in ("broken.json", "empty.json", "foreign.json", "misshapen.json"):
        assert sum(name in line for line in skipped) == 1, (name, result.err)
    # a side with nothing readable at all, and a path that does not exist: one line, exit 2
    lone = tmp_path / "empty.json"
    lone.write_text("", encoding="utf-8")
    result = rnnbench_cli("compare", a, lone)
    assert result.code == 2 and result.err.splitlines()[-1].startswith("rnnbench: error: ")
    assert "holds no record" in result.err and len(result.err.splitlines()) == 2
    one_line_error(*rnnbench_cli("compare", a, tmp_path / "nowhere")[::2], "nowhere", "does not exist")
    one_line_error(*rnnbench_cli("compare", a)[::2], "two paths")


def test_record_files_compare_as_directories_do(tmp_path, rnnbench_cli):
    a = next(_bench_dir(tmp_path / "a").glob("*.json"))
    b = next(_bench_dir(tmp_path / "b", scale={("torch", "gru"): 0.7}).glob("*.json"))
    result = rnnbench_cli("compare", a, b, "--format", "json")
    assert result.code == 0 and _verdicts(result.out)["torch native gru"] == "faster"


def test_json_fields(tmp_path, rnnbench_cli):
    a, b = _bench_dir(tmp_path / "a"), _bench_dir(tmp_path / "b", scale={("torch", "lstm"): 1.1})
    document = json.loads(rnnbench_cli("compare", a, b, "--threshold", "3", "--format", "json").out)
    assert {"a", "b", "rev", "threshold", "alpha", "rows", "regressions", "only_in_a", "only_in_b", "notes"} <= set(
        document
    )
    assert document["threshold"] == pytest.approx(0.03) and document["alpha"] == 0.01 and document["rev"] is None
    row = document["rows"][0]
    assert set(row) == {
        "kind",
        "configuration",
        "a",
        "b",
        "n_a",
        "n_b",
        "ratio",
        "lo",
        "hi",
        "change",
        "p_value",
        "verdict",
        "regression",
        "stable_a",
        "stable_b",
    }
    assert row["stable_a"] is None and row["stable_b"] is None  # records from before the stability verdicts
    assert row["kind"] == "speed" and row["n_a"] == row["n_b"] == 20
    assert row["ratio"] == pytest.approx(row["b"] / row["a"]) == pytest.approx(1.1)
    assert row["verdict"] == "slower" and row["regression"] is True and document["regressions"] == 1


def test_old_rows_without_samples_get_the_ratio_alone_and_a_note(tmp_path, rnnbench_cli):
    def old(folder, median):
        row = bench_row(median_s=median)
        del row["samples_s"]
        return write_records(folder, [bench_record([row])])

    result = rnnbench_cli(
        "compare", old(tmp_path / "a", 0.010), old(tmp_path / "b", 0.012), "--fail-on-regression", "--format", "json"
    )
    assert result.code == 1
    document = json.loads(result.out)
    assert document["rows"][0]["p_value"] is None and document["rows"][0]["lo"] is None
    assert document["rows"][0]["verdict"] == "slower"
    assert any("without raw samples" in note and "threshold alone" in note for note in document["notes"])


def test_too_few_samples_never_count_and_say_so(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a", configs=CONFIGS[:1])
    b = _bench_dir(tmp_path / "b", configs=CONFIGS[:1], scale={CONFIGS[0]: 1.5})
    for folder in (a, b):  # three samples a side: the smallest two-sided p is 0.1
        path = next(folder.glob("*.json"))
        record = json.loads(path.read_text())
        record["rows"][0]["samples_s"] = record["rows"][0]["samples_s"][:3]
        path.write_text(json.dumps(record))
    document = json.loads(rnnbench_cli("compare", a, b, "--format", "json").out)
    assert document["rows"][0]["verdict"] == "same" and document["rows"][0]["ratio"] > 1.3
    assert any("too few samples" in note for note in document["notes"])


def test_rows_measured_unstable_are_marked(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a")
    b = _bench_dir(tmp_path / "b", scale={("numpy", "lstm"): 1.25})
    path = next(b.glob("*.json"))
    record = json.loads(path.read_text())
    record["rows"][1].update(stable=False, unstable_reasons=["other processes used 1.9 CPUs while it was sampled"])
    record["rows"][0]["stable"] = True
    record.update(stable=False, unstable_reasons=["1 of 3 rows unstable"])  # a count: no reason to doubt the others
    path.write_text(json.dumps(record))
    result = rnnbench_cli("compare", a, b, "--fail-on-regression")
    assert result.code == 1  # still counted: a gate does not wave a slowdown through
    marked = [line for line in result.out.splitlines() if line.startswith("lstm") and " !" in line]
    assert len(marked) == 1 and "numpy native" in marked[0] and "slower" in marked[0]
    assert "1 row(s) measured while their bench record judged them unstable" in result.out
    rows = json.loads(rnnbench_cli("compare", a, b, "--format", "json").out)["rows"]
    assert [(r["stable_a"], r["stable_b"]) for r in rows] == [(None, True), (None, False), (None, None)]
    record["unstable_reasons"].append("peak GEMM 60 GFLOP/s is 30% of this machine's best recorded 200 GFLOP/s")
    path.write_text(json.dumps(record))  # a reason of the record's own: every row of it is doubted
    rows = json.loads(rnnbench_cli("compare", a, b, "--format", "json").out)["rows"]
    assert [r["stable_b"] for r in rows] == [False, False, False]


def test_latest_measurement_of_a_configuration_counts(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a", started_at="2026-01-01T00:00:00+00:00", scale={("torch", "lstm"): 2.0})
    _bench_dir(a, started_at="2026-01-02T00:00:00+00:00", host="hostB")  # measured again, elsewhere, as in b
    b = _bench_dir(tmp_path / "b")
    document = json.loads(rnnbench_cli("compare", a, b, "--format", "json").out)
    assert len(document["rows"]) == 3 and {r["verdict"] for r in document["rows"]} == {"same"}


def test_an_accuracy_regression_fails_the_gate_and_report_compare_agrees(tmp_path, rnnbench_cli):
    a = write_records(tmp_path / "a", [run_record(seed=s, test=0.85) for s in range(2)])
    b = write_records(tmp_path / "b", [run_record(seed=s, test=0.82) for s in range(2)])
    result = rnnbench_cli("compare", a, b, "--fail-on-regression", "--format", "json")
    assert result.code == 1
    verdicts = {r["kind"]: r["verdict"] for r in json.loads(result.out)["rows"]}
    assert verdicts == {"accuracy": "worse", "throughput": "same"}
    assert rnnbench_cli("compare", a, b, "--accuracy-threshold", "5", "--fail-on-regression").code == 0
    report = rnnbench_cli("report", "--compare", a, b)
    assert report.code == 1 and "worse" in report.out and "-3.0 pt" in report.out


def test_report_compare_gives_the_same_speed_verdicts(tmp_path, rnnbench_cli):
    a = _bench_dir(tmp_path / "a")
    b = _bench_dir(tmp_path / "b", scale={("numpy", "lstm"): 1.25, ("torch", "gru"): 0.8})
    gate = json.loads(rnnbench_cli("compare", a, b, "--format", "json").out)
    report = rnnbench_cli("report", "--compare", a, b, "--format", "csv")
    assert report.code == 1
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(report.out)))
    assert {r["configuration"]: r["verdict"] for r in rows} == {r["configuration"]: r["verdict"] for r in gate["rows"]}
    assert sorted(r["verdict"] for r in rows) == ["faster", "same", "slower"]


# --- --rev: A from the records of another commit -----------------------------------------------------------------


def _git(repo, *args):
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def test_rev_reads_a_from_a_commit(tmp_path, rnnbench_cli, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    results = _bench_dir(repo / "results")
    (repo / "results" / "notes.txt").write_text("not a record")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "baseline")
    path = next(results.glob("*.json"))
    record = json.loads(path.read_text())
    record["rows"][1]["samples_s"] = [1.25 * s for s in record["rows"][1]["samples_s"]]
    record["rows"][1]["median_s"] *= 1.25
    path.write_text(json.dumps(record))  # the working tree's record is now slower than HEAD's
    monkeypatch.chdir(repo)
    result = rnnbench_cli("compare", "--rev", "HEAD", "results", "--fail-on-regression", "--format", "json")
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["a"] == "results@HEAD" and document["rev"] == "HEAD"
    assert _verdicts(result.out) == {
        "torch native lstm": "same",
        "numpy native lstm": "slower",
        "torch native gru": "same",
    }
    # A's path at the revision, then B; and a single committed file
    other = _bench_dir(tmp_path / "elsewhere")
    assert rnnbench_cli("compare", "--rev", "HEAD", "results", other, "--fail-on-regression").code == 0
    single = path.relative_to(repo)
    assert rnnbench_cli("compare", "--rev", "HEAD", single, "--fail-on-regression").code == 1
    one_line_error(*rnnbench_cli("compare", "--rev", "no-such-rev", "results")[::2], "no-such-rev", "not a commit")
    one_line_error(*rnnbench_cli("compare", "--rev", "HEAD", "missing")[::2], "missing", "does not exist")
    monkeypatch.chdir(tmp_path)  # not a repository
    one_line_error(*rnnbench_cli("compare", "--rev", "HEAD", other)[::2], "not inside a git repository")


def test_rev_without_git_is_one_line(tmp_path, rnnbench_cli, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    one_line_error(*rnnbench_cli("compare", "--rev", "HEAD", _bench_dir(tmp_path / "a"))[::2], "git")


# --- the command line --------------------------------------------------------------------------------------------


def test_help_imports_nothing_heavy():
    code = (
        "import sys, rnnbench.cli; rnnbench.cli.build_parser(); "
        "print(sorted(m for m in ('scipy', 'pandas', 'numpy', 'matplotlib', 'torch', 'tensorflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
    ).stdout
    assert out.strip() == "[]"


def test_compare_is_a_builtin_command_through_the_hook():
    from rnnbench import plugins

    assert "compare" in plugins.build_registry().commands
