"""What the report trusts: stable rows reach the summary, the rest a "Not trusted" table with reasons; the
speed charts as dot plots of the ratio to the fastest with interval whiskers; no record holds a machine's path.
"""

from __future__ import annotations

import json

import pytest

from sst_fixtures import write_sst


def _strings(value):
    """Every string anywhere in a JSON value (keys included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


# --- no absolute path in a record -------------------------------------------------------------------------------


def test_a_bench_record_names_tree_data_relative_to_the_data_folder(tmp_path, monkeypatch, rnnbench_cli):
    data = tmp_path / "data"
    write_sst(data / "sst")
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "elsewhere"))  # --data-dir must win, in the workers too
    result = rnnbench_cli(
        "bench",
        "--cells",
        "recursive",
        "--tree-sizes",
        "4x8x8",
        "--backends",
        "numpy",
        "--pass",
        "forward",
        "--threads",
        "1",
        "--peak-frameworks",
        "numpy",
        "--budget",
        "0",
        "--settle",
        "0",
        "--min-samples",
        "3",
        "--offline",
        "--no-record",
        "--format",
        "json",
        "--data-dir",
        data,
    )
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["config"]["tree_source"] == {
        "source": "sst",
        "path": "sst/train.txt",
        "root": "data_dir",
        "selection": "first N trees of train.txt",
    }
    assert {r["status"] for r in record["rows"]} == {"ok"}  # the workers found the file again from the name
    assert all(r["tree_source"]["path"] == "sst/train.txt" for r in record["rows"])
    absolute = [s for s in _strings(record) if s.startswith("/") or str(tmp_path) in s]
    assert not absolute


def test_an_older_records_absolute_tree_path_still_loads(tmp_path):
    from rnnbench.bench.treedata import load_tree_batch

    write_sst(tmp_path / "sst")
    old = {"source": "sst", "path": str(tmp_path / "sst" / "train.txt"), "selection": "first N trees of train.txt"}
    new = {"source": "sst", "path": "sst/train.txt", "root": "data_dir"}
    assert load_tree_batch(old, 3).num_nodes == load_tree_batch(new, 3, data_dir=tmp_path).num_nodes > 3


# --- trusted and not trusted --------------------------------------------------------------------------------------

pytest.importorskip("pandas", reason="rnnbench report needs pandas")

from rnnbench.report.frame import load_results  # noqa: E402
from rnnbench.report.render import Meta, render  # noqa: E402
from rnnbench.report.speed import speed_section  # noqa: E402
from rnnbench.report.summary import summary_section  # noqa: E402
from rnnbench.report.trust import median_text, ratio_text  # noqa: E402

from report_fixtures import bench_record, bench_row, write_records  # noqa: E402

UNSTABLE = "interval ±7.2%, wider than the 3% target"


def _speed_blocks(frame):
    return [b for b in summary_section(frame).blocks if b.title.startswith("speed")]


def _not_trusted(frame):
    (block,) = [b for b in speed_section(frame).blocks if b.title == "Not trusted"]
    return [dict(zip(block.header, row)) for row in block.rows]


def test_a_stable_row_reaches_the_summary_and_an_unstable_one_only_the_not_trusted_table(tmp_path):
    rows = [
        bench_row(backend="numpy", median_s=0.030, stable=True, unstable_reasons=[]),
        bench_row(backend="torch", median_s=0.020, stable=False, unstable_reasons=[UNSTABLE]),
    ]
    write_records(tmp_path, [bench_record(rows, stable=False, unstable_reasons=["1 of 2 rows unstable"])])
    frame = load_results(tmp_path)
    (block,) = _speed_blocks(frame)
    assert block.header == ["cell", "size", "pass", "numpy ms (% peak)", "× fastest"]  # no torch column at all
    assert block.rows[0][3].startswith("30 ±") and block.rows[0][-1] == "1.00×"
    assert any("1 backend figure(s) not trusted" in n for n in summary_section(frame).notes)
    (doubted,) = _not_trusted(frame)
    assert (doubted["backend"], doubted["impl"], doubted["reasons"]) == ("torch", "native", UNSTABLE)
    assert doubted["configuration"] == "lstm forward+backward float32 64x100x128x256, 2 threads"
    assert doubted["record"].startswith("smoke 2026-")
    shown = speed_section(frame).blocks[0]
    assert [r[shown.header.index("backend")] for r in shown.rows] == ["numpy"]


def test_a_slower_stable_impl_never_stands_in_for_a_backends_unstable_fastest_one(tmp_path):
    """torch native is torch's fastest but unstable; torch compiled, slower, is stable: torch's cell is empty, not
    compiled's figure (which would make torch look slower than it is)."""
    rows = [
        bench_row(backend="numpy", median_s=0.030, stable=True, unstable_reasons=[]),
        bench_row(backend="torch", impl="native", median_s=0.020, stable=False, unstable_reasons=[UNSTABLE]),
        bench_row(backend="torch", impl="compiled", median_s=0.060, stable=True, unstable_reasons=[]),
    ]
    write_records(tmp_path, [bench_record(rows, stable=False, unstable_reasons=["1 of 3 rows unstable"])])
    (block,) = _speed_blocks(load_results(tmp_path))
    assert block.header == ["cell", "size", "pass", "numpy ms (% peak)", "× fastest"]
    assert block.rows[0][3].startswith("30 ±") and block.rows[0][-1] == "1.00×"


