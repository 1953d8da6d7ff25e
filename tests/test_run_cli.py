"""`rnnbench run` end to end, and every bad input of issue 4: one line, non-zero exit, nothing earlier lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rnnbench import cli, plugins
from rnnbench.entry import Entry

from text_fixtures import sentiment_texts, write_local_layout, write_user_file

TINY = ["--embed-size", "4", "--hidden-size", "4", "--max-steps", "3", "--epochs", "1", "--no-progress"]


@pytest.fixture
def workspace(tmp_path):
    """A data dir, a user file, and a results dir that already holds one earlier record."""
    data = write_local_layout(tmp_path / "data", size=40)
    toy = write_user_file(tmp_path / "toy.tsv", sentiment_texts(60))
    results = tmp_path / "results"
    results.mkdir()
    earlier = results / "20250101T000000_textclf_mr_numpy_lstm_seed0.json"
    earlier.write_text('{"schema": "rnnbench.run/1", "status": "ok"}\n')
    return {
        "data": str(data),
        "toy": str(toy),
        "results": results,
        "earlier": earlier,
        "earlier_bytes": earlier.read_bytes(),
        "earlier_mtime": earlier.stat().st_mtime_ns,
    }


def _main(workspace, *argv):
    return cli.main(["run", "--results-dir", str(workspace["results"]), "--data-dir", workspace["data"], *argv])


def _untouched(workspace, new_files=0):
    files = sorted(workspace["results"].glob("*.json"))
    assert workspace["earlier"].read_bytes() == workspace["earlier_bytes"]
    assert workspace["earlier"].stat().st_mtime_ns == workspace["earlier_mtime"]
    assert len(files) == 1 + new_files, [f.name for f in files]


def test_run_prints_a_table_and_the_record_path(workspace, capsys):
    code = _main(workspace, "--backend", "numpy", "--task", "textclf", "--dataset", "mr", "--seeds", "0,1", *TINY)
    out = capsys.readouterr().out
    assert code == 0
    assert "dev accuracy" in out and "mean ± sd" in out
    paths = [line.split("record: ", 1)[1] for line in out.splitlines() if line.startswith("record: ")]
    assert len(paths) == 2
    records = [json.loads(open(p).read()) for p in paths]
    assert [r["seed"] for r in records] == [0, 1] and {r["status"] for r in records} == {"ok"}
    assert records[0]["config"]["threads"] >= 1 and records[0]["backend_info"]["threads"] is not None
    _untouched(workspace, new_files=2)


def test_show_config_resolves_task_defaults(workspace, capsys):
    assert (
        _main(
            workspace, "--backend", "numpy", "--task", "textclf", "--dataset", "trec", "--lr", "0.01", "--show-config"
        )
        == 0
    )
    config = json.loads(capsys.readouterr().out)
    assert config["max_length"] == 40 and config["lr"] == 0.01 and config["model"] == "lstm"
    _untouched(workspace)


BAD_INPUTS = [
    (["--backend", "jax", "--task", "textclf"], "unknown backend 'jax'; valid backends: numpy, tensorflow, torch"),
    (["--backend", "numpy", "--task", "parsing"], "unknown task 'parsing'; valid tasks: longrange, textclf, treesent"),
    (
        ["--backend", "numpy", "--task", "textclf", "--dataset", "yelp"],
        "unknown dataset 'yelp'; valid datasets: imdb, sst2, mr, trec, ag_news, or a path to a .tsv/.csv/.jsonl file",
    ),
    (
        ["--backend", "numpy", "--task", "textclf", "--dataset", "mr", "--model", "bilstm"],
        "unknown model cell 'bilstm'; valid: rnn, lstm, gru",
    ),
    (
        ["--backend", "numpy", "--task", "textclf", "--dataset", "mr", "--seeds", "0,x"],
        "--seeds takes comma-separated integers, got '0,x'",
    ),
    (
        ["--backend", "numpy", "--task", "textclf", "--dataset", "mr", "--epochs", "0"],
        "--epochs must be at least 1, got 0",
    ),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS, ids=["backend", "task", "dataset", "model", "seeds", "epochs"])
def test_unknown_names_list_the_valid_ones(workspace, capsys, argv, message):
    assert _main(workspace, *TINY, *argv) == 2
    assert capsys.readouterr().err == f"rnnbench: error: {message}\n"
    _untouched(workspace)


def test_backend_whose_framework_is_missing_names_the_extra(workspace, capsys, monkeypatch):
    registry = plugins.Registry(
        backends={
            "jaxish": Entry("jaxish", "nowhere:Backend", requires=("rnnbench_no_such_framework",), extra="jaxish")
        },
        tasks=plugins.get_registry().tasks,
        commands=plugins.get_registry().commands,
    )
    monkeypatch.setattr(plugins, "get_registry", lambda: registry)
    assert _main(workspace, "--backend", "jaxish", "--task", "textclf", *TINY) == 2
    err = capsys.readouterr().err
    assert err == (
        "rnnbench: error: backend jaxish is unavailable: rnnbench_no_such_framework not installed "
        "(pip install 'rnnbench[jaxish]')\n"
    )
    _untouched(workspace)


def test_missing_dataset_names_fetch_and_data_dir(workspace, capsys, tmp_path):
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            "imdb",
            "--data-dir",
            str(tmp_path / "empty"),
            "--results-dir",
            str(workspace["results"]),
            *TINY,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "rnnbench data fetch imdb" in err and "--data-dir" in err and "RNNBENCH_DATA_DIR" in err
    _untouched(workspace)


def test_file_problems(workspace, capsys, tmp_path):
    toy = workspace["toy"]
    header_only = tmp_path / "empty.csv"
    header_only.write_text("label,text\n")
    unknown = write_user_file(tmp_path / "dev.tsv", [("odd text", 1)], names=("neg", "meh"))
    small = write_user_file(tmp_path / "small.jsonl", [("a b", 0), ("c d", 1)])
    cases = [
        (
            ["--dataset", toy, "--text-column", "review"],
            "has no column 'review' (set --text-column); columns: label, text",
        ),
        (["--dataset", toy, "--label-column", "stars"], "has no column 'stars' (set --label-column)"),
        (["--dataset", toy, "--dev-file", str(unknown)], "unknown label 'meh'; known labels: neg, pos"),
        (["--dataset", str(header_only)], "has no examples"),
        (["--dataset", str(small)], "split is empty"),
    ]
    for argv, message in cases:
        assert _main(workspace, "--backend", "numpy", "--task", "textclf", *argv, *TINY) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    _untouched(workspace)


def test_unwritable_results_directory(workspace, capsys, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            "mr",
            "--data-dir",
            workspace["data"],
            "--results-dir",
            str(blocker / "results"),
            *TINY,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "is not writable" in err and err.count("\n") == 1
    _untouched(workspace)


def test_two_runs_into_one_results_directory_at_once(workspace):
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
        workspace["toy"],
        "--results-dir",
        str(workspace["results"]),
        *TINY,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err.decode()[-500:] for _, err in outputs]
    paths = {
        line.split("record: ", 1)[1]
        for out, _ in outputs
        for line in out.decode().splitlines()
        if line.startswith("record: ")
    }
    assert len(paths) == 2
    assert all(json.loads(open(p).read())["status"] == "ok" for p in paths)
    _untouched(workspace, new_files=2)


def test_failed_run_is_recorded_and_exits_non_zero(workspace, capsys, monkeypatch):
    from rnnbench.backends.numpy import model as numpy_model

    def broken(self, *args):
        raise FloatingPointError("simulated failure")

    monkeypatch.setattr(numpy_model.NumpyModel, "train_step", broken)
    code = _main(workspace, "--backend", "numpy", "--task", "textclf", "--dataset", "mr", *TINY)
    out = capsys.readouterr().out
    assert code == 1
    assert "(failed: FloatingPointError: simulated failure)" in out
    _untouched(workspace, new_files=1)


def test_help_imports_no_framework():
    code = (
        "import sys; from rnnbench import cli; cli.build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'tensorflow', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ctrl_c_records_the_run_and_stops_the_remaining_seeds(workspace, capsys, monkeypatch):
    from rnnbench.backends.numpy import model as numpy_model

    real_step = numpy_model.NumpyModel.train_step
    calls = []

    def step_then_interrupt(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(numpy_model.NumpyModel, "train_step", step_then_interrupt)
    code = _main(
        workspace,
        "--backend",
        "numpy",
        "--task",
        "textclf",
        "--dataset",
        workspace["toy"],
        "--seeds",
        "0,1,2",
        "--batch-size",
        "8",
        *TINY,
    )
    out = capsys.readouterr().out
    assert code == 130
    paths = [line.split("record: ", 1)[1].split("  (")[0] for line in out.splitlines() if line.startswith("record: ")]
    assert len(paths) == 1, "seeds after the interrupted one do not start"
    record = json.loads(open(paths[0]).read())
    assert record["status"] == "interrupted" and record["steps"] == 1 and "step 1" in record["error"]
    _untouched(workspace, new_files=1)
