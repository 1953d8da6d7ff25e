"""The twin backend: NumPy's, wrapped under another name, with two impls, a bare timer and a plain train step.

It reaches the NumPy backend through the public API (:func:`rnnbench.get_backend`), never through
``rnnbench.backends.numpy``, as a stranger's package would.
"""

from __future__ import annotations

import numpy as np

from rnnbench import Backend, RnnbenchError, get_backend, sequence_cotangent


class TwinBackend(Backend):
    """``native`` hands the inputs to NumPy's functions as they are; ``copy`` hands them fresh copies (as a
    framework that owns its memory would), so the two impls are two paths that must agree."""

    name = "twin"
    impls = ("native", "copy")
    layered = True
    has_bare_timer = True
    has_plain_train_step = True

    def __init__(self, impl=None, device=None, threads=None):
        impl = impl or self.impls[0]
        if impl not in self.impls:
            raise RnnbenchError(f"unknown twin impl {impl!r}; valid: {', '.join(self.impls)}")
        self.numpy = get_backend("numpy", device=device, threads=threads)
        super().__init__(impl, self.numpy.device, threads)

    def info(self) -> dict:
        return {**self.numpy.info(), "impl": self.impl}

    def _inputs(self, *arrays):
        if self.impl == "native":
            return arrays
        return tuple(_copied(a) for a in arrays)

    def sequence_forward(
        self, cell, params, x, lengths=None, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        params, x, lengths, state = self._inputs(params, x, lengths, state)
        return self.numpy.sequence_forward(cell, params, x, lengths, state, activation, num_layers, bidirectional)

    def sequence_backward(
        self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        params, x, lengths, dy, dfinal, state = self._inputs(params, x, lengths, dy, dfinal, state)
        return self.numpy.sequence_backward(
            cell, params, x, lengths, dy, dfinal, state, activation, num_layers, bidirectional
        )

    def tree_forward(self, cell, params, x_leaves, trees):
        params, x_leaves = self._inputs(params, x_leaves)
        return self.numpy.tree_forward(cell, params, x_leaves, trees)

    def tree_backward(self, cell, params, x_leaves, trees, dstates):
        params, x_leaves, dstates = self._inputs(params, x_leaves, dstates)
        return self.numpy.tree_backward(cell, params, x_leaves, trees, dstates)

    def build_model(self, spec, params):
        return self.numpy.build_model(spec, *self._inputs(params))

    def sequence_timer(
        self, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
    ):
        params, x, lengths = self._inputs(params, x, lengths)
        return self.numpy.sequence_timer(cell, params, x, lengths, backward, activation, num_layers, bidirectional)

    def tree_timer(self, cell, params, x_leaves, trees, backward=False):
        params, x_leaves = self._inputs(params, x_leaves)
        return self.numpy.tree_timer(cell, params, x_leaves, trees, backward)

    # -- the optional extension points its flags announce ----------------------------------------

    def bare_sequence_timer(self, cell, params, x, backward=False):
        """NumPy's sequence functions called directly, with none of the harness: the loop a NumPy user times."""
        forward, vjp = self.numpy.sequence_forward, self.numpy.sequence_backward
        if not backward:

            def run():
                forward(cell, params, x)
        else:
            dy = sequence_cotangent(x.shape[0], x.shape[1], params["W_h"].shape[0], x.dtype)

            def run():
                vjp(cell, params, x, None, dy, None)

        run.method = "the numpy backend's sequence_forward/sequence_backward called directly"
        return run

    def plain_train_step(self, spec, params):
        """NumPy's model for ``spec`` stepped by hand, one ``train_step`` a batch."""
        model = self.numpy.build_model(spec, params)

        def step(batch):
            ids, lengths, targets = batch
            return model.train_step(ids, lengths, targets)

        step.method = "the numpy backend's model, train_step called by hand"
        return step


def _copied(value):
    """A fresh copy of an array, or of each array in a dict; None stays None."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {key: _copied(v) for key, v in value.items()}
    return np.array(value, copy=True)
