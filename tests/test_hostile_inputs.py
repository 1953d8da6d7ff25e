"""Issue 22 items 5-9: inputs that used to be silently misread or to fail late are read right or refused up front.

5. TSV is read without CSV quoting (a row starting with a lone quote no longer swallows the next lines);
6. a registered dataset gets the user file's class checks, and ``data list`` checks sizes against the registry;
7. all-empty texts, one column for text and label, ``--l2 -1``, vectors past float32, ``--seeds -1``: one line;
8. one rule for every number option of every command (:mod:`rnnbench.number_types`), ``--steps-per-epoch 0``,
   ``--threads`` past the usable CPUs (a warning);
9. ``sweep --dry-run`` resolves each configuration as ``run`` does; excluding every configuration is an error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rnnbench import cli, devices
from rnnbench.data import readers
from rnnbench.data.local import local_status
from rnnbench.data.paths import resolve_data_dir
from rnnbench.errors import RnnbenchError
from rnnbench.number_types import NumberType

from cli_helpers import one_line_error
from text_fixtures import sentiment_texts, write_local_layout, write_user_file

TINY = ["--embed-size", "4", "--hidden-size", "4", "--max-steps", "2", "--epochs", "1", "--no-progress"]


def _run(tmp_path, *argv) -> int:
    return cli.main(
        ["run", "--backend", "numpy", "--task", "textclf", "--results-dir", str(tmp_path / "results"), *argv]
    )


def _no_records(tmp_path) -> None:
    assert not list((tmp_path / "results").glob("*.json")) if (tmp_path / "results").exists() else True


# -- 5. TSV without CSV quoting --------------------------------------------------------------------------------


def test_a_tsv_row_starting_with_a_lone_quote_is_its_own_row(tmp_path):
    """CSV quoting merged it with the next line: a label ended up inside a text."""
    path = tmp_path / "quotes.tsv"
    path.write_text(
        'text\tlabel\n"hello world\tpos\nbad movie\tneg\n"good\tpos\nok "fine" film\tneg\n', encoding="utf-8"
    )
    assert readers.read_table(path, "text", "label") == (
        ['"hello world', "bad movie", '"good', 'ok "fine" film'],
        ["pos", "neg", "pos", "neg"],
    )


def test_a_two_label_tsv_whose_texts_start_with_quotes_trains_on_both_labels(tmp_path):
    """Merged in pairs, every row kept one label: "a classifier needs at least two labels"."""
    rows = "".join(f'"{text}\t{"pos" if label else "neg"}\n' for text, label in sentiment_texts(40))
    path = tmp_path / "quoted.tsv"
    path.write_text("text\tlabel\n" + rows, encoding="utf-8")
    texts, labels = readers.read_table(path, "text", "label")
    assert len(texts) == 40 and sorted(set(labels)) == ["neg", "pos"]
    assert all(text.startswith('"') and "\t" not in text and "\n" not in text for text in texts)


def test_a_csv_is_still_read_with_quoting(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('text,label\n"a, ""quoted"" text",pos\nplain,neg\n', encoding="utf-8")
    assert readers.read_table(path, "text", "label") == (['a, "quoted" text', "plain"], ["pos", "neg"])


# -- 6. registered datasets: classes, and data list's sizes --------------------------------------------------------


@pytest.fixture
def data(tmp_path):
    return write_local_layout(tmp_path / "data", size=40)


def test_mr_with_an_empty_positive_file_is_refused_not_trained_to_100_percent(tmp_path, data, capsys):
    (data / "mr" / "rt-polarity.pos").write_bytes(b"")
    code = _run(tmp_path, "--dataset", "mr", "--data-dir", str(data), *TINY)
    one_line_error(
        code,
        capsys.readouterr().err,
        "dataset 'mr'",
        "at least two classes",
        "negative",
        "rnnbench data fetch mr --force",
    )
    _no_records(tmp_path)


def test_a_registered_dataset_missing_one_class_is_refused(tmp_path, data, capsys):
    trec = data / "trec" / "train_5500.label"
    lines = trec.read_bytes().decode("latin-1").splitlines(keepends=True)
    trec.write_bytes("".join(line for line in lines if not line.startswith("LOC:")).encode("latin-1"))
    code = _run(tmp_path, "--dataset", "trec", "--data-dir", str(data), *TINY)
    one_line_error(code, capsys.readouterr().err, "dataset 'trec'", "class LOC has no training examples")
    _no_records(tmp_path)


def test_a_user_file_with_one_class_present_is_refused_even_with_two_declared(tmp_path, capsys):
    path = write_user_file(tmp_path / "one.tsv", [(text, 1) for text, _ in sentiment_texts(30)])
    code = _run(tmp_path, "--dataset", str(path), "--label-names", "neg,pos", *TINY)
    one_line_error(code, capsys.readouterr().err, "at least two classes", "every training example is pos")


def _listed(capsys, data) -> dict:
    assert cli.main(["data", "list", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    return {line.split()[0]: line for line in out.splitlines()[3:] if line.strip()}


def test_data_list_calls_an_empty_or_truncated_file_not_usable(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "mr").mkdir(parents=True)
    (data / "mr" / "rt-polarity.pos").write_bytes(b"")
    (data / "mr" / "rt-polarity.neg").write_bytes(b"x" * 1000)
    (data / "trec").mkdir()
    (data / "trec" / "train_5500.label").write_bytes(b"x" * 335_858)  # the registered size
    (data / "trec" / "TREC_10.label").write_bytes(b"x" * 23_354)
    rows = _listed(capsys, data)
    assert rows["mr"].split()[1] == "unusable"
    assert (
        "rt-polarity.pos is empty" in rows["mr"]
        and "rt-polarity.neg is truncated (1,000 of 612,506 bytes)" in rows["mr"]
        and "rnnbench data fetch mr --force" in rows["mr"]
    )
    assert rows["trec"].split()[1] == "present"
    status = local_status("mr", resolve_data_dir(data), check_sizes=True)
    assert status.present and status.state == "unusable"


def test_the_registered_sizes_are_those_of_the_real_local_copies(data_dir):
    for name in ("imdb", "sst", "sst2", "mr", "trec", "ag_news"):
        status = local_status(name, resolve_data_dir(data_dir), check_sizes=True)
        assert status.state == "present" and not status.damaged, (name, status.damaged)
        for file, size in status.source.sizes.items():
            path = Path(data_dir, name, file)
            assert not path.exists() or path.stat().st_size == size, (name, file)


# -- 7. refused up front -----------------------------------------------------------------------------------------


def test_texts_that_are_all_empty_are_refused(tmp_path, capsys):
    path = tmp_path / "empty.tsv"
    path.write_text("text\tlabel\n" + "".join(f" \t{i % 2}\n" for i in range(40)), encoding="utf-8")
    code = _run(tmp_path, "--dataset", str(path), *TINY)
    one_line_error(code, capsys.readouterr().err, "every text of the train split is empty", "--text-column 'text'")
    _no_records(tmp_path)


def test_punctuation_only_texts_are_as_empty(tmp_path, capsys):
    path = tmp_path / "punct.csv"
    path.write_text("text,label\n" + "".join(f"!!! ...,{i % 2}\n" for i in range(40)), encoding="utf-8")
    code = _run(tmp_path, "--dataset", str(path), *TINY)
    one_line_error(code, capsys.readouterr().err, "every text of the train split is empty")


def test_text_column_equal_to_label_column_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(30))
    monkeypatch.setattr(readers, "read_table", lambda *a, **k: pytest.fail("the file must not be read"))
    code = _run(tmp_path, "--dataset", str(path), "--text-column", "label", "--show-config")
    one_line_error(code, capsys.readouterr().err, "--text-column and --label-column are both 'label'")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--l2", "-1"], "--l2 must not be negative, got -1"),
        (["--seeds", "-1"], "--seeds must be at least 0, got -1"),
        (["--seeds", "0,-3"], "--seeds must be at least 0, got -3"),
    ],
)
def test_bad_numbers_of_textclf_are_one_line_and_no_record(tmp_path, capsys, argv, message):
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(30))
    code = _run(tmp_path, "--dataset", str(path), *TINY, *argv)
    one_line_error(code, capsys.readouterr().err, message)
    _no_records(tmp_path)


def _vectors(tmp_path, value: str) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{word} 0.5 {value}\n" for word in ("good", "bad", "film", "the")), encoding="utf-8")
    return path


def test_vectors_past_float32_are_refused_with_their_line(tmp_path, capsys):
    toy = write_user_file(tmp_path / "toy.tsv", sentiment_texts(30))
    vectors = _vectors(tmp_path, "1e39")
    tiny = TINY[2:]  # the vectors set the embedding size
    code = _run(tmp_path, "--dataset", str(toy), "--vectors", str(vectors), *tiny)
    one_line_error(
        code,
        capsys.readouterr().err,
        f"{vectors}:1: value 1e39 of word 'good' is beyond the largest float32",
        "--dtype float64",
    )
    _no_records(tmp_path)
    assert _run(tmp_path, "--dataset", str(toy), "--vectors", str(vectors), "--dtype", "float64", *tiny) == 0


# -- 8. one rule for numbers ---------------------------------------------------------------------------------------


def _parsers():
    """Every command's parser, ``run`` once with each task's own options: ``(command, parser)``."""
    from rnnbench.plugins import get_registry

    found = []
    for task in (None, *get_registry().tasks):
        argv = ["run", "--backend", "numpy", "--task", task] if task else None
        commands = cli.build_parser(argv)._subparsers._group_actions[0]
        for name, parser in commands.choices.items():
            if task and name != "run":
                continue
            stack = [(name, parser)]
            while stack:
                label, current = stack.pop()
                found.append((f"{label} (task {task})" if task else label, current))
                for action in current._actions:
                    if isinstance(action, argparse._SubParsersAction):
                        stack += [(f"{label} {verb}", sub) for verb, sub in action.choices.items()]
    return found


def test_every_numeric_option_of_every_command_takes_the_one_number_rule():
    bare = [
        f"{command} {'/'.join(action.option_strings)}"
        for command, parser in _parsers()
        for action in parser._actions
        if action.type in (int, float)
    ]
    assert not bare, f"numeric options outside rnnbench.number_types: {bare}"
    typed = {
        "/".join(action.option_strings)
        for _, parser in _parsers()
        for action in parser._actions
        if isinstance(action.type, NumberType)
    }
    assert {
        "--lr",
        "--l2",
        "--budget",
        "--threshold",
        "--hidden-size",
        "--steps-per-epoch",
        "--jobs",
        "--dev-fraction",
        "--success-fraction",
        "--threads",
    } <= typed


RUN = ["run", "--backend", "numpy", "--task", "textclf", "--show-config"]
LONG = ["run", "--backend", "numpy", "--task", "longrange", "--show-config"]
BAD_NUMBERS = [
    (RUN + ["--lr", "nan"], "--lr must be a finite number, got nan"),
    (RUN + ["--lr", "inf"], "--lr must be a finite number, got inf"),
    (RUN + ["--lr", "0"], "--lr must be positive, got 0"),
    (RUN + ["--lr", "1e400"], "--lr must be a finite number, got 1e400"),
    (RUN + ["--l2", "nan"], "--l2 must be a finite number, got nan"),
    (RUN + ["--clip-norm=-inf"], "--clip-norm must be a finite number, got -inf"),
    (RUN + ["--dropout", "1"], "--dropout must lie in [0, 1), got 1"),
    (RUN + ["--hidden-size", "-1"], "--hidden-size must be at least 1, got -1"),
    (RUN + ["--epochs", "x"], "--epochs must be an integer, got 'x'"),
    (RUN + ["--dev-fraction", "1"], "--dev-fraction must lie in (0, 1), got 1"),
    (RUN + ["--folds", "1"], "--folds must be at least 2, got 1"),
    (RUN + ["--split-seed", "-1"], "--split-seed must be at least 0, got -1"),
    (LONG + ["--steps-per-epoch", "0"], "--steps-per-epoch must be at least 1, got 0"),
    (LONG + ["--success-fraction", "nan"], "--success-fraction must be a finite number, got nan"),
    (["bench", "--budget", "nan"], "--budget must be a finite number, got nan"),
    (["bench", "--timeout", "0"], "--timeout must be positive, got 0"),
    (["check", "--threads", "0"], "--threads must be at least 1, got 0"),
    (["report", "--threshold", "nan"], "--threshold must be a finite number, got nan"),
    (["report", "--accuracy-threshold", "-1"], "--accuracy-threshold must not be negative, got -1"),
    (["sweep", "x.toml", "--jobs", "0"], "--jobs must be at least 1, got 0"),
]


@pytest.mark.parametrize("argv, message", BAD_NUMBERS, ids=[" ".join(a[-2:]) + f" ({a[0]})" for a, _ in BAD_NUMBERS])
def test_a_bad_number_is_one_line_naming_the_option_before_anything_runs(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"rnnbench: error: {message}\n"
    assert not list(tmp_path.iterdir())  # nothing written anywhere


def test_steps_per_epoch_zero_given_as_a_config_is_one_line_not_a_zero_division():
    from rnnbench.tasks.longrange.task import LongRange

    with pytest.raises(RnnbenchError, match="--steps-per-epoch must be at least 1, got 0"):
        LongRange().resolve_config({"steps_per_epoch": 0, "max_steps": 10})


def test_threads_past_the_usable_cpus_warn_and_the_run_goes_on(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(devices, "usable_cpus", lambda: 1)
    path = write_user_file(tmp_path / "toy.tsv", sentiment_texts(30))
    assert _run(tmp_path, "--dataset", str(path), "--threads", "2", *TINY) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: --threads 2 exceeds the 1 CPUs this process may use: the threads will contend "
        "for them and the timings will show it"
    ]
    assert len(list((tmp_path / "results").glob("*.json"))) == 1


def test_threads_within_the_usable_cpus_say_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(devices, "usable_cpus", lambda: 4)
    assert cli.main(RUN + ["--threads", "4"]) == 0
    assert "warning" not in capsys.readouterr().err


# -- 9. sweep --dry-run resolves as run does -------------------------------------------------------------------------


def _dry_run(tmp_path, text: str) -> int:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return cli.main(["sweep", str(path), "--dry-run", "--results-dir", str(tmp_path / "results")])


HEAD = '[matrix]\ntask = ["textclf"]\nbackend = ["numpy"]\n'
BAD_SWEEPS = [
    (HEAD + "[options]\nlr = nan\n", "[options] lr must be a finite number, got nan"),
    (HEAD + "[options]\nlr = inf\n", "[options] lr must be a finite number, got inf"),
    (HEAD + "[options]\nl2 = -1.0\n", "[options] l2 must not be negative, got -1.0"),
    (HEAD + "[options]\nhidden_size = -1\n", "[options] hidden_size must be at least 1, got -1"),
    (HEAD + "seed = [-1]\n", "[matrix] seed must be at least 0, got -1"),
    (HEAD + '[options]\ndevice = "cuda"\n', "[options] device: numpy backend runs on cpu only; got device='cuda'"),
    (HEAD + '[options]\ntext_column = "label"\n', "--text-column and --label-column are both 'label'"),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\nsteps_per_epoch = 0\n',
        "[options] steps_per_epoch must be at least 1, got 0",
    ),
    (
        HEAD + 'model = ["rnn", "lstm"]\n[[exclude]]\nmodel = ["rnn"]\n[[exclude]]\nmodel = ["lstm"]\n',
        "[[exclude]] removes all 2 configurations of [matrix] and there is no [[include]]: nothing would run",
    ),
    (HEAD + "[[exclude]]\n", "[[exclude]] #1 is empty: it would remove every configuration of [matrix]"),
]


@pytest.mark.parametrize("text, message", BAD_SWEEPS, ids=[m[:40] for _, m in BAD_SWEEPS])
def test_sweep_dry_run_refuses_what_run_would_refuse(tmp_path, capsys, text, message):
    code = _dry_run(tmp_path, text)
    one_line_error(code, capsys.readouterr().err, message)
    assert not (tmp_path / "results").exists()


def test_sweep_device_names_each_backend_accepts_pass(tmp_path, capsys):
    text = (
        '[matrix]\ntask = ["textclf"]\nbackend = ["torch", "tensorflow"]\n[options]\ndevice = "cuda:1"\n'
        '[[include]]\ntask = "textclf"\nbackend = "numpy"\ndevice = "cpu"\n'
    )
    assert _dry_run(tmp_path, text) == 0, capsys.readouterr().err
    assert "3 configurations" in capsys.readouterr().out


def test_sweep_with_an_include_left_after_excluding_the_matrix_runs_the_include(tmp_path, capsys):
    text = HEAD + '[[exclude]]\nbackend = ["numpy"]\n[[include]]\ntask = "textclf"\nbackend = "numpy"\nmodel = "gru"\n'
    assert _dry_run(tmp_path, text) == 0
    assert "1 configurations" in capsys.readouterr().out


def test_run_refuses_a_device_by_the_same_check(tmp_path, capsys):
    assert cli.main(RUN + ["--device", "tpu"]) == 2
    assert capsys.readouterr().err == "rnnbench: error: numpy backend runs on cpu only; got device='tpu'\n"


def test_run_and_sweep_resolve_one_configuration_alike(tmp_path, capsys):
    """What --show-config prints for the command line is what the sweep resolved for the same options."""
    from rnnbench.sweep.spec import load_sweep

    path = tmp_path / "sweep.toml"
    path.write_text(HEAD + '[options]\ndataset = "mr"\nlr = 0.01\nhidden_size = 8\ndropout = 0.25\n', encoding="utf-8")
    (config,) = load_sweep(path).configurations
    assert cli.main(RUN + ["--dataset", "mr", "--lr", "0.01", "--hidden-size", "8", "--dropout", "0.25"]) == 0
    shown = json.loads(capsys.readouterr().out)
    for key in ("dataset", "lr", "hidden_size", "dropout", "epochs", "max_length", "model"):
        assert config.resolved[key] == shown[key], key
