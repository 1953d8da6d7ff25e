"""``rnnbench run``'s options are declared once (rnnbench/run_options.py); the parser, the options a task
receives, the sweep keys and the typing of a configuration all follow from that one declaration."""

from __future__ import annotations

import argparse

import pytest

from rnnbench import run_options
from rnnbench.errors import RnnbenchError
from rnnbench.number_types import probability
from rnnbench.run_options import RUN_OPTIONS, TASK_OPTIONS, RunOption
from rnnbench.sweep import options as sweep_options

pytestmark = pytest.mark.timeout(120)


def _clear_caches(*task_classes):
    sweep_options.task_actions.cache_clear()
    sweep_options.run_actions.cache_clear()
    for cls in task_classes:
        cls.__dict__.get("_option_actions") is not None and delattr(cls, "_option_actions")


@pytest.fixture
def textclf():
    from rnnbench.tasks.textclf.task import TextClassification

    _clear_caches(TextClassification)
    yield TextClassification
    _clear_caches(TextClassification)


def test_the_parser_is_the_declarations():
    actions, _ = sweep_options.task_actions(None)
    for option in RUN_OPTIONS:
        if option.dest in sweep_options.RESERVED:
            continue
        action = actions[option.dest]
        assert action.option_strings == [option.flag]
        assert action.type is option.type and action.help == option.help
        assert (tuple(action.choices) if action.choices else None) == option.choices
    assert set(TASK_OPTIONS) == {o.dest for o in RUN_OPTIONS if o.task}
    assert {"backend", "seeds", "results_dir", "threads"}.isdisjoint(TASK_OPTIONS)


def test_a_config_from_python_is_typed_by_the_command_lines_rule(textclf):
    config = textclf().resolve_config({"dataset": "mr", "batch_size": "64", "lr": "0.01", "vocab_size": 500})
    assert config["batch_size"] == 64 and isinstance(config["batch_size"], int)
    assert config["lr"] == 0.01 and isinstance(config["lr"], float)
    assert config["vocab_size"] == 500 and config["hidden_size"] == 128  # a default stays as the task set it


@pytest.mark.parametrize(
    "given,message",
    [
        ({"hidden_size": 0}, "--hidden-size must be at least 1, got 0"),
        ({"lr": "nan"}, "--lr must be a finite number, got nan"),
        ({"dropout": 1.0}, r"--dropout must lie in \[0, 1\), got 1.0"),
        ({"vocab_size": "many"}, "--vocab-size must be an integer, got 'many'"),  # the task's own option
        ({"batch_size": True}, "--batch-size must be an integer, got True"),
    ],
)
def test_a_bad_number_from_anywhere_is_the_command_lines_one_line(textclf, given, message):
    with pytest.raises(RnnbenchError, match=f"^{message}$"):
        textclf().resolve_config({"dataset": "mr", **given})


def test_longrange_options_are_typed_too():
    from rnnbench.tasks.longrange.task import LongRange

    config = LongRange().resolve_config({"dev_size": "32", "success_fraction": "0.5", "seq_len": 10})
    assert config["dev_size"] == 32 and config["success_fraction"] == 0.5
    with pytest.raises(RnnbenchError, match=r"^--success-fraction must lie in \(0, 1\], got 2$"):
        LongRange().resolve_config({"success_fraction": 2})


def test_a_new_option_is_one_declaration(textclf, monkeypatch):
    """Declared once, it is on the parser, a sweep key, and typed by its rule in every configuration."""
    momentum = RunOption("--momentum", "heavy-ball momentum", type=probability, metavar="X", section="model")
    monkeypatch.setattr(run_options, "RUN_OPTIONS", (*RUN_OPTIONS, momentum))
    monkeypatch.setattr("rnnbench.task.RUN_OPTIONS", run_options.RUN_OPTIONS)
    _clear_caches(textclf)
    parser = argparse.ArgumentParser()
    run_options.add_options(parser, {})
    assert parser.parse_args(["--backend", "numpy", "--task", "textclf", "--momentum", "0.9"]).momentum == 0.9
    assert sweep_options.convert("momentum", 0.5, "sweep.toml:") == ("0.5", 0.5)
    with pytest.raises(RnnbenchError, match="momentum"):
        sweep_options.convert("momentum", 1.5, "sweep.toml:")
    assert textclf().resolve_config({"dataset": "mr", "momentum": "0.25"})["momentum"] == 0.25
    with pytest.raises(RnnbenchError, match=r"^--momentum must lie in \[0, 1\], got 3$"):
        textclf().resolve_config({"dataset": "mr", "momentum": 3})
    _clear_caches(textclf)
