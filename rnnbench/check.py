"""``rnnbench check``: does every backend compute the same function as the NumPy reference?

For every available backend, implementation, case (:mod:`rnnbench.parity`)
and dtype, it evaluates outputs and all gradients and compares them with the
float64 NumPy reference; the reference itself is first checked against
central finite differences. ``--trajectory`` compares 50 optimizer steps of a
small classifier instead (and, with dropout masks drawn as the runner draws them, of a classifier
and a Tree-LSTM). Backends run in registry order (numpy, torch,
tensorflow), which keeps torch imported before TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from rnnbench import parity
from rnnbench.gradcheck import contract, numeric_grads, relative_error
from rnnbench.model import ModelSpec, OptimizerSpec, init_model_params

DTYPES = ("float64", "float32")
#: Finite differences of the float64 reference: truncation and rounding both near 1e-10.
FINITE_DIFFERENCE_TOLERANCE = 1e-6
#: Loss curves over 50 steps; float32 rounding compounds through the optimizer.
TRAJECTORY_TOLERANCE = {"float64": 1e-8, "float32": 1e-3}
TRAJECTORY_STEPS = 50
#: Trajectory cases: each sequence cell, a 2-layer bidirectional LSTM classifier, and with dropout
#: (``-drop``: masks drawn each step by :func:`rnnbench.dropout.draw_masks`, as the runner does) an LSTM
#: classifier and a Tree-LSTM with a softmax at every node.
TRAJECTORY_CASES = ("rnn", "lstm", "gru", "lstm-L2-bi", "lstm-drop", "treelstm-drop")
#: The dropout trajectory cases' rate.
TRAJECTORY_DROPOUT = 0.3


@dataclass
class Row:
    backend: str
    impl: str
    case: str
    dtype: str
    max_abs: float
    max_rel: float
    worst: str
    tolerance: float
    passed: bool
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _row(backend, impl, case, dtype, differences, tolerance) -> Row:
    worst = max(differences, key=lambda d: (np.nan_to_num(d.max_rel, nan=np.inf), d.name))
    max_abs = max(d.max_abs for d in differences)
    passed = all(d.max_rel <= tolerance for d in differences)
    return Row(backend, impl, case, dtype, max_abs, worst.max_rel, worst.name, tolerance, passed)


def _failed_row(backend, impl, case, dtype, tolerance, exc) -> Row:
    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return Row(backend, impl, case, dtype, float("nan"), float("nan"), "", tolerance, False, message)


def reference_rows(cases) -> list[Row]:
    """The NumPy reference against central finite differences (float64)."""
    from rnnbench.plugins import get_backend

    numpy_backend = get_backend("numpy")
    rows = []
    for label in cases:
        case = parity.make_case(label)
        analytic = parity.evaluate(numpy_backend, case, "float64")
        numeric = _finite_difference_grads(numpy_backend, case)
        differences = [
            parity.Difference(
                name, float(np.max(np.abs(analytic[name] - value))), relative_error(analytic[name], value)
            )
            for name, value in numeric.items()
        ]
        rows.append(_row("numpy", "finite differences", label, "float64", differences, FINITE_DIFFERENCE_TOLERANCE))
    return rows


def _finite_difference_grads(backend, case) -> dict:
    arrays = {f"grad.{k}": v.copy() for k, v in case.params.items()}
    input_key = "x_leaves" if "trees" in case.inputs else "x"
    arrays["grad.x"] = case.inputs[input_key].copy()
    for key, value in case.inputs.get("state", {}).items():
        arrays[f"grad.{key}0"] = value.copy()

    def scalar(values):
        inputs = dict(case.inputs)
        inputs[input_key] = values["grad.x"]
        if "state" in inputs:
            inputs["state"] = {k: values[f"grad.{k}0"] for k in inputs["state"]}
        params = {k: values[f"grad.{k}"] for k in case.params}
        probe = replace(case, params=params, inputs=inputs)
        outputs = _forward_only(backend, probe)
        return contract(outputs, case.cotangents)

    return numeric_grads(scalar, arrays)


def _forward_only(backend, case) -> dict:
    if "trees" in case.inputs:
        states = backend.tree_forward(case.cell, case.params, case.inputs["x_leaves"], case.inputs["trees"])
        return {f"states.{k}": v for k, v in states.items()}
    y, final = backend.sequence_forward(
        case.cell,
        case.params,
        case.inputs["x"],
        case.inputs["lengths"],
        case.inputs["state"],
        case.activation,
        **case.layering,
    )
    return {"y": y, **{f"final.{k}": v for k, v in final.items()}}


def parity_rows(targets, cases, dtypes=DTYPES, options=None) -> list[Row]:
    """Every (backend, impl) in ``targets`` x case x dtype against the float64 reference."""
    from rnnbench.plugins import get_backend

    reference_backend = get_backend("numpy")
    references = {label: parity.evaluate(reference_backend, parity.make_case(label), "float64") for label in cases}
    rows = []
    for name, impl in targets:
        try:
            backend = get_backend(name, impl=impl, **(options or {}))
        except Exception as exc:
            rows.extend(
                _failed_row(name, impl, label, dtype, parity.TOLERANCE[dtype], exc)
                for label in cases
                for dtype in dtypes
            )
            continue
        for label in cases:
            if parity.make_case(label).layered and not getattr(backend, "layered", False):
                continue  # the backend declares single layers only (Backend.layered); nothing to compare
            for dtype in dtypes:
                tolerance = parity.TOLERANCE[dtype]
                try:
                    result = parity.evaluate(backend, parity.make_case(label), dtype)
                except Exception as exc:
                    rows.append(_failed_row(name, impl, label, dtype, tolerance, exc))
                    continue
                rows.append(_row(name, impl, label, dtype, parity.compare(references[label], result), tolerance))
    return rows


def trajectory_dropout(cell: str) -> tuple[str, float]:
    """``(case without -drop, dropout rate)`` of a trajectory case: ``lstm-drop`` is ``("lstm", 0.3)``."""
    if cell.endswith("-drop"):
        return cell[: -len("-drop")], TRAJECTORY_DROPOUT
    return cell, 0.0


def trajectory_spec(cell: str, dtype: str):
    """A small token classifier that exercises every optimizer stage (Adam, clipping, L2).

    ``cell`` is a trajectory case: ``lstm-L2-bi`` is a 2-layer bidirectional LSTM encoder; a tree
    cell (``treelstm-drop``) gives a :class:`~rnnbench.tree_model.TreeModelSpec` with the same optimizer.
    """
    from rnnbench.params import TREE_CELLS
    from rnnbench.tree_model import TreeModelSpec

    cell, _ = trajectory_dropout(cell)
    if cell in TREE_CELLS:
        return TreeModelSpec(
            cell=cell,
            hidden_size=6,
            num_outputs=5,
            vocab_size=20,
            embed_size=6 if cell == "recursive" else 5,
            optimizer=OptimizerSpec("adam", lr=0.02),
            clip_norm=0.5,
            l2=1e-3,
            dtype=dtype,
        )
    case = parity.make_case(cell)
    return ModelSpec(
        cell=case.cell,
        hidden_size=6,
        num_outputs=3,
        vocab_size=20,
        embed_size=5,
        pooling="mean",
        loss="xent",
        optimizer=OptimizerSpec("adam", lr=0.02),
        clip_norm=0.5,
        l2=1e-3,
        dtype=dtype,
        num_layers=case.num_layers,
        bidirectional=case.bidirectional,
    )


def trajectory_batches(steps: int = TRAJECTORY_STEPS, seed: int = 0, batch: int = 8, length: int = 9):
    """Seeded (tokens, lengths, targets) batches; the class depends on the tokens, so loss falls."""
    rng = np.random.default_rng([seed, 13])
    for _ in range(steps):
        tokens = rng.integers(1, 20, size=(batch, length))
        lengths = rng.integers(1, length + 1, size=batch)
        targets = tokens[:, 0] % 3
        yield tokens, lengths, targets


def tree_trajectory_batches(steps: int = TRAJECTORY_STEPS, seed: int = 0):
    """Seeded (leaf ids, TreeBatch, node labels) batches: three of :data:`rnnbench.parity.TREE_TEXTS` a step."""
    from rnnbench.trees import TreeBatch, parse_tree

    trees = [parse_tree(text) for text in parity.TREE_TEXTS]
    rng = np.random.default_rng([seed, 14])
    for _ in range(steps):
        batch = TreeBatch.from_trees([trees[i] for i in sorted(rng.choice(len(trees), 3, replace=False))])
        yield rng.integers(1, 20, size=batch.num_leaves), batch, batch.labels


def loss_curve(backend, cell: str, dtype: str, seed: int = 0) -> np.ndarray:
    """The loss of every step of a trajectory case; a ``-drop`` case draws each step's dropout masks
    from ``default_rng([seed, 0xD7])`` as the runner does, so every backend gets the same ones."""
    from rnnbench.dropout import draw_masks
    from rnnbench.tree_model import TreeModelSpec

    spec = trajectory_spec(cell, dtype)
    _, rate = trajectory_dropout(cell)
    model = backend.build_model(spec, init_model_params(spec, seed=seed))
    batches = tree_trajectory_batches(seed=seed) if isinstance(spec, TreeModelSpec) else trajectory_batches(seed=seed)
    if not rate:
        return np.array([model.train_step(*batch) for batch in batches])
    rng = np.random.default_rng([seed, 0xD7])
    losses = []
    for *inputs, targets in batches:
        losses.append(model.train_step(*inputs, targets, masks=draw_masks(spec, inputs, rate, rng)))
    return np.array(losses)


def trajectory_rows(targets, cells=("rnn", "lstm", "gru"), dtypes=DTYPES, options=None) -> list[Row]:
    """Loss curves of every (backend, impl) against the float64 NumPy curve, step by step."""
    from rnnbench.plugins import get_backend

    reference_backend = get_backend("numpy")
    references = {cell: loss_curve(reference_backend, cell, "float64") for cell in cells}
    rows = []
    for name, impl in targets:
        for cell in cells:
            for dtype in dtypes:
                tolerance = TRAJECTORY_TOLERANCE[dtype]
                if "-L" in cell and not getattr(get_backend(name, impl=impl, **(options or {})), "layered", False):
                    continue  # single layers only (Backend.layered)
                try:
                    curve = loss_curve(get_backend(name, impl=impl, **(options or {})), cell, dtype)
                except Exception as exc:
                    rows.append(_failed_row(name, impl, f"{cell} trajectory", dtype, tolerance, exc))
                    continue
                ref = references[cell]
                step_rel = np.abs(curve - ref) / np.abs(ref)
                worst = int(np.nanargmax(step_rel)) if np.isfinite(step_rel).any() else 0
                max_rel = float(np.max(step_rel)) if np.isfinite(step_rel).all() else float("nan")
                rows.append(
                    Row(
                        name,
                        impl,
                        f"{cell} trajectory",
                        dtype,
                        float(np.max(np.abs(curve - ref))),
                        max_rel,
                        f"step {worst + 1}",
                        tolerance,
                        bool(max_rel <= tolerance),
                    )
                )
    return rows


def available_targets(backends=None) -> list[tuple[str, str]]:
    """(backend, impl) pairs to check: every impl of every available backend by default."""
    from rnnbench.errors import RnnbenchError
    from rnnbench.plugins import get_registry, load_backend

    registry = get_registry()
    names = backends or [name for name, entry in registry.backends.items() if entry.available]
    targets = []
    for name in names:
        entry = registry.backend(name)
        if not entry.available:
            raise RnnbenchError(f"backend {name} is unavailable: {entry.unavailable_reason()}")
        impls = getattr(load_backend(entry), "impls", ("native",))
        targets.extend((name, impl) for impl in impls)
    return targets
