"""`rnnbench data fetch` against a local HTTP server on 127.0.0.1 serving small archives in each original format.

These machines have no internet; the real addresses are only named in the registry.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from rnnbench import cli
from rnnbench.data import readers, registry
from rnnbench.data.fetch import fetch
from rnnbench.data.paths import MIRROR_VARIABLE, mirror_url, resolve_data_dir
from rnnbench.errors import RnnbenchError

from fetch_fixtures import md5_checksum
from text_fixtures import evil_tar, evil_zip, original_files


def local_source(name: str, base: str, served: Path, checksums: dict | None = None):
    """The registered source of ``name`` with its files served locally and their real checksums."""
    files = original_files(served)
    source = registry.DATASETS[name]
    downloads = tuple(
        replace(
            d,
            url=f"{base}/{d.filename}",
            checksum=(checksums or {}).get(d.filename, md5_checksum(files[d.filename]) if d.checksum else None),
        )
        for d in source.downloads
    )
    return replace(source, downloads=downloads, sizes={})  # the served stand-ins are not the real sizes


@pytest.mark.parametrize("name", ["imdb", "sst", "sst2", "mr", "trec", "ag_news"])
def test_fetch_each_original_format_into_the_local_layout(mirror, tmp_path, name):
    base, layout = mirror
    data_dir = resolve_data_dir(tmp_path / "data")
    messages = []
    folder = fetch(registry.DATASETS[name], data_dir, progress=False, log=messages.append)
    assert folder == data_dir.path / name
    assert all((folder / f).is_file() for f in registry.DATASETS[name].required)
    assert not list(data_dir.path.glob(".fetch-*")), "the work folder is removed"
    first = registry.DATASETS[name].downloads[0]
    announced = [m for m in messages if m.startswith(f"downloading {name} (")]
    assert len(announced) == 1 and f"{base}/{name}/{first.filename} (mirror of {first.url})" in announced[0]
    assert announced[0].endswith(f"into {folder}")
    assert any("md5 verified" in m for m in messages)
    if name != "sst":
        data = readers.read_builtin(name, data_dir.path)
        assert sum(len(split) for split in data.splits.values()) >= 2


def test_sst2_fetch_derives_the_labelled_test_split_from_the_sst_trees(mirror, tmp_path):
    data_dir = resolve_data_dir(tmp_path / "data")
    messages = []
    fetch(registry.DATASETS["sst2"], data_dir, progress=False, log=messages.append)
    assert (data_dir.path / "sst" / "test.txt").is_file(), "sst is fetched first, since sst2 needs it"
    assert [m.split(" (")[0] for m in messages if m.startswith("downloading")] == [
        "downloading sst",
        "downloading sst2",
    ]
    labelled = (data_dir.path / "sst2" / "test_labeled.tsv").read_text(encoding="utf-8")
    # GLUE's order and spelling; the tree "-LRB-a bad-RRB-" (root 1) is GLUE's "(a bad)"; the neutral tree is left out
    assert labelled == "index\tsentence\tlabel\n0\t(a bad)\t0\n1\ta good\t1\n"
    test = readers.read_builtin("sst2", data_dir.path).splits["test"]
    assert test.labels == [0, 1]


def test_sst2_labels_derived_from_the_real_trees_match_the_known_split(data_dir, tmp_path):
    from rnnbench.data.convert import label_sst2_test

    out = tmp_path / "test_labeled.tsv"
    counts = label_sst2_test(Path(data_dir, "sst2", "test.tsv"), Path(data_dir, "sst", "test.txt"), out)
    assert counts == {"exact": 1815, "close": 6}
    labels = [line.rsplit("\t", 1)[1] for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(labels) == 1821 and labels.count("0") == 912 and labels.count("1") == 909
    reference = Path(data_dir, "sst2", "test_labeled.tsv")
    if reference.is_file():  # the copy derived independently when the data folder was laid out
        assert out.read_bytes() == reference.read_bytes()


def test_mirror_address_keeps_dataset_and_file_name(monkeypatch):
    url = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    assert mirror_url(url, "imdb", "aclImdb_v1.tar.gz") == url
    monkeypatch.setenv(MIRROR_VARIABLE, "https://mirror.example/rnnbench/")
    assert mirror_url(url, "imdb", "aclImdb_v1.tar.gz") == "https://mirror.example/rnnbench/imdb/aclImdb_v1.tar.gz"


def test_a_file_url_mirror_works_without_a_server(tmp_path, monkeypatch, mirror):
    _, layout = mirror
    monkeypatch.setenv(MIRROR_VARIABLE, (layout["trec"]["TREC_10.label"].parent.parent).as_uri())
    folder = fetch(registry.DATASETS["trec"], resolve_data_dir(tmp_path / "data"), progress=False, log=lambda m: None)
    assert (folder / "TREC_10.label").is_file()


def test_decompression_bomb_is_refused_and_nothing_is_left(mirror, tmp_path, monkeypatch):
    _, layout = mirror
    bomb = layout["imdb"]["aclImdb_v1.tar.gz"]
    with tarfile.open(bomb, "w:gz") as tar:  # 64 MiB of zeros, about 64 KiB packed
        info = tarfile.TarInfo("aclImdb/train/pos/0_9.txt")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    source = registry.DATASETS["imdb"]
    source = replace(
        source, max_unpacked_bytes=1 << 20, downloads=(replace(source.downloads[0], checksum=md5_checksum(bomb)),)
    )
    data_dir = resolve_data_dir(tmp_path / "data")
    with pytest.raises(
        RnnbenchError,
        match=r"refusing aclImdb_v1.tar.gz: it unpacks to more than 1.0 MiB, the "
        r"limit for imdb \(a damaged archive or a decompression bomb\)",
    ):
        fetch(source, data_dir, progress=False, log=lambda m: None)
    assert not (data_dir.path / "imdb").exists() and not list(data_dir.path.glob(".fetch-*"))


def test_a_zip_that_lies_about_its_sizes_is_stopped_while_writing(tmp_path):
    from rnnbench.data.fetch import UnpackBudget, extract_zip

    archive = tmp_path / "lying.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("big.txt", bytes(4 << 20))
    budget = UnpackBudget(1 << 20, "test")
    budget.declare = lambda archive, sizes: None  # as if the header claimed a small size
    with pytest.raises(RnnbenchError, match="unpacks to more than 1.0 MiB"):
        extract_zip(archive, tmp_path / "out", budget)


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
    checksum = md5_checksum(served / "aclImdb_v1.tar.gz")
    source = replace(source, downloads=(replace(source.downloads[0], checksum=checksum),))
    data_dir = resolve_data_dir(tmp_path / "data")
    with pytest.raises(RnnbenchError, match="refusing aclImdb_v1.tar.gz: member"):
        fetch(source, data_dir, progress=False, log=lambda m: None)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/rnnbench-escaped.txt").exists()
    assert not (data_dir.path / "imdb").exists()
    assert not list(data_dir.path.rglob("escaped.txt")) and not list(data_dir.path.rglob("link"))


def test_unsafe_zip_member_is_refused(mirror, tmp_path):
    _, layout = mirror
    evil = evil_zip(layout["sst2"]["SST-2.zip"])
    source = registry.DATASETS["sst2"]
    source = replace(source, downloads=(replace(source.downloads[0], checksum=md5_checksum(evil)),))
    with pytest.raises(RnnbenchError, match="points outside the archive folder"):
        fetch(source, resolve_data_dir(tmp_path / "data"), progress=False, log=lambda m: None)
    assert not (tmp_path / "escaped.txt").exists()


def test_missing_file_on_server_is_a_one_line_error(server, tmp_path):
    base, served = server
    source = local_source("trec", base, served)
    (served / "TREC_10.label").unlink()
    with pytest.raises(RnnbenchError, match=r"cannot download trec from http://127.0.0.1:\d+/TREC_10.label: HTTP 404"):
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
