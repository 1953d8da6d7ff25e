"""Dropout masks drawn by the runner, in NumPy, and handed to every backend's model with the batch.

Each framework has its own random number generator, so a framework's dropout
layer would drop different units on every backend and no two loss curves could
be compared. Instead the runner draws the masks once per step from one seeded
stream (:func:`draw_masks`) and each model multiplies by them: numpy, torch,
TensorFlow and jax then train on the *same* masks, and ``rnnbench check
--trajectory`` can hold them to 1e-8 in float64 with dropout on.

Inverted dropout: a mask holds 0 or ``1 / (1 - rate)``. Two masks per step:

``input``
    multiplies the encoder's input: the embedded tokens ``[B,T,E]`` (features
    ``[B,T,D]``) of a sequence model, the leaf embeddings ``[L,E]`` of a tree model;
``head``
    multiplies what the linear head reads: the pooled encoder output
    ``[B, encoder_output_size]`` (``[B,T,...]`` for pooling ``steps``) of a
    sequence model, every node state ``h [N,H]`` of a tree model.

Evaluation (``predict``) and the gradient-flow probe run without masks.
"""

from __future__ import annotations

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.params import resolve_dtype

MASK_NAMES = ("input", "head")


def check_rate(rate) -> float:
    """The dropout rate as a float in [0, 1); one error line otherwise."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise RnnbenchError(f"--dropout must lie in [0, 1), got {rate}") from None
    if not 0 <= value < 1:
        raise RnnbenchError(f"--dropout must lie in [0, 1), got {rate}")
    return value


def takes_masks(model) -> bool:
    """Whether ``model.train_step`` accepts the ``masks`` keyword (read off its signature, nothing is run)."""
    import inspect

    try:
        parameters = inspect.signature(model.train_step).parameters
    except (TypeError, ValueError):
        return False
    return "masks" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def mask_shapes(spec, inputs) -> dict[str, tuple[int, ...]]:
    """The shape of each mask for a batch's positional ``inputs`` (without the targets)."""
    from rnnbench.tree_model import TreeModelSpec

    if isinstance(spec, TreeModelSpec):
        leaf_ids, trees = inputs[0], inputs[1]
        return {
            "input": (int(np.shape(leaf_ids)[0]), spec.embed_size),
            "head": (int(trees.num_nodes), spec.hidden_size),
        }
    B, T = np.shape(inputs[0])[:2]
    head = (B, T, spec.encoder_output_size) if spec.pooling == "steps" else (B, spec.encoder_output_size)
    return {"input": (B, T, spec.encoder_input_size), "head": head}


def draw_masks(spec, inputs, rate: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One step's masks, in :data:`MASK_NAMES` order, drawn from ``rng`` in float64 and cast to the spec's dtype."""
    rate = check_rate(rate)
    dtype = resolve_dtype(spec.dtype)
    return {
        name: ((rng.random(shape) >= rate) / (1.0 - rate)).astype(dtype)
        for name, shape in mask_shapes(spec, inputs).items()
    }


def check_masks(spec, inputs, masks) -> dict[str, np.ndarray] | None:
    """``masks`` (None: no dropout) as contiguous arrays of the spec's dtype; one error line when wrong.

    Runs on the NumPy side of every backend's model, like :func:`rnnbench.model.check_model_batch`.
    """
    if masks is None:
        return None
    if not isinstance(masks, dict) or set(masks) != set(MASK_NAMES):
        got = sorted(masks) if isinstance(masks, dict) else type(masks).__name__
        raise RnnbenchError(f"dropout masks must be a dict with keys {list(MASK_NAMES)}, got {got}")
    dtype = resolve_dtype(spec.dtype)
    checked = {}
    for name, shape in mask_shapes(spec, inputs).items():
        mask = np.asarray(masks[name])
        if mask.shape != shape or mask.dtype.kind not in "iuf":
            raise RnnbenchError(
                f"dropout mask {name!r} must be floats {list(shape)}, got {mask.dtype.name} {list(mask.shape)}"
            )
        checked[name] = np.ascontiguousarray(mask, dtype=dtype)
    return checked
