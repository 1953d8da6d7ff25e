"""Issue 22 items 5-6: inputs that used to be silently misread are read right or refused up front.

5. TSV is read without CSV quoting (a row starting with a lone quote no longer swallows the next lines);
6. a registered dataset gets the user file's class checks, and ``data list`` checks sizes against the registry.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from rnnbench import cli
from rnnbench.data import readers
from rnnbench.data.paths import resolve_data_dir
from rnnbench.data.local import local_status
from text_fixtures import sentiment_texts, write_local_layout, write_user_file

TINY = ["--embed-size", "4", "--hidden-size", "4", "--max-steps", "2", "--epochs", "1", "--no-progress"]


def _run(tmp_path, *argv) -> int:
    return cli.main(["run", "--backend", "numpy", "--task", "textclf", "--results-dir", str(tmp_path / "results"),
                     *argv])


def _one_line(capsys, *fragments) -> str:
    """stderr is exactly one ``rnnbench: error:`` line holding every fragment; nothing on stdout."""
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("rnnbench: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def _no_records(tmp_path) -> None:
    assert not list((tmp_path / "results").glob("*.json")) if (tmp_path / "results").exists() else True


# -- 5. TSV without CSV quoting --------------------------------------------------------------------------------


def test_a_tsv_row_starting_with_a_lone_quote_is_its_own_row(tmp_path):
    """CSV quoting merged it with the next line: a label ended up inside a text."""
    path = tmp_path / "quotes.tsv"
    path.write_text('text\tlabel\n"hello world\tpos\nbad movie\tneg\n"good\tpos\nok "fine" film\tneg\n',
                    encoding="utf-8")
    assert readers.read_table(path, "text", "label") == (
        ['"hello world', "bad movie", '"good', 'ok "fine" film'], ["pos", "neg", "pos", "neg"])


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
    assert _run(tmp_path, "--dataset", "mr", "--data-dir", str(data), *TINY) == 2
    _one_line(capsys, "dataset 'mr'", "at least two classes", "negative", "rnnbench data fetch mr --force")
    _no_records(tmp_path)


def test_a_registered_dataset_missing_one_class_is_refused(tmp_path, data, capsys):
    trec = data / "trec" / "train_5500.label"
    lines = trec.read_bytes().decode("latin-1").splitlines(keepends=True)
    trec.write_bytes("".join(line for line in lines if not line.startswith("LOC:")).encode("latin-1"))
    assert _run(tmp_path, "--dataset", "trec", "--data-dir", str(data), *TINY) == 2
    _one_line(capsys, "dataset 'trec'", "class LOC has no training examples")
    _no_records(tmp_path)


def test_a_user_file_with_one_class_present_is_refused_even_with_two_declared(tmp_path, capsys):
    path = write_user_file(tmp_path / "one.tsv", [(text, 1) for text, _ in sentiment_texts(30)])
    assert _run(tmp_path, "--dataset", str(path), "--label-names", "neg,pos", *TINY) == 2
    _one_line(capsys, "at least two classes", "every training example is pos")


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
    assert "rt-polarity.pos is empty" in rows["mr"] and "rt-polarity.neg is truncated (1,000 of 612,506 bytes)" \
        in rows["mr"] and "rnnbench data fetch mr --force" in rows["mr"]
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
