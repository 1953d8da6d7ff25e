"""Sweep files: the expansion (matrix x exclude + include), the one-line errors, and which records count as done."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rnnbench.cli import main
from rnnbench.sweep.resume import find_done, same_run
from rnnbench.sweep.spec import load_sweep

REPO = Path(__file__).resolve().parent.parent


def _write(tmp_path, text: str, name="sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ids(sweep) -> set:
    return {
        (c.task, c.backend, c.value("model"), c.seed, c.value("seq_len"), c.value("epochs"))
        for c in sweep.configurations
    }


def test_matrix_less_excludes_plus_includes_is_exactly_the_expected_set(tmp_path):
    sweep = load_sweep(
        _write(
            tmp_path,
            """
[matrix]
backend = ["numpy", "torch"]
model = ["lstm", "gru"]
seed = [0, 1]
[options]
task = "longrange"
epochs = 2
[[exclude]]
backend = "torch"
model = "gru"
[[include]]
backend = "numpy"
model = "rnn"
seq_len = 50
[[include]]              # a copy of a matrix run: listed once
backend = "numpy"
model = "lstm"
[[include]]              # its own epochs win over [options]
backend = "torch"
model = "gru"
epochs = 5
""",
        )
    )
    assert _ids(sweep) == {
        ("longrange", "numpy", "lstm", 0, None, 2),
        ("longrange", "numpy", "lstm", 1, None, 2),
        ("longrange", "numpy", "gru", 0, None, 2),
        ("longrange", "numpy", "gru", 1, None, 2),
        ("longrange", "torch", "lstm", 0, None, 2),
        ("longrange", "torch", "lstm", 1, None, 2),
        ("longrange", "numpy", "rnn", 0, 50, 2),  # an include takes [options]; its seed defaults to 0
        ("longrange", "torch", "gru", 0, None, 5),
    }
    assert len(sweep.configurations) == 8  # the duplicate include is listed once
    assert [c.source for c in sweep.configurations][-2:] == ["[[include]] #1", "[[include]] #3"]


def test_include_takes_options_and_may_list_values(tmp_path):
    sweep = load_sweep(
        _write(
            tmp_path,
            """
