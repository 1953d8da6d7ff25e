"""`rnnbench data fetch` against a local HTTP server on 127.0.0.1 serving small archives in each original format.

These machines have no internet; the real addresses are only named in the registry.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from rnnbench import cli
from rnnbench.data import readers, registry
from rnnbench.data.fetch import fetch
from rnnbench.data.paths import resolve_data_dir
from rnnbench.errors import RnnbenchError
from text_fixtures import evil_tar, evil_zip, original_files


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """``(base url, served folder)``; the server thread stops with the test."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _md5(path: Path) -> str:
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def local_source(name: str, base: str, served: Path, checksums: dict | None = None):
    """The registered source of ``name`` with its files served locally and their real checksums."""
    files = original_files(served)
    source = registry.DATASETS[name]
    downloads = tuple(replace(d, url=f"{base}/{d.filename}",
                              checksum=(checksums or {}).get(d.filename, _md5(files[d.filename])
                                                             if d.checksum else None))
                      for d in source.downloads)
    return replace(source, downloads=downloads)


@pytest.mark.parametrize("name", ["imdb", "sst", "sst2", "mr", "trec", "ag_news"])
def test_fetch_each_original_format_into_the_local_layout(server, tmp_path, name):
    base, served = server
    data_dir = resolve_data_dir(tmp_path / "data")
    messages = []
    folder = fetch(local_source(name, base, served), data_dir, progress=False, log=messages.append)
    assert folder == data_dir.path / name
    assert all((folder / f).is_file() for f in registry.DATASETS[name].required)
    assert not list(data_dir.path.glob(".fetch-*")), "the work folder is removed"
    if registry.DATASETS[name].downloads[0].checksum is None:
        assert any("no published checksum" in m and "sha256" in m for m in messages)
    else:
        assert any("md5 verified" in m for m in messages)
    if name != "sst":
        data = readers.read_builtin(name, data_dir.path)
        assert sum(len(split) for split in data.splits.values()) >= 12


def test_fetched_imdb_and_mr_are_converted(server, tmp_path):
    base, served = server
    data_dir = resolve_data_dir(tmp_path / "data")
    for name in ("imdb", "mr"):
        fetch(local_source(name, base, served), data_dir, progress=False, log=lambda m: None)
    imdb = readers.read_builtin("imdb", data_dir.path)
    assert len(imdb.splits["train"]) == 12 and sum(imdb.splits["train"].labels) == 6
    assert imdb.splits["train"].labels == sorted(imdb.splits["train"].labels)  # sorted by (label, id)
    assert "caf\u00e9" in imdb.splits["test"].texts[0]
    assert (data_dir.path / "imdb" / "README.aclImdb").is_file()
    pos = (data_dir.path / "mr" / "rt-polarity.pos").read_text(encoding="utf-8")
    assert "\u2014" in pos  # cp1252 dash re-encoded as UTF-8


def test_bad_checksum_is_refused_and_nothing_lands(server, tmp_path):
    base, served = server
    data_dir = resolve_data_dir(tmp_path / "data")
    source = local_source("imdb", base, served, {"aclImdb_v1.tar.gz": "md5:" + "0" * 32})
    with pytest.raises(RnnbenchError, match="checksum mismatch .* expected md5 0{32}, got [0-9a-f]{32}"):
        fetch(source, data_dir, progress=False, log=lambda m: None)
    assert not (data_dir.path / "imdb").exists()
    assert not (data_dir.path / ".downloads" / "aclImdb_v1.tar.gz").exists(), "the bad file is deleted"


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink"])
def test_unsafe_tar_member_is_refused(server, tmp_path, kind):
    base, served = server
    source = local_source("imdb", base, served)
    evil_tar(served / "aclImdb_v1.tar.gz", kind)
    source = replace(source, downloads=(replace(source.downloads[0], checksum=_md5(served / "aclImdb_v1.tar.gz")),))
    data_dir = resolve_data_dir(tmp_path / "data")
    with pytest.raises(RnnbenchError, match="refusing aclImdb_v1.tar.gz: member"):
        fetch(source, data_dir, progress=False, log=lambda m: None)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/rnnbench-escaped.txt").exists()
    assert not (data_dir.path / "imdb").exists()
    assert not list(data_dir.path.rglob("escaped.txt")) and not list(data_dir.path.rglob("link"))


def test_unsafe_zip_member_is_refused(server, tmp_path):
    base, served = server
    source = local_source("sst2", base, served)
    evil_zip(served / "SST-2.zip")
    source = replace(source, downloads=(replace(source.downloads[0], checksum=_md5(served / "SST-2.zip")),))
    with pytest.raises(RnnbenchError, match="points outside the archive folder"):
        fetch(source, resolve_data_dir(tmp_path / "data"), progress=False, log=lambda m: None)
    assert not (tmp_path / "escaped.txt").exists()


def test_missing_file_on_server_is_a_one_line_error(server, tmp_path):
    base, served = server
    source = local_source("trec", base, served)
    (served / "TREC_10.label").unlink()
    with pytest.raises(RnnbenchError, match=r"cannot download http://127.0.0.1:\d+/TREC_10.label: HTTP 404"):
        fetch(source, resolve_data_dir(tmp_path / "data"), progress=False, log=lambda m: None)
    assert not (tmp_path / "data" / "trec").exists()


def test_present_dataset_is_kept_unless_forced(server, tmp_path):
    base, served = server
    data_dir = resolve_data_dir(tmp_path / "data")
    source = local_source("trec", base, served)
    fetch(source, data_dir, progress=False, log=lambda m: None)
    marker = data_dir.path / "trec" / "TREC_10.label"
    marker.write_text("NUM:x kept ?\n")
    messages = []
    fetch(source, data_dir, progress=False, log=messages.append)
    assert "already present" in messages[0] and marker.read_text() == "NUM:x kept ?\n"
    fetch(source, data_dir, force=True, progress=False, log=messages.append)
    assert marker.read_text() != "NUM:x kept ?\n"
    assert any("using the verified copy" in m for m in messages), "a verified download is reused"


def test_data_cli_fetch_and_list(server, tmp_path, monkeypatch, capsys):
    base, served = server
    monkeypatch.setitem(registry.DATASETS, "trec", local_source("trec", base, served))
    data = str(tmp_path / "data")
    assert cli.main(["data", "fetch", "trec", "--data-dir", data, "--no-progress"]) == 0
    assert cli.main(["data", "list", "--data-dir", data]) == 0
    out = capsys.readouterr().out
    assert f"data directory: {data} (from --data-dir)" in out
    states = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:] if line.strip()}
    assert states["trec"] == "present" and states["imdb"] == "missing"


def test_data_cli_unknown_dataset(tmp_path, capsys):
    assert cli.main(["data", "fetch", "imbd", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("rnnbench: error: unknown dataset 'imbd'; valid datasets: ag_news, imdb, mr, sst, sst2, trec")


def test_registry_names_original_addresses_and_published_checksums():
    for source in registry.DATASETS.values():
        for download in source.downloads:
            assert download.url.startswith("https://")
            if download.checksum:
                algorithm, _, digest = download.checksum.partition(":")
                assert len(digest) == {"md5": 32, "sha256": 64}[algorithm] and download.checksum_source
    assert registry.DATASETS["imdb"].downloads[0].checksum == "md5:7c2ac02c03563afcf9b574c7e56c153a"
