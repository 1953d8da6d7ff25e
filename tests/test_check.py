"""``rnnbench check``: passes on the reference and fails on a planted bug."""

from __future__ import annotations

import json

import numpy as np

from rnnbench import check, cli, plugins
from rnnbench.backends.numpy.backend import NumpyBackend


class OffByOneStepBackend(NumpyBackend):
    """A planted bug: the gradient of W_h is taken one time step late (the chapter's BPTT bug class)."""

    name = "buggy"

    def sequence_backward(self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh"):
        grads = super().sequence_backward(cell, params, x, lengths, dy, dfinal, state, activation)
        shifted = np.roll(dy, 1, axis=1)
        late = super().sequence_backward(cell, params, x, lengths, shifted, dfinal, state, activation)
        grads["W_h"] = late["W_h"]
        return grads


def test_reference_rows_pass_finite_differences():
    rows = check.reference_rows(["lstm", "treelstm"])
    assert [r.passed for r in rows] == [True, True]
    assert all(r.max_rel < check.FINITE_DIFFERENCE_TOLERANCE for r in rows)


def test_planted_bug_fails_the_check(monkeypatch):
    real = plugins.get_backend
    monkeypatch.setattr(
        plugins, "get_backend", lambda name, **kw: OffByOneStepBackend() if name == "buggy" else real(name, **kw)
    )
    rows = check.parity_rows([("buggy", "native")], ["rnn", "lstm"], ["float64"])
    assert [r.passed for r in rows] == [False, False]
    assert {r.worst for r in rows} == {"grad.W_h"}


def test_trajectory_of_numpy_float32_tracks_float64():
    rows = check.trajectory_rows([("numpy", "native")], ["gru"], ["float32"])
    assert rows[0].passed, rows[0]


def test_cli_json_and_exit_status(capsys, tmp_path):
    status = cli.main(
        ["check", "--backend", "numpy", "--cells", "rnn,gru", "--format", "json", "--results-dir", str(tmp_path)]
    )
    rows = json.loads(capsys.readouterr().out)
    assert status == 0
    assert {(r["impl"], r["case"], r["dtype"]) for r in rows} >= {("native", "gru", "float32")}
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert record["schema"] == "rnnbench.check/1" and record["status"] == "ok"
    assert record["rows"] == rows and record["machine"]["cpu_model"]


def test_cli_failure_exits_non_zero_and_keeps_earlier_records(capsys, tmp_path, monkeypatch):
    real = plugins.get_backend  # the checked numpy (built with impl=) carries the planted bug; the reference not
    monkeypatch.setattr(plugins, "get_backend", lambda name, **kw: OffByOneStepBackend() if kw else real(name))
    earlier = tmp_path / "earlier.json"
    earlier.write_text("{}")
    status = cli.main(
        ["check", "--backend", "numpy", "--cells", "gru", "--dtype", "float64", "--results-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert status == 1 and "grad.W_h" in out and "FAIL" in out
    assert earlier.read_text() == "{}" and len(list(tmp_path.glob("*.json"))) == 2


def test_cli_unknown_case_is_one_line_error(capsys):
    assert cli.main(["check", "--cells", "nope", "--no-record"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnbench: error: unknown case 'nope'") and "\n" not in err


def test_layered_cases_are_checked_and_a_layered_trajectory_runs(capsys, tmp_path):
    """2-layer bidirectional cases: the reference against finite differences, numpy against itself,
    and the lstm-L2-bi loss curve (float32 against float64)."""
    status = cli.main(
        ["check", "--backend", "numpy", "--cells", "gru-L2-bi", "--format", "json", "--results-dir", str(tmp_path)]
    )
    rows = json.loads(capsys.readouterr().out)
    assert status == 0 and {(r["impl"], r["case"]) for r in rows} == {
        ("finite differences", "gru-L2-bi"),
        ("native", "gru-L2-bi"),
    }
    rows = check.trajectory_rows([("numpy", "native")], ["lstm-L2-bi"], ["float32"])
    assert rows[0].passed and rows[0].case == "lstm-L2-bi trajectory", rows[0]


def test_backend_without_layers_is_not_asked_for_layered_cases(monkeypatch):
    class SingleLayer(NumpyBackend):
        name = "single"
        layered = False

    real = plugins.get_backend
    monkeypatch.setattr(
        plugins, "get_backend", lambda name, **kw: SingleLayer() if name == "single" else real(name, **kw)
    )
    rows = check.parity_rows([("single", "native")], ["lstm", "lstm-L2-bi"], ["float64"])
    assert [r.case for r in rows] == ["lstm"]
