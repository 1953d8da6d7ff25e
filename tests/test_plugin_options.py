"""A third-party task brings its own `rnnbench run` options; a third-party plugin adds a command.

Both plugins are written by the test and loaded through the `rnnbench`
entry-point group, as a stranger's distribution would be; nothing in the core
names them.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from rnnbench import cli, plugins

from plugin_fixtures import FakeEntryPoint, registry_with

TASK_PLUGIN = """
    import numpy as np

    from rnnbench.hookspecs import hookimpl
    from rnnbench.entry import Entry
    from rnnbench.model import ModelSpec, OptimizerSpec
    from rnnbench.task import Batch, Prepared, Task, accuracy


    @hookimpl
    def rnnbench_register_tasks(register):
        register(Entry("parity", "parity_task:Parity", description="bit parity, a task from elsewhere"))
        register(Entry("halfdone", "parity_task:HalfDone", description="forgot prepare"))


    class Parity(Task):
        name = "parity"
        datasets = ("bits",)
        seen = []

        @classmethod
        def add_options(cls, group):
            group.add_argument("--bits", type=int, metavar="N", help="sequence length of the parity problem")

        def defaults(self, dataset):
            return {"bits": 4, "model": "gru", "embed_size": 3, "hidden_size": 4, "epochs": 1, "batch_size": 8}

        def prepare(self, config):
            Parity.seen.append(config["bits"])
            rng = np.random.default_rng(0)
            x = rng.integers(1, 3, size=(16, config["bits"]))
            y = (x == 2).sum(axis=1) % 2
            lengths = np.full(16, config["bits"])
            batch = Batch((x, lengths), y, 16, int(lengths.sum()))
            spec = ModelSpec(cell=config["model"], vocab_size=3, embed_size=config["embed_size"],
                             hidden_size=config["hidden_size"], num_outputs=2,
                             optimizer=OptimizerSpec(name="adam", lr=0.01))
            return Prepared(spec, lambda seed, epoch: [batch], [batch], [batch], "accuracy", accuracy)


    class HalfDone(Task):
        name = "halfdone"
"""

COMMAND_PLUGIN = """
    from rnnbench.hookspecs import hookimpl
    from rnnbench.entry import Entry


    @hookimpl
    def rnnbench_register_commands(register):
        register(Entry("hello", "hello_command:add_parser", description="says hello"))


    def add_parser(commands, argv=None):
        hello = commands.add_parser("hello", help="says hello")
        hello.add_argument("--name", default="world")
        hello.set_defaults(handler=lambda args: print(f"hello, {args.name}") or 0)
"""


@pytest.fixture
def third_party(monkeypatch, tmp_path):
    (tmp_path / "parity_task.py").write_text(textwrap.dedent(TASK_PLUGIN))
    (tmp_path / "hello_command.py").write_text(textwrap.dedent(COMMAND_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(
        monkeypatch,
        FakeEntryPoint("parity", "parity_task", dist="rnnbench-parity"),
        FakeEntryPoint("hello", "hello_command", dist="rnnbench-hello"),
    )
    assert not registry.errors, registry.errors
    monkeypatch.setattr(plugins, "get_registry", lambda: registry)
    return registry


def test_a_task_option_reaches_prepare_and_the_record(third_party, tmp_path, capsys):
    import parity_task

    code = cli.main(
        [
            "run",
            "--backend",
            "numpy",
            "--task",
            "parity",
            "--bits",
            "6",
            "--no-progress",
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert parity_task.Parity.seen == [6]
    (record,) = (json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json"))
    assert record["config"]["bits"] == 6 and record["task"] == "parity"


def test_run_help_shows_only_the_named_tasks_options(third_party, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--task", "parity", "--help"])
    text = capsys.readouterr().out
    assert "options of the parity task" in text and "--bits N" in text
    assert "--vocab-size" not in text and "--seq-len" not in text and "--labels" not in text
    with pytest.raises(SystemExit):
        cli.main(["run", "--task", "longrange", "--help"])
    text = capsys.readouterr().out
    assert "--seq-len" in text and "--bits" not in text and "--vocab-size" not in text


def test_another_tasks_option_is_one_line(third_party, capsys):
    assert cli.main(["run", "--backend", "numpy", "--task", "parity", "--vocab-size", "9"]) == 2
    assert capsys.readouterr().err == (
        "rnnbench: error: unrecognized arguments: --vocab-size 9 (not options of "
        "the parity task; see `rnnbench run --task parity --help`)\n"
    )


def test_a_task_missing_prepare_fails_when_loaded_with_its_name(third_party, capsys):
    assert cli.main(["run", "--backend", "numpy", "--task", "halfdone"]) == 2
    assert capsys.readouterr().err == "rnnbench: error: task halfdone: HalfDone does not implement prepare\n"


def test_a_plugin_adds_a_command(third_party, capsys):
    assert cli.main(["hello", "--name", "plugin"]) == 0
    assert capsys.readouterr().out == "hello, plugin\n"
    assert cli.main(["plugins"]) == 0
    listing = capsys.readouterr().out
    assert any(line.split()[:2] == ["command", "hello"] and "rnnbench-hello" in line for line in listing.splitlines())


def test_every_builtin_command_comes_through_the_hook():
    registry = plugins.build_registry()
    assert list(registry.commands) == ["plugins", "check", "run", "bench", "report", "compare", "data", "sweep"]
    assert {e.distribution for e in registry.commands.values()} == {plugins.BUILTIN_DISTRIBUTION}


BACKEND_PLUGIN = """
    from rnnbench.hookspecs import hookimpl
    from rnnbench.entry import Entry
    from rnnbench.backend import Backend


    @hookimpl
    def rnnbench_register_backends(register):
        register(Entry("halfnp", "half_backend:HalfBackend", requires=("numpy",)))


    class HalfBackend(Backend):
        name = "halfnp"

        def info(self):
            return {}

        def build_model(self, spec, params):
            raise AssertionError("never reached")

        def sequence_forward(self, *args, **kwargs):
            raise AssertionError("never reached")
"""


def test_a_backend_missing_part_of_the_contract_is_refused_when_loaded(monkeypatch, tmp_path, capsys):
    (tmp_path / "half_backend.py").write_text(textwrap.dedent(BACKEND_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("halfnp", "half_backend"))
    monkeypatch.setattr(plugins, "get_registry", lambda: registry)
    message = "backend halfnp: HalfBackend does not implement sequence_backward, tree_backward, tree_forward"
    with pytest.raises(plugins.RnnbenchError, match=message):
        plugins.get_backend("halfnp")
    assert (
        cli.main(
            [
                "run",
                "--backend",
                "halfnp",
                "--task",
                "longrange",
                "--max-steps",
                "1",
                "--results-dir",
                str(tmp_path / "results"),
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == f"rnnbench: error: {message}\n"
    assert cli.main(["check", "--backend", "halfnp", "--no-record"]) == 2
    assert capsys.readouterr().err == f"rnnbench: error: {message}\n"
