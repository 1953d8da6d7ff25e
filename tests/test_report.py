"""``rnnbench report``: the frame, the four tables, comparisons, rendering and the command's messages.

Records are written by hand (tests/report_fixtures.py) with planted numbers,
so every assertion checks a value computed independently here. Tolerances:
means and standard deviations to 1e-12 (plain float arithmetic on three
values), ratios to 1e-12.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("pandas", reason="rnnbench report needs pandas")

from rnnbench.cli import main
from rnnbench.errors import RnnbenchError
from rnnbench.records import RecordWarning
from rnnbench.report.accuracy import accuracy_section
from rnnbench.report.compare import compare
from rnnbench.report.frame import load_results
from rnnbench.report.parity import parity_section
from rnnbench.report.speed import speed_section
from rnnbench.tasks.longrange.report import longrange_section

from report_fixtures import (
    bench_record,
    bench_row,
    check_record,
    check_row,
    longrange_record,
    run_record,
    write_records,
)

REPO_RESULTS = Path(__file__).resolve().parent.parent / "results"


def _only_row(frame, **where):
    for column, value in where.items():
        frame = frame[frame[column] == value]
    assert len(frame) == 1, f"expected one row for {where}, found {len(frame)}"
    return frame.iloc[0]


# --- the frame -------------------------------------------------------------------------------------------------


def test_frame_has_one_row_per_run_check_row_and_bench_row(tmp_path):
    write_records(
        tmp_path,
        [
            run_record(seed=0),
            run_record(seed=1),
            check_record([check_row(), check_row(dtype="float64", tolerance=1e-10, max_rel=1e-15)]),
            bench_record([bench_row(), bench_row(backend="numpy"), bench_row(backend="tensorflow")]),
        ],
    )
    frame = load_results(tmp_path)
    assert frame["kind"].value_counts().to_dict() == {"run": 2, "check": 2, "bench": 3}
    run = _only_row(frame, kind="run", seed=1)
    assert (run["task"], run["dataset"], run["model"], run["backend"], run["impl"]) == (
        "textclf",
        "trec",
        "lstm",
        "torch",
        "native",
    )
    assert run["host"] == "hostA" and run["version_numpy"] == "2.4.6" and run["threads"] == 2
    assert run["record"]["epochs"][1]["dev"] == 0.8  # the raw record stays reachable for plots
    assert Path(run["path"]).exists()
    assert set(frame.loc[frame["kind"] == "bench", "backend"]) == {"torch", "numpy", "tensorflow"}


def test_corrupt_unknown_and_temporary_files_are_skipped_with_a_warning(tmp_path):
    write_records(tmp_path, [run_record()])
    (tmp_path / "broken.json").write_text('{"schema": "rnnbench.run/1", "task": ', encoding="utf-8")
    (tmp_path / "other.json").write_text('{"schema": "someone.else/3"}', encoding="utf-8")
    (tmp_path / ".tmp-abc.json").write_text("half a rec", encoding="utf-8")
    with pytest.warns(RecordWarning) as caught:
        frame = load_results(tmp_path)
    messages = sorted(str(w.message) for w in caught)
    assert len(frame) == 1
    assert len(messages) == 2
    assert "broken.json" in messages[0] and "not readable JSON" in messages[0]
    assert "other.json" in messages[1] and "someone.else/3" in messages[1]


def test_filters_accept_one_value_a_comma_list_or_a_list(tmp_path):
    write_records(
        tmp_path, [run_record(backend=b, model=m) for b in ("numpy", "torch", "tensorflow") for m in ("rnn", "lstm")]
    )
    assert set(load_results(tmp_path, backend="numpy")["backend"]) == {"numpy"}
    assert len(load_results(tmp_path, backend="numpy,torch", model="lstm")) == 2
    assert len(load_results(tmp_path, backend=["tensorflow"], model=["rnn", "lstm"])) == 2
    assert len(load_results(tmp_path, threads="2")) == 6  # numbers match as typed on the command line
    assert len(load_results(tmp_path, backend="t*")) == 4  # shell patterns: torch and tensorflow
    assert load_results(tmp_path, backend="jax").empty
    with pytest.raises(RnnbenchError, match="cannot filter on 'colour'"):
        load_results(tmp_path, colour="red")


# --- accuracy ------------------------------------------------------------------------------------------------


def test_accuracy_is_mean_and_sample_sd_over_seeds(tmp_path):
    tests = [0.80, 0.82, 0.87]
    write_records(
        tmp_path,
        [run_record(seed=s, dev=0.9 - s / 100, test=t) for s, t in enumerate(tests)]
        + [run_record(model="gru", seed=0, dev=0.7, test=0.71)],
    )
    section = accuracy_section(load_results(tmp_path))
    lstm = _only_row(section.frame, model="lstm")
    assert lstm["n"] == 3 and lstm["seeds"] == "0,1,2"
    assert lstm["test_mean"] == pytest.approx(statistics.mean(tests), abs=1e-12)
    assert lstm["test_sd"] == pytest.approx(statistics.stdev(tests), abs=1e-12)  # sample sd (n - 1)
    assert lstm["dev_mean"] == pytest.approx(0.89, abs=1e-12)
    printed = {row[1]: row for row in section.blocks[0].rows}
    assert section.blocks[0].header[5:7] == ["dev accuracy %", "test accuracy %"]
    assert printed["lstm"][4:7] == ["3", "89.0 ± 1.0", "83.0 ± 3.6"]
    assert printed["gru"][4:7] == ["1", "70.0", "71.0"]  # one seed: no spread is shown


def test_seeds_of_different_configurations_are_never_averaged(tmp_path):
    write_records(
        tmp_path,
        [
            run_record(seed=0, test=0.80, config={"hidden_size": 128}),
            run_record(seed=1, test=0.90, config={"hidden_size": 256}),
            run_record(seed=2, test=0.84, config={"hidden_size": 256, "threads": 1}),
        ],
    )
    frame = accuracy_section(load_results(tmp_path)).frame
    assert len(frame) == 2
    small, large = _only_row(frame, variant="defaults"), _only_row(frame, variant="hidden 256")
    assert (small["n"], large["n"]) == (1, 2)  # the thread count does not split a configuration
    assert large["test_mean"] == pytest.approx(0.87, abs=1e-12)


def test_an_explicit_default_and_an_omitted_option_are_one_variant(tmp_path):
    write_records(
        tmp_path,
        [
            run_record(seed=0, test=0.80, config={"max_length": 40, "probe_steps": "none"}),
            run_record(seed=1, test=0.90),
            run_record(seed=2, test=0.85, config={"max_length": 60}),
        ],
    )
    frame = accuracy_section(load_results(tmp_path)).frame  # trec's default max_length is 40
    assert sorted(frame["variant"]) == ["defaults", "max length 60"]
    assert _only_row(frame, variant="defaults")["n"] == 2


def test_a_seed_run_again_counts_once_and_each_metric_gets_its_own_table(tmp_path):
    write_records(
        tmp_path,
        [
            run_record(seed=0, test=0.70, started_at="2026-11-27T08:00:00Z"),
            run_record(seed=0, test=0.80, started_at="2026-11-27T09:00:00Z"),
            run_record(seed=1, test=0.90),
            longrange_record(problem="adding"),
            run_record(
                task="longrange",
                dataset="copy",
                metric="xent",
                higher_is_better=False,
                dev=0.2,
                test=0.3,
                config={"problem": "copy", "seq_len": 100},
            ),
        ],
    )
    section = accuracy_section(load_results(tmp_path))
    row = _only_row(section.frame, task="textclf")
    assert row["n"] == 2 and row["test_mean"] == pytest.approx(0.85, abs=1e-12)
    assert any("1 run(s) repeated with the same seed" in note for note in section.notes)
    assert [b.title for b in section.blocks] == [
        "longrange: mse, lower is better",
        "longrange: xent, lower is better",
        "textclf: accuracy in %",
    ]


def test_extra_metrics_and_published_figures_sit_beside_ours(tmp_path):
    published = [
        {"source": "Socher et al. 2013", "model": "recursive", "metric": "root_fine", "value": 43.2},
        {"source": "Tai et al. 2015", "model": "treelstm", "metric": "root_fine", "value": 51.0},
    ]
    write_records(
        tmp_path,
        [
            run_record(
                task="treesent",
                dataset="sst",
                model="recursive",
                seed=s,
                metric="root_fine",
                dev=0.4,
                test=t,
                test_metrics={"root_fine": t, "root_binary": b, "roots": 2210},
                published=published,
            )
            for s, (t, b) in enumerate([(0.42, 0.81), (0.44, 0.83)])
        ],
    )
    block = accuracy_section(load_results(tmp_path)).blocks[0]
    row = dict(zip(block.header, block.rows[0]))
    assert row["test root_fine %"] == "43.0 ± 1.4"
    assert row["test root_binary %"] == "82.0 ± 1.4"
    assert "test root_fine" not in row  # the main metric is not repeated as an extra
    assert "test roots" not in row  # an integer is a count of rows scored, not a metric
    assert row["published"] == "43.2 root_fine (Socher et al. 2013)"  # the treelstm figure is not this model's


def test_a_lower_is_better_metric_is_not_shown_as_a_percentage(tmp_path):
    baseline = [{"source": "Le et al. 2015", "model": "constant prediction 1", "metric": "mse", "value": 1 / 6}]
    write_records(
        tmp_path,
        [
            longrange_record(model=m, seed=s, success=True, published=baseline)
            for m in ("rnn", "lstm")
            for s in range(2)
        ],
    )
    section = accuracy_section(load_results(tmp_path))
    block = section.blocks[0]
    row = dict(zip(block.header, block.rows[0]))
    assert block.title == "longrange: mse, lower is better"
    assert row["test mse"] == "0.004000 ± 0" and row["test success"] == "2/2"
    # a baseline is no cell of ours: it belongs to every row, so it is said once
    assert "published" not in row
    assert "published, for every longrange mse row: 0.1667 mse, constant prediction 1 (Le et al. 2015)" in section.notes


# --- speed ---------------------------------------------------------------------------------------------------


def test_speed_ratio_to_the_fastest_backend_of_the_same_configuration(tmp_path):
    rows = [
        bench_row(backend="torch", median_s=0.010, gflops_per_s=50.0),
        bench_row(backend="numpy", median_s=0.015, gflops_per_s=40.0),
        bench_row(backend="tensorflow", median_s=0.030, gflops_per_s=20.0, peak_fraction=0.25),
        bench_row(backend="numpy", median_s=0.005, threads=1),  # other threads: another configuration
        bench_row(backend="torch", median_s=None, status="unavailable", threads=1),
    ]
    write_records(tmp_path, [bench_record(rows, peak_gflops=100.0)])
    section = speed_section(load_results(tmp_path))
    frame = section.frame
    two = frame[frame["threads"] == 2]
    assert dict(zip(two["backend"], two["vs_fastest"])) == pytest.approx(
        {"torch": 1.0, "numpy": 1.5, "tensorflow": 3.0}, abs=1e-12
    )
    assert _only_row(frame, backend="numpy", threads=1)["vs_fastest"] == pytest.approx(1.0, abs=1e-12)
    assert _only_row(frame, backend="torch", threads=2)["peak_fraction"] == pytest.approx(0.5, abs=1e-12)
    assert _only_row(frame, backend="tensorflow")["peak_fraction"] == 0.25  # the record's own figure wins
    printed = {(r[5], r[4]): r for r in section.blocks[0].rows}
    assert printed[("numpy", "2")][7:13] == ["15 ±0.5%", "4.27k tokens/s", "40", "40", "1.50×", "ok"]
    assert printed[("torch", "1")][-1] == "unavailable: planted"  # a failed row stays, with its status


def test_level_batched_and_node_by_node_trees_are_one_configuration(tmp_path):
    # the recorded steps are the schedule's length (levels vs nodes): not part of the configuration
    rows = [
        bench_row(backend="numpy", median_s=0.01),  # a sequence row without items_unit beside them
        bench_row(
            cell="treelstm", structure="tree", impl="level-batched", trees=25, nodes=900, steps=14, median_s=0.004
        ),
        bench_row(
            cell="treelstm", structure="tree", impl="node-by-node", trees=25, nodes=900, steps=875, median_s=0.150
        ),
    ]
    write_records(tmp_path, [bench_record(rows)])
    section = speed_section(load_results(tmp_path))
    trees = section.frame[section.frame["structure"] == "tree"]
    ratios = dict(zip(trees["impl"], trees["vs_fastest"]))
    assert ratios == pytest.approx({"level-batched": 1.0, "node-by-node": 37.5}, abs=1e-12)
    printed = {row[6]: row for row in section.blocks[0].rows}
    assert printed["level-batched"][3] == "25 trees (900 nodes) 128x256"
    assert printed["level-batched"][8] == "16k nodes/s" and printed["native"][8] == "6.4k tokens/s"


def test_speed_keeps_the_latest_measurement_of_a_configuration(tmp_path):
    write_records(
        tmp_path,
        [
            bench_record([bench_row(median_s=0.020)], started_at="2026-11-27T08:00:00Z"),
            bench_record([bench_row(median_s=0.012)], started_at="2026-11-27T09:00:00Z"),
        ],
    )
    section = speed_section(load_results(tmp_path))
    assert section.frame["median_s"].tolist() == [0.012]
    assert any("1 measurement(s) of a configuration measured again" in note for note in section.notes)


# --- parity and long range ------------------------------------------------------------------------------------


def test_parity_reports_the_worst_error_and_pass_counts(tmp_path):
    rows = [
        check_row(case="rnn", max_rel=2e-7),
        check_row(case="lstm", max_rel=4e-7),
        check_row(case="gru", max_rel=3e-4),
        check_row(backend="tensorflow", case="lstm", max_rel=float("nan"), passed=False, error="ValueError: boom"),
    ]
    write_records(tmp_path, [check_record(rows)])
    section = parity_section(load_results(tmp_path))
    torch = _only_row(section.frame, backend="torch")
    assert (torch["passed"], torch["cases"]) == (2, 3)
    assert torch["worst_rel"] == pytest.approx(3e-4, rel=1e-12)
    assert torch["worst_case"] == "gru grad.W_x" and torch["failures"] == "gru"
    broken = _only_row(section.frame, backend="tensorflow")
    assert broken["passed"] == 0 and math.isnan(broken["worst_rel"])  # it raised: no error value
    assert any("ValueError: boom" in note for note in section.notes)


@pytest.mark.parametrize(
    "outcomes, largest",
    [
        ({10: [True, True, True], 50: [True, True, False], 100: [True, False, False], 200: [False, False, False]}, 50),
        ({10: [False, False], 50: [True, True]}, 50),  # the largest solved T, even past a failure
        ({10: [True, False], 50: [False, False]}, None),  # half is not more than half
    ],
)
def test_longrange_largest_t_solved_by_more_than_half_the_seeds(tmp_path, outcomes, largest):
    write_records(
        tmp_path,
        [
            longrange_record(seq_len=t, seed=s, success=ok)
            for t, seeds in outcomes.items()
            for s, ok in enumerate(seeds)
        ],
    )
    section = longrange_section(load_results(tmp_path))
    row = _only_row(section.frame, model_label="lstm")
    solved = row["largest_T_solved"]
    assert (None if solved is None or math.isnan(solved) else solved) == largest
    for t, seeds in outcomes.items():
        assert row[f"T={t}"] == f"{sum(seeds)}/{len(seeds)}"


def test_longrange_counts_a_diverged_run_as_not_solved_and_keeps_relu_apart(tmp_path):
    write_records(
        tmp_path,
        [
            longrange_record(model="rnn", seq_len=50, seed=0, success=True),
            longrange_record(model="rnn", seq_len=50, seed=1, status="diverged"),
            longrange_record(model="rnn", activation="relu", seq_len=50, seed=0, success=True),
        ],
    )
    frame = longrange_section(load_results(tmp_path)).frame
    assert _only_row(frame, model_label="rnn")["T=50"] == "1/2"
    assert _only_row(frame, model_label="rnn")["largest_T_solved"] != 50
    assert _only_row(frame, model_label="rnn (relu)")["T=50"] == "1/1"
    assert set(frame["variant"]) == {"defaults", "relu"}  # a short label, never a dump of the config


def test_longrange_runs_with_another_budget_are_not_pooled(tmp_path):
    write_records(
        tmp_path,
        [
            longrange_record(seq_len=100, seed=0, success=True, config={"max_steps": 3000}),
            longrange_record(seq_len=100, seed=1, success=False, config={"max_steps": 300}),
        ],
    )
    section = longrange_section(load_results(tmp_path))
    assert sorted(section.frame["variant"]) == ["300 steps", "defaults"]  # 3000 steps is the task's default
    assert section.details == ['adding lstm "300 steps": max_steps=300']
    assert sorted(section.frame["T=100"]) == ["0/1", "1/1"]


# --- comparison ------------------------------------------------------------------------------------------------


def _speed_dir(folder, torch_median, host="hostA", spread=(0.99, 0.995, 0.998, 1.0, 1.0, 1.0, 1.002, 1.005, 1.01)):
    rows = [bench_row(backend="torch", median_s=torch_median), bench_row(backend="numpy", median_s=0.020)]
    for row in rows:  # nine quiet samples a row: enough for the change test's p < 0.01
        row.update(samples_s=[row["median_s"] * f for f in spread], count=len(spread))
    return write_records(folder, [bench_record(rows, host=host)])


def test_compare_flags_a_20_percent_slowdown_and_not_a_1_percent_one(tmp_path):
    base = load_results(_speed_dir(tmp_path / "a", 0.0100))
    section, regressions = compare(base, load_results(_speed_dir(tmp_path / "b", 0.0120)), "a", "b")
    verdicts = {r["backend"]: (r["verdict"], round(r["change"], 12)) for _, r in section.frame.iterrows()}
    assert regressions == 1
    assert verdicts == {"torch": ("slower", 0.2), "numpy": ("same", 0.0)}
    # the same 20% from three samples a side cannot reach p < 0.01: never flagged, and a note says why
    short = (0.99, 1.0, 1.01)
    section, regressions = compare(
        load_results(_speed_dir(tmp_path / "a3", 0.0100, spread=short)),
        load_results(_speed_dir(tmp_path / "e", 0.0120, spread=short)),
        "a3",
        "e",
    )
    assert regressions == 0 and set(section.frame["verdict"]) == {"same"}
    assert any("too few samples" in note for block in section.blocks for note in block.notes)
    _, regressions = compare(base, load_results(_speed_dir(tmp_path / "c", 0.0101)), "a", "c")
    assert regressions == 0
    section, regressions = compare(base, load_results(_speed_dir(tmp_path / "d", 0.0080)), "a", "d")
    assert regressions == 0 and "faster" in set(section.frame["verdict"])


def test_compare_accuracy_in_points_and_parity_pass_to_fail(tmp_path):
    def folder(name, test, passed):
        return write_records(
            tmp_path / name,
            [run_record(seed=s, test=test + s / 1000) for s in range(2)]
            + [check_record([check_row(max_rel=1e-7 if passed else 1e-3)])],
        )

    base = load_results(folder("a", 0.850, True))
    section, regressions = compare(base, load_results(folder("b", 0.845, True)), "a", "b")
    assert regressions == 0  # half a point: noise at a 1-point threshold
    section, regressions = compare(base, load_results(folder("c", 0.830, False)), "a", "c")
    assert regressions == 2
    accuracy = section.frame[section.frame["kind"] == "accuracy"].iloc[0]
    assert accuracy["change"] == pytest.approx(-2.0, abs=1e-9)
    assert accuracy["change_text"] == "-2.0 pt"


def test_compare_command_exit_status_and_machine_warning(tmp_path, capsys):
    _speed_dir(tmp_path / "a", 0.0100, host="laptop")
    _speed_dir(tmp_path / "b", 0.0120, host="server")
    assert main(["report", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out, err = capsys.readouterr()
    assert "slower" in out and "+20.0%" in out and "speed changes include the machine" in out
    assert "1 regression(s)" in err
    assert main(["report", "--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--threshold", "25"]) == 0


def test_compare_two_machines_in_one_directory(tmp_path, capsys):
    _speed_dir(tmp_path, 0.0100, host="laptop")
    _speed_dir(tmp_path, 0.0103, host="server")
    assert main(["report", "--results-dir", str(tmp_path), "--compare-machines", "laptop", "server"]) == 0
    assert "+3.0%" in capsys.readouterr().out
    assert main(["report", "--results-dir", str(tmp_path), "--compare-machines", "laptop", "gpu9"]) == 2
    assert "no records from host 'gpu9'" in capsys.readouterr().err


def test_one_name_on_two_cpus_is_one_machine_with_two_isa_levels(tmp_path, capsys):
    """The VM of the committed records kept its name on CPUs with and without AVX-512: the source line counts one
    machine and names both levels, --compare-machines sets the two levels' bench records side by side, and the
    plain name still selects all of them."""
    for flags, median in ((["avx", "avx2", "fma"], 0.0100), (["avx", "avx2", "fma", "avx512f"], 0.0080)):
        folder = _speed_dir(tmp_path, median, host="vm")
        for path in folder.glob("*.json"):
            record = json.loads(path.read_text())
            record.setdefault("cpu_flags", flags)
            path.write_text(json.dumps(record))
    assert main(["report", "--results-dir", str(tmp_path), "--summary", "--format", "markdown"]) == 0
    assert "from 1 machine: vm (vm CPU, 2 CPUs; ISA avx2 or avx512)" in capsys.readouterr().out
    assert main(["report", "--results-dir", str(tmp_path), "--compare-machines", "vm (avx2)", "vm (avx512)"]) == 0
    assert "-20.0%" in capsys.readouterr().out
    assert main(["report", "--results-dir", str(tmp_path), "--host", "vm", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["host"] for r in rows if r["backend"] == "torch") == ["vm (avx2)", "vm (avx512)"]


# --- rendering and the command ---------------------------------------------------------------------------------


def _everything(folder):
    flow = [{"step": 0, "norms": [0.9 ** (20 - t) for t in range(1, 21)]}, {"step": 50, "norms": [1.0] * 20}]
    return write_records(
        folder,
        [run_record(seed=s, test=0.8) for s in range(2)]
        + [longrange_record(model=m, seq_len=20, gradient_flow=flow) for m in ("rnn", "lstm")]
        + [check_record([check_row()]), bench_record([bench_row(), bench_row(backend="numpy")])],
    )


def test_html_is_one_self_contained_file_with_svg_plots(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert (
        main(["report", "--results-dir", str(_everything(tmp_path / "r")), "--format", "html", "--output", str(out)])
        == 0
    )
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 5  # gradient flow, curves, speed bars
    assert "||dLoss/dh_t||" in page and "<table>" in page
    for tag in ("<script", "<link", "src=", "@import"):
        assert tag not in page  # no external assets
    assert not list(out.parent.glob(".tmp-report-*"))
    assert main(["report", "--results-dir", str(tmp_path / "r"), "--format", "html", "--output", str(out)]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert main(["report", "--results-dir", str(tmp_path / "r"), "--output", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith(str(tmp_path / "r"))  # replaced by the text report


@pytest.mark.parametrize(
    "record",
    [bench_record([bench_row(), bench_row(backend="numpy", median_s=0.02)]), check_record([check_row()])],
    ids=["bench only", "check only"],
)
def test_html_from_a_directory_without_runs(tmp_path, capsys, record):
    assert main(["report", "--results-dir", str(write_records(tmp_path, [record])), "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.count("<svg") == (1 if record["schema"] == "rnnbench.bench/1" else 0)  # speed bars, or none
    assert "<table>" in page


def test_charts_are_matplotlib_svg_with_one_colour_per_backend_and_unique_ids(tmp_path):
    pytest.importorskip("matplotlib")
    from rnnbench.report.figures import all_figures
    from rnnbench.report.plots import BACKEND_COLOURS

    frame = load_results(_everything(tmp_path))
    figures = dict(all_figures(frame))
    assert set(figures) >= {"Charts: accuracy", "Charts: speed", "Charts: gradient flow", "Charts: learning curves"}
    ids = []
    for charts in figures.values():
        for chart in charts:
            root = ET.fromstring(chart.svg)  # well-formed, inlinable (no XML prologue)
            assert root.tag == "{http://www.w3.org/2000/svg}svg" and chart.name.endswith(".svg")
            ids += [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))  # several charts inlined in one page never share an id
    speed = figures["Charts: speed"][0].svg
    assert BACKEND_COLOURS["torch"] in speed and BACKEND_COLOURS["numpy"] in speed  # the same colour everywhere
    assert "matplotlib" not in sys.modules or "Agg" in __import__("matplotlib").get_backend()


def test_markdown_and_csv(tmp_path, capsys):
    folder = _everything(tmp_path)
    assert (
        main(
            ["report", "--results-dir", str(folder), "--table", "accuracy", "--task", "textclf", "--format", "markdown"]
        )
        == 0
    )
    markdown = capsys.readouterr().out
    assert "| trec | lstm | torch | native | 2 | 80.0 ± 0.0 | 80.0 ± 0.0 |" in markdown
    assert main(["report", "--results-dir", str(folder), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.index("## Summary") < markdown.index("## Accuracy")  # the side-by-side tables come first
    assert main(["report", "--results-dir", str(folder), "--table", "speed", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split(",")
    assert len(lines) == 3 and "median_s" in header and "vs_fastest" in header
    assert main(["report", "--results-dir", str(folder), "--format", "csv"]) == 2
    assert "--format csv writes one table" in capsys.readouterr().err


def test_default_status_filter_says_what_it_left_out(tmp_path, capsys):
    write_records(tmp_path, [run_record(seed=0, test=0.8), run_record(seed=1, test=0.1, status="diverged")])
    assert main(["report", "--results-dir", str(tmp_path), "--table", "accuracy"]) == 0
    out = capsys.readouterr().out
    assert "80.0" in out and "left out 1 row(s) whose status is not ok (1 diverged)" in out
    assert main(["report", "--results-dir", str(tmp_path), "--table", "accuracy", "--status", "diverged"]) == 0
    assert "10.0" in capsys.readouterr().out


def test_nothing_to_report_messages_and_exit_codes(tmp_path, capsys):
    assert main(["report", "--results-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing to report" in err and "holds no records" in err
    write_records(tmp_path, [run_record(backend="torch"), run_record(backend="numpy")])
    assert main(["report", "--results-dir", str(tmp_path), "--backend", "jax"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--backend jax matches nothing (present: numpy, torch)" in err
    assert main(["report", "--results-dir", str(tmp_path), "--table", "speed"]) == 1
    assert "the speed table reads bench records" in capsys.readouterr().err
    assert main(["report", "--results-dir", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["report", "--results-dir", str(tmp_path), "--table", "accuracy,speeed"]) == 2
    assert "unknown table 'speeed'" in capsys.readouterr().err


def test_the_report_parser_imports_no_pandas():
    code = "import sys, rnnbench.cli; rnnbench.cli.build_parser(); print('pandas' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


# --- the committed records ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not REPO_RESULTS.is_dir(), reason="no committed results/ directory")
def test_the_committed_results_directory_loads_and_averages_its_seeds(tmp_path):
    from rnnbench.report.variants import DEFAULT_LABEL, label, run_diff

    from committed_results import committed_results

    committed = committed_results(tmp_path)  # a user's own runs in results/ are not the reference
    frame = load_results(committed, kind="run")
    files = [
        p
        for p in committed.glob("*.json")
        if json.loads(p.read_text(encoding="utf-8")).get("schema") == "rnnbench.run/1"
    ]
    assert len(frame) == len(files) >= 30
    section = accuracy_section(frame[frame["status"] == "ok"])
    groups = {}
    for path in files:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["status"] == "ok" and record["task"] == "textclf":  # a variant (2 layers, say) pools apart
            diff = run_diff(record["config"])
            key = (record["dataset"], record["model"], record["backend"], label(diff) if diff else DEFAULT_LABEL)
            seeds = groups.setdefault(key, {})  # a seed run again (a timing run) counts once: the latest
            if record["seed"] not in seeds or seeds[record["seed"]][0] < record["started_at"]:
                seeds[record["seed"]] = (record["started_at"], record["best"]["test"])
    groups = {key: [test for _, test in seeds.values()] for key, seeds in groups.items()}
    assert len(groups) >= 12
    for (dataset, model, backend, variant), tests in groups.items():
        row = _only_row(section.frame, task="textclf", dataset=dataset, model=model, backend=backend, variant=variant)
        assert row["n"] == len(tests)
        assert row["test_mean"] == pytest.approx(statistics.mean(tests), abs=1e-12)
