"""The training-cost tables: seconds per epoch, ratio to the fastest, time to target, busy runs left out."""

from __future__ import annotations

import csv
import io

import pytest

from rnnbench.cli import main
from rnnbench.report.cost import busy, epoch_seconds, time_to_target

from report_fixtures import run_record, write_records


def _epochs(devs, seconds):
    return [
        {
            "epoch": i + 1,
            "steps": 10,
            "mean_loss": 1.0,
            "dev": dev,
            "train_seconds": s,
            "eval_seconds": 0.5,
            "examples_per_s": 100.0,
        }
        for i, (dev, s) in enumerate(zip(devs, seconds))
    ]


def _run(
    backend="torch", seed=0, devs=(0.70, 0.86, 0.88), seconds=(10.0, 8.0, 9.0), load=1.0, dataset="trec", **kwargs
):
    record = run_record(
        backend=backend, seed=seed, dataset=dataset, dev=max(devs), epochs=_epochs(devs, seconds), **kwargs
    )
    record["load_average"] = {"start": [load, load, load], "end": [load, load, load]}
    return record


def test_time_to_target_is_the_training_seconds_of_the_epochs_up_to_the_one_that_crossed_it():
    record = _run(devs=(0.70, 0.86, 0.88), seconds=(10.0, 8.0, 9.0))  # trec's target: 85% dev
    assert time_to_target(record, 0.85) == pytest.approx(18.0)  # epochs 1-2, evaluation excluded
    assert time_to_target(record, 0.95) is None
    assert time_to_target(record, 0.5, higher_is_better=False) is None
    assert time_to_target(_run(devs=(0.9, 0.4)), 0.5, higher_is_better=False) == pytest.approx(18.0)


def test_an_eval_every_history_gives_a_finer_time_to_target():
    record = _run(devs=(0.70, 0.86), seconds=(10.0, 8.0))
    record["evals"] = [
        {"step": 5, "epoch": 1, "dev": 0.6, "train_seconds": 5.0},
        {"step": 15, "epoch": 2, "dev": 0.855, "train_seconds": 14.0},
    ]
    assert time_to_target(record, 0.85) == pytest.approx(14.0)


def test_a_run_with_cpu_accounting_is_busy_only_when_other_processes_or_the_hypervisor_took_the_machine():
    """The run's own threads load the machine by themselves (a JAX run keeps the load near 2 on 2 CPUs): with
    the record's ``cpu`` window, only other processes' CPUs (above a quarter CPU) or steal (above 5%) count."""

    def with_cpu(other, steal=0.0, load=1.0):
        record = _run(load=load)
        record["cpu"] = {
            "wall_s": 60.0,
            "own_cpu_s": 110.0,
            "other_cpus": other,
            "steal_fraction": steal,
            "load": [load, load],
        }
        return record

    assert not busy(with_cpu(0.05, load=3.9)), "its own threads' load is not another process"
    assert busy(with_cpu(0.6, load=0.5)) and busy(with_cpu(0.26))
    assert not busy(with_cpu(0.25)) and busy(with_cpu(0.0, steal=0.08)) and not busy(with_cpu(0.0, steal=0.05))
    assert busy(with_cpu(None, load=2.5)) and not busy(with_cpu(None, load=2.0))  # unknown: the load rule
    assert busy(with_cpu(True, load=0.5)) is False  # a boolean is not a count of CPUs: the load rule


def test_busy_is_a_load_average_above_the_usable_cpus_and_old_records_are_not_busy():
    assert not busy(_run(load=2.0)) and busy(_run(load=2.5))
    assert not busy(run_record())  # no load average recorded: nothing says it was busy
    assert epoch_seconds(_run(seconds=(10.0, 8.0, 9.0))) == 9.0
    assert epoch_seconds(run_record()) is None  # an older record without per-epoch seconds


