"""Fair speed tables (issue 12): the kernel each framework ran, the machine's true peak, every impl timed
with each backend's fastest path compared, the traced TensorFlow tree path, the in-place torch update and
the training-step bench. Nothing here asserts a speed: structure, warnings and exact equalities only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnbench import cli
from rnnbench.bench import kernels, record, table
from rnnbench.bench.peak import combine

from cli_helpers import bench_request

AVX512_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni\n"
AVX2_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\n"


def _info(arch, flags=AVX512_CPUINFO, pinned=None, **extra):
    f = kernels.cpu_flags(flags)
    return {
        "cpu_flags": f,
        "cpu_level": kernels.cpu_level(f),
        "pinned": pinned or {},
        "blas": [{"internal_api": "openblas", "prefix": "libopenblas", "version": "0.3.31", "architecture": arch}],
        **extra,
    }


# ------------------------------------------------------------------------------------------ kernels


def test_cpu_flags_and_level_from_cpuinfo():
    assert kernels.cpu_flags(AVX512_CPUINFO) == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"]
    assert kernels.cpu_level(kernels.cpu_flags(AVX512_CPUINFO)) == "avx512"
    assert kernels.cpu_level(kernels.cpu_flags(AVX2_CPUINFO)) == "avx2"
    assert kernels.cpu_level([]) is None


def test_an_older_blas_kernel_than_the_cpu_is_a_warning():
    (warning,) = kernels.kernel_warnings(_info("Haswell"), "numpy")
    assert warning.startswith("old kernel:") and "Haswell (avx2)" in warning and "avx512" in warning
    assert kernels.kernel_warnings(_info("SkylakeX"), "numpy") == []
    assert kernels.kernel_warnings(_info("Haswell", AVX2_CPUINFO), "numpy") == []  # the best this CPU has
    # torch and TensorFlow do not multiply with NumPy's OpenBLAS, so its kernel is not their warning
    assert kernels.kernel_warnings(_info("Haswell"), "torch") == []


def test_pinning_variables_are_warnings_for_the_frameworks_they_concern():
    info = _info(
        "Haswell",
        pinned={"OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "1"},
    )
    numpy_warnings = kernels.kernel_warnings(info, "numpy")
    assert any("OPENBLAS_CORETYPE=Haswell" in w for w in numpy_warnings)
    assert any("MKL_ENABLE_INSTRUCTIONS=AVX2" in w for w in numpy_warnings)
    torch_warnings = kernels.kernel_warnings(info, "torch")
    assert [w for w in torch_warnings if "OPENBLAS" in w] == []
    assert any("MKL_ENABLE_INSTRUCTIONS" in w for w in torch_warnings)
    assert not any("TF_ENABLE_ONEDNN_OPTS" in w for w in kernels.kernel_warnings(info))  # =1 is the default
    assert kernels.pinned_variables({"OPENBLAS_CORETYPE": "Haswell", "HOME": "/"}) == {"OPENBLAS_CORETYPE": "Haswell"}


def test_torch_aten_and_tensorflow_onednn_warnings():
    info = _info("SkylakeX", torch={"cpu_capability": "AVX2"})
    assert any("ATen runs its AVX2" in w for w in kernels.kernel_warnings(info, "torch"))
    info = _info("SkylakeX", tensorflow={"onednn_built": True, "onednn_enabled": False})
    assert any("oneDNN kernels are off" in w for w in kernels.kernel_warnings(info, "tensorflow"))


def test_this_process_reports_its_blas():
    info = kernels.kernel_info()
    assert info["blas"] and info["blas"][0]["internal_api"] in ("openblas", "mkl", "blis")
    assert {"cpu_flags", "cpu_level", "pinned"} <= set(info)


# ------------------------------------------------------------------------------------------ peak


def _candidate(method, framework, size, gflops):
    return {
        "method": method,
        "framework": framework,
        "size": size,
        "gflops": gflops,
        "min_s": 1.0,
        "median_s": 1.0,
        "gflops_median": gflops,
        "warnings": [],
    }


def test_the_peak_is_the_best_framework_and_keeps_every_candidate_and_kernel():
    candidates = [
        _candidate("numpy.matmul", "numpy", 1024, 240.0),
        _candidate("numpy.matmul", "numpy", 2048, 247.0),
        _candidate("torch.mm", "torch", 1024, 430.0),
        _candidate("torch.mm", "torch", 2048, 469.0),
        {"method": None, "framework": "tensorflow", "size": None, "error": "worker timed out"},
    ]
    peak = combine(
        candidates, {"numpy": _info("Haswell", pinned={"OPENBLAS_CORETYPE": "Haswell"})}, "cpu", 2, "float32"
    )
    assert (peak["gflops"], peak["method"], peak["framework"], peak["size"]) == (469.0, "torch.mm", "torch", 2048)
    assert len(peak["candidates"]) == 5 and "numpy" in peak["kernels"]
    assert any("old kernel" in w for w in peak["warnings"]) and any("OPENBLAS_CORETYPE" in w for w in peak["warnings"])
    # 469 at 2048 against 430 at 1024 is more than 5% up: the rate may still rise with size
    assert any(w.startswith("torch.mm:") and "still rising" in w for w in peak["warnings"])
    with pytest.raises(RuntimeError, match="no matrix-multiply peak"):
        combine(candidates[-1:], {}, "cpu", 2, "float32")


def test_a_row_above_the_peak_says_why():
    rows = [dict(_row("torch", "native", 1.0), gflops_per_s=50.0)]
    record.annotate(rows, {"float32": {"gflops": 40.0}})
    assert rows[0]["peak_fraction"] == 1.25
    assert any(w.startswith("above the measured peak (125%)") for w in rows[0]["warnings"])
    assert "above the measured peak" in table.format_rows(
        rows, {"float32": {"gflops": 40.0, "method": "x", "size": 1, "threads": 1}}
    )


# ------------------------------------------------------------------------------------------ fastest path


def _row(backend, impl, median, cell="lstm"):
    return {
        "kind": "sequence",
        "cell": cell,
        "backend": backend,
        "impl": impl,
        "device": "cpu",
        "dtype": "float32",
        "threads": 2,
        "batch": 64,
        "steps": 100,
        "input": 128,
        "hidden": 256,
        "pass": "forward+backward",
        "status": "ok",
        "median_s": median,
        "iqr_s": 0.0,
        "gflops_per_s": 1.0,
        "count": 5,
        "warnings": [],
    }


def test_the_summary_compares_each_backends_fastest_impl():
    rows = [
        _row("numpy", "native", 0.160),
        _row("torch", "native", 0.118),
        _row("torch", "loop", 0.200),
        _row("tensorflow", "native", 0.0925),
        _row("tensorflow", "xla", 0.0796),
        dict(_row("tensorflow", "loop", None), status="failed"),
    ]
    record.annotate(rows, {"float32": {"gflops": 400.0}})
    chosen = {item["backend"]: item for item in record.fastest_impls(rows)}
    assert {b: (c["impl"], c["impls_timed"]) for b, c in chosen.items()} == {
        "numpy": ("native", 1),
        "torch": ("native", 2),
        "tensorflow": ("xla", 2),
    }
    assert chosen["tensorflow"]["ratio_to_best"] == 1.0
    assert chosen["numpy"]["ratio_to_best"] == pytest.approx(0.160 / 0.0796)
    text = table.format_summary(rows)
    assert "79.6 (xla" in text and "118 (native" in text and "160 (native" in text
    assert "92.5" not in text  # the slower TF impl is in the full table only


def test_the_cpu_suite_times_every_impl_of_every_backend(monkeypatch, tmp_path):
    from rnnbench.bench.grid import build_grid

    pytest.importorskip("torch", reason="torch is not installed: its impls cannot be listed")
    pytest.importorskip("tensorflow", reason="tensorflow is not installed: its impls cannot be listed")

    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path))
    argv = ["--suite", "cpu", "--threads", "2", "--cells", "lstm", "--sizes", "4x5x6x7", "--pass", "forward"]
    grid = build_grid(bench_request(*argv))
    assert sorted((c["backend"], c["impl"]) for c in grid.configs) == sorted(
        [
            ("numpy", "native"),
            ("torch", "native"),
            ("torch", "loop"),
            ("torch", "compiled"),
            ("tensorflow", "native"),
            ("tensorflow", "loop"),
            ("tensorflow", "xla"),
        ]
    )
    # The parent lists every impl without importing a framework (this process has torch already: ask a fresh one).
    code = (
        "import sys\n"
        "from rnnbench.bench.grid import build_grid\n"
        "from rnnbench.bench.request import parse_request\n"
        "from rnnbench.cli import build_parser\n"
        f"build_grid(parse_request(build_parser(['bench']).parse_args(['bench', *{argv!r}])))\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules))\n"
    )
    env = {**os.environ, "RNNBENCH_DISABLE_PLUGIN_AUTOLOAD": "1", "RNNBENCH_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    custom = build_grid(bench_request("--threads", "2", "--cells", "lstm", "--sizes", "4x5x6x7", "--pass", "forward"))
    assert {c["impl"] for c in custom.configs} == {None}  # a custom grid keeps each default


@pytest.mark.parametrize("name", ["numpy", "torch", "tensorflow"])
def test_declared_impls_match_the_backend_classes(name):
    """The impls a builtin's registration declares (what the parent lists, importing nothing) are its class's."""
    from rnnbench.plugins import get_registry, load_backend

    entry = get_registry().backend(name)
    assert entry.impls, f"builtin backend {name} declares its impls"
    pytest.importorskip(name)
    assert entry.impls == tuple(load_backend(entry).impls)


# ------------------------------------------------------------------------------------------ TF trees


def test_tensorflow_tree_timer_path_equals_the_contract():
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from rnnbench.backends.tensorflow.bench import _tree_functions
    from rnnbench.backends.tensorflow.tensors import tensors as _tensors
    from rnnbench.backends.tensorflow.tree_model import schedule_tensors
    from rnnbench.bench.inputs import tree_cotangents, tree_inputs
    from rnnbench.bench.treedata import one_node_per_level, synthetic_trees
    from rnnbench.plugins import get_backend
    from rnnbench.trees import TreeBatch

    backend = get_backend("tensorflow")
    batch = TreeBatch.from_trees(synthetic_trees(5))
    for cell, D, H in (("recursive", 6, 6), ("treelstm", 7, 6)):
        params, x = tree_inputs(cell, batch.num_leaves, D, H, "float64")
        forward, vjp = _tree_functions(backend, cell, params, D, np.float64)
        up = tree_cotangents(cell, batch.num_nodes, H, np.float64)
        dc = tf.constant(up["c"]) if cell == "treelstm" else tf.zeros([0, H], tf.float64)
        expected = backend.tree_backward(cell, params, x, batch, up)
        for schedule in (batch, one_node_per_level(batch)):  # one trace serves both schedules
            args = (_tensors(params, np.float64), tf.constant(x), *schedule_tensors(schedule))
            h, _ = forward(*args)
            np.testing.assert_allclose(h.numpy(), backend.tree_forward(cell, params, x, batch)["h"], rtol=1e-12)
            dh = tf.constant(up["h"])
            for _ in range(2):  # the levels write their buffers in place: never the caller's tensors
                grads = vjp(*args, dh, dc)
                for key, value in expected.items():
                    np.testing.assert_allclose(grads[key].numpy(), value, rtol=1e-10, atol=1e-12)
            np.testing.assert_array_equal(dh.numpy(), up["h"])
            np.testing.assert_array_equal(dc.numpy(), up["c"] if cell == "treelstm" else np.zeros([0, H]))
            np.testing.assert_array_equal(args[1].numpy(), x)
        assert forward.experimental_get_tracing_count() == 1 and vjp.experimental_get_tracing_count() == 1


# ------------------------------------------------------------------------------------------ torch update


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adagrad"])
@pytest.mark.parametrize("l2, clip", [(0.0, None), (1e-3, 0.5)])
def test_torch_in_place_update_is_the_shared_formula_to_rounding(optimizer, l2, clip):
    torch = pytest.importorskip("torch")
    from rnnbench.backends.torch.model import TorchOps, update_in_place
    from rnnbench.model import ModelSpec, OptimizerSpec
    from rnnbench.optim import apply_update, init_state

    spec = ModelSpec(
        cell="lstm",
        hidden_size=4,
        num_outputs=3,
        vocab_size=11,
        embed_size=5,
        optimizer=OptimizerSpec(optimizer, lr=0.1),
        clip_norm=clip,
        l2=l2,
        dtype="float64",
    )
    rng = np.random.default_rng(0)
    params = {
        "embedding": rng.normal(size=(11, 5)),
        "encoder.W_x": rng.normal(size=(5, 16)),
        "head.b": rng.normal(size=3),
    }
    reference = {k: torch.tensor(v) for k, v in params.items()}
    in_place = {k: torch.tensor(v) for k, v in params.items()}
    ref_state = init_state(spec, reference, torch.zeros_like)
    state = init_state(spec, in_place, torch.zeros_like)
    for _ in range(3):
        grads = {k: torch.tensor(rng.normal(size=v.shape)) for k, v in params.items()}
        reference = apply_update(spec, reference, {k: g.clone() for k, g in grads.items()}, ref_state, TorchOps)
        update_in_place(spec, in_place, grads, state)
        for k in params:  # fused multiply-adds round once where the formula rounds twice
            torch.testing.assert_close(in_place[k], reference[k], rtol=1e-14, atol=1e-15)
            for slot in ("m", "v", "G"):
                if slot in state:
                    torch.testing.assert_close(state[slot][k], ref_state[slot][k], rtol=1e-14, atol=1e-15)
    assert state["t"] == ref_state["t"] == 3


def test_torch_update_copies_a_gradient_shared_by_two_parameters():
    torch = pytest.importorskip("torch")
    from rnnbench.backends.torch.model import update_in_place
    from rnnbench.model import ModelSpec, OptimizerSpec

    spec = ModelSpec(
        cell="rnn",
        hidden_size=2,
        num_outputs=2,
        input_size=2,
        optimizer=OptimizerSpec("sgd", lr=1.0),
        clip_norm=1.0,
        dtype="float64",
    )
    shared = torch.tensor([3.0, 4.0], dtype=torch.float64)
    params = {"a": torch.zeros(2, dtype=torch.float64), "b": torch.zeros(2, dtype=torch.float64)}
    update_in_place(spec, params, {"a": shared, "b": shared}, {"t": 0})  # the gradients are the update's
    expected = -torch.tensor([3.0, 4.0], dtype=torch.float64) / np.sqrt(2 * 25.0)  # clipped once, not twice
    assert torch.allclose(params["a"], expected) and torch.allclose(params["b"], expected)


# ------------------------------------------------------------------------------------------ train bench


def test_training_batches_fall_back_to_seeded_synthetic_ones(tmp_path):
    from rnnbench.bench.train import prepare_batches, spec_from_dict

    spec, batches, source = prepare_batches(3, str(tmp_path))  # no IMDB there
    assert source["source"] == "synthetic" and "imdb" in source["why"].lower()
    again = prepare_batches(3, str(tmp_path))[1]
    assert all(np.array_equal(a, b) for x, y in zip(batches, again) for a, b in zip(x, y))
    model_spec = spec_from_dict(spec)
    assert (model_spec.cell, model_spec.embed_size, model_spec.hidden_size) == ("lstm", 128, 128)
    for inputs, lengths, targets in batches:
        assert inputs.shape[0] == len(lengths) == len(targets) == 64 and inputs.shape[1] <= 400
        assert lengths.max() == inputs.shape[1] and (inputs[np.arange(inputs.shape[1]) >= lengths[:, None]] == 0).all()


def test_train_bench_end_to_end_on_numpy_and_torch(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    import rnnbench.bench.train as train

    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(tmp_path / "no-data"))
    small = train.synthetic_batches

    def tiny(count, vocab, batch, max_length, seed=0):  # IMDB's layout, at a size a test can afford
        return small(count, vocab, 4, 12, seed)

    monkeypatch.setattr(train, "synthetic_batches", tiny)
    code = cli.main(
        [
            "bench",
            "--train",
            "--backends",
            "numpy,torch",
            "--threads",
            "1",
            "--train-batches",
            "2",
            "--train-rounds",
            "3",
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "SYNTHETIC batches" in out and "rnnbench / plain" in out
    (path,) = (tmp_path / "results").glob("*.json")
    rec = json.loads(path.read_text())
    assert rec["dataset"] == "train" and rec["config"]["data"]["source"] == "synthetic"
    rows = {row["backend"]: row for row in rec["rows"]}
    assert rows["numpy"]["status"] == rows["torch"]["status"] == "ok"
    assert rows["numpy"]["plain"] is None and len(rows["numpy"]["samples_s"]) == 3
    ratio = rows["torch"]["ratio"]
    assert len(ratio["samples"]) == 3 and ratio["q1"] <= ratio["median"] <= ratio["q3"]
    assert ratio["median"] == pytest.approx(
        np.median(np.array(rows["torch"]["samples_s"]) / np.array(rows["torch"]["plain"]["samples_s"]))
    )
    assert "torch.optim.Adam" in rows["torch"]["plain"]["method"]
    assert rows["torch"]["kernel"]["torch"]["version"]
    # the ratio's distribution-free 95% interval (3 rounds: the range) and what other processes took meanwhile
    assert ratio["ci95"] == [min(ratio["samples"]), max(ratio["samples"])]
    assert rows["torch"]["cpu"]["wall_s"] > 0 and "other_cpus" in rows["torch"]["cpu"]
    assert "95% interval" in out and "other CPUs" in out


# ------------------------------------------------------------------------------------------ slow calls


def test_a_slow_call_gets_few_one_call_samples_and_a_warning():
    from rnnbench.bench.timing import TimingPolicy, measure

    now = [0.0]

    def clock():
        return now[0]

    def call():
        now[0] += 3.0  # three seconds a call

    policy = TimingPolicy(warmup_calls=2, warmup_s=0.0, min_samples=5, slow_call_s=2.0, slow_samples=3)
    result = measure(call, policy, clock=clock, load=lambda: 0.0, cpus=1)
    assert (result.count, result.loops, result.warmup_calls, result.median_s) == (3, 1, 2, 3.0)
    assert any(w.startswith("slow calls (3.0 s") for w in result.warnings)
    fast = measure(
        call,
        TimingPolicy(warmup_calls=2, warmup_s=0.0, min_samples=5, max_samples=5, budget_s=0.0, slow_call_s=5.0),
        clock=clock,
        load=lambda: 0.0,
        cpus=1,
    )
    assert fast.count == 5 and not any(w.startswith("slow calls") for w in fast.warnings)


def test_impl_isolation_shares_one_process_per_backend_and_impl():
    from rnnbench.bench.sweep import run_configs
    from rnnbench.bench.timing import TimingPolicy

    # a serving worker (rnnbench.bench.serve's protocol) that names its process in every row it prepares
    echo = (
        sys.executable,
        "-c",
        "import json, os, sys\n"
        "for line in iter(sys.stdin.readline, ''):\n"
        "    r = json.loads(line)\n"
        "    if r['op'] == 'quit': break\n"
        "    a = {'row': {'pid': os.getpid()}, 'loops': 1, 'first_call_s': 1.0} if r['op'] == 'prepare' else "
        "{'samples_s': [1.0] * r['samples']} if r['op'] == 'sample' else {}\n"
        "    print(json.dumps(a), flush=True)",
    )
    configs = [
        dict(_row(b, i, None, cell), status=None)
        for b, i, cell in (
            ("torch", "native", "lstm"),
            ("torch", "loop", "lstm"),
            ("numpy", "native", "lstm"),
            ("torch", "native", "gru"),
        )
    ]
    policy = TimingPolicy(min_rounds=1, max_rounds=1, visit_samples=1, min_samples=1)
    rows = run_configs(configs, threads=1, policy=policy, isolation="impl", command=echo)
    pids = [row["pid"] for row in rows]
    assert {r["status"] for r in rows} == {"ok"}
    assert [(r["backend"], r["impl"]) for r in rows] == [(c["backend"], c["impl"]) for c in configs]
    assert pids[0] == pids[3] and len({pids[0], pids[1], pids[2]}) == 3
