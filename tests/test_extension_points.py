"""Issue 24, item 2: every extension point is in the backend contract, and a backend in one folder gets them all.

The bare timer (``bench --overhead``) and the plain train step (``bench --train``) are optional ``Backend``
methods announced by capability flags; a backend's impls are declared by its registration (``Entry.impls``), so
``rnnbench bench`` lists them without importing a framework; no core module reaches into a backend's modules.
``tests/twin_plugin/`` is the proof: a second NumPy-like backend, ``twin``, in one folder with one entry point,
which ``check``, ``bench`` (its impls, its bare timer), ``bench --train`` and ``run`` take with no other change.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rnnbench.entry import Entry
from rnnbench.errors import RnnbenchError
from rnnbench.plugins import load_backend
from rnnbench.testing import BackendContract, plugin_entry

from plugin_fixtures import FakeEntryPoint, registry_with

REPO = Path(__file__).resolve().parents[1]
TWIN = REPO / "tests" / "twin_plugin"
TWIN_BARE_METHOD = "the numpy backend's sequence_forward/sequence_backward called directly"
TWIN_PLAIN_METHOD = "the numpy backend's model, train_step called by hand"


@pytest.fixture
def twin_registry(monkeypatch):
    """A registry that sees the twin's entry point, as an installed distribution's would be seen."""
    monkeypatch.syspath_prepend(str(TWIN))
    return registry_with(monkeypatch, FakeEntryPoint("twin", "rnnbench_twin", dist="rnnbench-twin", version="0.1"))


# -- impls declared by the registration ------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_declared_impls_reach_the_grid_without_importing_the_backend(monkeypatch, twin_registry):
    from rnnbench.bench import request, sweep

    def no_worker(*args, **kwargs):
        raise AssertionError("a declared backend's impls need no worker process")

    monkeypatch.setattr(sweep, "call_worker", no_worker)
    monkeypatch.delitem(sys.modules, "rnnbench_twin.backend", raising=False)
    assert request.backend_impls("twin", twin_registry) == ["native", "copy"]
    sequence_impls, _ = request.resolve_impls("copy", ["twin"], {}, twin_registry)
    assert sequence_impls == {"twin": ["copy"]}
    assert "rnnbench_twin.backend" not in sys.modules


def test_one_impl_name_is_a_tuple_of_one_not_of_letters():
    assert Entry("x", "m:C", impls="native").impls == ("native",)
    assert Entry("x", "m:C", impls=["a", "b"]).impls == ("a", "b")
    assert Entry("x", "m:C").impls == ()


@pytest.mark.timeout(60)
def test_impls_that_are_not_names_are_a_registration_problem(monkeypatch, tmp_path):
    (tmp_path / "bad_impls_plugin.py").write_text(
        textwrap.dedent("""
        from rnnbench import Entry, hookimpl

        @hookimpl
        def rnnbench_register_backends(register):
            register(Entry("badimpls", "nowhere:Nothing", impls=("native", None)))
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = registry_with(monkeypatch, FakeEntryPoint("bad", "bad_impls_plugin"))
    assert "badimpls" not in registry.backends
    assert registry.errors == [
        "plugin 'bad' registered backend 'badimpls' with impls that are not names: ('native', None)"
    ]


@pytest.mark.timeout(60)
def test_a_declaration_the_class_does_not_match_is_refused_in_one_line(twin_registry):
    entry = twin_registry.backend("twin")
    assert load_backend(entry).impls == ("native", "copy")
    wrong = Entry("twin", entry.target, impls=("native", "fast"))
    with pytest.raises(RnnbenchError) as caught:
        load_backend(wrong)
    assert str(caught.value) == (
        "backend twin: its registration declares impls native, fast but TwinBackend.impls is native, copy"
    )