[options]
task = "longrange"
epochs = 2
[[include]]
backend = ["numpy", "torch"]
model = "rnn"
activation = "relu"
init = "identity"
""",
        )
    )
    assert {(c.backend, c.value("activation"), c.value("epochs")) for c in sweep.configurations} == {
        ("numpy", "relu", 2),
        ("torch", "relu", 2),
    }
    config = sweep.configurations[0]
    assert config.argv()[:7] == ["run", "--backend", "numpy", "--task", "longrange", "--seeds", "0"]
    assert config.resolved["dataset"] == "adding-T200" and config.resolved["hidden_size"] == 128


def test_exclude_that_matches_nothing_is_a_warning(tmp_path, capsys):
    path = _write(tmp_path, '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[[exclude]]\nbackend = "torch"\n')
    assert main(["sweep", str(path), "--dry-run", "--results-dir", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "[[exclude]] #1 matches no configuration" in err


BAD_FILES = [
    ('[matrix\ntask = ["longrange"]', "not valid TOML"),
    ('[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[setting]\nx = 1', "unknown top-level key 'setting'"),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\nhiden_size = 3',
        "[options] hiden_size: unknown key; valid keys",
    ),
    ('[matrix]\ntask = ["longrange"]\nbackend = ["numpy", "jax"]', "unknown backend 'jax'; valid backends: numpy"),
    ('[matrix]\ntask = ["longrang"]\nbackend = ["numpy"]', "unknown task 'longrang'; valid tasks:"),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\nmodel = ["lstm", "treelstm"]',
        "[matrix] model: unknown model 'treelstm' for task longrange; valid models: rnn, lstm, gru",
    ),
    (
        '[matrix]\ntask = ["textclf"]\nbackend = ["numpy"]\ndataset = ["imbd"]',
        "[matrix] dataset: unknown dataset 'imbd' for task textclf; valid datasets: imdb",
    ),
    ("[options]\nepochs = 2\n[matrix]", "empty matrix"),
    ('[matrix]\ntask = "longrange"\nbackend = ["numpy"]', "[matrix] task: expected a list of values"),
    ('[matrix]\ntask = ["longrange"]\nbackend = []', "[matrix] backend: empty list"),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\nepochs = "two"',
        "[options] epochs must be an integer, got 'two'",
    ),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\ndtype = "float16"',
        "[options] dtype: 'float16' is not one of float32, float64",
    ),
    ('[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\nseeds = "0,1"', "seeds: not a sweep key"),
    ('[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\nepochs = 0', "epochs must be at least 1"),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[options]\nproblem = "adding"\ndataset = "copy"',
        "disagree",
    ),
    (
        '[matrix]\ntask = ["textclf"]\nbackend = ["numpy"]\n[options]\nseq_len = 20',
        "[options] seq_len: not an option of the textclf task (its own options: vocab_size",
    ),
    ('[matrix]\nbackend = ["numpy"]', "no task"),
    (
        '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n[[include]]\nmodel = "gru"\nwidth = 3',
        "[[include]] #1 width: unknown key",
    ),
]


@pytest.mark.parametrize("text, message", BAD_FILES, ids=[m.split(":")[0][:30] for _, m in BAD_FILES])
def test_every_bad_file_is_one_line_naming_the_file(tmp_path, capsys, text, message):
    path = _write(tmp_path, text)
    results = tmp_path / "results"
    assert main(["sweep", str(path), "--results-dir", str(results)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith(f"rnnbench: error: {path}: "), err
    assert message in err
    assert "Traceback" not in err and out == ""
    assert not results.exists()  # nothing ran


def test_missing_file_and_bad_flags_are_one_line(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err.startswith(f"rnnbench: error: cannot read sweep file {tmp_path}")
    smoke = str(REPO / "sweeps" / "smoke.toml")
    assert main(["sweep", smoke, "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert main(["sweep", smoke, "--address", "auto"]) == 2
    assert "--address applies to --executor ray" in capsys.readouterr().err
    assert main(["sweep", smoke, "--executor", "ray", "--jobs", "2"]) == 2
    assert "--jobs applies to the local executor" in capsys.readouterr().err


def test_ray_executor_without_ray_names_the_extra(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["sweep", str(REPO / "sweeps" / "smoke.toml"), "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert err == "rnnbench: error: the ray executor needs Ray, which is not installed: pip install 'rnnbench[ray]'\n"


def test_run_on_ray_without_ray_is_one_error(monkeypatch):
    import sys

    from rnnbench.errors import RnnbenchError
    from rnnbench.sweep.ray_executor import run_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RnnbenchError, match=r"pip install 'rnnbench\[ray\]'"):
        run_ray([], "results", None, print)


# --- resume: which record is the same run ---------------------------------------------------------------


def _record(config, **config_changes) -> dict:
    recorded = {**config.resolved, **config_changes}
    return {
        "schema": "rnnbench.run/1",
        "status": "ok",
        "task": config.task,
        "backend": config.backend,
        "seed": config.seed,
        "dataset": recorded["dataset"],
        "model": recorded["model"],
        "config": recorded,
        "git": {"commit": "abc"},
        "backend_info": {"impl": "native", "device": "cpu", "threads": 1},
    }


def test_explicit_default_equals_omitted_and_other_values_differ(tmp_path):
    explicit = load_sweep(
        _write(
            tmp_path,
            '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n'
            '[options]\nhidden_size = 128\nimpl = "native"\nthreads = 1\n',
            "a.toml",
        )
    ).configurations[0]
    omitted = load_sweep(
        _write(tmp_path, '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n', "b.toml")
    ).configurations[0]
    record = _record(omitted, threads=1)  # run without --hidden-size and --impl: resolved to 128, native
    assert same_run(explicit, record) and same_run(omitted, record)
    assert not same_run(omitted, _record(omitted, hidden_size=64))  # an option the sweep left out still counts
    assert not same_run(explicit, _record(omitted, threads=2) | {"backend_info": {"threads": 2}})


def test_tanh_rnn_never_takes_the_irnn_record(tmp_path):
    sweep = load_sweep(
        _write(
            tmp_path,
            '[options]\ntask = "longrange"\nbackend = "numpy"\nmodel = "rnn"\n'
            '[[include]]\nactivation = "relu"\ninit = "identity"\n'
            "[[include]]\nseq_len = 200\n",
        )
    )
    irnn, tanh = sweep.configurations  # seq_len 200 is the default: tanh resolves to the same T
    assert not same_run(tanh, _record(irnn)) and not same_run(irnn, _record(tanh))
    assert same_run(irnn, _record(irnn))


def test_commit_must_match_unless_any_version(tmp_path):
    config = load_sweep(_write(tmp_path, '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n')).configurations[0]
    results = tmp_path / "results"
    results.mkdir()
    (results / "r.json").write_text(json.dumps(_record(config)))
    (results / "f.json").write_text(json.dumps(_record(config) | {"status": "failed"}))
    assert find_done([config], results, commit="abc") == {config: results / "r.json"}
    assert find_done([config], results, commit="def") == {}
    assert find_done([config], results, commit="def", any_version=True) == {config: results / "r.json"}
    (results / "r.json").write_text(json.dumps(_record(config) | {"status": "interrupted"}))
    assert find_done([config], results, commit="abc") == {}  # failed and interrupted runs are never done


@pytest.mark.parametrize(
    "name", ["textclf", "textclf-timing", "textclf-float64", "treesent", "longrange", "longrange-copy"]
)
def test_readme_table_sweeps_match_every_committed_record(name, capsys):
    """Each README table's sweep file names exactly the committed records that made it (--any-version)."""
    path = REPO / "sweeps" / f"{name}.toml"
    assert main(["sweep", str(path), "--dry-run", "--any-version", "--results-dir", str(REPO / "results")]) == 0
    out = capsys.readouterr().out
    total = len(load_sweep(path).configurations)
    assert f"{total} configurations: {total} done, 0 to run" in out
    assert not [line for line in out.splitlines() if re.match(r"\d+\s+to run", line)]