def test_an_old_busy_record_is_not_trusted_and_an_old_quiet_one_with_tight_samples_is(tmp_path):
    busy = bench_record(
        [
            bench_row(backend="numpy", median_s=0.030, hidden=512),
            bench_row(backend="torch", median_s=0.020, hidden=512),
        ],
        load=(3.9, 4.2),
        suite="custom",
        started_at="2026-11-30T11:00:00Z",
    )
    quiet = bench_record(
        [bench_row(backend="numpy", median_s=0.031), bench_row(backend="torch", median_s=0.019)],
        load=(0.3, 0.6),
        suite="cpu",
        started_at="2026-11-30T12:00:00Z",
    )
    write_records(tmp_path, [busy, quiet])
    frame = load_results(tmp_path)
    (block,) = _speed_blocks(frame)  # the busy record has no table of its own, nor a row in another
    assert block.title.startswith("speed, cpu 2026-11-30 12:00")
    assert [c.split(" ")[0] for c in block.rows[0][3:5]] == ["31", "19"]
    (doubted,) = _not_trusted(frame)  # one line for the whole record, with the load that disqualified it
    assert doubted["configuration"] == "every row (2)" and doubted["record"] == "custom 2026-11-30 11:00"
    assert "1-min load 3.9 at the start and 4.2 at the end, above the 2 usable CPUs" in doubted["reasons"]


def test_a_later_busy_measurement_does_not_hide_an_earlier_trusted_one(tmp_path):
    write_records(
        tmp_path,
        [
            bench_record(
                [bench_row(backend="numpy", median_s=0.030)], load=(0.2, 0.3), started_at="2026-11-30T10:00:00Z"
            ),
            bench_record(
                [bench_row(backend="numpy", median_s=0.090)], load=(5.0, 5.0), started_at="2026-11-30T11:00:00Z"
            ),
        ],
    )
    section = speed_section(load_results(tmp_path))
    assert section.frame["median_s"].tolist() == [0.030]
    assert any("1 measurement(s) of a configuration measured again" in note for note in section.notes)


def test_an_old_row_with_few_or_scattered_samples_is_not_trusted(tmp_path):
    rows = [
        bench_row(backend="numpy", median_s=0.030),
        bench_row(backend="torch", median_s=0.020, samples=[0.018, 0.020, 0.022]),  # 3 samples: 75% coverage
        bench_row(
            backend="tensorflow",
            median_s=0.025,
            samples=[0.025 * f for f in (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3)],
        ),
    ]
    write_records(tmp_path, [bench_record(rows, load=(0.2, 0.4))])
    reasons = {d["backend"]: d["reasons"] for d in _not_trusted(load_results(tmp_path))}
    assert set(reasons) == {"torch", "tensorflow"}
    assert "only 3 samples" in reasons["torch"] and "wider than the 3% target" in reasons["tensorflow"]