# -- the optional methods and their capability flags ------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_flag_without_its_method_is_refused_in_one_line(monkeypatch, tmp_path):
    (tmp_path / "flag_only_backend.py").write_text(
        textwrap.dedent("""
        from rnnbench import Backend
        from rnnbench_twin.backend import TwinBackend

        class FlagOnly(TwinBackend):
            bare_sequence_timer = Backend.bare_sequence_timer  # the base's "not offered", under a flag still set
    """)
    )
    monkeypatch.syspath_prepend(str(TWIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RnnbenchError) as caught:
        load_backend(Entry("flagonly", "flag_only_backend:FlagOnly"))
    assert (
        str(caught.value) == "backend flagonly: FlagOnly sets has_bare_timer but does not implement bare_sequence_timer"
    )


@pytest.mark.timeout(60)
def test_a_backend_without_the_flags_offers_neither_and_core_asks_nothing():
    from rnnbench.backend import Backend
    from rnnbench.bench.run_config import _bare_framework_timer
    from rnnbench.bench.train import _plain_step
    from rnnbench.plugins import get_backend

    assert Backend.has_bare_timer is False and Backend.has_plain_train_step is False
    numpy_backend = get_backend("numpy")
    assert not numpy_backend.has_bare_timer and not numpy_backend.has_plain_train_step
    config = {"cell": "lstm", "batch": 2, "steps": 3, "input": 4, "hidden": 5, "dtype": "float32", "pass": "forward"}
    assert _bare_framework_timer(numpy_backend, config) is None
    assert _plain_step(numpy_backend, None, None) is None
    with pytest.raises(RnnbenchError, match="^backend numpy offers no bare timer"):
        numpy_backend.bare_sequence_timer("lstm", {}, None)
    with pytest.raises(RnnbenchError, match="^backend numpy offers no plain train step"):
        numpy_backend.plain_train_step(None, {})


@pytest.mark.timeout(60)
def test_core_calls_the_methods_a_flag_announces(twin_registry):
    from rnnbench.bench.run_config import _bare_framework_timer
    from rnnbench.bench.train import _plain_step
    from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params

    twin = load_backend(twin_registry.backend("twin"))(impl="copy")
    config = {
        "cell": "gru",
        "batch": 2,
        "steps": 3,
        "input": 4,
        "hidden": 5,
        "dtype": "float32",
        "pass": "forward+backward",
    }
    bare = _bare_framework_timer(twin, config)
    assert bare() is None and bare.method == TWIN_BARE_METHOD
    assert _bare_framework_timer(twin, {**config, "layers": 2}) is None  # the bare layers are single-layer ones
    spec = ModelSpec(
        cell="lstm", vocab_size=9, embed_size=3, hidden_size=4, num_outputs=2, optimizer=OptimizerSpec("adam", lr=0.1)
    )
    step = _plain_step(twin, spec, init_model_params(spec, seed=0))
    assert step.method == TWIN_PLAIN_METHOD


# -- no core module reaches into a backend ----------------------------------------------------------------------


def _backend_module_references(source: str, where: str) -> list[str]:
    """Imports of a backend's modules, and strings naming one (``import_module(f"rnnbench.backends.{name}...")``)."""
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):  # an f-string's literal parts too
            names = [node.value]
        else:
            continue
        found += [
            f"{where}:{node.lineno}: {name}"
            for name in names
            if name.startswith(("rnnbench.backends.", "rnnbench_jax"))
        ]
    return found


def test_no_core_module_imports_or_names_a_backend_module():
    """Only the plugin manager names the builtin plugins (to register them); everything else goes through the
    registry and the ``Backend`` methods, as a third-party backend's callers must."""
    offenders = []
    for path in sorted((REPO / "rnnbench").rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        if where != "rnnbench/plugins.py":
            offenders += _backend_module_references(path.read_text(encoding="utf-8"), where)
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        'module = importlib.import_module(f"rnnbench.backends.{name}.bench")',
        "from rnnbench.backends.torch.bench import plain_train_step",
        "import rnnbench_jax.bench",
        'make = resolve("rnnbench.backends.torch.bench:bare_sequence_timer")',
    ],
)
def test_the_scan_sees_each_way_of_reaching_into_a_backend(source):
    assert len(_backend_module_references(source, "planted.py")) == 1


