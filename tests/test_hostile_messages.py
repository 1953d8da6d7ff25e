"""Issue 22, items 12 and 14: a plugin that exits on import is skipped like any failing plugin, and messages say
what the user did (the option they gave, the option to lower, a symlink loop, where a sweep include's task goes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rnnbench import cli
from rnnbench.entry import Entry
from rnnbench.errors import RnnbenchError

from plugin_fixtures import FakeEntryPoint, registry_with

# -- 12. a plugin that calls sys.exit() on import --------------------------------------------------------------

EXITING = """
import sys

sys.exit(3)
"""


def _exiting_distribution(folder: Path) -> Path:
    """An installed-looking distribution on ``folder``: entry point ``exiter`` of group rnnbench, which exits 3."""
    (folder / "exiting_plugin.py").write_text(EXITING)
    info = folder / "rnnbench_exiter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rnnbench-exiter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rnnbench]\nexiter = exiting_plugin\n")
    return folder


def test_a_plugin_that_exits_while_loading_is_a_problem_not_the_end(monkeypatch, tmp_path):
    (tmp_path / "exiting_plugin.py").write_text(EXITING)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("exiter", "exiting_plugin"))
    assert "numpy" in registry.backends
    assert registry.errors == ["plugin 'exiter' (rnnbench-fake 1.0) failed to load: it called sys.exit(3)"]


def test_a_plugin_that_exits_while_registering_is_a_problem_not_the_end(monkeypatch, tmp_path):
    (tmp_path / "exit_on_register.py").write_text(
        textwrap.dedent("""
        import sys

        from rnnbench.hookspecs import hookimpl

        @hookimpl
        def rnnbench_register_tasks(register):
            sys.exit("no tasks today")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("exiter", "exit_on_register"))
    assert "textclf" in registry.tasks
    assert registry.errors == ["plugin 'exiter' failed to register tasks: it called sys.exit('no tasks today')"]


def test_a_backend_whose_module_exits_on_import_is_one_line(monkeypatch, tmp_path):
    (tmp_path / "exiting_backend.py").write_text(EXITING)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RnnbenchError, match=r"cannot load exiting_backend:Backend \(its import called sys.exit\(3\)\)"):
        Entry("exiter", "exiting_backend:Backend").load()


@pytest.mark.parametrize(
    "argv,code",
    [(["plugins"], 0), (["--help"], 0), (["run", "--backend", "numpy", "--task", "longrange", "--show-config"], 0)],
    ids=["plugins", "help", "run"],
)
def test_every_command_survives_an_installed_plugin_that_exits_on_import(tmp_path, argv, code):
    folder = _exiting_distribution(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    env.pop("RNNBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    process = subprocess.run(
        [sys.executable, "-m", "rnnbench.cli", *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert process.returncode == code, process.stderr
    assert "Traceback" not in process.stderr
    assert process.stdout.strip(), "the command did its work"
    if argv == ["plugins"]:
        assert "warning: plugin 'exiter' (rnnbench-exiter 1.0) failed to load: it called sys.exit(3)" in process.stderr
        assert "backend  numpy" in process.stdout


# -- 14. messages that say what the user did -------------------------------------------------------------------


def _run(*argv):
    return cli.main(["run", "--backend", "numpy", *argv])


def test_steps_per_epoch_below_one_names_that_option_not_epochs(tmp_path, capsys):
    code = _run("--task", "longrange", "--steps-per-epoch", "-2", "--results-dir", str(tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == 2 and err == "rnnbench: error: --steps-per-epoch must be at least 1, got -2\n"
    assert "epochs must" not in err.replace("--steps-per-epoch must", "")


def test_steps_per_epoch_below_one_in_a_sweep_names_that_key(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n\n[options]\nsteps_per_epoch = -2\n')
    assert cli.main(["sweep", str(sweep), "--dry-run", "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "steps_per_epoch must be at least 1, got -2" in err, err


def test_out_of_memory_while_training_names_the_options_to_lower(tmp_path, capsys, monkeypatch):
    import json

    from rnnbench.backends.numpy import model as numpy_model

    from text_fixtures import sentiment_texts, write_user_file

    def no_memory(self, *args):
        raise MemoryError("Unable to allocate 3.00 GiB for an array with shape (64, 100000, 128) and data type float32")

    monkeypatch.setattr(numpy_model.NumpyModel, "train_step", no_memory)
    data = write_user_file(tmp_path / "toy.tsv", sentiment_texts(40))
    code = _run(
        "--task",
        "textclf",
        "--dataset",
        str(data),
        "--results-dir",
        str(tmp_path / "r"),
        "--max-steps",
        "2",
        "--embed-size",
        "4",
        "--hidden-size",
        "4",
        "--no-progress",
    )
    captured = capsys.readouterr()
    assert code == 1
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "r").glob("*.json")]
    assert record["status"] == "failed"
    assert record["error"].startswith("MemoryError: not enough memory training: Unable to allocate 3.00 GiB")
    assert (
        "lower --batch-size (now 32), --max-length (now 400) or --hidden-size (now 4) and run again" in record["error"]
    )
    assert "traceback" not in record, "a size too large for the machine is not a bug"
    assert "lower --batch-size (now 32)" in captured.out  # the record line says it too


def _loop(folder: Path, name: str) -> Path:
    first, second = folder / name, folder / f"other-{name}"
    first.symlink_to(second.name)
    second.symlink_to(first.name)
    return first


def test_a_symlink_loop_as_a_data_file_is_called_a_loop(tmp_path, capsys):
    loop = _loop(tmp_path, "loop.tsv")
    assert _run("--task", "textclf", "--dataset", str(loop), "--results-dir", str(tmp_path / "r")) == 2
    err = capsys.readouterr().err
    assert err == (
        f"rnnbench: error: dataset file {loop} is a symbolic link loop (its links lead back to "
        f"themselves); give the file itself\n"
    )


def test_a_dangling_symlink_names_what_it_points_to(tmp_path, capsys):
    link = tmp_path / "gone.tsv"
    link.symlink_to(tmp_path / "moved-away.tsv")
    assert _run("--task", "textclf", "--dataset", str(link), "--results-dir", str(tmp_path / "r")) == 2
    assert capsys.readouterr().err == (
        f"rnnbench: error: dataset file {link} is a symbolic link to "
        f"{tmp_path / 'moved-away.tsv'}, which does not exist\n"
    )


def test_a_symlink_loop_as_a_vectors_file_is_called_a_loop(tmp_path):
    from rnnbench import vectors

    loop = _loop(tmp_path, "vectors.txt")
    with pytest.raises(RnnbenchError, match=r"vectors\.txt is a symbolic link loop"):
        vectors._open(loop)


def test_an_include_without_task_says_includes_do_not_take_matrix_values(tmp_path, capsys):
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n\n[[include]]\nbackend = "numpy"\nseq_len = 20\n'
    )
    assert cli.main(["sweep", str(sweep), "--dry-run", "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"rnnbench: error: {sweep}: [[include]] #1: no task; an [[include]] is a run of its own: it "
        f"takes the values of [options] but not those of [matrix], so set task in the include (or in "
        f"[options])\n"
    )
    assert "set task in [matrix]" not in err
