"""Shared cases for cross-backend parity: one seeded problem per cell, run anywhere.

``rnnbench check`` and the contract tests both build a case here, evaluate it
on a backend (forward plus the VJP with fixed random cotangents) and compare
every array with the float64 NumPy reference. A case is deliberately awkward:
ragged lengths including a zero-length sequence and a full one, an initial
state, and trees of mixed shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnbench.backend import state_keys
from rnnbench.gradcheck import relative_error
from rnnbench.params import SEQUENCE_CELLS, init_params

#: Largest accepted norm-wise relative error against the float64 reference.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}

#: Mixed shapes: one leaf, a balanced tree, left and right chains, a label-less subtree.
TREE_TEXTS = (
    "(1 word)",
    "(3 (2 (2 a) (2 b)) (4 (1 c) (3 d)))",
    "(0 (1 (2 (3 (4 (0 a) (1 b)) (2 c)) (3 d)) (4 e)) (0 f))",
    "(4 (3 a) (2 (1 b) (0 (1 c) (2 (3 d) (4 e)))))",
    "(2 (2 x) (3 y))",
)


@dataclass
class Case:
    """Inputs, cotangents and parameters (float64) of one parity problem."""

    cell: str
    activation: str
    params: dict
    inputs: dict
    cotangents: dict = field(repr=False)
    num_layers: int = 1
    bidirectional: bool = False

    @property
    def label(self) -> str:
        label = f"{self.cell}-relu" if self.activation == "relu" else self.cell
        if self.layered:
            label += f"-L{self.num_layers}" + ("-bi" if self.bidirectional else "")
        return label

    @property
    def layered(self) -> bool:
        return self.num_layers > 1 or self.bidirectional

    @property
    def layering(self) -> dict:
        """The keywords a layered call adds (none for a single layer, so every backend takes the call)."""
        return {"num_layers": self.num_layers, "bidirectional": self.bidirectional} if self.layered else {}


def sequence_case(
    cell: str,
    activation: str = "tanh",
    seed: int = 0,
    batch: int = 4,
    steps: int = 7,
    input_size: int = 5,
    hidden_size: int = 6,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> Case:
    """Ragged lengths 7, 3, 0, 5: a backward direction that reversed the padded width would read padding."""
    from rnnbench import layers

    rng = np.random.default_rng([seed, 11])
    lengths = np.resize(np.array([steps, 3, 0, steps - 2]), batch)
    x = rng.normal(size=(batch, steps, input_size))
    prefixes = [prefix for _, _, prefix in layers.units(num_layers, bidirectional)]
    keys = [prefix + k for prefix in prefixes for k in state_keys(cell)]
    state = {k: rng.normal(scale=0.5, size=(batch, hidden_size)) for k in keys}
    width = layers.output_size(hidden_size, bidirectional)
    cotangents = {"y": rng.normal(size=(batch, steps, width))}
    cotangents.update({f"final.{k}": rng.normal(size=(batch, hidden_size)) for k in keys})
    params = layers.init_layered_params(
        cell, input_size, hidden_size, num_layers, bidirectional, seed=seed, dtype="float64"
    )
    return Case(
        cell, activation, params, {"x": x, "lengths": lengths, "state": state}, cotangents, num_layers, bidirectional
    )


def tree_case(cell: str, seed: int = 0, hidden_size: int = 6) -> Case:
    from rnnbench.trees import TreeBatch, parse_tree

    trees = TreeBatch.from_trees([parse_tree(text) for text in TREE_TEXTS])
    rng = np.random.default_rng([seed, 12])
    input_size = hidden_size if cell == "recursive" else hidden_size - 1
    x = rng.normal(size=(trees.num_leaves, input_size))
    cotangents = {f"states.{k}": rng.normal(size=(trees.num_nodes, hidden_size)) for k in state_keys(cell)}
    params = init_params(cell, input_size, hidden_size, seed=seed, dtype="float64")
    return Case(cell, "tanh", params, {"x_leaves": x, "trees": trees}, cotangents)


def make_case(label: str, seed: int = 0) -> Case:
    """``rnn``, ``rnn-relu``, ``lstm``, ``gru``, ``recursive`` or ``treelstm``; a sequence cell may add
    ``-L<layers>`` and ``-bi`` (``lstm-L2-bi``: two layers, both directions)."""
    cell, *rest = label.split("-")
    activation, num_layers, bidirectional = "tanh", 1, False
    for part in rest:
        if part == "bi":
            bidirectional = True
        elif part.startswith("L") and part[1:].isdigit():
            num_layers = int(part[1:])
        else:
            activation = part
    if cell in SEQUENCE_CELLS:
        return sequence_case(cell, activation, seed=seed, num_layers=num_layers, bidirectional=bidirectional)
    return tree_case(cell, seed=seed)


CASE_LABELS = ("rnn", "rnn-relu", "lstm", "gru", "recursive", "treelstm")
#: Two layers, both directions, every sequence cell: every unit's parameters, inputs and initial states.
LAYERED_CASE_LABELS = ("rnn-L2-bi", "lstm-L2-bi", "gru-L2-bi")


def evaluate(backend, case: Case, dtype: str) -> dict[str, np.ndarray]:
    """Forward outputs and every gradient of ``case`` on ``backend`` in ``dtype``, by name."""
    cast = lambda a: np.asarray(a, dtype=dtype)  # noqa: E731
    params = {k: cast(v) for k, v in case.params.items()}
    cot = {k: cast(v) for k, v in case.cotangents.items()}
    if "trees" in case.inputs:
        x, trees = cast(case.inputs["x_leaves"]), case.inputs["trees"]
        states = backend.tree_forward(case.cell, params, x, trees)
        dstates = {k.split(".", 1)[1]: v for k, v in cot.items()}
        grads = backend.tree_backward(case.cell, params, x, trees, dstates)
        outputs = {f"states.{k}": v for k, v in states.items()}
    else:
        x, lengths = cast(case.inputs["x"]), case.inputs["lengths"]
        state = {k: cast(v) for k, v in case.inputs["state"].items()}
        y, final = backend.sequence_forward(case.cell, params, x, lengths, state, case.activation, **case.layering)
        dfinal = {k.split(".", 1)[1]: v for k, v in cot.items() if k.startswith("final.")}
        grads = backend.sequence_backward(
            case.cell, params, x, lengths, cot["y"], dfinal, state, case.activation, **case.layering
        )
        outputs = {"y": y, **{f"final.{k}": v for k, v in final.items()}}
    outputs.update({f"grad.{k}": v for k, v in grads.items()})
    return outputs


@dataclass(frozen=True)
class Difference:
    name: str
    max_abs: float
    max_rel: float


def compare(reference: dict, result: dict) -> list[Difference]:
    """Per-array differences; a missing or extra array is an infinite error."""
    differences = []
    for name in sorted(set(reference) | set(result)):
        if name not in reference or name not in result or np.shape(reference[name]) != np.shape(result[name]):
            differences.append(Difference(name, float("inf"), float("inf")))
            continue
        ref, got = np.asarray(reference[name], np.float64), np.asarray(result[name], np.float64)
        max_abs = float(np.max(np.abs(ref - got), initial=0.0))
        differences.append(Difference(name, max_abs, relative_error(got, ref)))
    return differences