class TestTwinContract(BackendContract):
    """The whole contract kit on the twin's ``copy`` impl, its bare timer and plain train step included (the one
    backend with both that needs no torch or TensorFlow)."""

    backend_name = "twin"
    backend_options = {"impl": "copy"}

    def entry(self, request):
        request.getfixturevalue("monkeypatch").syspath_prepend(str(TWIN))
        return plugin_entry("twin", "rnnbench_twin")


# -- the twin, end to end through the command line --------------------------------------------------------------


def _rnnbench(tmp_path, *argv, data_dir=None):
    """``rnnbench ARGV`` in a fresh process that finds the twin as an installed plugin (PYTHONPATH + entry point)."""
    env = {k: v for k, v in os.environ.items() if k != "RNNBENCH_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TWIN), env.get("PYTHONPATH", "")) if p)
    env["RNNBENCH_OFFLINE"] = "1"
    if data_dir is not None:
        env["RNNBENCH_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "rnnbench.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


BENCH = (
    "--backends",
    "twin",
    "--cells",
    "lstm",
    "--settle",
    "0",
    "--peak-frameworks",
    "numpy",
    "--no-record",
    "--format",
    "json",
)


@pytest.mark.timeout(300)
def test_the_twin_is_listed_and_checked(tmp_path):
    listed = [line.split() for line in _rnnbench(tmp_path, "plugins").splitlines()]
    assert ["backend", "twin", "available", "rnnbench-twin", "0.1"] in [line[:5] for line in listed]
    out = _rnnbench(
        tmp_path, "check", "--backend", "twin", "--cells", "lstm,treelstm", "--no-record", "--format", "json"
    )
    rows = [row for row in json.loads(out) if row["backend"] == "twin"]  # numpy's own gradient check comes first
    assert sorted({(row["impl"], row["case"]) for row in rows}) == sorted(
        (impl, case) for impl in ("native", "copy") for case in ("lstm", "treelstm")
    )
    assert all(row["passed"] for row in rows), rows


@pytest.mark.timeout(300)
def test_the_twin_is_benched_with_its_impls_and_its_bare_timer(tmp_path):
    rows = json.loads(_rnnbench(tmp_path, "bench", "--suite", "smoke", "--impls", "native,copy", *BENCH))["rows"]
    assert sorted((row["impl"], row["pass"]) for row in rows) == sorted(
        (impl, p) for impl in ("native", "copy") for p in ("forward", "forward+backward")
    )
    assert all(row["backend"] == "twin" and row["status"] == "ok" for row in rows), rows
    (row,) = json.loads(_rnnbench(tmp_path, "bench", "--overhead", "--suite", "smoke", "--pass", "forward", *BENCH))[
        "rows"
    ]
    assert row["status"] == "ok", row["error"]
    assert row["overhead"]["bare_framework_method"] == TWIN_BARE_METHOD
    assert row["overhead"]["bare_framework_s"] > 0


@pytest.mark.timeout(300)
def test_the_twin_trains_in_bench_train_against_its_plain_step(tmp_path):
    (tmp_path / "no-data").mkdir()  # synthetic batches of IMDB's shapes: no dataset to read
    out = _rnnbench(
        tmp_path,
        "bench",
        "--train",
        "--backends",
        "twin",
        "--train-batches",
        "1",
        "--train-rounds",
        "1",
        "--no-record",
        "--format",
        "json",
        data_dir=tmp_path / "no-data",
    )
    (row,) = json.loads(out)["rows"]
    assert row["status"] == "ok", row["error"]
    assert row["plain"]["method"] == TWIN_PLAIN_METHOD and row["ratio"]["median"] > 0


@pytest.mark.timeout(300)
def test_the_twin_runs_a_task(tmp_path):
    _rnnbench(
        tmp_path,
        "run",
        "--task",
        "longrange",
        "--backend",
        "twin",
        "--impl",
        "copy",
        "--seq-len",
        "5",
        "--max-steps",
        "4",
        "--steps-per-epoch",
        "2",
        "--dev-size",
        "8",
        "--test-size",
        "8",
        "--batch-size",
        "4",
        "--hidden-size",
        "8",
        "--results-dir",
        str(tmp_path / "runs"),
    )
    (path,) = (tmp_path / "runs").glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["backend"] == "twin"
    assert record["backend_info"]["impl"] == "copy"
