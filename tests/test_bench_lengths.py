"""``rnnbench bench --suite lengths``: the padding arithmetic, the batching strategies, the ragged paths
(NumPy's ragged loop, torch's packed sequences) giving the masked numbers, and the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnbench import cli
from rnnbench.backends.numpy import sequence
from rnnbench.batching import training_order
from rnnbench.bench import lengths
from rnnbench.bench.record import comparison_key
from rnnbench.errors import RnnbenchError, UnsupportedError
from rnnbench.model import ModelSpec, init_model_params
from rnnbench.params import init_params
from rnnbench.plugins import get_backend, get_registry

from cli_helpers import one_line_error

# ------------------------------------------------------------------------------ arithmetic


def test_padding_fraction_of_a_hand_made_length_list():
    batches = [np.array([3, 1, 2]), np.array([4, 4]), np.array([7])]
    # real 3+1+2 + 4+4 + 7 = 21; padded 3x3 + 2x4 + 1x7 = 24; 3 padded steps of 24
    assert lengths.padding(batches) == {"real_tokens": 21, "padded_tokens": 24, "padding_fraction": 3 / 24}
    assert lengths.padding([np.array([5, 5])])["padding_fraction"] == 0.0
    assert lengths.padding([])["padding_fraction"] == 0.0


def test_batch_size_holds_the_token_budget_on_average():
    assert lengths.batch_size(np.array([10, 30]), 4096) == round(4096 / 20)
    assert lengths.batch_size(np.array([5000, 9000]), 100) == 1  # never an empty batch


@pytest.mark.parametrize("strategy", lengths.STRATEGIES)
def test_every_strategy_batches_every_text_once(strategy):
    lens = np.random.default_rng(3).integers(1, 300, size=1001)
    epoch = lengths.plan_epoch(lens, strategy, 32)
    assert sorted(np.concatenate(epoch).tolist()) == list(range(1001))
    assert all(len(b) <= 32 for b in epoch)
    assert [b.tolist() for b in epoch] == [b.tolist() for b in lengths.plan_epoch(lens, strategy, 32)]  # seeded


def test_the_strategies_order_their_padding_and_bucketed_is_the_tasks_batching():
    lens = np.random.default_rng(4).lognormal(5, 0.8, size=5000).astype(int) + 1  # IMDB-like long tail
    fractions = {
        s: lengths.padding([lens[b] for b in lengths.plan_epoch(lens, s, 16)])["padding_fraction"]
        for s in lengths.STRATEGIES
    }
    assert fractions["random"] == fractions["packed"] > 0.5
    assert fractions["sorted"] < fractions["bucketed"] < 0.15 < 0.5 < fractions["random"]
    expected = training_order(lens, 16, lengths.SEED, 0)
    assert [b.tolist() for b in lengths.plan_epoch(lens, "bucketed", 16)] == [b.tolist() for b in expected]
    with pytest.raises(RnnbenchError, match="unknown strategy 'zipped'"):
        lengths.plan_epoch(lens, "zipped", 16)


def test_the_timed_batches_stand_for_the_epoch():
    lens = np.random.default_rng(5).lognormal(5, 0.8, size=5000).astype(int) + 1
    for strategy in ("random", "bucketed"):
        epoch = [lens[b] for b in lengths.plan_epoch(lens, strategy, 16)]
        chosen = lengths.timed_selection(epoch, 6)
        assert len(chosen) == 6
        assert abs(lengths.padding(chosen)["padding_fraction"] - lengths.padding(epoch)["padding_fraction"]) < 0.03
        longest = [int(b.max()) for b in chosen]
        assert max(longest) > 2 * min(longest)  # short and long batches alike
    assert lengths.timed_selection(epoch[:3], 6) == epoch[:3]


def test_a_missing_dataset_falls_back_to_its_recorded_histogram(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNBENCH_OFFLINE", "1")
    lens, source = lengths.dataset_lengths("trec", tmp_path / "nothing-here")
    recorded = json.loads(lengths.HISTOGRAMS.read_text())["trec"]["counts"]
    assert source["source"] == "synthetic" and source["histogram_of"] == "trec" and source["why"]
    assert len(lens) == sum(recorded.values()) == source["texts"]
    assert set(np.unique(lens).tolist()) <= {int(k) for k in recorded}
    true_mean = sum(int(k) * v for k, v in recorded.items()) / sum(recorded.values())
    assert abs(lens.mean() - true_mean) < 0.02 * true_mean
    again, _ = lengths.dataset_lengths("trec", tmp_path / "nothing-here")
    assert np.array_equal(lens, again)  # seeded


def test_every_dataset_has_a_recorded_histogram():
    histograms = json.loads(lengths.HISTOGRAMS.read_text())
    assert set(histograms) == set(lengths.DATASETS)
    assert all(int(k) > 0 for entry in histograms.values() for k in entry["counts"])


def test_lengths_rows_compare_the_strategies_of_one_backend_on_one_dataset():
    row = {
        "kind": "lengths",
        "cell": "lstm",
        "backend": "numpy",
        "lengths_of": "imdb",
        "strategy": "random",
        "token_budget": 4096,
        "batch": 18,
    }
    assert comparison_key(row) == comparison_key({**row, "strategy": "sorted"})
    assert comparison_key(row) != comparison_key({**row, "backend": "torch"})
    assert comparison_key(row) != comparison_key({**row, "lengths_of": "trec"})


# ------------------------------------------------------------------------------ the ragged paths


def _lstm_run(params, x, lens, dy, dfinal, state, perm):
    """forward + backward of the NumPy LSTM on the batch rows in order ``perm``, results in the original order."""
    inv = np.argsort(perm)
    y, final, cache = sequence.forward(
        "lstm",
        params,
        np.ascontiguousarray(x[perm]),
        lens[perm],
        None if state is None else {k: v[perm] for k, v in state.items()},
    )
    state_grads = np.empty(dy.shape)
    grads = sequence.backward(cache, dy[perm], {k: v[perm] for k, v in dfinal.items()}, state_grads)
    per_row = {k: grads.pop(k)[inv] for k in ("x", "h0", "c0") if k in grads}
    return y[inv], {k: v[inv] for k, v in final.items()}, grads, per_row, state_grads[inv]


@pytest.mark.parametrize("with_state", [False, True])
def test_numpy_ragged_loop_gives_the_masked_loops_numbers(with_state):
    rng = np.random.default_rng(1)
    B, T, D, H = 6, 9, 5, 4
    params = init_params("lstm", D, H, seed=0, dtype="float64")
    x = rng.standard_normal((B, T, D))
    lens = np.array([9, 7, 7, 4, 2, 1])  # longest first: the ragged loop
    dy = rng.standard_normal((B, T, H))
    dfinal = {"h": rng.standard_normal((B, H)), "c": rng.standard_normal((B, H))}
    state = {"h": rng.standard_normal((B, H)), "c": rng.standard_normal((B, H))} if with_state else None
    shuffled = np.array([3, 0, 5, 1, 4, 2])  # not sorted: the masked loop
    assert sequence._running_rows(lens, T).tolist() == [6, 5, 4, 4, 3, 3, 3, 1, 1]
    assert sequence._running_rows(lens[shuffled], T) is None
    ragged = _lstm_run(params, x, lens, dy, dfinal, state, np.arange(B))
    masked = _lstm_run(params, x, lens, dy, dfinal, state, shuffled)
    np.testing.assert_allclose(ragged[0], masked[0], rtol=0, atol=1e-14)
    for a, b in zip(ragged[1:4], masked[1:4]):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(ragged[4], masked[4], rtol=0, atol=1e-13)


def _model_grads(backend_name, padding, dtype="float64"):
    spec = ModelSpec(cell="lstm", hidden_size=8, num_outputs=3, vocab_size=40, embed_size=6, dtype=dtype)
    params = init_model_params(spec)
    backend = get_backend(backend_name)
    model = (
        backend.build_model(spec, params, padding=padding) if padding != "mask" else backend.build_model(spec, params)
    )
    results = []
    for ids, lens, _ in lengths.synthetic_batches([[5, 3, 7, 1], [2, 9, 9], [4, 4]], 40):
        targets = np.arange(len(lens)) % 3
        results.append(model.loss_and_grads(ids, lens, targets))
    return results


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
def test_a_packed_model_gives_the_masked_models_loss_and_gradients(backend_name):
    entry = get_registry().backend(backend_name)
    if not entry.available:
        pytest.skip(entry.unavailable_reason())
    assert "pack" in entry.load().padding_paths
    for (loss_m, grads_m), (loss_p, grads_p) in zip(
        _model_grads(backend_name, "mask"), _model_grads(backend_name, "pack")
    ):
        assert loss_p == pytest.approx(loss_m, rel=1e-12)
        for name in grads_m:
            np.testing.assert_allclose(grads_p[name], grads_m[name], rtol=0, atol=1e-12, err_msg=name)


def test_numpy_packs_the_lstm_only_and_says_so():
    spec = ModelSpec(cell="gru", hidden_size=4, num_outputs=2, vocab_size=10, embed_size=3)
    with pytest.raises(UnsupportedError, match="ragged loop .* LSTM, not gru"):
        get_backend("numpy").build_model(spec, init_model_params(spec), padding="pack")
    with pytest.raises(RnnbenchError, match="unknown padding path 'zip'"):
        get_backend("numpy").build_model(spec, init_model_params(spec), padding="zip")


def test_a_backend_without_a_skip_path_has_an_unsupported_packed_row():
    class MaskOnly:
        padding_paths = ("mask",)

    config = {"strategy": "packed", "backend": "maskonly"}
    with pytest.raises(UnsupportedError, match="maskonly has no path that skips padded steps"):
        lengths.lengths_timer(MaskOnly(), config, {})


# ------------------------------------------------------------------------------ the command


@pytest.mark.timeout(300)
def test_lengths_suite_end_to_end_offline(tmp_path, monkeypatch, capsys):
    """No data and --offline: the recorded histogram, said in the record and the table; a packed row per
    backend that has a skip path; the rows of a backend compared in rounds."""
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "no-data"))
    results = tmp_path / "results"
    code = cli.main(
        [
            "bench",
            "--suite",
            "lengths",
            "--backends",
            "numpy",
            "--datasets",
            "trec",
            "--offline",
            "--token-budget",
            "256",
            "--threads",
            "1",
            "--settle",
            "0",
            "--budget",
            "0",
            "--results-dir",
            str(results),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "SYNTHETIC lengths from the recorded histogram of trec" in out
    ((path,),) = [list(results.glob("*.json"))]
    rec = json.loads(path.read_text())
    assert (rec["dataset"], rec["config"]["suite"]) == ("lengths", "lengths")
    assert rec["config"]["datasets"]["trec"]["lengths_source"]["source"] == "synthetic"
    rows = {r["strategy"]: r for r in rec["rows"]}
    assert set(rows) == set(lengths.STRATEGIES)
    for row in rows.values():
        assert row["status"] == "ok", row["error"]
        assert row["kind"] == "lengths" and row["lengths_of"] == "trec" and row["batch"] == row["batch"] > 1
        assert 0 <= row["padding_fraction"] < 1 and row["real_tokens"] > 0
        assert row["useful_tokens_per_s"] == pytest.approx(row["real_tokens"] / row["median_s"])
        assert row["ms_per_1k_tokens"] == pytest.approx(1e6 * row["median_s"] / row["real_tokens"])
        assert row["ratio_to_fastest"] >= 1.0 and row["round_seed"] == rows["random"]["round_seed"]
    assert rows["packed"]["padding_path"] == "pack" and rows["random"]["padding_path"] == "mask"
    assert rows["packed"]["padding_fraction"] == rows["random"]["padding_fraction"]
    assert rows["sorted"]["padding_fraction"] < rows["random"]["padding_fraction"]
    assert not rec["fastest"]  # strategies are compared within a backend, not in the cell summary
    # the report: a section of its own (never rows of the speed table), the synthetic lengths said
    assert cli.main(["report", "--results-dir", str(results), "--table", "lengths,speed"]) == 0
    report = capsys.readouterr()
    assert "Ragged text: padding, bucketing and packing" in report.out
    assert "SYNTHETIC lengths drawn from the recorded histogram of trec" in report.out
    assert "no data for the speed table" in report.out  # the lengths rows are no rows of the speed table
    # a later record: each backend shows its latest measurement (its strategies compared within one record)
    slower = dict(
        rows["random"],
        median_s=rows["random"]["median_s"] * 1000,
        ms_per_1k_tokens=rows["random"]["ms_per_1k_tokens"] * 1000,
    )
    later = dict(rec, started_at="2999-01-01T00:00:00+00:00", rows=[dict(slower, backend="other")])
    (results / "later.json").write_text(json.dumps(later))
    assert cli.main(["report", "--results-dir", str(results), "--table", "lengths", "--format", "csv"]) == 0
    import csv
    import io

    shown = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["backend"], r["strategy"]) for r in shown) == sorted(
        [("numpy", s) for s in lengths.STRATEGIES] + [("other", "random")]
    )  # numpy's rows stay: none later
    assert [float(r["ms_per_1k_tokens"]) for r in shown if r["backend"] == "other"] == [
        pytest.approx(slower["ms_per_1k_tokens"])
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--suite", "lengths", "--datasets", "wiki"], "unknown dataset 'wiki'"),
        (["--suite", "lengths", "--strategies", "random,zipped"], "unknown strategy 'zipped'"),
        (["--suite", "lengths", "--sizes", "4x5x6x7"], "--sizes does not apply to --suite lengths"),
        (["--suite", "lengths", "--cells", "treelstm"], "unknown cell 'treelstm'"),
        (["--suite", "lengths", "--token-budget", "0"], "--token-budget"),
        (["--strategies", "random"], "--strategies applies to --suite lengths only"),
    ],
)
def test_lengths_bad_input_is_one_line(argv, message, tmp_path, capsys):
    code = cli.main(["bench", "--backends", "numpy", *argv, "--settle", "0", "--results-dir", str(tmp_path)])
    one_line_error(code, capsys.readouterr().err, message)
    assert not list(tmp_path.glob("*.json"))
