"""Pretrained word vectors (issue 15): ``--vectors FILE`` and ``--freeze-embeddings`` on textclf and treesent.

Every vectors file here is written by the test (GloVe, word2vec with its header,
gzipped, cased, 840B-style words with spaces); nothing is downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rnnbench import cli, get_backend
from rnnbench.errors import RnnbenchError
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params
from rnnbench.optim import NumpyOps, apply_update, init_state, l2_penalty
from rnnbench.tasks.textclf.task import TextClassification
from rnnbench.tasks.treesent.task import TreeSentiment, _average_composition
from rnnbench.text import PAD_ID, UNK_ID
from rnnbench.tree_model import TreeModelSpec
from rnnbench.vectors import peek_dim, read_vectors

from cli_helpers import one_line_error
from sst_fixtures import write_sst
from text_fixtures import sentiment_texts, write_user_file
from vector_fixtures import FROZEN_MODELS, frozen_run, vectors_file, write

TESTS = Path(__file__).parent
VOCAB = ["<pad>", "<unk>", "good", "bad", "film", "the", "plot"]


def glove_lines():
    return ["the 0.1 0.2 0.3", "good 1 2 3", "zebra 9 9 9", "film -1 -2 -3.5e-1"]


# -- reading and matching ------------------------------------------------------------------------


def test_glove_text_is_read_and_only_vocabulary_words_are_kept(tmp_path):
    path = write(tmp_path / "v.txt", glove_lines())
    got = read_vectors(path, VOCAB)
    assert got.rows.shape == (len(VOCAB), 3) and got.dim == 3
    assert got.found.tolist() == [False, False, True, False, True, True, False]
    assert got.rows[VOCAB.index("film")].tolist() == [-1, -2, -0.35]
    info = got.info
    assert info["format"] == "glove" and not info["gzip"] and info["file_words"] == 4
    assert info["vocabulary_words"] == 5 and info["found"] == 3 and info["coverage_types"] == 0.6
    assert info["file"] == "v.txt" and info["path"] == str(path) and info["bytes"] == path.stat().st_size
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["frozen"] is False and "coverage_train_tokens" not in info


def test_word2vec_header_and_gzip_by_magic_bytes_not_name(tmp_path):
    path = write(tmp_path / "vectors.bin.txt", ["4 3", *glove_lines()], compress=True)  # gzip, no .gz suffix
    got = read_vectors(path, VOCAB)
    assert got.info["format"] == "word2vec" and got.info["gzip"] and got.info["header_words"] == 4
    assert got.info["dim"] == 3 and got.info["found"] == 3 and got.info["file_words"] == 4
    assert got.info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # of the compressed bytes
    assert peek_dim(path) == 3
    plain = read_vectors(write(tmp_path / "plain.txt", glove_lines()), VOCAB)
    assert np.array_equal(got.rows, plain.rows)


def test_cased_file_fills_a_lowercased_vocabulary_exact_first(tmp_path):
    lines = ["Good 1 1", "GOOD 2 2", "good 3 3", "Film 4 4", "FILM 5 5", "The 6 6"]
    path = write(tmp_path / "cased.txt", lines)
    lowered = read_vectors(path, VOCAB, lowercase=True)
    rows = {w: lowered.rows[i].tolist() for i, w in enumerate(VOCAB) if lowered.found[i]}
    # good: the exact match beats the earlier cased ones; film: the first cased one wins
    assert rows == {"good": [3, 3], "film": [4, 4], "the": [6, 6]}
    assert lowered.info["found"] == 3 and lowered.info["found_lowercased"] == 2
    cased = read_vectors(path, VOCAB, lowercase=False)  # a cased vocabulary takes exact matches only
    assert cased.info["found"] == 1 and cased.info["found_lowercased"] == 0


def test_first_exact_occurrence_wins_and_trailing_spaces_and_crlf_are_fine(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_bytes(b"good 1 2 \r\ngood 3 4\r\n\r\nbad 5 6\r\n")
    got = read_vectors(path, VOCAB)
    assert got.rows[VOCAB.index("good")].tolist() == [1, 2] and got.info["found"] == 2


def test_words_with_spaces_take_the_last_dim_fields(tmp_path):
    """GloVe 840B holds lines like ``. . . 0.1 ...``: the vector is the last dim fields."""
    path = write(tmp_path / "840b.txt", ["good 1 2 3", ". . . 4 5 6", "at name@domain.com 7 8 9", "bad 0 0 1"])
    got = read_vectors(path, VOCAB)
    assert got.info["words_with_spaces"] == 2 and got.info["file_words"] == 4 and got.info["found"] == 2
    assert got.rows[VOCAB.index("bad")].tolist() == [0, 0, 1]


def test_coverage_of_training_tokens(tmp_path):
    path = write(tmp_path / "v.txt", glove_lines())
    counts = {"good": 5, "bad": 3, "film": 2, "rare": 10}  # "rare" is not in the vocabulary: unknown, uncovered
    got = read_vectors(path, VOCAB, token_counts=counts, frozen=True)
    assert got.info["coverage_train_tokens"] == round(7 / 20, 4) and got.info["frozen"] is True


def test_init_overwrites_found_rows_and_keeps_the_seeded_draw_elsewhere(tmp_path):
    got = read_vectors(write(tmp_path / "v.txt", glove_lines()), VOCAB)
    spec = ModelSpec(cell="lstm", hidden_size=4, num_outputs=2, vocab_size=len(VOCAB), embed_size=3, dtype="float64")
    base = init_model_params(spec, 7)
    params = got.init_params(init_model_params)(spec, 7)
    for i, word in enumerate(VOCAB):
        expected = got.rows[i] if got.found[i] else base["embedding"][i]
        assert np.array_equal(params["embedding"][i], expected), word
    assert np.array_equal(params["embedding"][PAD_ID], base["embedding"][PAD_ID])
    assert np.array_equal(params["embedding"][UNK_ID], base["embedding"][UNK_ID])
    assert all(np.array_equal(params[k], base[k]) for k in base if k != "embedding")


@pytest.mark.parametrize(
    "lines, words",
    [
        (["good 1 2 3", "bad 1 x 3"], ["v.txt:2", "'x'", "not a number"]),
        (["good 1 2 3", "bad 1 2"], ["v.txt:3", "2 values", "have 3"]),  # line 1 is the header below
        (["good 1 2 3", "bad 1 nan 3"], ["v.txt:2", "not finite"]),
        (["good"], ["v.txt:1", "dimension 0"]),
        (["3 0"], ["v.txt:1", "dimension 0"]),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, lines, words):
    if words[0] == "v.txt:3":
        lines = ["2 3", *lines]
    path = write(tmp_path / "v.txt", lines)
    with pytest.raises(RnnbenchError) as caught:
        read_vectors(path, VOCAB)
    message = str(caught.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_not_utf8_empty_missing_directory_and_damaged_gzip(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes(b"good 1 2\ncaf\xe9 3 4\n")
    cases = {
        bad: ["latin.txt:2", "not UTF-8"],
        write(tmp_path / "empty.txt", []): ["no vectors"],
        tmp_path / "nowhere.txt": ["no such file"],
        tmp_path: ["directory"],
    }
    damaged = tmp_path / "cut.gz"
    whole = gzip.compress(("\n".join(glove_lines() * 200) + "\n").encode())
    damaged.write_bytes(whole[: len(whole) // 2])
    cases[damaged] = ["cut.gz:", "gzip"]
    for path, words in cases.items():
        with pytest.raises(RnnbenchError) as caught:
            read_vectors(path, VOCAB)
        assert all(w in str(caught.value) for w in words) and "\n" not in str(caught.value), str(caught.value)


def test_memory_follows_the_vocabulary_not_the_file(tmp_path):
    """A 48 MB file (100k words x 50 values, 2k of them in the vocabulary): tracemalloc's peak stays under
    6 MB, an eighth of the file (measured: 3.0 MB, the 1 MB read buffer, the 0.8 MB of kept rows, a line's
    fields); the read runs at about 140 MB/s here (a 5.6 GB glove.840B.300d.txt: about 40 s)."""
    rng = np.random.default_rng(0)
    values = " ".join(f"{v:.6f}" for v in rng.uniform(-1, 1, size=50))
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(100_000):
            handle.write(f"word{i} {values}\n")
    size = path.stat().st_size
    assert size > 35e6
    vocabulary = ["<pad>", "<unk>", *(f"word{i}" for i in range(0, 100_000, 50))]
    started = time.perf_counter()
    read_vectors(path, vocabulary)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        got = read_vectors(path, vocabulary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.info["found"] == 2000 and got.info["file_words"] == 100_000
    assert peak < 6e6 and peak < size / 8, (peak, size)
    print(f"read {size / 1e6:.0f} MB in {seconds:.2f} s ({size / 1e6 / seconds:.0f} MB/s), peak {peak / 1e6:.1f} MB")


# -- the spec and the optimizer: a frozen parameter keeps its value exactly ----------------------------


def test_frozen_names_are_checked():
    spec = ModelSpec(cell="gru", hidden_size=3, num_outputs=2, vocab_size=5, embed_size=2, frozen=["embedding"])
    assert spec.frozen == ("embedding",)
    with pytest.raises(RnnbenchError, match="cannot freeze embeddings: not a parameter"):
        ModelSpec(cell="gru", hidden_size=3, num_outputs=2, vocab_size=5, embed_size=2, frozen=("embeddings",))
    with pytest.raises(RnnbenchError, match="cannot freeze embedding"):  # a feature model has no embedding
        ModelSpec(cell="gru", hidden_size=3, num_outputs=2, input_size=2, frozen=("embedding",))
    tree = TreeModelSpec(
        cell="treelstm",
        hidden_size=3,
        num_outputs=5,
        vocab_size=5,
        embed_size=2,
        frozen=("embedding", "encoder.W_leaf"),
    )
    assert tree.frozen == ("embedding", "encoder.W_leaf")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adagrad"])
def test_the_shared_update_skips_frozen_parameters_in_step_norm_and_penalty(optimizer):
    spec = ModelSpec(
        cell="rnn",
        hidden_size=3,
        num_outputs=2,
        vocab_size=4,
        embed_size=2,
        l2=0.1,
        clip_norm=1.0,
        optimizer=OptimizerSpec(optimizer, 0.1),
        dtype="float64",
        frozen=("embedding",),
    )
    plain = ModelSpec(**{**spec.__dict__, "frozen": ()})
    params = init_model_params(spec, 0)
    grads = {k: np.full_like(v, 3.0) for k, v in params.items()}
    new = apply_update(spec, params, grads, init_state(spec, params, np.zeros_like), NumpyOps)
    assert new["embedding"] is params["embedding"]
    # the others move as if the embedding were not a parameter at all (its gradient out of the clipping norm)
    rest = {k: v for k, v in params.items() if k != "embedding"}
    unfrozen = ModelSpec(**{**plain.__dict__})
    expected = apply_update(
        unfrozen, rest, {k: grads[k] for k in rest}, init_state(unfrozen, rest, np.zeros_like), NumpyOps
    )
    assert all(np.array_equal(new[k], expected[k]) for k in rest)
    assert l2_penalty(spec, params, NumpyOps) == pytest.approx(l2_penalty(plain, rest, NumpyOps))
    assert l2_penalty(spec, params, NumpyOps) < l2_penalty(plain, params, NumpyOps)


# -- frozen training on every backend: the embedding bit-identical, the loss curves alike -----------------


@pytest.mark.parametrize("model", FROZEN_MODELS)
def test_frozen_embedding_on_numpy(tmp_path, model):
    numpy = frozen_run("numpy", model, tmp_path)
    assert numpy["embedding_kept"] and numpy["others_moved"]


@pytest.mark.parametrize("model", FROZEN_MODELS)
def test_frozen_embedding_on_torch_matches_numpy(tmp_path, model):
    pytest.importorskip("torch")
    torch_run = frozen_run("torch", model, tmp_path)
    assert torch_run["embedding_kept"] and torch_run["others_moved"]
    np.testing.assert_allclose(torch_run["losses"], frozen_run("numpy", model, tmp_path)["losses"], rtol=1e-8)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_frozen_embedding_on_tensorflow_and_jax_matches_numpy(tmp_path, backend):
    """In a fresh process (TensorFlow fixes its thread pool once; jax is a plugin)."""
    pytest.importorskip(backend)
    if backend == "jax":
        pytest.importorskip("rnnbench_jax")
    script = (
        f"import json, sys; sys.path.insert(0, {str(TESTS)!r}); from vector_fixtures import frozen_run, "
        f"FROZEN_MODELS; print(json.dumps({{m: frozen_run({backend!r}, m, {str(tmp_path)!r}) "
        f"for m in FROZEN_MODELS}}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "RNNBENCH_DISABLE_PLUGIN_AUTOLOAD"}  # jax: a plugin
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    for model in FROZEN_MODELS:
        assert runs[model]["embedding_kept"] and runs[model]["others_moved"], model
        np.testing.assert_allclose(runs[model]["losses"], frozen_run("numpy", model, tmp_path)["losses"], rtol=1e-8)


# -- the tasks, through the command line ------------------------------------------------------------------


def _record(results: Path) -> dict:
    (path,) = results.glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok", record.get("error")
    return record


def _treesent(tmp_path, *extra):
    sst = tmp_path / "data" / "sst"
    if not sst.exists():
        write_sst(sst)
    return cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "treesent",
            "--data-dir",
            str(sst.parent),
            "--results-dir",
            str(tmp_path / "results"),
            "--max-steps",
            "3",
            "--epochs",
            "1",
            "--batch-size",
            "10",
            "--no-progress",
            *extra,
        ]
    )


def test_a_treesent_run_records_its_vectors_and_starts_from_them(tmp_path, capsys):
    vectors = vectors_file(tmp_path)
    assert _treesent(tmp_path, "--model", "recursive", "--vectors", str(vectors)) == 0, capsys.readouterr().err
    record = _record(tmp_path / "results")
    info = record["data"]["vectors"]
    assert (
        info["file"] == "vec.txt"
        and info["dim"] == 6
        and info["sha256"] == hashlib.sha256(vectors.read_bytes()).hexdigest()
    )
    assert info["found"] == 8 and info["found_lowercased"] == 1 and info["vocabulary_words"] == 10  # "The" -> the
    assert 0.5 < info["coverage_train_tokens"] < 1 and info["frozen"] is False
    assert record["spec"]["embed_size"] == 6 and record["spec"]["hidden_size"] == 6 and record["spec"]["frozen"] == []
    assert record["config"]["vectors"] == str(vectors) and record["config"]["embed_size"] is None
    assert any("vectors vec.txt: 8 of 10" in note for note in record["notes"])
    # the embedding a run starts from: the file's vector for a found word, the seeded draw for the rest
    task = TreeSentiment()
    prepared = task.prepare(
        task.resolve_config({"model": "recursive", "data_dir": str(tmp_path / "data"), "vectors": str(vectors)})
    )
    start = prepared.init_params(prepared.spec, 0)
    plain = init_model_params(prepared.spec, 0)
    file_rows = [
        np.array(line.split()[1:], dtype=np.float64).astype(np.float32) for line in vectors.read_text().splitlines()
    ]
    from_file = [i for i, row in enumerate(start["embedding"]) if any(np.array_equal(row, r) for r in file_rows)]
    assert len(from_file) == 8 and min(from_file) >= 2  # padding and unknown keep the seeded draw:
    assert np.array_equal(start["embedding"][:2], plain["embedding"][:2])
    others = [i for i in range(len(plain["embedding"])) if i not in from_file]
    assert np.array_equal(start["embedding"][others], plain["embedding"][others])
    assert np.array_equal(start["encoder.W"], _average_composition(prepared.spec, 0)["encoder.W"])  # init kept


def test_treesent_word_and_tree_models_take_vectors_and_freeze(tmp_path, capsys):
    vectors = vectors_file(tmp_path)
    for model in ("treelstm", "lstm"):
        results = tmp_path / model
        code = cli.main(
            [
                "run",
                "--backend",
                "numpy",
                "--task",
                "treesent",
                "--model",
                model,
                "--data-dir",
                str(write_sst(tmp_path / model / "data" / "sst")),
                "--results-dir",
                str(results),
                "--max-steps",
                "2",
                "--epochs",
                "1",
                "--no-progress",
                "--hidden-size",
                "4",
                "--vectors",
                str(vectors),
                "--freeze-embeddings",
            ]
        )
        assert code == 0, capsys.readouterr().err
        record = _record(results)
        assert record["spec"]["embed_size"] == 6 and record["spec"]["hidden_size"] == 4
        assert record["spec"]["frozen"] == ["embedding"] and record["data"]["vectors"]["frozen"] is True


def test_a_textclf_run_records_its_vectors(tmp_path, capsys):
    data = write_user_file(tmp_path / "reviews.tsv", sentiment_texts(40))
    vectors = write(
        tmp_path / "glove.txt.gz",
        ["Good 1 0 0 0 1", "bad 0 1 0 0 1", "the 0 0 1 0 1", "unrelated 1 1 1 1 1"],
        compress=True,
    )
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            str(data),
            "--results-dir",
            str(tmp_path / "results"),
            "--hidden-size",
            "4",
            "--max-steps",
            "2",
            "--epochs",
            "1",
            "--no-progress",
            "--min-count",
            "1",
            "--vectors",
            str(vectors),
            "--freeze-embeddings",
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = _record(tmp_path / "results")
    info = record["data"]["vectors"]
    assert info["gzip"] and info["dim"] == 5 and info["found"] == 3 and info["found_lowercased"] == 1
    assert 0 < info["coverage_train_tokens"] < 1 and info["frozen"]
    assert record["spec"]["embed_size"] == 5 and record["spec"]["frozen"] == ["embedding"]


def test_freezing_a_random_embedding_is_allowed_with_a_note(tmp_path, capsys):
    assert _treesent(tmp_path, "--model", "lstm", "--embed-size", "4", "--hidden-size", "4", "--freeze-embeddings") == 0
    record = _record(tmp_path / "results")
    assert any("keeps its random draw" in note for note in record["notes"]) and "vectors" not in record["data"]


@pytest.mark.parametrize(
    "model, option, words",
    [
        ("lstm", ["--embed-size", "50"], ["--embed-size 50", "dimension 6"]),
        ("recursive", ["--hidden-size", "50"], ["--hidden-size 50", "dimension 6", "recursive"]),
        ("recursive", ["--embed-size", "50"], ["--embed-size 50", "dimension 6"]),
    ],
)
def test_a_size_that_disagrees_with_the_vectors_is_one_line(tmp_path, capsys, model, option, words):
    code = _treesent(tmp_path, "--model", model, "--vectors", str(vectors_file(tmp_path)), *option)
    one_line_error(code, capsys.readouterr().err, *words)


def test_an_agreeing_size_is_fine(tmp_path, capsys):
    assert _treesent(tmp_path, "--model", "lstm", "--embed-size", "6", "--vectors", str(vectors_file(tmp_path))) == 0, (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "content, words",
    [
        (b"good 1 2\nbad 1 oops\n", ["bad.txt:2", "'oops'"]),
        (b"good 1 2 3\nbad 1 2\n", ["bad.txt:2", "2 values", "have 3"]),
        (b"", ["no vectors"]),
        (b"good 1 2\n\xff\xfe 3 4\n", ["bad.txt:2", "not UTF-8"]),
    ],
)
def test_bad_vectors_files_are_one_line_from_the_cli(tmp_path, capsys, content, words):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    one_line_error(_treesent(tmp_path, "--model", "lstm", "--vectors", str(path)), capsys.readouterr().err, *words)


def test_a_missing_vectors_file_is_one_line_for_textclf(tmp_path, capsys):
    data = write_user_file(tmp_path / "reviews.tsv", sentiment_texts(20))
    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "textclf",
            "--dataset",
            str(data),
            "--results-dir",
            str(tmp_path / "results"),
            "--no-progress",
            "--vectors",
            str(tmp_path / "glove.txt"),
        ]
    )
    one_line_error(code, capsys.readouterr().err, "glove.txt", "no such file")


def test_variant_labels_name_the_vectors_file_and_old_records_have_none():
    from rnnbench.report.variants import label, run_diff

    task = TreeSentiment()
    config = task.resolve_config(
        {"model": "lstm", "vectors": "/data/glove.840B.300d.txt.gz", "freeze_embeddings": True}
    )
    assert label(run_diff(config)) == "vectors glove.840B.300d.txt.gz, frozen embedding"
    old = {k: v for k, v in task.resolve_config({"model": "lstm"}).items() if k not in ("vectors", "freeze_embeddings")}
    assert run_diff(old) == {}
    textclf = TextClassification().resolve_config({"dataset": "sst2", "vectors": "v.txt"})
    assert label(run_diff(textclf)) == "vectors v.txt" and textclf["embed_size"] is None


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_frozen_parameter_has_no_l2_in_its_reported_gradient(backend):
    """loss_and_grads and the L2 term agree: a frozen embedding's gradient is the data gradient alone."""
    pytest.importorskip(backend)
    from rnnbench.model import ModelSpec, init_model_params

    spec = ModelSpec(cell="lstm", hidden_size=4, num_outputs=3, vocab_size=12, embed_size=5, l2=0.1, dtype="float64")
    frozen = ModelSpec(**{**spec.__dict__, "frozen": ("embedding",)})
    plain = ModelSpec(**{**spec.__dict__, "l2": 0.0})
    params = init_model_params(spec, 0)
    batch = (np.array([[1, 2, 3], [4, 5, 0]]), np.array([3, 2]), np.array([0, 2]))
    engine = get_backend(backend)
    loss, grads = engine.build_model(frozen, params).loss_and_grads(*batch)
    _, data_grads = engine.build_model(plain, params).loss_and_grads(*batch)
    np.testing.assert_allclose(grads["embedding"], data_grads["embedding"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["head.W"], data_grads["head.W"] + 0.1 * params["head.W"], rtol=1e-10)