def _cost_csv(tmp_path, records, *extra):
    folder = write_records(tmp_path / "results", records)
    out = io.StringIO()
    code = main(
        [
            "report",
            "--results-dir",
            str(folder),
            "--table",
            "cost",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "cost.csv"),
            *extra,
        ]
    )
    assert code == 0
    out.write((tmp_path / "cost.csv").read_text())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_cost_csv_has_seconds_per_epoch_ratio_and_time_to_target_per_backend(tmp_path):
    records = [_run("torch", s, seconds=(10.0, 8.0, 9.0)) for s in range(3)]
    records += [_run("numpy", s, seconds=(20.0, 16.0, 18.0), devs=(0.7, 0.8, 0.86)) for s in range(3)]
    rows = {row["backend"]: row for row in _cost_csv(tmp_path, records)}
    assert set(rows) == {"numpy", "torch"}
    assert float(rows["torch"]["epoch_seconds"]) == 9.0 and float(rows["numpy"]["epoch_seconds"]) == 18.0
    assert float(rows["numpy"]["ratio_to_fastest"]) == pytest.approx(2.0)
    assert float(rows["torch"]["time_to_target_s"]) == pytest.approx(18.0)
    assert float(rows["numpy"]["time_to_target_s"]) == pytest.approx(54.0)
    assert float(rows["torch"]["target"]) == pytest.approx(0.85)  # textclf trec's declared target


