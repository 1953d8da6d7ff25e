"""The one writer of every file rnnbench leaves: whole or absent, never over an existing file unless asked."""

from __future__ import annotations

import errno
import os

import pytest

from rnnbench import atomic


def _hidden(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_write_new_never_replaces_and_takes_the_next_free_name(tmp_path):
    first = tmp_path / "a.json"
    first.write_text("earlier")
    names = [first, tmp_path / "a-1.json", tmp_path / "a-2.json"]
    assert atomic.write_new(tmp_path, "new", names) == tmp_path / "a-1.json"
    assert first.read_text() == "earlier" and (tmp_path / "a-1.json").read_text() == "new"
    assert oct((tmp_path / "a-1.json").stat().st_mode & 0o777) == "0o644"
    assert not _hidden(tmp_path)


def test_write_new_returns_none_when_every_name_exists(tmp_path):
    (tmp_path / "a").write_text("kept")
    assert atomic.write_new(tmp_path, "new", [tmp_path / "a"]) is None
    assert (tmp_path / "a").read_text() == "kept" and not _hidden(tmp_path)


def test_without_hard_links_a_name_is_still_never_replaced(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "hard links unsupported")

    monkeypatch.setattr(atomic.os, "link", no_links)
    (tmp_path / "a").write_text("kept")
    assert atomic.write_new(tmp_path, "new", [tmp_path / "a", tmp_path / "b"]) == tmp_path / "b"
    assert (tmp_path / "a").read_text() == "kept" and (tmp_path / "b").read_text() == "new"
    assert not _hidden(tmp_path)


def test_a_failed_write_leaves_neither_half_a_file_nor_a_temporary_one(tmp_path, monkeypatch):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic.write_new(tmp_path, "x" * 10_000, [tmp_path / "a"])
    with pytest.raises(OSError, match="No space left"):
        atomic.write_replacing(tmp_path / "b", "x")
    assert list(tmp_path.iterdir()) == []


def test_write_replacing_replaces_and_its_check_runs_before(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    assert atomic.write_replacing(target, "new") == target and target.read_text() == "new"

    def refuse():
        raise RuntimeError("not a regular file")

    with pytest.raises(RuntimeError):
        atomic.write_replacing(target, "newer", before=refuse)
    assert target.read_text() == "new" and not _hidden(tmp_path)


def test_a_custom_prefix_marks_the_file_being_written(tmp_path, monkeypatch):
    seen = []
    real = atomic._claim

    def claim(staged, final):
        seen.append(staged.name)
        assert staged.read_text() == "whole", "the text is complete before the name is claimed"
        return real(staged, final)

    monkeypatch.setattr(atomic, "_claim", claim)
    atomic.write_new(tmp_path, "whole", [tmp_path / "r.json"], prefix=".tmp-report-")
    assert seen and seen[0].startswith(".tmp-report-")