def test_a_slow_sessions_peak_makes_its_record_untrusted(tmp_path):
    write_records(
        tmp_path,
        [
            bench_record([bench_row(backend="numpy")], peak_gflops=200.0),
            bench_record([bench_row(backend="torch")], peak_gflops=60.0),
        ],
    )
    (doubted,) = _not_trusted(load_results(tmp_path))
    assert doubted["backend"] == "torch" and "peak GEMM 60 GFLOP/s is 30%" in doubted["reasons"]


def test_a_machine_of_the_same_name_with_another_isa_level_has_its_own_peak_and_rows(tmp_path):
    """One hostname and CPU model string has meant CPUs with and without AVX-512 here: the AVX2 record is not
    judged slow against the AVX-512 peak, and its rows stay apart from the AVX-512 record's (host label)."""
    avx2, avx512 = ["sse4_2", "avx", "avx2", "fma"], ["sse4_2", "avx", "avx2", "fma", "avx512f"]
    write_records(
        tmp_path,
        [
            bench_record([bench_row(backend="numpy")], peak_gflops=200.0, cpu_flags=avx512),
            bench_record([bench_row(backend="numpy")], peak_gflops=60.0, cpu_flags=avx2),
        ],
    )
    frame = load_results(tmp_path)
    assert [b.title for b in speed_section(frame).blocks] == ["time per call"]  # no "Not trusted" table
    assert sorted(frame.loc[frame["kind"] == "bench", "host"]) == ["hostA (avx2)", "hostA (avx512)"]


# --- what a trusted row shows -------------------------------------------------------------------------------------


def test_median_plus_minus_and_ratio_with_its_interval():
    assert median_text(0.0123, [0.0121, 0.0126]) == "12.3 ±2.4%"  # the larger side, in percent of the median
    assert median_text(0.0123, [0.0100, 0.0150]) == "12.3 ±22%"
    assert median_text(0.0123, None) == "12.3" and median_text(None, None) == "-"
    assert ratio_text(1.3214, [1.281, 1.364]) == "1.32× [1.28–1.36]" and ratio_text(2.0) == "2.00×"


def _interleaved(**extra):
    return [
        bench_row(
            backend="numpy",
            median_s=0.0264,
            stable=True,
            ratio_to_fastest=1.32,
            ratio_ci95=[1.28, 1.36],
            rounds=20,
            ci95_s=[0.0260, 0.0270],
            **extra,
        ),
        bench_row(
            backend="torch",
            median_s=0.020,
            stable=True,
            ratio_to_fastest=1.0,
            ratio_ci95=[1.0, 1.0],
            rounds=20,
            ci95_s=[0.0199, 0.0202],
            **extra,
        ),
    ]


def test_the_ratio_from_interleaved_rounds_is_shown_with_its_interval(tmp_path):
    write_records(tmp_path, [bench_record(_interleaved(), stable=True, unstable_reasons=[])])
    frame = load_results(tmp_path)
    (block,) = _speed_blocks(frame)
    cells = dict(zip(block.header, block.rows[0]))
    assert cells["numpy ms (% peak)"] == "26.4 ±2.3%"  # from the recorded ci95_s, not the samples
    assert cells["× fastest"] == "1.32× [1.28–1.36] / 1.00× [1.00–1.00]"
    detailed = speed_section(frame).blocks[0]
    numpy = dict(zip(detailed.header, next(r for r in detailed.rows if "numpy" in r)))
    assert numpy["× fastest"] == "1.32× [1.28–1.36]"
    assert "peak MiB" not in detailed.header and "first call ms" not in detailed.header


