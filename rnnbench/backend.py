"""The functional contract every backend implements (docs/design.md §2).

Inputs and outputs are NumPy arrays in the canonical layout of
:mod:`rnnbench.params`; a backend converts to its framework inside and never
lets a framework type out. The checks shared by all backends live here, once.
"""

from __future__ import annotations

import abc

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.names import ACTIVATIONS
from rnnbench.params import SEQUENCE_CELLS, TREE_CELLS, param_shapes, resolve_dtype


class Backend(abc.ABC):
    """Base class of a backend. Subclasses set ``name`` and implement the four functions.

    An abstract base class: a backend plugin that leaves out one of the four
    functions, ``info`` or ``build_model`` is refused by name when it is loaded
    (:func:`rnnbench.plugins.load_backend`), not in the middle of a run.

    ``sequence_forward(cell, params, x, lengths=None, state=None, activation="tanh")``
        x ``[B,T,D]``, lengths ``[B]`` (None: all T), state ``{"h": [B,H], "c": [B,H]}``
        (None: zeros). Returns ``(y [B,T,H], final)`` with ``final = {"h", "c" (lstm)}``.
        Outputs past a sequence's length are zero; its final state is the state after
        step ``length``.
    ``sequence_backward(cell, params, x, lengths, dy, dfinal, state=None, activation="tanh")``
        The vector-Jacobian product of ``sequence_forward``: ``dy`` is ``[B,T,H]``,
        ``dfinal`` a dict like ``final`` (missing keys or None mean zero). Returns a dict
        with every parameter name, ``"x"``, and ``"h0"``/``"c0"`` when ``state`` is given.
    ``num_layers`` (>= 1) and ``bidirectional`` (both functions; backends with ``layered``)
        A stacked and/or bidirectional encoder: parameters, states and their
        gradients named per layer and direction (``l0.fw.W_x``, ``l1.bw.h0``), ``y``
        ``[B,T,2H]`` with both directions; see :mod:`rnnbench.layers`. The defaults
        are the single-layer call above, unchanged.
    ``tree_forward(cell, params, x_leaves, trees)``
        x_leaves ``[L,D]`` (row i feeds leaf node i of the :class:`~rnnbench.trees.TreeBatch`
        ``trees``). Returns node states ``{"h": [N,H], "c": [N,H] (treelstm)}``.
    ``tree_backward(cell, params, x_leaves, trees, dstates)``
        The vector-Jacobian product of ``tree_forward``; returns every parameter and ``"x"``.

    Optional: the timers of ``rnnbench bench`` (``sequence_timer``, ``tree_timer``), and the extension
    points announced by capability flags (:data:`CAPABILITIES`): ``bare_sequence_timer`` when
    ``has_bare_timer``, ``plain_train_step`` when ``has_plain_train_step``.
    """

    name = "base"
    #: Implementations a user can pick with ``impl=``; the first is the default.
    impls: tuple[str, ...] = ("native",)

    def __init__(self, impl: str | None = None, device: str | None = None, threads: int | None = None):
        """``impl`` picks an implementation (e.g. torch ``native``/``loop``), ``device`` a device
        (``cpu``, ``cuda:0``, ``gpu``), ``threads`` the framework's intra-op thread count.
        A backend raises :class:`RnnbenchError` for a value it cannot honour."""
        self.impl = impl
        self.device = device
        self.threads = threads

    @abc.abstractmethod
    def info(self) -> dict:
        """What a result record needs to know: framework, version, impl, device, threads used."""
        raise NotImplementedError

    @abc.abstractmethod
    def build_model(self, spec, params):
        """A trainable model for :class:`rnnbench.model.ModelSpec` ``spec`` from canonical ``params``.

        A backend that lists more than ``"mask"`` in :attr:`padding_paths` also takes the keyword
        ``padding`` (one of them); it is only ever passed to such a backend."""
        raise NotImplementedError

    #: How the models of this backend can treat the padded steps of a ragged batch: ``"mask"`` (every
    #: step computed, the padded ones masked out: the default) and ``"pack"`` (the padded steps skipped,
    #: e.g. torch's ``pack_padded_sequence``). Both give the same numbers; ``bench --suite lengths``
    #: times each path the backend lists.
    padding_paths: tuple[str, ...] = ("mask",)

    #: True when ``sequence_forward``/``sequence_backward`` take ``num_layers`` and ``bidirectional``
    #: (stacked and bidirectional encoders, :mod:`rnnbench.layers`); a backend without it is
    #: checked on single layers only.
    layered = False

    @abc.abstractmethod
    def sequence_forward(
        self, cell, params, x, lengths=None, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        raise NotImplementedError

    @abc.abstractmethod
    def sequence_backward(
        self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        raise NotImplementedError

    @abc.abstractmethod
    def tree_forward(self, cell, params, x_leaves, trees):
        raise NotImplementedError

    @abc.abstractmethod
    def tree_backward(self, cell, params, x_leaves, trees, dstates):
        raise NotImplementedError

    # -- timing (``rnnbench bench``) ----------------------------------------------------------

    def sequence_timer(
        self, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
    ):
        """A zero-argument callable that runs one ``sequence_forward`` (``backward``: forward and
        the vector-Jacobian product for a fixed, seeded upstream ``dy``) and returns None.
        ``num_layers``/``bidirectional`` time a layered encoder (backends with ``layered``).

        Everything is converted to the framework once, here, so the callable times the
        framework's own work and no NumPy conversion; the device is synchronised before it
        returns, so a clock read after it sees finished work.
        """
        raise RnnbenchError(f"backend {self.name} cannot be timed: it does not implement sequence_timer")

    def tree_timer(self, cell, params, x_leaves, trees, backward=False):
        """As :meth:`sequence_timer`, for ``tree_forward`` (``backward``: with fixed upstream
        gradients on every node state)."""
        raise RnnbenchError(f"backend {self.name} cannot be timed: it does not implement tree_timer")

    # -- optional extension points, each announced by a capability flag ------------------------
    # A caller reads the flag (on the class, nothing is called or imported) and calls the method only when
    # it is set; :func:`rnnbench.plugins.load_backend` refuses a flag whose method is not implemented.

    #: True when :meth:`bare_sequence_timer` is offered (``rnnbench bench --overhead`` then also times the
    #: framework's own layer, called as a user would call it).
    has_bare_timer = False
    #: True when :meth:`plain_train_step` is offered (``rnnbench bench --train`` then times the loop a user of
    #: the framework writes beside the backend's own ``train_step``).
    has_plain_train_step = False

    def bare_sequence_timer(self, cell, params, x, backward=False):
        """As :meth:`sequence_timer` (one layer, full lengths, tanh), but through the framework's own layer
        called directly (``torch.nn.LSTM``), the loop a user would time by hand: the baseline against which
        ``rnnbench bench --overhead`` measures the harness. The callable carries ``method``, a phrase saying
        what it runs (the row's ``bare_framework_method``). Offered when :attr:`has_bare_timer` is set."""
        raise RnnbenchError(f"backend {self.name} offers no bare timer (has_bare_timer is False)")

    def plain_train_step(self, spec, params):
        """The training step a user of the framework writes for :class:`~rnnbench.model.ModelSpec` ``spec``,
        holding the same initial ``params`` as ``build_model(spec, params)``: a callable
        ``step((ids, lengths, targets))`` carrying a ``method`` phrase, or None for a spec it has no plain
        loop for. ``rnnbench bench --train`` times it against the model's ``train_step`` on the same batches.
        Offered when :attr:`has_plain_train_step` is set."""
        raise RnnbenchError(f"backend {self.name} offers no plain train step (has_plain_train_step is False)")


#: Capability flag -> the optional :class:`Backend` method it announces.
CAPABILITIES = {"has_bare_timer": "bare_sequence_timer", "has_plain_train_step": "plain_train_step"}


def state_keys(cell: str) -> tuple[str, ...]:
    """The state a cell carries: ``h`` for all, plus the memory ``c`` for LSTMs."""
    return ("h", "c") if cell in ("lstm", "treelstm") else ("h",)


def check_sequence_inputs(cell, params, x, lengths=None, state=None, activation="tanh"):
    """Validate a sequence call once for all backends; return ``(x, lengths, dtype)``.

    ``lengths`` comes back as an int64 array (all ``T`` when None), ``x`` as a
    C-contiguous array of the parameters' dtype.
    """
    if cell not in SEQUENCE_CELLS:
        raise RnnbenchError(f"unknown sequence cell {cell!r}; valid: {', '.join(SEQUENCE_CELLS)}")
    if activation not in ACTIVATIONS:
        raise RnnbenchError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    if activation != "tanh" and cell != "rnn":
        raise RnnbenchError(f"activation={activation!r} applies to the rnn cell only, not {cell}")
    x = np.asarray(x)
    if x.ndim != 3:
        raise RnnbenchError(f"x must be [batch, steps, features], got shape {x.shape}")
    B, T, D = x.shape
    dtype = param_dtype(params)
    H = _hidden_size(cell, params)
    _check_param_shapes(cell, params, D, H)
    if lengths is None:
        lengths = np.full(B, T, dtype=np.int64)
    else:
        lengths = np.asarray(lengths).astype(np.int64, copy=False)
        if lengths.shape != (B,):
            raise RnnbenchError(f"lengths must have shape ({B},), got {lengths.shape}")
        if lengths.size and (lengths.min() < 0 or lengths.max() > T):
            raise RnnbenchError(f"lengths must lie in [0, {T}], got min {lengths.min()} max {lengths.max()}")
    if state is not None:
        for key in state_keys(cell):
            if key not in state:
                raise RnnbenchError(f"initial state for {cell} needs key {key!r}")
            if np.shape(state[key]) != (B, H):
                raise RnnbenchError(f"state[{key!r}] must have shape ({B}, {H}), got {np.shape(state[key])}")
    return np.ascontiguousarray(x, dtype=dtype), lengths, dtype


def check_tree_inputs(cell, params, x_leaves, trees):
    """Validate a tree call once for all backends; return ``(x_leaves, dtype)``."""
    if cell not in TREE_CELLS:
        raise RnnbenchError(f"unknown tree cell {cell!r}; valid: {', '.join(TREE_CELLS)}")
    x_leaves = np.asarray(x_leaves)
    if x_leaves.ndim != 2 or x_leaves.shape[0] != trees.num_leaves:
        raise RnnbenchError(f"x_leaves must be [{trees.num_leaves}, features] for this TreeBatch, got {x_leaves.shape}")
    dtype = param_dtype(params)
    H = _hidden_size(cell, params)
    _check_param_shapes(cell, params, x_leaves.shape[1], H)
    return np.ascontiguousarray(x_leaves, dtype=dtype), dtype


def param_dtype(params) -> np.dtype:
    dtypes = {np.asarray(v).dtype for v in params.values()}
    if len(dtypes) != 1:
        raise RnnbenchError(f"parameters mix dtypes {sorted(d.name for d in dtypes)}; use one")
    return resolve_dtype(dtypes.pop())


def _hidden_size(cell, params) -> int:
    key = {"rnn": "W_h", "lstm": "W_h", "gru": "W_h", "recursive": "W", "treelstm": "W"}[cell]
    if key not in params:
        raise RnnbenchError(f"{cell} parameters lack {key!r}; got {sorted(params)}")
    return int(np.shape(params[key])[0]) // (2 if cell in TREE_CELLS else 1)


def _check_param_shapes(cell, params, input_size, hidden_size):
    expected = param_shapes(cell, input_size, hidden_size)
    if set(params) != set(expected):
        raise RnnbenchError(f"{cell} parameters must be {sorted(expected)}, got {sorted(params)}")
    for name, shape in expected.items():
        if np.shape(params[name]) != shape:
            raise RnnbenchError(f"{cell} parameter {name} must have shape {shape}, got {np.shape(params[name])}")


def check_sequence_cotangents(cell, dy, dfinal, batch, steps, hidden, dtype):
    """Upstream gradients of a sequence call: ``(dy or None, {key: array})``.

    Absent or None entries mean zero and are left out; an unknown state key or
    a wrong shape is an error, cast to ``dtype`` otherwise. One rule for all
    backends, so none silently drops a gradient it does not recognise.
    """
    checked = cotangents(cell, {"dy": dy}, {"dy": (batch, steps, hidden)}, dtype, "upstream")
    final = cotangents(cell, dfinal, {k: (batch, hidden) for k in state_keys(cell)}, dtype, "dfinal")
    return checked.get("dy"), final


def check_tree_cotangents(cell, dstates, num_nodes, hidden, dtype) -> dict:
    """Upstream gradients of a tree call, by state key (absent = zero), as for sequences."""
    return cotangents(cell, dstates, {k: (num_nodes, hidden) for k in state_keys(cell)}, dtype, "dstates")


def cotangents(cell, upstream, shapes, dtype, what) -> dict:
    upstream = {k: v for k, v in (upstream or {}).items() if v is not None}
    unknown = sorted(set(upstream) - set(shapes))
    if unknown:
        raise RnnbenchError(f"{what} has key {unknown[0]!r}, but {cell} has {', '.join(shapes)}")
    checked = {}
    for key, value in upstream.items():
        value = np.asarray(value, dtype=dtype)
        if value.shape != shapes[key]:
            raise RnnbenchError(f"{what}[{key!r}] must have shape {shapes[key]}, got {value.shape}")
        checked[key] = value
    return checked
