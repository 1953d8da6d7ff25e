"""The report's first screen: backends as columns, each backend's fastest impl, warnings counted, text that fits.

Every expected cell is computed here from the planted numbers, not read back
from the report's own aggregation.
"""

from __future__ import annotations

import re
import statistics

import pytest

pytest.importorskip("pandas", reason="rnnbench report needs pandas")

from rnnbench.cli import main
from rnnbench.report.frame import load_results
from rnnbench.report.summary import summary_section

from report_fixtures import (
    bench_record,
    bench_row,
    check_record,
    check_row,
    longrange_record,
    run_record,
    write_records,
)


def _block(section, start: str):
    (block,) = [b for b in section.blocks if b.title.startswith(start)]
    return block


def _rows(block) -> dict:
    return {tuple(row[: block.keys]): dict(zip(block.header, row)) for row in block.rows}


def test_accuracy_puts_the_backends_side_by_side_with_their_spread(tmp_path):
    tests = {"numpy": [0.80, 0.82, 0.84], "torch": [0.81, 0.83]}
    write_records(
        tmp_path,
        [run_record(backend=b, seed=s, test=t) for b, ts in tests.items() for s, t in enumerate(ts)]
        + [run_record(model="gru", backend="torch", test=0.7)],
    )
    block = _block(summary_section(load_results(tmp_path)), "textclf trec: test accuracy %")
    assert block.header[:3] == ["model", "numpy", "torch"]
    rows = _rows(block)
    numpy = f"{100 * statistics.mean(tests['numpy']):.1f} ± {100 * statistics.stdev(tests['numpy']):.1f} (3)"
    assert rows[("lstm",)]["numpy"] == numpy
    assert rows[("lstm",)]["torch"].endswith("(2)")
    spread = 100 * (statistics.mean(tests["torch"]) - statistics.mean(tests["numpy"]))
    assert rows[("lstm",)]["spread"] == f"{spread:.1f} pt"
    assert rows[("gru",)]["numpy"] == "-" and rows[("gru",)]["spread"] == "-"


def test_a_variant_is_a_short_label_and_its_options_go_to_the_details(tmp_path):
    write_records(
        tmp_path,
        [
            run_record(seed=0),
            run_record(seed=0, config={"hidden_size": 256, "max_length": 60, "vocab_size": 5000, "min_count": 3}),
        ],
    )
    section = summary_section(load_results(tmp_path))
    block = _block(section, "textclf trec")
    assert [r[:2] for r in block.rows] == [["lstm", "defaults"], ["lstm", "hidden 256, max length 60, min_count=3, …"]]
    assert max(len(c) for r in block.rows for c in r) < 60  # never the config itself
    assert section.details == [
        '"hidden 256, max length 60, min_count=3, …": hidden_size=256 max_length=60 '
        "min_count=3 vocab_size=5000 (textclf trec lstm)"
    ]


def test_speed_shows_each_backends_fastest_impl_and_the_ratio_to_the_fastest(tmp_path):
    write_records(
        tmp_path,
        [
            bench_record(
                [
                    bench_row(backend="numpy", median_s=0.030, peak_fraction=0.25),
                    bench_row(backend="torch", impl="native", median_s=0.020, peak_fraction=0.5),
                    bench_row(backend="torch", impl="compiled", median_s=0.015, peak_fraction=0.6),
                    bench_row(backend="torch", median_s=0.001, status="failed"),  # failed: never the fastest
                ]
            )
        ],
    )
    block = _block(summary_section(load_results(tmp_path)), "speed")
    (row,) = block.rows
    cells = dict(zip(block.header, row))
    assert cells["numpy ms (% peak)"] == "30 ±0.5% (25%)"  # the median ± its interval's larger side
    assert cells["torch ms (% peak)"] == "15 ±0.5% (60%) compiled"  # not the default impl: named
    assert cells["× fastest"] == "2.00× / 1.00×"


def test_parity_is_one_row_per_backend_and_dtype(tmp_path):
    write_records(
        tmp_path,
        [
            check_record(
                [
                    check_row(backend="torch", impl="native", case="lstm", dtype="float32", max_rel=2e-7),
                    check_row(backend="torch", impl="loop", case="gru", dtype="float32", max_rel=5e-7),
                    check_row(
                        backend="torch", impl="loop", case="gru", dtype="float64", max_rel=3e-16, tolerance=1e-10
                    ),
                    check_row(
                        backend="numpy",
                        impl="finite differences",
                        case="lstm",
                        dtype="float64",
                        max_rel=1e-9,
                        tolerance=1e-6,
                    ),
                ]
            )
        ],
    )
    rows = _rows(_block(summary_section(load_results(tmp_path)), "parity"))
    assert set(rows) == {("torch", "float32"), ("torch", "float64"), ("numpy vs finite differences", "float64")}
    torch32 = rows[("torch", "float32")]
    assert torch32["impls"] == "loop, native"
    assert torch32["parity: worst rel err (passed, tolerance)"] == "5.0e-07 (2/2, ≤ 1e-04)"


