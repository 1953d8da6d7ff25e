"""Sizes that cannot fit (issue 10): one line saying how much memory they would take, before allocating it.

Nothing here allocates what it asks for: every refusal comes from an estimate
made before the first array, and the MemoryError path is driven by raising
NumPy's own exception from a stand-in ``prepare``.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnbench import memory
from rnnbench.errors import RnnbenchError
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params
from rnnbench.tasks.longrange.task import LongRange, check_memory
from rnnbench.tasks.textclf.task import TextClassification
from rnnbench.tree_model import TreeModelSpec

from cli_helpers import invoke, one_line_error
from text_fixtures import sentiment_texts, write_user_file


def run(tmp_path, capsys, *argv):
    code, _, err = invoke(
        capsys, "run", "--backend", "numpy", "--results-dir", tmp_path / "results", "--no-progress", *argv
    )
    return code, err


def test_a_longrange_batch_of_a_billion_says_how_much_it_would_take(tmp_path, capsys):
    line = one_line_error(
        *run(tmp_path, capsys, "--task", "longrange", "--batch-size", "1000000000"),
        "one training batch of --batch-size 1000000000 × T=200 (200 steps",
        "would need at least",
        "TiB; this machine has",
        "lower --batch-size",
    )
    assert "_ArrayMemoryError" not in line


def test_a_longrange_dev_set_of_a_billion_copy_sequences_is_refused(tmp_path, capsys):
    one_line_error(
        *run(tmp_path, capsys, "--task", "longrange", "--problem", "copy", "--dev-size", "1000000000"),
        "scoring 1000000000 sequences (--dev-size/--test-size) of 120 steps",
        "would need at least",
    )


def test_a_longrange_hidden_size_too_large_counts_its_parameters(tmp_path, capsys):
    one_line_error(
        *run(tmp_path, capsys, "--task", "longrange", "--hidden-size", "10000000"),
        "the lstm model's 400,000,130,000,001 parameters (--hidden-size 10000000)",
        "PiB",
        "lower --hidden-size",
    )


def test_textclf_model_sizes_are_refused_before_any_data_is_read(tmp_path, capsys):
    """The file does not exist: the size check must come first, or the message would say so."""
    missing = tmp_path / "not-there.tsv"
    one_line_error(
        *run(tmp_path, capsys, "--task", "textclf", "--dataset", str(missing), "--hidden-size", "10000000"),
        "the lstm model's 400,005,180,000,258 parameters (--embed-size 128, --hidden-size 10000000)",
        "would need at least",
    )
    one_line_error(
        *run(tmp_path, capsys, "--task", "textclf", "--dataset", str(missing), "--embed-size", "1000000000000"),
        "--embed-size 1000000000000",
        "would need at least",
    )


def test_textclf_refuses_a_batch_of_long_texts_on_a_small_machine(tmp_path, capsys, monkeypatch):
    rows = [(" ".join([text] * 60), label) for text, label in sentiment_texts(40)]
    path = write_user_file(tmp_path / "long.tsv", rows)
    monkeypatch.setattr(memory, "physical_memory", lambda: 1 << 20)  # 1 MiB: the model fits, a batch does not
    line = one_line_error(
        *run(
            tmp_path,
            capsys,
            "--task",
            "textclf",
            "--dataset",
            str(path),
            "--model",
            "rnn",
            "--embed-size",
            "4",
            "--hidden-size",
            "64",
            "--max-length",
            "400",
        ),
        "one training batch of 32 texts ×",
        "with --hidden-size 64",
        "1 MiB of memory",
    )
    assert "lower --batch-size, --max-length or --hidden-size" in line


def test_a_memory_error_while_preparing_is_one_line_with_the_sizes_given(tmp_path, capsys, monkeypatch):
    from numpy._core._exceptions import _ArrayMemoryError

    def prepare(self, config):
        raise _ArrayMemoryError((1000000000, 400), np.dtype("int64"))

    monkeypatch.setattr(TextClassification, "prepare", prepare)
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(20))
    one_line_error(
        *run(tmp_path, capsys, "--task", "textclf", "--dataset", str(path), "--batch-size", "1000000000"),
        "not enough memory preparing the run: Unable to allocate 2.91 TiB for an array with shape (1000000000, 400)",
        "sizes given: --batch-size 1000000000",
    )


def test_a_bare_memory_error_still_says_what_happened_and_what_to_lower(tmp_path, capsys, monkeypatch):
    def prepare(self, config):
        raise MemoryError()

    monkeypatch.setattr(TextClassification, "prepare", prepare)
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(20))
    line = one_line_error(
        *run(tmp_path, capsys, "--task", "textclf", "--dataset", str(path)),
        "not enough memory preparing the run: out of memory; lower --batch-size (now ",
    )
    # no size was given: the line names the ones to lower with the values the run would use (issue 22, item 14)
    assert "--max-length (now 400) or --hidden-size (now " in line and line.endswith(" and run again")


# -- the estimates themselves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(cell="lstm", hidden_size=5, num_outputs=3, vocab_size=11, embed_size=4),
        ModelSpec(cell="gru", hidden_size=6, num_outputs=1, input_size=2, loss="mse", pooling="last"),
        TreeModelSpec(cell="treelstm", hidden_size=4, num_outputs=5, vocab_size=9, embed_size=3),
        TreeModelSpec(cell="recursive", hidden_size=4, num_outputs=5, vocab_size=9, embed_size=4),
    ],
    ids=["lstm-tokens", "gru-features", "treelstm", "recursive"],
)
def test_parameter_count_is_what_the_model_allocates(spec):
    if isinstance(spec, TreeModelSpec):
        from rnnbench.params import init_params

        rng = np.random.default_rng(0)
        params = {
            "embedding": rng.random((spec.vocab_size, spec.embed_size)),
            **init_params(spec.cell, spec.embed_size, spec.hidden_size),
            "head.W": rng.random((spec.hidden_size, spec.num_outputs)),
            "head.b": np.zeros(spec.num_outputs),
        }
    else:
        params = init_model_params(spec)
    assert memory.parameter_count(spec) == sum(value.size for value in params.values())


def test_default_sizes_are_never_refused_on_a_small_machine():
    """The estimates are lower bounds: the defaults must pass on 512 MiB, or they refuse real runs."""
    task = LongRange()
    for problem in ("adding", "copy"):
        config = task.resolve_config({"problem": problem})
        spec = ModelSpec(
            cell="lstm",
            hidden_size=config["hidden_size"],
            num_outputs=9,
            input_size=10,
            optimizer=OptimizerSpec("adam", 1e-3),
        )
        check_memory(config, spec, problem, config["seq_len"], available=512 << 20)
    imdb = ModelSpec(cell="lstm", hidden_size=128, num_outputs=2, vocab_size=20000, embed_size=128)
    memory.check_model(imdb, available=512 << 20)
    with pytest.raises(
        RnnbenchError, match=r"2,691,842 parameters .* would need at least 51.3 MiB; this machine has 50 MiB"
    ):
        memory.check_model(imdb, available=50 << 20)


@pytest.mark.parametrize(
    "count,text",
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (8 * 10**12, "7.28 TiB"),
        (2**70, "1.02e+03 EiB"),
    ],
)
def test_format_bytes(count, text):
    assert memory.format_bytes(count) == text


def test_physical_memory_is_known_here():
    assert memory.physical_memory() > 1 << 20
