"""The NumPy reference backend: hand-written forward and backward passes.

Every other backend is judged against this one, so it stays plain: BPTT in
:mod:`.sequence`, backpropagation through structure in :mod:`.tree`, the
trainable model in :mod:`.model`; this class only validates and dispatches.
"""

from __future__ import annotations

import numpy as np

from rnnbench import layers
from rnnbench.backend import (
    Backend,
    check_sequence_cotangents,
    check_sequence_inputs,
    check_tree_cotangents,
    check_tree_inputs,
)
from rnnbench.errors import RnnbenchError

from . import sequence, tree


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self, impl=None, device=None, threads=None):
        if impl not in (None, "native"):
            raise RnnbenchError(f"numpy backend has one implementation, 'native'; got impl={impl!r}")
        if device not in (None, "cpu"):
            raise RnnbenchError(f"numpy backend runs on cpu only; got device={device!r}")
        if threads is not None:
            _set_blas_threads(int(threads))
        super().__init__("native", "cpu", threads)

    def info(self) -> dict:
        return {
            "framework": "numpy",
            "version": np.__version__,
            "impl": self.impl,
            "device": self.device,
            "threads": _blas_threads(),
        }

    layered = True

    def sequence_forward(
        self, cell, params, x, lengths=None, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            x, lengths, _, _ = layers.check_layered_inputs(
                cell, params, x, lengths, state, activation, num_layers, bidirectional
            )
            y, final, _ = layers.forward(
                sequence.forward, cell, params, x, lengths, state, activation, num_layers, bidirectional
            )
            return y, final
        x, lengths, _ = check_sequence_inputs(cell, params, x, lengths, state, activation)
        y, final, _ = sequence.forward(cell, params, x, lengths, state, activation)
        return y, final

    def sequence_backward(
        self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            x, lengths, dtype, H = layers.check_layered_inputs(
                cell, params, x, lengths, state, activation, num_layers, bidirectional
            )
            dy, dfinal = layers.check_layered_cotangents(
                cell, dy, dfinal, *x.shape[:2], H, dtype, num_layers, bidirectional
            )
            _, _, tape = layers.forward(
                sequence.forward, cell, params, x, lengths, state, activation, num_layers, bidirectional
            )
            return layers.backward(sequence.backward, tape, dy, dfinal, H)
        x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
        dy, dfinal = check_sequence_cotangents(cell, dy, dfinal, *x.shape[:2], params["W_h"].shape[0], dtype)
        _, _, cache = sequence.forward(cell, params, x, lengths, state, activation)
        return sequence.backward(cache, dy, dfinal)

    def tree_forward(self, cell, params, x_leaves, trees):
        x_leaves, _ = check_tree_inputs(cell, params, x_leaves, trees)
        states, _ = tree.forward(cell, params, x_leaves, trees)
        return states

    def tree_backward(self, cell, params, x_leaves, trees, dstates):
        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        dstates = check_tree_cotangents(cell, dstates, trees.num_nodes, params["W"].shape[0] // 2, dtype)
        _, cache = tree.forward(cell, params, x_leaves, trees)
        return tree.backward(cache, dstates)

    def sequence_timer(
        self, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            from .layered import sequence_timer as layered_timer

            return layered_timer(cell, params, x, lengths, backward, activation, num_layers, bidirectional)
        from .bench import sequence_timer

        return sequence_timer(cell, params, x, lengths, backward, activation)

    def tree_timer(self, cell, params, x_leaves, trees, backward=False):
        from .bench import tree_timer

        return tree_timer(cell, params, x_leaves, trees, backward)

    #: ``pack``: the ragged loop (LSTM; :mod:`.sequence`): each step runs on the rows still running.
    padding_paths = ("mask", "pack")

    def build_model(self, spec, params, padding="mask"):
        from rnnbench.tree_model import TreeModelSpec

        if padding not in self.padding_paths:
            raise RnnbenchError(f"unknown padding path {padding!r}; valid: {', '.join(self.padding_paths)}")
        if isinstance(spec, TreeModelSpec):
            from .tree_model import NumpyTreeModel

            return NumpyTreeModel(spec, params)
        if padding == "pack" and spec.cell != "lstm":
            from rnnbench.errors import UnsupportedError

            raise UnsupportedError(f"numpy's ragged loop (padding 'pack') is written for the LSTM, not {spec.cell}")
        from .model import NumpyModel

        return NumpyModel(spec, params, padding=padding)


def _threadpool_info() -> list:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [p for p in threadpool_info() if p.get("user_api") == "blas"]


def _blas_threads() -> int | None:
    """BLAS threads actually in effect (None when threadpoolctl is not installed)."""
    pools = _threadpool_info()
    return pools[0]["num_threads"] if pools else None


def _set_blas_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise RnnbenchError("setting numpy threads needs threadpoolctl: pip install threadpoolctl") from exc
    if n < 1:
        raise RnnbenchError(f"threads must be >= 1, got {n}")
    threadpool_limits(limits=n, user_api="blas")