def test_a_stand_in_record_takes_the_metric_name_of_its_task_and_dataset(tmp_path):
    from rnnbench.sweep.stand_in import stand_in_record

    config = load_sweep(_write(tmp_path, '[matrix]\ntask = ["longrange"]\nbackend = ["numpy"]\n')).configurations[0]
    results = tmp_path / "results"
    results.mkdir()
    alone = stand_in_record(config, "failed", "why", started=0.0, finished=1.0, results_dir=results)
    assert alone["metric"] == "unknown" and alone["status"] == "failed" and alone["error"] == "why"
    (results / "r.json").write_text(json.dumps(_record(config) | {"metric": "mse", "metric_higher_is_better": False}))
    beside = stand_in_record(
        config, "failed", "why", started=0.0, finished=1.0, results_dir=results, node="n (1.2.3.4)"
    )
    assert (beside["metric"], beside["metric_higher_is_better"]) == ("mse", False)
    assert beside["machine"]["hostname"] == "n" and beside["machine"]["ip"] == "1.2.3.4"
    assert beside["config"]["dataset"] == "adding-T200" and beside["command"].startswith("rnnbench run --backend numpy")


def test_an_external_backend_is_accepted_by_name_while_its_plugin_is_not_loaded(tmp_path):
    """A sweep file may name a backend of another distribution (jax) and still load in a hermetic test run;
    a name it does not declare stays an error, and so does a malformed declaration."""
    body = '[matrix]\ntask = ["longrange"]\nbackend = ["numpy", "jax"]\n'
    sweep = load_sweep(_write(tmp_path, 'external_backends = ["jax"]\n' + body))
    assert {c.backend for c in sweep.configurations} == {"numpy", "jax"}
    with pytest.raises(Exception, match="unknown backend 'jax'"):
        load_sweep(_write(tmp_path, 'external_backends = ["mxnet"]\n' + body, name="other.toml"))
    with pytest.raises(Exception, match="external_backends: expected a list of backend names"):
        load_sweep(_write(tmp_path, 'external_backends = "jax"\n' + body, name="bad.toml"))
