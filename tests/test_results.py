"""Run records: atomic, uniquely named, never overwriting, safe with concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import threading

import pytest

from rnnbench.errors import RnnbenchError
from rnnbench.records import RUN_SCHEMA as SCHEMA
from rnnbench.records import TMP_PREFIX, ensure_writable, read_records, record_stem, write_record


def _record(seed=0, **extra):
    return {
        "schema": SCHEMA,
        "started_at": "2026-01-02T03:04:05.678Z",
        "task": "textclf",
        "dataset": "mr",
        "backend": "numpy",
        "model": "lstm",
        "seed": seed,
        "status": "ok",
        **extra,
    }


def test_name_says_what_ran_and_is_filesystem_safe():
    assert record_stem(_record()) == "20260102T030405_textclf_mr_numpy_lstm_seed0"
    odd = _record(dataset="/home/me/my data.tsv", started_at="2026-01-02T03:04:05+00:00")
    assert record_stem(odd) == "20260102T030405_textclf_my-data_numpy_lstm_seed0"


def test_write_is_complete_json_and_leaves_no_temporary_file(tmp_path):
    path = write_record(tmp_path, _record(values=[1.5, 2.5]))
    assert json.loads(path.read_text())["values"] == [1.5, 2.5]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_same_name_never_overwrites(tmp_path):
    first = write_record(tmp_path, _record(note="first"))
    before = first.read_bytes()
    second = write_record(tmp_path, _record(note="second"))
    third = write_record(tmp_path, _record(note="third"))
    assert len({first, second, third}) == 3
    assert first.read_bytes() == before
    assert second.name.endswith("-1.json") and third.name.endswith("-2.json")


def test_concurrent_writers_in_threads_all_land(tmp_path):
    paths = []
    lock = threading.Lock()

    def write(i):
        path = write_record(tmp_path, _record(note=i))
        with lock:
            paths.append(path)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 16
    assert sorted(json.loads(p.read_text())["note"] for p in paths) == list(range(16))


def _write_in_process(folder, note, barrier):
    barrier.wait()
    write_record(folder, _record(note=note))


def test_concurrent_writers_in_processes_all_land(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    workers = [context.Process(target=_write_in_process, args=(str(tmp_path), i, barrier)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert all(worker.exitcode == 0 for worker in workers)
    notes = sorted(record["note"] for _, record in read_records(tmp_path))
    assert notes == [0, 1, 2, 3]


def test_without_hard_links_the_name_is_reserved_exclusively(tmp_path, monkeypatch):
    import rnnbench.atomic as atomic

    def no_links(src, dst):
        raise OSError("hard links unsupported")

    monkeypatch.setattr(atomic.os, "link", no_links)
    first = write_record(tmp_path, _record(note="a"))
    second = write_record(tmp_path, _record(note="b"))
    assert first != second and json.loads(first.read_text())["note"] == "a"
    assert not list(tmp_path.glob(TMP_PREFIX + "*"))


def test_unwritable_results_directory_is_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RnnbenchError, match="results directory .* is not writable .*--results-dir") as error:
        ensure_writable(blocker / "results")
    assert "\n" not in str(error.value)


def test_read_records_skips_temporary_and_foreign_files(tmp_path):
    write_record(tmp_path, _record())
    (tmp_path / f"{TMP_PREFIX}half.json").write_text('{"schema": ')
    (tmp_path / "other.json").write_text('{"a": 1}')
    assert len(read_records(tmp_path)) == 1