def test_a_busy_run_is_left_out_of_the_cost_median_but_its_accuracy_counts(tmp_path, capsys):
    records = [
        _run("torch", 0, seconds=(10.0, 10.0, 10.0)),
        _run("torch", 1, seconds=(12.0, 12.0, 12.0)),
        _run("torch", 2, seconds=(100.0, 100.0, 100.0), load=7.5),
    ]
    rows = _cost_csv(tmp_path, records)
    assert float(rows[0]["epoch_seconds"]) == 11.0  # the median of 10 and 12; the busy 100 left out
    assert rows[0]["busy"] == "1" and rows[0]["runs"] == "3"
    folder = tmp_path / "results"
    assert main(["report", "--results-dir", str(folder), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "(3)" in out, "the busy run's accuracy still counts among the seeds"
    assert "1 run(s) on a busy machine" in out


def test_not_reached_shows_the_best_dev_and_a_record_without_timing_shows_a_dash(tmp_path, capsys):
    records = [_run("torch", 0, devs=(0.5, 0.6, 0.7)), run_record(backend="numpy", dataset="trec")]
    folder = write_records(tmp_path / "results", records)
    assert main(["report", "--results-dir", str(folder), "--table", "cost"]) == 0
    out = capsys.readouterr().out
    assert "not reached (best 70%)" in out
    numpy_row = next(row for row in _cost_csv(tmp_path, records) if row["backend"] == "numpy")
    assert numpy_row["epoch_seconds"] == numpy_row["time_to_target_s"] == numpy_row["best_dev"] == ""
    assert "not reached (best -)" not in out, "an older record without timings is a dash, not a miss"


@pytest.mark.parametrize(
    "value, message", [("150", "a percentage in (0, 100]"), ("nan", "--target"), ("-3", "--target")]
)
def test_a_target_of_the_wrong_kind_is_one_line(tmp_path, capsys, value, message):
    folder = write_records(tmp_path / "results", [_run()])
    assert main(["report", "--results-dir", str(folder), "--table", "cost", f"--target={value}"]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_target_overrides_the_declared_one(tmp_path):
    rows = _cost_csv(tmp_path, [_run(devs=(0.70, 0.86, 0.88))], "--target", "70")
    assert float(rows[0]["target"]) == pytest.approx(0.70) and float(rows[0]["time_to_target_s"]) == 10.0


def test_a_task_without_a_declared_target_says_how_to_set_one(tmp_path, capsys):
    folder = write_records(tmp_path / "results", [_run(dataset="my_reviews.tsv")])
    assert main(["report", "--results-dir", str(folder), "--table", "cost"]) == 0
    assert "no dev target declared for this table: `rnnbench report --target VALUE` sets one" in capsys.readouterr().out


def test_every_textclf_dataset_and_sst_declare_a_target():
    from rnnbench.plugins import known_task

    textclf, treesent, longrange = (known_task(n) for n in ("textclf", "treesent", "longrange"))
    assert {d: textclf.dev_target(d, "accuracy") for d in ("imdb", "sst2", "mr", "trec")} == {
        "imdb": 0.86,
        "sst2": 0.82,
        "mr": 0.73,
        "trec": 0.85,
    }
    assert treesent.dev_target("sst", "root_fine") == 0.42
    assert longrange.dev_target("adding-T200", "mse") == pytest.approx(0.1 / 6)
    assert textclf.dev_target("my_reviews.tsv", "accuracy") is None


def test_a_table_whose_runs_were_all_busy_is_one_line_in_the_summary_and_rows_in_the_csv(tmp_path, capsys):
    records = [_run("torch", s, load=6.0) for s in range(2)] + [_run("numpy", 0, load=6.0)]
    folder = write_records(tmp_path / "results", records)
    assert main(["report", "--results-dir", str(folder), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "training cost: no run of this table was timed on a quiet machine (3 busy)" in out
    assert "training cost, textclf trec" not in out, "no table of dashes"
    rows = _cost_csv(tmp_path, records)
    assert {(r["backend"], r["busy"], r["epoch_seconds"]) for r in rows} == {("torch", "2", ""), ("numpy", "1", "")}


def test_html_has_dev_against_training_seconds_curves_with_the_target_from_quiet_runs_only(tmp_path):
    pytest.importorskip("matplotlib")
    from rnnbench.report.figures import wall_time_curve_figures
    from rnnbench.report.frame import load_results

    quiet = [_run("torch", s) for s in range(2)] + [_run("numpy", 0, seconds=(20.0, 16.0, 18.0))]
    (chart,) = wall_time_curve_figures(load_results(write_records(tmp_path / "quiet", quiet)))
    assert "training seconds" in chart.title and chart.svg.lstrip().startswith("<svg")
    assert "training seconds" in chart.svg and "target" in chart.svg  # axis label, the dotted target in the legend
    busy_only = [_run("torch", 0, load=9.0)]
    assert wall_time_curve_figures(load_results(write_records(tmp_path / "busy", busy_only))) == []


def test_the_readme_cost_cells_leave_examples_per_second_and_the_busy_count_to_the_full_report(tmp_path):
    from rnnbench.report.frame import load_results
    from rnnbench.report.summary import summary_section

    records = [
        _run("torch", 0, seconds=(10.0, 10.0, 10.0)),
        _run("numpy", 0, seconds=(20.0, 20.0, 20.0)),
        _run("numpy", 1, seconds=(90.0, 90.0, 90.0), load=7.5),
    ]
    folder = write_records(tmp_path / "results", records)
    frame = load_results(folder)
    full = next(b for b in summary_section(frame).blocks if b.title.startswith("training cost"))
    frame.attrs["brief"] = True
    brief_section = summary_section(frame)
    brief = next(b for b in brief_section.blocks if b.title.startswith("training cost"))
    assert [c.split(", ")[0] for c in full.rows[0][2:]] == ["20 s (2.00×)", "10 s (1.00×)"]
    assert all(c.endswith("/s") for c in full.rows[0][2:])
    # the README: one row a model, "seconds per epoch (× fastest) · seconds to target", the target in the title
    assert full.rows[1][2:] == ["40 s (1/1)", "20 s (1/1)"] and len(full.rows) == 2
    assert brief.rows == [["lstm", "20 s (2.00×) · 40 s", "10 s (1.00×) · 20 s"]]
    assert brief.header == ["model", "numpy", "torch"] and brief.title.endswith(": s/epoch (× fastest) · s to 85%")
    assert any("busy" in n for n in full.notes) and not any("busy" in n for n in brief.notes)
    assert any("busy machine left out, counted in results/report.md" in n for n in brief_section.notes)