def test_peak_memory_and_first_call_columns_when_the_rows_have_them(tmp_path):
    rows = _interleaved(peak_bytes=48 * 2**20, first_call_s=0.75, peak_method="vmhwm")
    write_records(tmp_path, [bench_record(rows, stable=True, unstable_reasons=[])])
    frame = load_results(tmp_path)
    detailed = speed_section(frame).blocks[0]
    numpy = dict(zip(detailed.header, next(r for r in detailed.rows if "numpy" in r)))
    assert (numpy["peak MiB"], numpy["first call ms"]) == ("48", "750")
    (block,) = _speed_blocks(frame)  # the summary stays within a page: those columns are the speed section's
    assert "peak MiB" not in block.header and "first call ms" not in block.header


def test_no_absolute_data_path_of_an_older_record_is_printed(tmp_path):
    source = {"source": "sst", "path": "/home/someone/data/sst/train.txt", "selection": "first N trees of train.txt"}
    tree = bench_row(
        cell="recursive",
        structure="tree",
        impl="level-batched",
        trees=4,
        nodes=60,
        steps=6,
        input=8,
        hidden=8,
        tree_source=source,
    )
    record = bench_record([tree, bench_row(backend="numpy")], config={"tree_source": source})
    write_records(tmp_path, [record])
    frame = load_results(tmp_path)
    for fmt in ("text", "markdown", "html"):
        assert "/home/someone" not in render(fmt, [summary_section(frame), speed_section(frame)], Meta("r"))
    assert "/home/someone" not in render("csv", [speed_section(frame)], Meta("r"))


# --- the speed chart ----------------------------------------------------------------------------------------------


def test_the_speed_chart_is_a_dot_plot_of_ratios_with_interval_whiskers(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.container import ErrorbarContainer

    import rnnbench.report.figures as figures

    drawn = []
    monkeypatch.setattr(figures, "to_svg", lambda fig: drawn.append(fig) or "<svg/>")
    rows = _interleaved() + [dict(r, **{"pass": "forward"}) for r in _interleaved()]
    rows.append(bench_row(backend="tensorflow", median_s=0.030, stable=True))  # no interval: a dot, no whisker
    write_records(tmp_path, [bench_record(rows, stable=True, unstable_reasons=[])])
    (chart,) = figures.speed_figures(load_results(tmp_path))
    (fig,) = drawn
    axes = fig.get_axes()
    assert [ax.get_title().split(":")[0] for ax in axes] == ["forward+backward", "forward"]  # a panel per pass
    for ax in axes:
        assert ax.get_xscale() == "linear" and not ax.patches  # no bars on a log axis
        assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.get_lines())  # the line at 1.0
    points = {}
    for container in axes[0].containers:
        assert isinstance(container, ErrorbarContainer)
        dots, _, (whiskers,) = container.lines[0], container.lines[1], container.lines[2]
        spans = [tuple(round(x, 6) for x in (segment[0][0], segment[1][0])) for segment in whiskers.get_segments()]
        points[container.get_label()] = (list(dots.get_xdata()), spans)
    assert points["numpy"] == ([1.32], [(1.28, 1.36)])
    assert points["torch"] == ([1.0], [(1.0, 1.0)])
    assert points["tensorflow"][0] == [pytest.approx(1.5)] and points["tensorflow"][1] == [(1.5, 1.5)]
    assert chart.title.endswith("ratio to the fastest backend")


def test_odd_trust_fields_of_a_hand_edited_record_neither_break_nor_hide_it(tmp_path):
    rows = [
        bench_row(backend="numpy", stable=False, unstable_reasons="edited by hand"),
        bench_row(backend="torch", stable="yes", ci95_s=["a", 2], ratio_ci95=[1.0], samples_s=[0.01, "x", None]),
    ]
    write_records(tmp_path, [bench_record(rows, stable=True, unstable_reasons="none")])
    reasons = {d["backend"]: d["reasons"] for d in _not_trusted(load_results(tmp_path))}
    assert reasons["numpy"] == "edited by hand"  # one sentence, not one a character
    assert "only 1 samples" in reasons["torch"]  # judged on the one number it has
