"""A report shows what the records say and nothing more: names from records never become markup.

A dataset is named after its file, and a record can come from anywhere, so a name like
``<img src=x onerror=alert(1)>`` or one with ``|`` or a newline in it must reach a Markdown or HTML
report as text: no tag, no link, no extra table cell, no extra row.
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("pandas", reason="rnnbench report needs pandas")

from report_fixtures import run_record, write_records

from rnnbench.cli import main

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
