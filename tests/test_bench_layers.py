"""Bench sizes with depth and direction (``64x100x512x512:L2:bi``), the cpu suite's stacked BiLSTM row,
FLOPs counted per layer and direction, and a layered timer run on every builtin backend."""

from __future__ import annotations

import pytest

from rnnbench.bench import flops, suites
from rnnbench.errors import RnnbenchError

from cli_helpers import bench_request


def test_sizes_take_layers_and_direction():
    assert suites.parse_sizes("64x100x512x512:L2:bi,4x5x6x7") == [(64, 100, 512, 512, 2, 1), (4, 5, 6, 7)]
    assert suites.parse_sizes("4x5x6x7:L3") == [(4, 5, 6, 7, 3, 0)]
    assert suites.parse_sizes("4x5x6x7:L1") == [(4, 5, 6, 7)]  # one forward layer is the plain size
    for bad in ("4x5x6x7:L0", "4x5x6x7:up", "4x5x6x7:Lx"):
        with pytest.raises(RnnbenchError, match="use :L<layers> and :bi"):
            suites.parse_sizes(bad)
    with pytest.raises(RnnbenchError, match="sequence sizes only"):
        suites.parse_tree_sizes("4x6x7:bi")
    row = {
        "kind": "sequence",
        "batch": 64,
        "steps": 100,
        "input": 256,
        "hidden": 256,
        **suites.layering((64, 100, 256, 256, 2, 1)),
    }
    assert suites.size_label(row) == "64x100x256x256:L2:bi"


def test_flops_are_counted_per_layer_and_direction():
    one = flops.sequence_flops("lstm", 64, 100, 256, 256, "forward")
    upper = flops.sequence_flops("lstm", 64, 100, 512, 256, "forward")  # layer 1 reads [fw, bw] = 2H
    assert flops.layered_sequence_flops("lstm", 64, 100, 256, 256, "forward", 2, True) == 2 * one + 2 * upper
    assert flops.layered_sequence_flops("gru", 8, 9, 10, 11, "forward+backward") == flops.sequence_flops(
        "gru", 8, 9, 10, 11, "forward+backward"
    )


def test_cpu_suite_adds_a_two_layer_bidirectional_lstm(monkeypatch, tmp_path):
    from rnnbench.bench.grid import build_grid

    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path))
    grid = build_grid(
        bench_request("--suite", "cpu", "--threads", 2, "--cells", "lstm,gru", "--pass", "forward+backward")
    )
    layered = [c for c in grid.configs if c.get("layers")]
    assert layered and {c["cell"] for c in layered} == {"lstm"}
    assert {(c["batch"], c["steps"], c["input"], c["hidden"], c["layers"], c["bidirectional"]) for c in layered} == {
        (64, 100, 256, 256, 2, True)
    }
    assert "layers" not in next(c for c in grid.configs if c["cell"] == "gru")
    custom = build_grid(
        bench_request("--threads", 2, "--cells", "lstm", "--sizes", "4x5x6x7:L2:bi", "--pass", "forward")
    )
    assert all(c["layers"] == 2 and c["bidirectional"] for c in custom.configs)


@pytest.mark.parametrize("backend", ["numpy", "torch", "tensorflow"])
def test_layered_timer_row(backend):
    if backend != "numpy":
        pytest.importorskip(backend)
    from rnnbench.bench.run_config import run_config
    from rnnbench.bench.timing import QUICK

    config = dict(
        kind="sequence",
        cell="gru",
        backend=backend,
        impl=None,
        device="cpu",
        dtype="float32",
        threads=None,
        batch=3,
        steps=4,
        input=5,
        hidden=6,
        layers=2,
        bidirectional=True,
    )
    config["pass"] = "forward+backward"
    row = run_config(config, QUICK, {})
    assert row["status"] == "ok", row["error"]
    assert row["flops"] == flops.layered_sequence_flops("gru", 3, 4, 5, 6, "forward+backward", 2, True)
