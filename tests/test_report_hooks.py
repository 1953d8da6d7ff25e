"""Issue 24, item 6: a task brings its own report tables, summary blocks and charts; the core report names no task.

A task plugin written by the test, loaded through the ``rnnbench`` entry-point
group as a stranger's distribution would be, adds a table (``--table
toytable``), a block and a note in the summary, and a chart; a task that fails
to load is skipped and the report still comes out.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from rnnbench import cli, plugins
from rnnbench.report.readme import BEGIN as README_BEGIN
from rnnbench.report.readme import END as README_END

from plugin_fixtures import FakeEntryPoint, registry_with
from report_fixtures import longrange_record, run_record, write_records

REPO = Path(__file__).resolve().parents[1]

TOY_PLUGIN = """
    from rnnbench import Entry, ReportBlock, ReportFigure, ReportSection, Task, hookimpl


    @hookimpl
    def rnnbench_register_tasks(register):
        register(Entry("toy", "toy_report_task:Toy", description="a task with report tables of its own"))
        register(Entry("broken", "toy_report_nowhere:Broken", description="fails to load"))


    def _own(frame):
        return frame[(frame["kind"] == "run") & (frame["task"] == "toy")]


    class Toy(Task):
        name = "toy"
        datasets = ("bits",)
        report_tables = {"toytable": "run records from rnnbench run --task toy"}

        def prepare(self, config):
            raise AssertionError("never run here")

        def report_section(self, name, frame):
            runs = _own(frame)
            if name != "toytable" or runs.empty:
                return None
            rows = [[b, str(len(part))] for b, part in runs.groupby("backend")]
            return ReportSection("toytable", "Toy: runs per backend", runs[["backend", "seed"]],
                                 [ReportBlock("toy runs", ["backend", "runs"], rows)], ["toy table note"])

        def summary_blocks(self, frame, brief):
            runs = _own(frame)
            if runs.empty:
                return [], [], []
            if brief:
                return [], ["toy: see the full report"], []
            block = ReportBlock("toy summary block", ["model", "runs"], [["gru", str(len(runs))]])
            return [block], ["toy summary note"], [('"toy variant": hidden_size=7', "toy bits gru")]

        def report_figures(self, frame):
            svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>toy-svg</text></svg>'
            return [("Charts: toy", [ReportFigure("toy chart", svg, "toy.svg")])]
"""


@pytest.fixture
def toy_task(monkeypatch, tmp_path):
    """A registry with the builtin tasks, the toy task and one that fails to load; records of the toy task."""
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "toy_report_task.py").write_text(textwrap.dedent(TOY_PLUGIN))
    monkeypatch.syspath_prepend(str(plugin_dir))
    registry = registry_with(monkeypatch, FakeEntryPoint("toy", "toy_report_task", dist="rnnbench-toy"))
    assert not registry.errors, registry.errors
    assert list(registry.tasks)[-2:] == ["toy", "broken"]
    monkeypatch.setattr(plugins, "get_registry", lambda: registry)
    plugins.known_task.cache_clear()  # task objects are cached by name: none from another registry
    folder = write_records(
        tmp_path / "results",
        [
            run_record(task="toy", dataset="bits", model="gru", backend=b, seed=s)
            for b in ("numpy", "torch")
            for s in (0, 1)
        ]
        + [longrange_record(seq_len=50)],
    )
    yield folder
    plugins.known_task.cache_clear()


def test_a_task_table_is_shown_by_name_and_in_every_report(toy_task, capsys):
    assert cli.main(["report", "--results-dir", str(toy_task), "--table", "toytable"]) == 0
    out = capsys.readouterr().out
    assert "Toy: runs per backend" in out and "toy table note" in out
    assert re.search(r"numpy\s+2", out) and re.search(r"torch\s+2", out)
    assert "Summary" not in out  # that table alone
    assert cli.main(["report", "--results-dir", str(toy_task)]) == 0
    out = capsys.readouterr().out
    # after the core's tables and the builtin tasks' (registration order), the summary first
    assert out.index("Summary") < out.index("Long-range dependencies") < out.index("Toy: runs per backend")
    assert cli.main(["report", "--results-dir", str(toy_task), "--table", "toytable", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "backend,seed"


def test_a_task_adds_a_block_a_note_and_variants_to_the_summary(toy_task, capsys):
    assert cli.main(["report", "--results-dir", str(toy_task), "--table", "summary"]) == 0
    out = capsys.readouterr().out
    assert out.index("longrange adding: largest T solved") < out.index("toy summary block")
    assert "note: toy summary note" in out
    assert '"toy variant": hidden_size=7 (toy bits gru)' in out
    readme = toy_task.parent / "README.md"
    readme.write_text(f"# x\n{README_BEGIN}\n{README_END}\n", encoding="utf-8")
    assert (
        cli.main(["report", "--results-dir", str(toy_task), "--summary", "--format", "markdown", "--into", str(readme)])
        == 0
    )
    text = readme.read_text(encoding="utf-8")
    assert "toy: see the full report" in text and "toy summary block" not in text  # brief: the note alone


def test_a_task_chart_is_drawn_with_the_core_charts(toy_task, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report.html"
    assert cli.main(["report", "--results-dir", str(toy_task), "--format", "html", "--output", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<h2>Charts: toy</h2>" in page and "toy-svg" in page
    assert page.index("Charts: accuracy") < page.index("Charts: toy") < page.index("Charts: learning curves")


def test_help_and_the_unknown_table_error_list_task_tables(toy_task, capsys):
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    assert re.search(r"parity,\s+longrange,\s+toytable\s+or\s+all", capsys.readouterr().out)
    assert cli.main(["report", "--results-dir", str(toy_task), "--table", "toytabel"]) == 2
    assert capsys.readouterr().err == (
        "rnnbench: error: unknown table 'toytabel'; choose from all, summary, "
        "accuracy, cost, speed, lengths, parity, longrange, toytable\n"
    )


def test_a_task_table_without_data_says_what_it_reads(toy_task, capsys):
    assert (
        cli.main(["report", "--results-dir", str(toy_task), "--task", "textclf,longrange", "--table", "toytable"]) == 1
    )
    assert "the toytable table reads run records from rnnbench run --task toy" in capsys.readouterr().err
    assert (
        cli.main(["report", "--results-dir", str(toy_task), "--table", "longrange,toytable", "--task", "longrange"])
        == 0
    )
    assert (
        "no data for the toytable table: it reads run records from rnnbench run --task toy" in capsys.readouterr().out
    )


def test_the_parser_lists_the_core_tables_the_report_builds():
    from rnnbench.commands.report import CORE_TABLES
    from rnnbench.report.tables import BUILDERS

    assert CORE_TABLES == tuple(BUILDERS)


def test_the_long_range_tables_and_charts_left_the_core_report():
    """They live with their task: no string of the core report's code (docstrings aside) names the long-range
    task, and no core report module imports a task."""
    sources = sorted((REPO / "rnnbench" / "report").glob("*.py")) + [REPO / "rnnbench" / "commands" / "report.py"]
    named = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and re.search(r"\blongrange\b", node.value)
            ):
                named.append(f"{path.name}:{node.lineno}: {node.value!r}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                named += [f"{path.name}:{node.lineno}: import {m}" for m in modules if m.startswith("rnnbench.tasks")]
    assert named == []
