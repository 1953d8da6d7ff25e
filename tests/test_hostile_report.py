"""A report shows what the records say and nothing more: names from records never become markup.

A dataset is named after its file, and a record can come from anywhere, so a name like
``<img src=x onerror=alert(1)>`` or one with ``|`` or a newline in it must reach a Markdown or HTML
report as text: no tag, no link, no extra table cell, no extra row.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

pytest.importorskip("pandas", reason="rnnbench report needs pandas")

from rnnbench.cli import main

from report_fixtures import run_record, write_records

HOSTILE = "<img src=x onerror=alert(1)> | *b* _i_ [l](javascript:alert(2)) `c` \\ &amp;\nnext <!-- x"


def _hostile_records(folder):
    records = []
    for seed in range(2):
        record = run_record(dataset=HOSTILE, seed=seed, host="h<script>alert(3)</script>")
        record["machine"]["cpu_model"] = "cpu | <b>x</b>\nrow"
        records.append(record)
    return write_records(folder, records)


def _report(capsys, folder, *options):
    assert main(["report", "--results-dir", str(folder), *options]) == 0
    return capsys.readouterr().out


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line.replace("\\\\", "")))


@pytest.mark.parametrize("options", [["--summary"], ["--table", "accuracy"], []], ids=["summary", "accuracy", "all"])
def test_markdown_tables_keep_a_hostile_dataset_name_as_text(tmp_path, capsys, options):
    text = _report(capsys, _hostile_records(tmp_path), "--format", "markdown", *options)
    assert "<img" not in text and "<script" not in text and "<b>" not in text and "<!--" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "](javascript" not in text.replace("\\]", "")  # no link survives
    tables = [line for line in text.splitlines() if line.startswith("|")]
    assert tables
    for block in re.split(r"\n\s*\n", text):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:  # every row of a table, the hostile one included, has exactly the header's cells
            assert {_unescaped_pipes(r) for r in rows} == {_unescaped_pipes(rows[0])}, block
            assert all(line.startswith("|") for line in block.splitlines()), block  # the newline split no row
    named = [line for line in text.splitlines() if "onerror" in line]  # table rows, or a summary table's title
    assert named and all("next &lt;" in line for line in named)  # the newline became a space


def test_markdown_renders_the_name_as_text_in_a_real_parser(tmp_path, capsys):
    markdown_it = pytest.importorskip("markdown_it")
    text = _report(capsys, _hostile_records(tmp_path), "--format", "markdown")
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for tag in ("<img", "<script", "<a ", "<em>", "<strong>i", "<code>c</code>", "<b>"):
        assert tag not in html, tag
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "*b* _i_ [l](javascript:alert(2)) `c` \\" in html  # shown as typed


def test_html_report_escapes_every_name(tmp_path, capsys):
    page = _report(capsys, _hostile_records(tmp_path), "--format", "html")
    assert "<img" not in page and "<script" not in page and "<b>x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_terminal_tables_keep_one_line_per_row(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    text = _report(capsys, _hostile_records(tmp_path), "--table", "accuracy")
    assert not [line for line in text.splitlines() if line.startswith(("next", "row"))]
    assert [line for line in text.splitlines() if "onerror=alert(1)> | *b*" in line and "next <!-- x" in line]


# --- a user's own runs never break the reference checks (the README's order: make demo, then make test) -------

REPO = Path(__file__).resolve().parents[1]
CHECK = ["report", "--summary", "--format", "markdown", "--sweeps", "sweeps", "--into", "README.md", "--check"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_make_demo_writes_its_record_outside_the_reference():
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M).group(1)
    run = next(line for line in recipe.splitlines() if "rnnbench run" in line)
    assert "--results-dir runs" in run, run
    if shutil.which("git") and (REPO / ".git").exists():
        _git(REPO, "check-ignore", "-q", "runs/20991231T000000_textclf_imdb_torch_lstm_seed0.json")  # ignored


def test_a_stray_run_in_results_leaves_the_readme_check_passing_and_says_how_to_include_it(
    tmp_path, monkeypatch, capsys
):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    from rnnbench.report import readme

    from committed_results import UntrackedRecordsWarning, committed_results

    # a clone: the committed records, tracked; a README generated from them
    clone = tmp_path / "clone"
    clone.mkdir()
    _git(clone, "init", "-q")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrackedRecordsWarning)  # this checkout's own strays are not the point
        committed_results(clone, repo=REPO)
    _git(clone, "add", "results")
    (clone / "sweeps").symlink_to(REPO / "sweeps")
    (clone / "README.md").write_text(f"# rnnbench\n\n{readme.BEGIN}\n{readme.END}\n", encoding="utf-8")
    monkeypatch.chdir(clone)
    assert main(CHECK[:-1]) == 0 and main(CHECK) == 0

    # the user's own run lands in results/ (as `rnnbench run` without --results-dir, or the old make demo, did)
    reference = next(
        p
        for p in sorted((clone / "results").glob("*.json"))
        if '"dataset": "imdb"' in p.read_text() and '"schema": "rnnbench.run/1"' in p.read_text()
    )
    record = json.loads(reference.read_text())
    record["best"]["test"], record["started_at"] = 0.5, "2099-12-31T00:00:00.000Z"
    stray = clone / "results" / "20991231T000000_textclf_imdb_torch_lstm_seed0.json"
    stray.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(CHECK) == 1  # read as it lies, results/ is no longer the reference: the failure this prevents

    # the tests read the tracked records only: the check passes, and the warning names the run and what to do
    checked = tmp_path / "checked"
    with pytest.warns(UntrackedRecordsWarning) as caught:
        committed_results(checked, repo=clone)
    message = str(caught[0].message)
    assert stray.name in message and "git add" in message and "make readme" in message
    (checked / "sweeps").symlink_to(REPO / "sweeps")
    shutil.copy(clone / "README.md", checked / "README.md")
    monkeypatch.chdir(checked)
    assert main(CHECK) == 0, capsys.readouterr().err
    assert not (checked / "results" / stray.name).exists()

    # once added, it is part of the reference: the check asks for make readme, which takes it in
    _git(clone, "add", str(stray))
    again = tmp_path / "again"
    committed_results(again, repo=clone)
    (again / "sweeps").symlink_to(REPO / "sweeps")
    shutil.copy(clone / "README.md", again / "README.md")
    monkeypatch.chdir(again)
    assert main(CHECK) == 1
    assert main(CHECK[:-1]) == 0 and main(CHECK) == 0
