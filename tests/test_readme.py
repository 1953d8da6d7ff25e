"""The README's results section is generated from the committed records, and can never drift from them.

``make readme`` writes it; here the same command in ``--check`` mode must
find nothing to change. The text must not depend on the terminal, the
machine or where the checkout lives, so the check also runs from a copy
elsewhere with a narrow terminal, and an edited number must be caught.
The records are the committed ones (``committed_results``): a run a user
made into results/ is left out, with a warning that says how to add it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pandas", reason="rnnbench report needs pandas")

from rnnbench.cli import main
from rnnbench.report import readme

from committed_results import committed_results

REPO = Path(__file__).resolve().parents[1]
CHECK = ["report", "--summary", "--format", "markdown", "--sweeps", "sweeps", "--into", "README.md", "--check"]


def _checkout(tmp_path: Path) -> Path:
    """The README, the sweep files and the committed records, as the check reads them, in ``tmp_path``."""
    committed_results(tmp_path)
    (tmp_path / "sweeps").symlink_to(REPO / "sweeps")
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    return tmp_path


def test_the_readme_results_are_what_the_committed_records_give(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_checkout(tmp_path))
    code = main(CHECK)
    assert code == 0, capsys.readouterr().err + (
        " (run make readme and commit README.md; records git does not track are left out: git add them first)"
    )


def test_a_changed_number_is_caught_wherever_the_checkout_lives(tmp_path, monkeypatch, capsys):
    _checkout(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal changes nothing in Markdown
    assert main(CHECK) == 0, capsys.readouterr().err
    before, block, after = readme.split(tmp_path / "README.md")
    assert "| recursive |" in block
    edited = block.replace("| recursive |", "| recursive | 99.9", 1)
    (tmp_path / "README.md").write_text(before + edited + after, encoding="utf-8")
    assert main(CHECK) == 1
    assert "differs from what results gives; run make readme" in capsys.readouterr().err
    assert main(CHECK[:-1]) == 0  # make readme puts it back
    assert main(CHECK) == 0


def test_a_file_without_the_markers_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "README.md").write_text("# no markers\n", encoding="utf-8")
    monkeypatch.chdir(REPO)
    assert main(CHECK[:-3] + ["--into", str(tmp_path / "README.md")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


SPEED_DOC_CHECK = ["report", "--table", "lengths", "--format", "markdown", "--into", "docs/speed.md", "--check"]


def test_the_ragged_text_table_in_docs_speed_is_what_the_committed_records_give(tmp_path, monkeypatch, capsys):
    """docs/speed.md's lengths table is generated too (``make readme`` writes it), and an edit is caught."""
    committed_results(tmp_path)
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO / "docs" / "speed.md", tmp_path / "docs" / "speed.md")
    monkeypatch.chdir(tmp_path)
    assert main(SPEED_DOC_CHECK) == 0, capsys.readouterr().err + " (run make readme and commit docs/speed.md)"
    before, block, after = readme.split(tmp_path / "docs" / "speed.md")
    assert "| imdb | numpy |" in block and "make readme (rnnbench report --table lengths" in before
    (tmp_path / "docs" / "speed.md").write_text(
        before + block.replace("| imdb | numpy |", "| imdb | numpy | 1", 1) + after, encoding="utf-8"
    )
    assert main(SPEED_DOC_CHECK) == 1
