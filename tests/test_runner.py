"""The training loop: statuses (ok, diverged, interrupted, failed), model selection, timing, same order everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from rnnbench import runner
from rnnbench.errors import RnnbenchError
from rnnbench.model import ModelSpec
from rnnbench.task import Batch, Prepared, accuracy
from rnnbench.tasks.textclf.task import TextClassification

from text_fixtures import sentiment_texts, write_user_file


def _prepared(steps_per_epoch=4, test=True) -> Prepared:
    spec = ModelSpec(cell="lstm", hidden_size=4, num_outputs=2, vocab_size=10, embed_size=3)
    rng = np.random.default_rng(0)

    def batch():
        ids = rng.integers(0, 10, size=(2, 3))
        return Batch((ids, np.array([3, 2])), np.array([0, 1]), size=2, tokens=5)

    fixed = [batch() for _ in range(steps_per_epoch)]
    test_batch = Batch((rng.integers(0, 10, size=(2, 3)), np.array([3, 2])), np.array([1, 1]), size=2, tokens=5)
    return Prepared(
        spec=spec,
        train_batches=lambda seed, epoch: fixed,
        dev=[batch()],
        test=[test_batch] if test else None,
        metric="accuracy",
        score=accuracy,
        info={"dataset": "toy"},
    )


class ScriptedModel:
    """Losses from a script (a float, ``"raise"`` or ``"interrupt"``); dev accuracy from ``dev_scores``."""

    def __init__(self, losses, dev_scores, params=None):
        self.losses = iter(losses)
        self.dev_scores = iter(dev_scores)
        self.params = params or {"w": np.zeros(1)}
        self.score = 0.0

    def train_step(self, ids, lengths, targets):
        loss = next(self.losses)
        if loss == "raise":
            raise ValueError("boom")
        if loss == "interrupt":
            raise KeyboardInterrupt
        self.params = {"w": self.params["w"] + 1}
        return loss

    def predict(self, ids, lengths):
        return np.tile([1.0 - self.score, self.score], (len(lengths), 1))

    def get_params(self):
        return {"w": self.params["w"].copy()}


class ScriptedBackend:
    name = "scripted"

    def __init__(self, losses, dev_scores):
        self.losses, self.dev_scores = losses, dev_scores
        self.built = []

    def info(self):
        return {"framework": "none", "threads": 1}

    def build_model(self, spec, params):
        if not self.built:  # a task's own initial weights are scripted too ({"w": ...})
            model = ScriptedModel(self.losses, self.dev_scores, params if "w" in params else None)
        else:  # the best-point model, rebuilt from the saved parameters
            model = ScriptedModel([], [], params)
            model.score = float(params["w"][0] == 8)  # test accuracy 1 only with the epoch-2 parameters
        self.built.append(model)
        return model


def _run(losses, dev_scores, epochs=3, **config):
    backend = ScriptedBackend(losses, dev_scores)
    prepared = _prepared()

    def evaluate(model, batches, score, warm_up=False, metrics=None):
        if model is backend.built[0] and batches is prepared.dev:  # the scripted dev score of this epoch
            return next(model.dev_scores), 0.01, None
        return real_evaluate(model, batches, score, warm_up, metrics)

    real_evaluate = runner.evaluate
    runner.evaluate = evaluate
    try:
        cfg = {"task": "toy", "dataset": "toy", "epochs": epochs, "max_steps": None, **config}
        return runner.run(prepared, backend, cfg, seed=0, progress=False, log=lambda m: None)
    finally:
        runner.evaluate = real_evaluate


def test_ok_run_selects_the_best_dev_epoch_and_tests_it():
    record = _run([1.0] * 12, [0.5, 0.9, 0.7])
    assert record["status"] == "ok" and record["error"] is None
    assert record["best"]["epoch"] == 2 and record["best"]["dev"] == 0.9 and record["best"]["step"] == 8
    assert record["best"]["test"] == 1.0, "test is measured with the parameters of the best dev epoch"
    assert [e["dev"] for e in record["epochs"]] == [0.5, 0.9, 0.7]
    assert record["steps"] == 12 and len(record["epochs"][0]["step_seconds"]) == 4
    assert record["epochs"][0]["warmup_steps_excluded"] == 3 and record["epochs"][1]["warmup_steps_excluded"] == 0
    assert record["timing"]["timed_steps"] == 9
    for key in ("machine", "versions", "git", "backend_info", "config", "spec", "load_average"):
        assert record[key], key
    assert record["machine"]["logical_cpus"] >= 1 and record["backend_info"]["threads"] == 1
    cpu = record["cpu"]  # what other processes took while it ran: the cost table's quiet rule
    assert cpu["wall_s"] > 0 and cpu["own_cpu_s"] >= 0 and set(cpu) >= {"other_cpus", "steal_fraction", "load"}


def test_nan_loss_stops_as_diverged_with_the_step():
    record = _run([1.0] * 5 + [float("nan")] + [1.0] * 6, [0.6, 0.8])
    assert record["status"] == "diverged"
    assert record["diverged_at"]["step"] == 6 and record["diverged_at"]["epoch"] == 2
    assert record["steps"] == 6 and len(record["epochs"]) == 2
    assert record["best"]["epoch"] == 1, "the dev point before the divergence is kept"


def test_inf_loss_is_diverged_too():
    assert _run([float("inf")], [])["status"] == "diverged"


def test_keyboard_interrupt_records_what_was_reached():
    record = _run([1.0] * 6 + ["interrupt"], [0.6])
    assert record["status"] == "interrupted"
    assert record["steps"] == 6 and record["epochs"][-1]["steps"] == 2
    assert "epoch 2, step 6" in record["error"]
    assert record["best"]["dev"] == 0.6 and record["best"]["test"] is None


def test_exception_is_a_failed_record_with_the_error():
    record = _run([1.0, "raise"], [])
    assert record["status"] == "failed" and record["error"] == "ValueError: boom"
    assert "Traceback" in record["traceback"]
    assert record["finished_at"] and record["wall_seconds"] >= 0


def test_max_steps_stops_mid_epoch_and_still_evaluates():
    record = _run([1.0] * 12, [0.5, 0.6], max_steps=6)
    assert record["steps"] == 6 and [e["steps"] for e in record["epochs"]] == [4, 2]
    assert record["epochs"][-1]["dev"] == 0.6


def test_run_options_are_checked():
    with pytest.raises(RnnbenchError, match="epochs must be at least 1"):
        runner.check_run_options({"epochs": 0})
    with pytest.raises(RnnbenchError, match="max-steps must be at least 1"):
        runner.check_run_options({"epochs": 1, "max_steps": 0})


# -- real models on a small made-up dataset ----------------------------------------------------------


@pytest.fixture(scope="module")
def toy_prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    path = write_user_file(folder / "toy.tsv", sentiment_texts(400, seed=1))
    task = TextClassification()
    config = task.resolve_config(
        {
            "dataset": str(path),
            "embed_size": 8,
            "hidden_size": 8,
            "epochs": 3,
            "batch_size": 16,
            "lr": 0.01,
            "min_count": 1,
        }
    )
    return config, task.prepare(config)


def test_numpy_learns_the_toy_task(toy_prepared):
    import rnnbench

    config, prepared = toy_prepared
    record = runner.run(prepared, rnnbench.get_backend("numpy"), config, seed=0, progress=False, log=lambda m: None)
    assert record["status"] == "ok", record["error"]
    assert record["best"]["dev"] >= 0.9 and record["best"]["test"] >= 0.9
    losses = [e["mean_loss"] for e in record["epochs"]]
    assert losses[-1] < losses[0] < 0.75


@pytest.mark.parametrize("name", ["torch", "tensorflow"])
def test_framework_backends_follow_the_numpy_loss_curve(toy_prepared, name):
    """Same initial weights and batch order: the first steps' losses agree with NumPy's to float32 noise."""
    pytest.importorskip(name)
    import rnnbench

    config, prepared = toy_prepared
    short = {**config, "max_steps": 8, "epochs": 1}
    # No thread count: TensorFlow fixes its own at its first operation, which an earlier test may have run.
    records = {
        backend: runner.run(prepared, rnnbench.get_backend(backend), short, seed=0, progress=False, log=lambda m: None)
        for backend in ("numpy", name)
    }
    for record in records.values():
        assert record["status"] == "ok", record["error"]
    ref, other = (np.array(records[b]["epochs"][0]["step_seconds"]) for b in ("numpy", name))
    assert len(ref) == len(other) == 8
    ref_loss, other_loss = (records[b]["epochs"][0]["mean_loss"] for b in ("numpy", name))
    assert abs(ref_loss - other_loss) < 1e-4
    assert abs(records["numpy"]["best"]["dev"] - records[name]["best"]["dev"]) <= 1 / 40


def _run_prepared(prepared, dev_scores, epochs=3):
    """Like :func:`_run` for a prepared job whose fields a test changed."""
    backend = ScriptedBackend([1.0] * 4 * epochs, dev_scores)
    real_evaluate = runner.evaluate

    def evaluate(model, batches, score, warm_up=False, metrics=None):
        if model is backend.built[0] and batches is prepared.dev:
            value = next(model.dev_scores)
            return value, 0.01, ({"doubled": 2 * value} if metrics else None)
        return real_evaluate(model, batches, score, warm_up, metrics)

    runner.evaluate = evaluate
    try:
        cfg = {"task": "toy", "dataset": "toy", "epochs": epochs, "max_steps": None}
        return runner.run(prepared, backend, cfg, seed=0, progress=False, log=lambda m: None)
    finally:
        runner.evaluate = real_evaluate


def test_a_lower_is_better_metric_selects_the_smallest_dev_value():
    prepared = _prepared()
    prepared.higher_is_better = False
    record = _run_prepared(prepared, [0.5, 0.2, 0.3])
    assert record["best"]["epoch"] == 2 and record["best"]["dev"] == 0.2
    assert record["metric_higher_is_better"] is False


def test_further_metrics_are_kept_at_the_best_dev_point_and_on_test():
    prepared = _prepared()
    prepared.metrics = lambda outputs, targets: {"rows": len(targets), "mean_target": float(targets.mean())}
    record = _run_prepared(prepared, [0.5, 0.9, 0.7])
    assert record["best"]["dev_metrics"] == {"doubled": 1.8}  # epoch 2's, not epoch 3's 1.4
    assert record["best"]["test_metrics"] == {"rows": 2, "mean_target": 1.0}
    assert [e["dev_metrics"]["doubled"] for e in record["epochs"]] == [1.0, 1.8, 1.4]


class ProbedModel(ScriptedModel):
    def state_gradient_norms(self, ids, lengths, targets):
        return np.arange(ids.shape[1], dtype=float) + self.params["w"][0]


def test_gradient_flow_is_probed_before_the_chosen_updates():
    prepared = _prepared()
    prepared.probe_batch = prepared.dev[0]
    prepared.probe_steps = (0, 5)
    backend = ScriptedBackend([1.0] * 12, [0.5, 0.6, 0.7])
    backend.build_model = lambda spec, params: (
        backend.built.append(ProbedModel([1.0] * 12, [0.5] * 3)) or backend.built[-1]
    )
    record = runner.run(
        prepared,
        backend,
        {"task": "toy", "dataset": "toy", "epochs": 3, "max_steps": None},
        seed=0,
        progress=False,
        log=lambda m: None,
    )
    assert record["status"] == "ok"
    # the norms carry the number of updates made so far (w), so each probe ran before its step's update
    assert record["gradient_flow"] == [{"step": 0, "norms": [0.0, 1.0, 2.0]}, {"step": 5, "norms": [5.0, 6.0, 7.0]}]


def test_a_task_can_choose_the_initial_weights():
    prepared = _prepared()
    seen = []
    prepared.init_params = lambda spec, seed: seen.append(seed) or {"w": np.full(1, 100.0)}
    backend = ScriptedBackend([1.0] * 4, [0.5])
    record = runner.run(
        prepared,
        backend,
        {"task": "toy", "dataset": "toy", "epochs": 1, "max_steps": None},
        seed=7,
        progress=False,
        log=lambda m: None,
    )
    assert record["status"] == "ok" and seen == [7]
    assert backend.built[0].params["w"][0] == 104.0  # started at 100, then four updates


def _numpy_run(monkeypatch=None, **config):
    from rnnbench import get_backend

    cfg = {"task": "toy", "dataset": "toy", "epochs": 2, "max_steps": None, **config}
    return runner.run(_prepared(), get_backend("numpy"), cfg, seed=0, progress=False, log=lambda m: None)


def test_eval_every_records_dev_history_without_changing_the_run_or_its_training_time(monkeypatch):
    plain = _numpy_run()
    real_evaluate = runner.evaluate
    calls = []

    def slow_evaluate(model, batches, score, warm_up=False, metrics=None):  # a mid-epoch evaluation costs 0.3 s
        calls.append(warm_up)
        if not warm_up and metrics is None:
            import time

            time.sleep(0.3)
        return real_evaluate(model, batches, score, warm_up, metrics)

    monkeypatch.setattr(runner, "evaluate", slow_evaluate)
    record = _numpy_run(eval_every=3)
    assert [e["step"] for e in record["evals"]] == [3, 6]
    assert [e["epoch"] for e in record["evals"]] == [1, 2]
    assert calls.count(False) == 3, "two --eval-every evaluations (0.3 s each) and the epoch-2 end"
    for epoch in record["epochs"]:
        assert epoch["train_seconds"] < 0.3, "an --eval-every evaluation is not training time"
    first, second = record["evals"]
    assert first["train_seconds"] <= record["epochs"][0]["train_seconds"] < second["train_seconds"]
    assert second["train_seconds"] <= record["epochs"][0]["train_seconds"] + record["epochs"][1]["train_seconds"]
    # the same losses, the same model chosen at the same epoch end, the same test result
    assert [e["mean_loss"] for e in record["epochs"]] == [e["mean_loss"] for e in plain["epochs"]]
    best = ("epoch", "dev", "test")
    assert {k: record["best"][k] for k in best} == {k: plain["best"][k] for k in best}
    assert "evals" not in plain


@pytest.mark.parametrize("every", [0, -2])
def test_eval_every_below_one_is_refused(every):
    with pytest.raises(RnnbenchError, match="--eval-every must be at least 1 step"):
        runner.check_run_options({"epochs": 1, "eval_every": every})
