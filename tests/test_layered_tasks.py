"""--layers and --bidirectional in the tasks: textclf, treesent's word models and longrange run end to end
on a stacked bidirectional encoder and say so in the record; tree models refuse the options in one line."""

from __future__ import annotations

import json

import pytest

from rnnbench import cli

from sst_fixtures import write_sst
from text_fixtures import write_local_layout

LAYERED = ["--layers", "2", "--bidirectional"]


def _record(folder):
    (path,) = folder.glob("*.json")
    return json.loads(path.read_text())


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_textclf_layered_run(tmp_path, capsys, backend):
    if backend != "numpy":
        pytest.importorskip(backend)
    data = write_local_layout(tmp_path / "data")
    code = cli.main(
        [
            "run",
            "--backend",
            backend,
            "--task",
            "textclf",
            "--dataset",
            "mr",
            "--data-dir",
            str(data),
            "--results-dir",
            str(tmp_path / "r"),
            "--embed-size",
            "6",
            "--hidden-size",
            "5",
            "--epochs",
            "1",
            "--pooling",
            "last",
            "--no-progress",
            *LAYERED,
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = _record(tmp_path / "r")
    assert record["status"] == "ok"
    assert record["config"]["layers"] == 2 and record["config"]["bidirectional"] is True


def test_treesent_word_model_layered_and_tree_models_refuse(tmp_path, capsys):
    sst = write_sst(tmp_path / "data" / "sst")
    common = [
        "run",
        "--backend",
        "numpy",
        "--task",
        "treesent",
        "--data-dir",
        str(sst),
        "--embed-size",
        "6",
        "--hidden-size",
        "6",
        "--max-steps",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--no-progress",
    ]
    assert cli.main([*common, "--model", "gru", "--results-dir", str(tmp_path / "r"), *LAYERED]) == 0
    assert _record(tmp_path / "r")["status"] == "ok"
    assert cli.main([*common, "--model", "treelstm", "--results-dir", str(tmp_path / "t"), "--layers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--layers and --bidirectional apply to the word models" in err


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_longrange_layered_run_with_probe_and_init(tmp_path, backend):
    if backend != "numpy":
        pytest.importorskip(backend)
    code = cli.main(
        [
            "run",
            "--backend",
            backend,
            "--task",
            "longrange",
            "--seq-len",
            "6",
            "--hidden-size",
            "4",
            "--batch-size",
            "8",
            "--max-steps",
            "4",
            "--steps-per-epoch",
            "2",
            "--dev-size",
            "16",
            "--test-size",
            "16",
            "--init",
            "orthogonal",
            "--results-dir",
            str(tmp_path),
            "--no-progress",
            *LAYERED,
        ]
    )
    assert code == 0
    record = _record(tmp_path)
    assert record["status"] == "ok" and record["gradient_flow"] and record["config"]["layers"] == 2


def test_textclf_rejects_bad_layers(tmp_path, capsys):
    data = write_local_layout(tmp_path / "data")
    assert (
        cli.main(
            [
                "run",
                "--backend",
                "numpy",
                "--task",
                "textclf",
                "--dataset",
                "mr",
                "--data-dir",
                str(data),
                "--layers",
                "0",
                "--results-dir",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "layers must be" in capsys.readouterr().err
