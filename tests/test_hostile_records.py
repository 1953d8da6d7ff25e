"""Issue 22, items 1-4 and 10: records and reports that a hostile user could lose, misplace or turn into a traceback.

A report never replaces a device or FIFO; a sweep names every record that went to the fallback and exits non-zero;
a sweep's runs die with it (SIGKILL) or stop with a record (SIGHUP); a long dataset name still gives a record file
name the file system takes; a deeply nested file, a full stdout or disk, and Ctrl-C at start-up are one line each.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rnnbench import cli
from rnnbench import records as record_files

from proc_helpers import catches_sigterm, children, wait_for
from report_fixtures import run_record, write_records
from text_fixtures import sentiment_texts, write_user_file

TINY = ["--embed-size", "4", "--hidden-size", "4", "--no-progress"]


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- 1. report --output --force replaces only a regular file ----------------------------------------------------


def test_output_force_refuses_a_fifo_and_leaves_it_a_fifo(tmp_path, capsys):
    results = write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)])
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code = cli.main(["report", "--results-dir", str(results), "--summary", "--output", str(fifo), "--force"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err == (
        f"rnnbench: error: --output {fifo} is a FIFO (named pipe), not a regular file; rnnbench report "
        f"replaces only a regular file (to write to it, leave out --output and redirect)\n"
    )
    assert fifo.exists() and not fifo.is_file() and os.path.stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "r"]  # no temporary file left behind


def test_output_refuses_a_device_and_a_markdown_report_makes_no_charts_folder_for_it(tmp_path, capsys):
    from rnnbench.errors import RnnbenchError
    from rnnbench.report.output import check_target

    with pytest.raises(RnnbenchError, match="is a character device, not a regular file"):
        check_target(Path(os.devnull), force=True)
    results = write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)])
    fifo = tmp_path / "report.md"
    os.mkfifo(fifo)
    code = cli.main(["report", "--results-dir", str(results), "--format", "markdown", "--output", str(fifo), "--force"])
    assert code == 2 and "not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "report_files").exists()


def test_output_force_still_replaces_a_regular_file(tmp_path, capsys):
    results = write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)])
    out = tmp_path / "report.txt"
    out.write_text("old")
    assert cli.main(["report", "--results-dir", str(results), "--summary", "--output", str(out), "--force"]) == 0
    assert out.read_text().startswith(str(results))


# -- 2. a sweep on a full disk names every record that went to the fallback, and exits non-zero ----------------


def _tiny_sweep(folder: Path, seeds=(0, 1), **options) -> Path:
    """A numpy longrange sweep of ``seeds``, a second or two a run (``options`` override its [options])."""
    values = {
        "task": '"longrange"',
        "backend": '"numpy"',
        "model": '"gru"',
        "seq_len": 10,
        "hidden_size": 8,
        "max_steps": 10,
        "steps_per_epoch": 10,
        "dev_size": 32,
        "test_size": 32,
        "threads": 1,
        **options,
    }
    path = folder / "tiny.toml"
    path.write_text(
        "[options]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + f"\n[matrix]\nseed = {list(seeds)}\n"
    )
    return path


FULL_DISK_IN_RUNS = """
import errno, os
import rnnbench.records as records

def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