def test_longrange_shows_the_largest_t_solved_per_model_and_backend(tmp_path):
    outcomes = {
        ("numpy", 10): True,
        ("numpy", 50): True,
        ("numpy", 100): False,
        ("torch", 10): True,
        ("torch", 50): False,
        ("torch", 100): False,
    }
    write_records(tmp_path, [longrange_record(backend=b, seq_len=t, success=ok) for (b, t), ok in outcomes.items()])
    rows = _rows(_block(summary_section(load_results(tmp_path)), "longrange adding"))
    assert rows[("lstm",)]["numpy"] == "50 (0.0040)" and rows[("lstm",)]["torch"] == "10 (0.0040)"
    assert rows[("lstm",)]["T tried"] == "10, 50, 100"


def _noisy_bench(folder):
    rows = [
        bench_row(backend=b, hidden=h, median_s=0.01 * (i + 1), warnings=["unstable: IQR is 20% of the median"])
        for i, b in enumerate(("numpy", "torch"))
        for h in (64, 128, 256)
    ]
    rows[0]["warnings"].append("busy machine: load average 3.0 on 2 usable CPU(s)")
    return write_records(folder, [bench_record(rows)])


def test_warnings_are_one_line_per_kind_and_verbose_lists_them(tmp_path, capsys):
    folder = _noisy_bench(tmp_path)
    assert main(["report", "--results-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.count("unstable") == 1 and "6 measurement(s) unstable" in out
    assert "1 measurement(s) busy machine" in out
    assert main(["report", "--results-dir", str(folder), "--verbose"]) == 0
    assert capsys.readouterr().out.count("unstable: IQR is 20%") == 6


def test_text_fits_the_terminal_width(tmp_path, capsys, monkeypatch):
    folder = _noisy_bench(tmp_path)
    write_records(
        folder,
        [
            run_record(seed=0, config={"hidden_size": 256, "max_length": 60, "vocab_size": 5000}),
            longrange_record(seq_len=50, config={"max_steps": 300, "batch_size": 16}),
        ],
    )
    for columns in (60, 100):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert main(["report", "--results-dir", str(folder), "--verbose"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert max(len(line) for line in lines) <= columns, max(lines, key=len)
    monkeypatch.setenv("COLUMNS", "60")  # a file is not cut to the terminal
    assert main(["report", "--results-dir", str(folder), "--output", str(tmp_path / "r.txt")]) == 0
    assert max(len(line) for line in (tmp_path / "r.txt").read_text(encoding="utf-8").splitlines()) > 60


def test_summary_flag_prints_only_the_summary(tmp_path, capsys):
    write_records(tmp_path, [run_record(), bench_record([bench_row()])])
    assert main(["report", "--results-dir", str(tmp_path), "--summary", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "## Summary" in out and "## Accuracy" not in out and "## Speed" not in out and "<svg" not in out
    assert main(["report", "--results-dir", str(tmp_path), "--summary", "--table", "speed"]) == 2


def test_summary_text_is_what_a_sweep_can_print_at_its_end(tmp_path):
    from rnnbench.report.summary import summary_text

    write_records(tmp_path, [run_record(backend=b, seed=s) for b in ("numpy", "torch") for s in (0, 1)])
    text = summary_text(load_results(tmp_path), "sweep", width=50)
    assert "textclf trec: test accuracy %" in text and max(len(line) for line in text.splitlines()) <= 50
    assert summary_text(load_results(tmp_path).iloc[0:0], "sweep") == ""


def test_speed_names_the_kernels_the_bench_records_say_each_backend_ran(tmp_path):
    record = bench_record([bench_row(backend="numpy"), bench_row(backend="torch", median_s=0.02)])
    record["kernels"] = {
        "numpy": {
            "blas": [
                {
                    "internal_api": "openblas",
                    "version": "0.3.30",
                    "architecture": "Haswell",
                    "threading_layer": "pthreads",
                }
            ]
        },
        "torch": {"torch": {"onednn": "oneDNN v3.7.1 (Git Hash abc)", "cpu_capability": "AVX2"}},
        "tensorflow": "junk",  # never breaks the report
    }
    record["warnings"] = ["numpy: OPENBLAS_CORETYPE=Haswell is set"]
    write_records(tmp_path, [record])
    section = summary_section(load_results(tmp_path))
    block = _block(section, "speed")
    assert "Kernels: numpy openblas 0.3.30 (Haswell, pthreads); torch oneDNN v3.7.1, ATen AVX2" in block.notes
    assert "Kernel warnings: 1 (`rnnbench report --verbose` lists them)" in block.notes  # counted; --verbose lists
    (line,) = section.verbose
    assert re.fullmatch(r"kernel warning \(smoke 2026-11-27 10:\d\d\): numpy: OPENBLAS_CORETYPE=Haswell is set", line)


def test_gradient_flow_panels_order_t_as_numbers_and_markdown_links_chart_files(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from rnnbench.tasks.longrange.charts import gradient_flow_figures

    flow = [{"step": 0, "norms": [0.5 ** (10 - t) for t in range(10)]}]
    folder = write_records(
        tmp_path / "r",
        [
            longrange_record(model=m, backend=b, seq_len=t, gradient_flow=flow)
            for m in ("rnn", "lstm")
            for b in ("numpy", "torch")
            for t in (200, 10, 100, 25)
        ],
    )
    (chart,) = gradient_flow_figures(load_results(folder))
    labels = re.findall(r">(T=\d+)<", chart.svg)
    assert labels[:4] == ["T=10", "T=25", "T=100", "T=200"]  # numbers, not text (T=10, T=100, T=200, T=25)
    out = tmp_path / "out" / "report.md"
    out.parent.mkdir()
    assert main(["report", "--results-dir", str(folder), "--format", "markdown", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((report_files/[^)]+\.svg)\)", text)
    assert "report_files/gradient-flow-adding.svg" in links
    assert all((out.parent / link).is_file() for link in links)


def test_each_bench_session_is_its_own_speed_table(tmp_path):
    write_records(
        tmp_path,
        [
            bench_record(
                [bench_row(backend="numpy", median_s=0.030), bench_row(backend="torch", median_s=0.020)],
                suite="cpu",
                started_at="2026-11-27T10:00:00Z",
                peak_gflops=200.0,
            ),
            bench_record(
                [bench_row(backend="torch", median_s=0.400), bench_row(backend="jax", median_s=0.100)],
                started_at="2026-11-30T10:00:00Z",
                suite="custom",
                peak_gflops=190.0,
            ),
        ],
    )  # 95% of best
    section = summary_section(load_results(tmp_path))
    first, second = [b for b in section.blocks if b.title.startswith("speed")]  # the largest record, then the rest
    assert first.title.startswith("speed, cpu 2026-11-27 10:00") and "peak 200 GFLOP/s" in first.title
    assert first.rows[0][-1] == "1.50× / 1.00×"  # a busy later session replaces nothing
    assert second.title.startswith("speed, other bench records") and second.rows[0][-1] == "4.00× / 1.00×"
    assert second.rows[0][0] == "custom 2026-11-30 10:00, peak 190"  # each row names its record and that peak
    assert second.header[5:7] == ["torch ms (% peak)", "jax ms (% peak)"]  # the frameworks' order, everywhere
    assert second.notes[0] == "Records: `rnnbench bench` (custom grids)"


def test_a_stacked_bidirectional_size_is_its_own_row(tmp_path):
    layered = bench_row(backend="numpy", median_s=0.090)
    layered.update(layers=2, bidirectional=True)
    write_records(tmp_path, [bench_record([bench_row(backend="numpy", median_s=0.030), layered])])
    block = _block(summary_section(load_results(tmp_path)), "speed")
    assert [row[1] for row in block.rows] == ["64x100x128x256", "64x100x128x256:L2:bi"]
    assert [row[3] for row in block.rows] == ["30 ±0.5%", "90 ±0.5%"]


def test_a_stacked_bidirectional_run_is_a_variant_named_in_words(tmp_path):
    write_records(
        tmp_path,
        [
            run_record(seed=0),
            run_record(seed=0, config={"layers": 2, "bidirectional": True}),
            run_record(seed=1, config={"layers": 1, "bidirectional": False}),
        ],
    )  # the defaults
    rows = _rows(_block(summary_section(load_results(tmp_path)), "textclf trec"))
    assert set(rows) == {("lstm", "defaults"), ("lstm", "2 layers, bidirectional")}
    assert rows[("lstm", "defaults")]["torch"].endswith("(2)")


def test_a_task_split_option_gives_each_value_its_own_table(tmp_path):
    """treesent declares ``summary_split`` on supervision: phrase-trained and root-trained runs never share a
    table, and a record from before the option existed (word model, no key) reads as root-trained."""
    common = dict(task="treesent", dataset="sst", metric="root_fine")
    write_records(
        tmp_path,
        [
            run_record(model="lstm", backend="numpy", test=0.41, **common),  # old record: no supervision key
            run_record(model="lstm", backend="torch", test=0.45, config={"supervision": "phrases"}, **common),
            run_record(model="treelstm", backend="numpy", test=0.47, config={"dropout": 0.5}, **common),
            run_record(model="treelstm", backend="numpy", seed=1, test=0.30, config={"supervision": "roots"}, **common),
        ],
    )
    section = summary_section(load_results(tmp_path))
    same = _rows(_block(section, "treesent sst, recurrent vs recursive on the same data (every phrase label)"))
    roots = _rows(_block(section, "treesent sst, root labels only"))
    assert same[("lstm", "defaults")]["torch"] == "45.0 (1)" and same[("lstm", "defaults")]["numpy"] == "-"
    assert same[("treelstm", "dropout 0.5")]["numpy"] == "47.0 (1)"
    assert roots[("lstm",)]["numpy"] == "41.0 (1)" and roots[("treelstm",)]["numpy"] == "30.0 (1)"


def test_a_sweep_is_named_under_the_tables_its_runs_land_in(tmp_path):
    """By task, dataset, the table's models and, for a split table, the split option (or its default)."""
    from rnnbench.report.sweeps import add_sweep_notes

    common = dict(task="treesent", dataset="sst", metric="root_fine")
    write_records(
        tmp_path / "results",
        [
            run_record(model="lstm", backend="numpy", **common),  # an old record: root labels
            run_record(model="lstm", backend="torch", config={"supervision": "phrases"}, **common),
            run_record(model="recursive", backend="numpy", **common),
        ],
    )
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    (sweeps / "roots.toml").write_text(
        'description = "README roots"\n[matrix]\ntask = ["treesent"]\n'
        'model = ["recursive"]\n[[include]]\ntask = "treesent"\nmodel = "lstm"\n'
        'supervision = "roots"\n'
    )
    (sweeps / "phrases.toml").write_text(
        'description = "README phrases"\n[matrix]\ntask = ["treesent"]\nmodel = ["lstm"]\n'
    )
    (sweeps / "other.toml").write_text('description = "README other"\n[matrix]\ntask = ["treesent"]\nmodel = ["gru"]\n')
    section = summary_section(load_results(tmp_path / "results"))
    add_sweep_notes(section, sweeps, shown_as="sweeps")
    same = _block(section, "treesent sst, recurrent vs recursive")
    roots = _block(section, "treesent sst, root labels only")
    assert same.notes[:1] == ["Sweeps: `rnnbench sweep sweeps/phrases.toml`, `sweeps/roots.toml`"]  # one line
    assert roots.notes[:1] == ["Sweep: `rnnbench sweep sweeps/roots.toml`"]
    assert not [n for n in same.notes[1:] + roots.notes[1:] if n.startswith("Sweep")]  # the rest: the cost line


def test_the_readme_summary_keeps_the_training_pass_and_points_to_the_long_range_tables(tmp_path):
    """``--into`` (the README, ``frame.attrs["brief"]``): the speed table shows the forward+backward rows (the pass
    training pays for) and says how many forward-only rows are elsewhere; the long-range tables are a pointer."""
    write_records(
        tmp_path,
        [
            bench_record(
                [
                    bench_row(backend=b, median_s=m, passes=p)
                    for b, m in (("numpy", 0.03), ("torch", 0.02))
                    for p in ("forward", "forward+backward")
                ],
                suite="cpu",
            ),
            longrange_record(seq_len=50, success=True),
        ],
    )
    frame = load_results(tmp_path)
    full = summary_section(frame)
    assert sorted(row[2] for row in _block(full, "speed").rows) == ["forward", "forward+backward"]
    assert _block(full, "longrange adding").rows
    frame.attrs["brief"] = True
    brief = summary_section(frame)
    speed = _block(brief, "speed")
    assert [row[2] for row in speed.rows] == ["forward+backward"]
    assert (
        "In results/report.md (`rnnbench report --table summary`): 1 forward-only row(s) of this record" in speed.notes
    )
    assert not [b for b in brief.blocks if b.title.startswith("longrange")]
    assert any(n.startswith("long-range toy problems") and "`results/report.md`" in n for n in brief.notes)
    from rnnbench.report.render import Meta, render_markdown

    assert "\\[" not in render_markdown([brief], Meta("results")), "the pointer is a code span, not an escaped link"
