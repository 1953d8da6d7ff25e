"""What the report trusts: stable rows reach the summary, the rest a "Not trusted" table with reasons; the
speed charts as dot plots of the ratio to the fastest with interval whiskers; no record holds a machine's path.
"""
from __future__ import annotations

import json

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
    result = rnnbench_cli("bench", "--cells", "recursive", "--tree-sizes", "4x8x8", "--backends", "numpy",
                          "--pass", "forward", "--threads", "1", "--peak-frameworks", "numpy", "--budget", "0",
                          "--min-samples", "3", "--offline", "--no-record", "--format", "json", "--data-dir", data)
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["config"]["tree_source"] == {"source": "sst", "path": "sst/train.txt", "root": "data_dir",
                                               "selection": "first N trees of train.txt"}
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