records.write_record = _full  # every run's results directory is full at the end: its record goes to the fallback
"""


def test_a_sweep_whose_runs_fall_back_names_every_record_and_exits_2(tmp_path, capsys, monkeypatch, private_tmp):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FULL_DISK_IN_RUNS)  # in the runs only, not in this sweep
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    results = tmp_path / "results"
    code = cli.main(["sweep", str(_tiny_sweep(tmp_path)), "--results-dir", str(results), "--no-progress"])
    captured = capsys.readouterr()
    saved = sorted(private_tmp.glob("rnnbench-record-*.json"))
    assert len(saved) == 2 and {json.loads(p.read_text())["status"] for p in saved} == {"ok"}
    assert code == 2, captured.err
    assert not list(results.glob("*.json"))
    last = captured.err.splitlines()[-1]
    assert last.startswith(f"rnnbench: error: 2 record(s) could not be written to {results} and were kept elsewhere: ")
    for path in saved:
        assert str(path) in last
    assert "Traceback" not in captured.err


def test_a_stand_in_record_on_a_full_disk_is_kept_and_named_not_a_crash(tmp_path, capsys, monkeypatch, private_tmp):
    broken = tmp_path / "broken.tsv"
    broken.write_text("words\tcategory\nsome text\tpos\nmore text\tneg\n")  # fails when the run reads it
    sweep = tmp_path / "broken.toml"
    sweep.write_text(
        f'[[include]]\ntask = "textclf"\nbackend = "numpy"\nmodel = "gru"\ndataset = "{broken}"\nthreads = 1\n'
    )
    monkeypatch.setattr(record_files, "write_record", _disk_full)  # the sweep's own write of the stand-in
    results = tmp_path / "results"
    code = cli.main(["sweep", str(sweep), "--results-dir", str(results), "--no-progress"])
    captured = capsys.readouterr()
    [saved] = private_tmp.glob("rnnbench-record-*.json")
    assert code == 2 and "Traceback" not in captured.err
    assert json.loads(saved.read_text())["status"] == "failed"
    assert str(saved) in captured.err.splitlines()[-1]


# -- 3. a sweep's runs die with it, and SIGHUP leaves interrupted records ------------------------------------------


def _alive(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return " Z " not in state and "zombie" not in state


def _long_sweep(tmp_path):
    sweep = _tiny_sweep(tmp_path, seeds=(0, 1, 2, 3), max_steps=1_000_000, steps_per_epoch=100_000)
    results = tmp_path / "results"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "sweep",
            str(sweep),
            "--jobs",
            "2",
            "--results-dir",
            str(results),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(children(process.pid)) == 2, 60, "the sweep's two runs to start")
        runs = children(process.pid)
        wait_for(lambda: all(catches_sigterm(pid) for pid in runs), 60, "the runs to install their signal handlers")
        time.sleep(1.0)
    except BaseException:
        process.kill()
        process.wait(timeout=30)
        raise
    return process, runs, results


def test_a_killed_sweep_takes_its_runs_with_it_and_they_leave_interrupted_records(tmp_path):
    process, runs, results = _long_sweep(tmp_path)
    try:
        process.kill()  # SIGKILL: no handler runs in the sweep
        process.communicate(timeout=30)
        wait_for(lambda: not any(_alive(pid) for pid in runs), 60, f"the runs {runs} to end with their sweep")
    finally:
        for pid in runs:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    records = _records(results)
    assert sorted(r["seed"] for r in records) == [0, 1]  # the two runs under way, none of the two queued
    assert {(r["status"], r["signal"]) for r in records} == {("interrupted", "SIGTERM")}


def test_sighup_stops_a_sweep_like_sigterm_with_interrupted_records(tmp_path):
    process, runs, results = _long_sweep(tmp_path)
    try:
        process.send_signal(signal.SIGHUP)  # the terminal or ssh session closed
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for pid in runs:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert process.returncode == 129, err
    assert "Traceback" not in err
    assert not any(_alive(pid) for pid in runs)
    records = _records(results)
    assert sorted(r["seed"] for r in records) == [0, 1]
    assert {(r["status"], r["signal"]) for r in records} == {("interrupted", "SIGHUP")}
    assert "sweep: 0 ok, 0 failed, 0 diverged, 2 interrupted, 0 skipped, 2 not started (4 configurations)" in out


# -- 4. a long dataset name still makes a record file name ------------------------------------------------------


def test_short_record_names_are_unchanged():
    record = {
        "started_at": "2026-01-02T03:04:05.678Z",
        "task": "textclf",
        "dataset": "/data/my reviews.tsv",
        "backend": "numpy",
        "model": "lstm",
        "seed": 3,
    }
    assert record_files.record_stem(record) == "20260102T030405_textclf_my-reviews_numpy_lstm_seed3"


def test_long_dataset_names_are_cut_and_hashed_to_a_name_that_fits():
    base = {"started_at": "2026-01-02T03:04:05.678Z", "task": "textclf", "backend": "numpy", "model": "lstm", "seed": 0}
    one = record_files.record_stem({**base, "dataset": "/d/" + "a" * 240 + ".tsv"})
    two = record_files.record_stem({**base, "dataset": "/d/" + "a" * 239 + "b.tsv"})
    assert one != two, "two long names that differ only at the end still differ"
    assert len(one) < 120 and len(f"rnnbench-record-{one}-12345678.json") < 255
    assert one.startswith("20260102T030405_textclf_aaaa") and one.endswith("_numpy_lstm_seed0")


def test_run_on_a_dataset_with_a_240_character_name_writes_its_record_in_the_results_dir(tmp_path, capsys, private_tmp):
    data = write_user_file(tmp_path / ("r" * 240 + ".tsv"), sentiment_texts(40))
    results = tmp_path / "results"
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            str(data),
            "--results-dir",
            str(results),
            "--max-steps",
            "2",
            "--epochs",
            "1",
            *TINY,
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    [record] = _records(results)
    assert record["status"] == "ok" and record["dataset"] == str(data)
    assert not list(private_tmp.iterdir()), "nothing went to the fallback"


def test_sweep_on_a_dataset_with_a_240_character_name_does_not_crash(tmp_path, private_tmp):
    data = write_user_file(tmp_path / ("s" * 240 + ".tsv"), sentiment_texts(40))
    sweep = tmp_path / "long-name.toml"
    sweep.write_text(
        textwrap.dedent(f"""
        [matrix]
        task = ["textclf"]
        backend = ["numpy"]
        seed = [0]

        [options]
        dataset = "{data}"
        model = "rnn"
        embed_size = 4
        hidden_size = 4
        max_steps = 2
        epochs = 1
        threads = 1
    """)
    )
    results = tmp_path / "results"
    process = subprocess.run(
        [sys.executable, "-m", "rnnbench.cli", "sweep", str(sweep), "--results-dir", str(results), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    assert [r["status"] for r in _records(results)] == ["ok"]
    assert "sweep: 1 ok, 0 failed" in process.stdout


# -- 10. tracebacks: deep JSON, a full stdout or disk, Ctrl-C at start-up -----------------------------------------


def _deeply_nested(folder: Path) -> Path:
    (folder / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (folder / "huge-number.json").write_text('{"schema": "rnnbench.run/1", "seed": ' + "9" * 5000 + "}")
    return folder


def test_a_deeply_nested_json_file_is_skipped_with_one_warning_by_report(tmp_path, capsys):
    results = _deeply_nested(write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)]))
    assert cli.main(["report", "--results-dir", str(results), "--summary"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err
    assert "warning: skipped deep.json: not readable JSON (nested too deeply)" in err
    assert "warning: skipped huge-number.json: not readable JSON" in err


def test_a_deeply_nested_json_file_does_not_stop_a_sweep_dry_run(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    results = _deeply_nested(tmp_path / "results")
    smoke = Path(__file__).resolve().parent.parent / "sweeps" / "smoke.toml"
    code = cli.main(["sweep", str(smoke), "--dry-run", "--results-dir", str(results)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "4 configurations: 0 done, 4 to run" in captured.out


def _report_command(results: Path) -> list[str]:
    return [sys.executable, "-m", "rnnbench.cli", "report", "--results-dir", str(results)]


def test_report_to_a_full_stdout_is_one_line(tmp_path):
    results = write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)])
    with open("/dev/full", "w") as full:
        process = subprocess.run(_report_command(results), stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert process.returncode == 2
    assert process.stderr == "rnnbench: error: cannot write the report to standard output: No space left on device\n"


def test_any_command_to_a_full_stdout_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        process = subprocess.run(
            [sys.executable, "-m", "rnnbench.cli", "plugins"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert process.returncode == 2
    assert process.stderr == "rnnbench: error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_output_on_a_full_disk_is_one_line_and_leaves_no_files(tmp_path, capsys, monkeypatch, fmt):
    from rnnbench.report import output

    results = write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)])
    monkeypatch.setattr(output.os, "fsync", _disk_full)  # every write of the report and its charts fails
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    code = cli.main(["report", "--results-dir", str(results), "--format", fmt, "--output", str(report)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("rnnbench: error: cannot write ") and err.endswith(": No space left on device\n")
    assert list(report.parent.iterdir()) == [], "no report, no temporary file, no empty report_files/ folder"


def test_a_failed_markdown_report_removes_the_charts_it_wrote(tmp_path, capsys, monkeypatch):
    from rnnbench.report import output

    results = write_records(tmp_path / "r", [run_record(seed=s, test=0.8) for s in range(2)])
    real_write = output.write_output

    def charts_then_full(path, text, force=False):
        if Path(path).suffix == ".svg":
            return real_write(path, text, force)
        raise output.RnnbenchError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(output, "write_output", charts_then_full)
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    assert cli.main(["report", "--results-dir", str(results), "--format", "markdown", "--output", str(report)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert list(report.parent.iterdir()) == []


def test_ctrl_c_while_plugins_are_imported_is_one_line_and_130():
    code = textwrap.dedent("""
        import os, signal, sys
        import rnnbench.plugins as plugins

        real = plugins.build_registry

        def interrupted():
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the plugins are imported, before any handler
            return real()

        plugins.build_registry = interrupted
        from rnnbench.cli import main

        sys.exit(main(["plugins"]))
    """)
    # A user's terminal delivers Ctrl-C to a command whose SIGINT is at its default; a test process may have
    # inherited it ignored (a background shell's job, an xdist worker: CI saw exit 0), and an ignored signal stays
    # ignored across exec, so the command starts as a terminal would start it.
    process = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.returncode == 130
    assert process.stderr == "rnnbench: interrupted by the user (SIGINT)\n"
