"""A user's first run on a fresh machine: the dataset is fetched on first use, through a mirror if set.

Everything here happens on 127.0.0.1 (a mirror serving small archives in each
original format) or against a closed loopback port: these machines have no
internet, and the real addresses are only named in the registry.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from rnnbench import cli
from rnnbench.data import registry
from rnnbench.data.fetch import fetch
from rnnbench.data.paths import DATA_DIR_VARIABLE, MIRROR_VARIABLE, OFFLINE_VARIABLE, resolve_data_dir
from rnnbench.errors import RnnbenchError

from fetch_fixtures import md5_checksum

TINY = ["--embed-size", "4", "--hidden-size", "4", "--max-steps", "3", "--epochs", "1", "--no-progress"]


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """An empty HOME, no data directory variable, no cache variable: a user's first day."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv(OFFLINE_VARIABLE, raising=False)
    return home


def test_first_run_downloads_converts_trains_and_records(mirror, fresh_home, tmp_path, capsys):
    results = tmp_path / "results"
    code = cli.main(
        ["run", "--backend", "numpy", "--task", "textclf", "--dataset", "imdb", "--results-dir", str(results), *TINY]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    folder = fresh_home / ".cache" / "rnnbench" / "data" / "imdb"
    assert (folder / "train.jsonl.gz").is_file() and (folder / "test.jsonl.gz").is_file()
    announced = [line for line in captured.err.splitlines() if line.startswith("downloading imdb (")]
    assert len(announced) == 1
    assert (
        "/imdb/aclImdb_v1.tar.gz (mirror of https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz)"
        in announced[0]
        and announced[0].endswith(f"into {folder}")
    )
    (record_path,) = results.glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["status"] == "ok" and record["dataset"] == "imdb" and record["best"]["test"] is not None
    # The second run finds it and downloads nothing.
    assert (
        cli.main(
            [
                "run",
                "--backend",
                "numpy",
                "--task",
                "textclf",
                "--dataset",
                "imdb",
                "--results-dir",
                str(results),
                *TINY,
            ]
        )
        == 0
    )
    assert "downloading" not in capsys.readouterr().err


def test_treesent_fetches_the_treebank_on_first_use(mirror, fresh_home, tmp_path, capsys):
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "treesent",
            "--model",
            "recursive",
            "--results-dir",
            str(tmp_path / "results"),
            "--embed-size",
            "4",
            "--hidden-size",
            "4",
            "--epochs",
            "1",
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert (fresh_home / ".cache" / "rnnbench" / "data" / "sst" / "train.txt").is_file()


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_offline_keeps_the_one_line_error(fresh_home, tmp_path, capsys, monkeypatch, how):
    argv = [
        "run",
        "--backend",
        "numpy",
        "--task",
        "textclf",
        "--dataset",
        "imdb",
        "--results-dir",
        str(tmp_path / "results"),
        *TINY,
    ]
    if how == "flag":
        argv.append("--offline")
    else:
        monkeypatch.setenv(OFFLINE_VARIABLE, "1")
    monkeypatch.setattr(urllib.request, "urlopen", _no_call)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnbench: error: dataset 'imdb' not found in ")
    assert "downloading is off (--offline or RNNBENCH_OFFLINE)" in err and "rnnbench data fetch imdb" in err
    assert not (fresh_home / ".cache" / "rnnbench" / "data" / "imdb").exists()


def _no_call(*args, **kwargs):
    raise AssertionError("offline, yet a download was attempted")


def test_no_network_names_the_original_address(fresh_home, tmp_path, capsys, monkeypatch):
    """What `make demo` says on a machine with no network: it tried IMDB's original address."""

    def unreachable(url, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    code = cli.main(["run", "--backend", "numpy", "--task", "textclf", "--results-dir", str(tmp_path / "r"), *TINY])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("rnnbench: error:")]
    assert lines == [
        "rnnbench: error: cannot download imdb from https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz:"
        " Name or service not known; to get it another way, set RNNBENCH_DATA_MIRROR to a mirror of the original "
        "files, or put the dataset in --data-dir or RNNBENCH_DATA_DIR (`rnnbench data list` shows what is there)"
    ]
    assert "downloading imdb (IMDB Large Movie Review" in err and "80.2 MiB" in err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.json"))


def test_unreachable_mirror_in_a_real_process_is_one_line(tmp_path):
    """The same through the real network stack: a mirror on a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in (DATA_DIR_VARIABLE, OFFLINE_VARIABLE, "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path / "home"), **{MIRROR_VARIABLE: f"http://127.0.0.1:{port}"})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--results-dir",
            str(tmp_path / "results"),
            *TINY,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rnnbench: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert errors[0].startswith(
        f"rnnbench: error: cannot download imdb from http://127.0.0.1:{port}/imdb/aclImdb_v1.tar.gz: Connection refused"
    )


def test_force_replaces_only_the_files_fetch_produces(mirror, tmp_path):
    data_dir = resolve_data_dir(tmp_path / "data")
    source = registry.DATASETS["trec"]
    folder = fetch(source, data_dir, progress=False, log=lambda m: None)
    (folder / "my-notes.txt").write_text("mine\n")
    (folder / "TREC_10.label").write_text("NUM:x edited ?\n")
    fetch(source, data_dir, force=True, progress=False, log=lambda m: None)
    assert (folder / "my-notes.txt").read_text() == "mine\n", "a file fetch does not produce stays"
    assert (folder / "TREC_10.label").read_text() != "NUM:x edited ?\n", "a produced file is replaced"


def test_a_failed_forced_fetch_changes_nothing(mirror, tmp_path):
    _, layout = mirror
    data_dir = resolve_data_dir(tmp_path / "data")
    source = registry.DATASETS["mr"]
    folder = fetch(source, data_dir, progress=False, log=lambda m: None)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    broken = layout["mr"]["rt-polaritydata.tar.gz"]
    broken.write_bytes(b"not a tar archive")
    source = replace(source, downloads=(replace(source.downloads[0], checksum=md5_checksum(broken)),))
    with pytest.raises(RnnbenchError, match="cannot read archive rt-polaritydata.tar.gz"):
        fetch(source, data_dir, force=True, progress=False, log=lambda m: None)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not list(data_dir.path.glob(".fetch-*"))


def test_every_registered_download_has_a_published_checksum():
    for source in registry.DATASETS.values():
        for download in source.downloads:
            assert download.checksum and download.checksum_source, (source.name, download.filename)
    assert registry.DATASETS["sst"].downloads[0].checksum == (
        "sha256:5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc"
    )
    assert registry.DATASETS["mr"].downloads[0].checksum == (
        "sha256:a05befe52aafda71d458d188a1c54506a998b1308613ba76bbda2e5029409ce9"
    )


def test_nothing_in_the_product_points_at_a_sibling_folder():
    root = Path(__file__).resolve().parents[1]
    for name in ("Makefile", "tox.ini", "README.md"):
        assert "../shared" not in (root / name).read_text(encoding="utf-8"), name
