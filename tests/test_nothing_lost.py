"""Issue 10, "nothing is lost": signals end a run as Ctrl-C does, a record that cannot be written is kept elsewhere,
and an option that cannot apply is one line before anything runs."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from rnnbench import check, cli, signals
from rnnbench import records as record_files

from text_fixtures import sentiment_texts, write_user_file

TINY = ["--embed-size", "4", "--hidden-size", "4", "--no-progress"]


@pytest.fixture
def toy(tmp_path):
    return write_user_file(tmp_path / "toy.tsv", sentiment_texts(60))


def _records(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


# -- signals -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_training_records_the_run_and_starts_no_later_seed(toy, tmp_path, signum, status):
    results = tmp_path / "results"
    argv = [
        sys.executable,
        "-m",
        "rnnbench.cli",
        "run",
        "--backend",
        "numpy",
        "--task",
        "textclf",
        "--dataset",
        str(toy),
        "--results-dir",
        str(results),
        "--seeds",
        "0,1",
        "--epochs",
        "100000",
        "--batch-size",
        "4",
        *TINY,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    watchdog = threading.Timer(180, proc.kill)  # a hung run fails the test instead of blocking it
    watchdog.start()
    try:
        for line in proc.stderr:  # wait until training is under way: one whole epoch done
            seen.append(line)
            if line.startswith("epoch 2/"):
                break
        assert seen and seen[-1].startswith("epoch 2/"), "".join(seen)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
    name = signal.Signals(signum).name
    assert proc.returncode == status, "".join(seen) + err
    assert "Traceback" not in err
    records = _records(results)
    assert len(records) == 1, "seed 1 must not start after the signal"
    record = records[0]
    assert record["seed"] == 0 and record["status"] == "interrupted" and record["signal"] == name
    assert record["error"].startswith(f"interrupted by {name} at epoch ") and record["steps"] > 0
    assert f"({record['status']}: {record['error']})" in out


def test_ctrl_c_still_says_the_user_and_exits_130(toy, tmp_path, capsys, monkeypatch):
    from rnnbench.backends.numpy import model as numpy_model

    def interrupt(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(numpy_model.NumpyModel, "train_step", interrupt)
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
            str(tmp_path / "r"),
            "--max-steps",
            "3",
            "--seeds",
            "0,1",
            *TINY,
        ]
    )
    assert code == 130
    [record] = _records(tmp_path / "r")
    assert record["signal"] == "SIGINT" and record["error"].startswith("interrupted by the user (SIGINT) at epoch 1")


def test_a_signal_while_a_record_is_written_waits_for_it_then_stops(toy, tmp_path, capsys, monkeypatch):
    real = record_files.write_record

    def signalled_mid_write(folder, record):
        os.kill(os.getpid(), signal.SIGTERM)  # held back until the record is safe
        return real(folder, record)

    monkeypatch.setattr(record_files, "write_record", signalled_mid_write)
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
            str(tmp_path / "r"),
            "--max-steps",
            "2",
            "--epochs",
            "1",
            "--seeds",
            "0,1",
            *TINY,
        ]
    )
    assert code == 143
    records = _records(tmp_path / "r")
    assert [(r["seed"], r["status"]) for r in records] == [(0, "ok")], "seed 0 finished and kept; seed 1 never began"
    assert "record: " in capsys.readouterr().out


def test_deferred_holds_a_signal_and_interruptible_reopens():
    with signals.handled():
        with pytest.raises(signals.Interrupted) as raised:
            with signals.deferred():
                os.kill(os.getpid(), signal.SIGHUP)
                time.sleep(0.01)  # it arrives, and is held
                reached = True
        assert reached and raised.value.signum == signal.SIGHUP
        with signals.deferred():
            with pytest.raises(signals.Interrupted):
                with signals.interruptible():
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) is not signals._on_signal, "the earlier handler is back"


def test_check_exits_143_on_sigterm_with_one_line_and_no_record(tmp_path, capsys, monkeypatch):
    def terminated(cases):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop check")

    monkeypatch.setattr(check, "reference_rows", terminated)
    code = cli.main(["check", "--backend", "numpy", "--cells", "rnn", "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 143 and err == "rnnbench: interrupted by SIGTERM\n"
    assert not list((tmp_path / "r").glob("*.json"))


def test_bench_exits_143_on_sigterm_with_one_line_and_no_record(tmp_path, capsys, monkeypatch):
    from rnnbench.bench import sweep

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop bench")

    monkeypatch.setattr(sweep, "measure_peak", terminated)
    code = cli.main(
        [
            "bench",
            "--backends",
            "numpy",
            "--cells",
            "rnn",
            "--sizes",
            "2x3x4x5",
            "--settle",
            "0",
            "--results-dir",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 143 and err.splitlines()[-1] == "rnnbench: interrupted by SIGTERM"
    assert "Traceback" not in err and not list((tmp_path / "r").glob("*.json"))


# -- a record that cannot be written --------------------------------------------------------------------------------


def _run_one(toy, results, *extra):
    return cli.main(
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
            *TINY,
            *extra,
        ]
    )


def _disk_full(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _results_disk_full(monkeypatch):
    """The results directory's disk is full when the record is put under its name; the temp directory's is not."""
    from rnnbench import atomic

    real = atomic._claim

    def claim(staged, final):
        return real(staged, final) if final.name.startswith("rnnbench-record-") else _disk_full()

    monkeypatch.setattr(atomic, "_claim", claim)


def test_disk_full_at_the_end_keeps_the_record_in_the_temp_directory(toy, tmp_path, capsys, monkeypatch, private_tmp):
    _results_disk_full(monkeypatch)
    results = tmp_path / "results"
    code = _run_one(toy, results)
    captured = capsys.readouterr()
    [saved] = private_tmp.glob("rnnbench-record-*.json")
    assert code == 2
    assert captured.err.splitlines()[-1] == (
        f"rnnbench: error: could not write the record to {results} (No space left on device); it was saved to {saved}"
    )
    assert "result: seed 0 ok: dev accuracy " in captured.err, "the result is shown before the write is tried"
    assert "test accuracy" in captured.out
    record = json.loads(saved.read_text())
    assert record["status"] == "ok" and record["best"]["test"] is not None
    assert not list(results.glob("*.json")) and not list(results.glob(".tmp-*"))


def test_results_directory_replaced_by_a_file_mid_run(toy, tmp_path, capsys, monkeypatch, private_tmp):
    import shutil

    from rnnbench.backends.numpy import model as numpy_model

    results = tmp_path / "results"
    real_step = numpy_model.NumpyModel.train_step

    def step_and_remove(self, *args):
        if results.is_dir():
            shutil.rmtree(results)
            results.write_text("someone put a file here")
        return real_step(self, *args)

    monkeypatch.setattr(numpy_model.NumpyModel, "train_step", step_and_remove)
    earlier = private_tmp / "rnnbench-record-earlier.json"
    earlier.write_text("an earlier fallback")
    assert _run_one(toy, results) == 2
    err = capsys.readouterr().err
    assert f"could not write the record to {results} (" in err and err.count("rnnbench: error") == 1
    saved = [p for p in private_tmp.glob("rnnbench-record-*.json") if p != earlier]
    assert len(saved) == 1 and json.loads(saved[0].read_text())["status"] == "ok"
    assert earlier.read_text() == "an earlier fallback"


def test_when_even_the_temp_directory_fails_the_record_goes_to_stdout(toy, tmp_path, capsys, monkeypatch):
    _results_disk_full(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no" / "such" / "tmp"))
    assert _run_one(toy, tmp_path / "results") == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1].endswith("it was printed to standard output instead")
    start = captured.out.index('{\n "schema": "rnnbench.run/1"')
    record, _ = json.JSONDecoder().raw_decode(captured.out[start:])
    assert record["status"] == "ok" and record["best"]["test"] is not None


def test_check_record_that_cannot_be_written_is_kept(tmp_path, capsys, monkeypatch, private_tmp):
    _results_disk_full(monkeypatch)
    code = cli.main(
        ["check", "--backend", "numpy", "--cells", "rnn", "--dtype", "float64", "--results-dir", str(tmp_path / "r")]
    )
    captured = capsys.readouterr()
    [saved] = private_tmp.glob("rnnbench-record-*.json")
    assert code == 2 and "pass" in captured.out
    assert captured.err == (
        f"rnnbench: error: could not write the record to {tmp_path / 'r'} "
        f"(No space left on device); it was saved to {saved}\n"
    )
    assert json.loads(saved.read_text())["schema"] == "rnnbench.check/1"


# -- options that cannot apply --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--threads", "0"], "--threads must be at least 1, got 0"),
        (["--threads", "-1"], "--threads must be at least 1, got -1"),
        (["--device", "tpu"], "numpy backend runs on cpu only; got device='tpu'"),
        (["--device", "cuda"], "numpy backend runs on cpu only; got device='cuda'"),
    ],
    ids=["threads0", "threads-1", "tpu", "cuda-numpy"],
)
def test_check_option_that_cannot_apply_is_one_line_before_anything_runs(tmp_path, capsys, monkeypatch, argv, message):
    def must_not_run(*args, **kwargs):
        raise AssertionError("no row may be computed")

    monkeypatch.setattr(check, "reference_rows", must_not_run)
    monkeypatch.setattr(check, "parity_rows", must_not_run)
    code = cli.main(["check", "--backend", "numpy", "--results-dir", str(tmp_path / "r"), *argv])
    assert code == 2
    assert capsys.readouterr().err == f"rnnbench: error: {message}\n"
    assert not (tmp_path / "r").exists()


def test_check_without_backends_names_the_way_out(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(check, "available_targets", lambda backends: [("numpy", "native")])
    assert cli.main(["check", "--device", "cuda", "--no-record"]) == 2
    assert capsys.readouterr().err == (
        "rnnbench: error: numpy backend runs on cpu only; got device='cuda'; "
        "choose the backends to check with --backend\n"
    )


@pytest.mark.skipif(not __import__("importlib.util").util.find_spec("torch"), reason="torch not installed")
def test_check_torch_on_a_missing_gpu_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = cli.main(["check", "--backend", "torch", "--device", "cuda", "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr()
    assert code == 2 and err.out == ""
    assert err.err == "rnnbench: error: device cuda requested but torch.cuda.is_available() is False\n"
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", ["0", "-1"])
@pytest.mark.parametrize(
    "command",
    [
        ["run", "--backend", "numpy", "--task", "textclf", "--dataset", "mr"],
        ["bench", "--backends", "numpy", "--cells", "rnn", "--sizes", "2x3x4x5"],
    ],
    ids=["run", "bench"],
)
def test_threads_below_one_is_an_error_on_every_command(tmp_path, capsys, command, value):
    code = cli.main([*command, "--threads", value, "--results-dir", str(tmp_path / "r")])
    assert code == 2
    assert capsys.readouterr().err == f"rnnbench: error: --threads must be at least 1, got {value}\n"
    assert not (tmp_path / "r").exists()
