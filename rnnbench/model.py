"""The framework-free model spec every backend builds its trainable model from.

A task describes *what* to train (cell, sizes, pooling, loss, optimizer) as a
:class:`ModelSpec`; each backend turns it into its own model with
``backend.build_model(spec, params)``. Initial weights come from
:func:`init_model_params`, so every backend starts from the same numbers.

Model parameter names: ``embedding`` ``[V,E]`` (token inputs only), the
encoder's canonical arrays prefixed ``encoder.`` (``encoder.W_x`` ...), and the
classifier ``head.W`` ``[H,C]``, ``head.b`` ``[C]``.

The model a backend returns offers ``train_step(inputs, lengths, targets) ->
float``, ``loss_and_grads(inputs, lengths, targets) -> (float, dict)``,
``predict(inputs, lengths) -> ndarray [B, C]`` and ``get_params() -> dict``,
all in NumPy. ``inputs`` is int token ids ``[B,T]`` when the spec has a
vocabulary and float features ``[B,T,D]`` otherwise; ``targets`` is int class
ids ``[B]`` for ``xent`` and floats ``[B,C]`` for ``mse``.

Dropout: ``train_step`` and ``loss_and_grads`` take the keyword ``masks``, the
step's masks drawn by the runner (:mod:`rnnbench.dropout`): ``{"input":
[B,T,D], "head": [B, encoder_output_size]}`` (``head`` ``[B,T,...]`` for pooling
``steps``), 0 or ``1/(1-P)``. The model multiplies the encoder's input (the
embedded tokens, or the features) by ``input`` and the pooled output by
``head`` before the head; gradients flow through both. ``masks=None``, the
default, is no dropout, the very computation without the keyword; ``predict``
and ``state_gradient_norms`` take no masks.

A stacked or bidirectional encoder (``num_layers``, ``bidirectional``) names its
arrays per layer and direction (``encoder.l0.fw.W_x``, :mod:`rnnbench.layers`);
pooling then reads the top layer's outputs, both directions concatenated
(``[B,T,2H]``), and ``head.W`` is ``[2H,C]``. ``last`` pooling takes the forward
half at each sequence's last real step and the backward half at its first
(where the backward direction has read the whole sequence).

Pooling ``steps`` keeps every step: the head reads each ``y_t``, outputs are
``[B, T, C]`` and targets int ``[B, T]`` with ``-1`` where nothing is scored
(the copy-memory task scores only its recall steps); the loss is the mean
cross-entropy over the scored positions.

``state_gradient_norms(inputs, lengths, targets) -> ndarray [T]`` is the
gradient-flow diagnostic: the mean over the batch of ``||dL/dh_t||`` for
every step, where ``L`` is the data loss and ``h_t`` the encoder state after
step ``t``, the *total* derivative (through every later step), taken from the
backend's own backward pass.

``loss_and_grads`` returns the full loss and its full gradient (the L2 term
included); ``train_step`` hands :func:`rnnbench.optim.apply_update` the data
gradient alone, since the update adds ``l2 * w`` itself. Token batches are
padded with a valid id (0): every position is looked up, padding included.

Loss: the batch mean of softmax cross-entropy (or of the squared error summed
over outputs, for ``mse``), plus ``0.5 * l2 * sum(w**2)`` over weight matrices
and the embedding (:func:`is_decayed`; biases are not decayed).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from rnnbench.errors import RnnbenchError, UnsupportedError
from rnnbench.layers import init_layered_params
from rnnbench.names import ACTIVATIONS, OPTIMIZERS, POOLINGS
from rnnbench.params import SEQUENCE_CELLS, resolve_dtype

LOSSES = ("xent", "mse")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and its constants; formulas in :mod:`rnnbench.optim`."""

    name: str = "adam"
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise RnnbenchError(f"unknown optimizer {self.name!r}; valid: {', '.join(OPTIMIZERS)}")
        if not self.lr > 0:
            raise RnnbenchError(f"learning rate must be positive, got {self.lr}")


@dataclass(frozen=True)
class ModelSpec:
    """embedding (or features) -> recurrent encoder -> pooling -> linear head -> loss."""

    cell: str
    hidden_size: int
    num_outputs: int
    vocab_size: int | None = None
    embed_size: int | None = None
    input_size: int | None = None
    activation: str = "tanh"
    pooling: str = "mean"
    loss: str = "xent"
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    clip_norm: float | None = None
    l2: float = 0.0
    dtype: str = "float32"
    #: Stacked layers and both directions (rnnbench.layers); pooling reads the top layer's [fw, bw] outputs.
    num_layers: int = 1
    bidirectional: bool = False
    #: Parameters the optimizer leaves as they are (``("embedding",)``: ``--freeze-embeddings``), see
    #: :mod:`rnnbench.optim`: no update, no L2, outside the clipping norm.
    frozen: tuple[str, ...] = ()

    def __post_init__(self):
        if self.cell not in SEQUENCE_CELLS:
            raise RnnbenchError(f"unknown model cell {self.cell!r}; valid: {', '.join(SEQUENCE_CELLS)}")
        from rnnbench.layers import check_layering

        check_layering(self.num_layers, self.bidirectional)
        if self.activation not in ACTIVATIONS or (self.activation == "relu" and self.cell != "rnn"):
            raise RnnbenchError(
                f"activation {self.activation!r} is not available for {self.cell}; "
                "the rnn cell takes tanh or relu, lstm and gru their own gates"
            )
        if self.pooling not in POOLINGS:
            raise RnnbenchError(f"unknown pooling {self.pooling!r}; valid: {', '.join(POOLINGS)}")
        if self.loss not in LOSSES:
            raise RnnbenchError(f"unknown loss {self.loss!r}; valid: {', '.join(LOSSES)}")
        if self.pooling == "steps" and self.loss != "xent":
            raise RnnbenchError("pooling 'steps' (an output at every step) takes the xent loss")
        if (self.vocab_size is None) == (self.input_size is None):
            raise RnnbenchError("a model spec needs exactly one of vocab_size (tokens) or input_size (features)")
        if self.vocab_size is not None and not self.embed_size:
            raise RnnbenchError("a token model needs embed_size")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise RnnbenchError(f"clip_norm must be positive, got {self.clip_norm}")
        resolve_dtype(self.dtype)
        check_frozen(self)

    @property
    def encoder_input_size(self) -> int:
        return self.embed_size if self.vocab_size is not None else self.input_size

    @property
    def layered(self) -> bool:
        """More than one layer or both directions: the encoder's names carry ``l<i>.<fw|bw>.``."""
        return self.num_layers > 1 or self.bidirectional

    @property
    def encoder_output_size(self) -> int:
        """What pooling and the head read: H, or 2H with both directions."""
        return self.hidden_size * (2 if self.bidirectional else 1)

    @property
    def layering(self) -> dict:
        """Keywords for a backend's sequence functions (none for a single layer)."""
        return {"num_layers": self.num_layers, "bidirectional": self.bidirectional} if self.layered else {}


def check_frozen(spec) -> None:
    """``spec.frozen`` as a tuple of the spec's own parameter names; one line naming a stranger."""
    frozen = (spec.frozen,) if isinstance(spec.frozen, str) else tuple(spec.frozen)
    object.__setattr__(spec, "frozen", frozen)
    if frozen:
        names = model_param_shapes(spec)
        unknown = [name for name in frozen if name not in names]
        if unknown:
            raise RnnbenchError(
                f"cannot freeze {', '.join(map(str, unknown))}: not a parameter of this model "
                f"(its parameters: {', '.join(names)})"
            )


def is_decayed(name: str) -> bool:
    """L2 applies to weight matrices and the embedding, not to biases."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "embedding" or leaf.startswith("W")


def init_model_params(spec: ModelSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded canonical model parameters; identical on every machine for one seed."""
    dtype = resolve_dtype(spec.dtype)
    params = {}
    rng = np.random.default_rng([seed, 1])
    if spec.vocab_size is not None:
        params["embedding"] = rng.uniform(-0.1, 0.1, size=(spec.vocab_size, spec.embed_size)).astype(dtype)
    encoder = init_layered_params(
        spec.cell,
        spec.encoder_input_size,
        spec.hidden_size,
        spec.num_layers,
        spec.bidirectional,
        seed=seed,
        dtype=dtype,
    )
    params.update({f"encoder.{name}": value for name, value in encoder.items()})
    bound = 1.0 / np.sqrt(spec.hidden_size)
    params["head.W"] = rng.uniform(-bound, bound, size=(spec.encoder_output_size, spec.num_outputs)).astype(dtype)
    params["head.b"] = np.zeros(spec.num_outputs, dtype=dtype)
    return params


def encoder_params(params: dict) -> dict:
    """The canonical cell parameters inside a model's parameter dict."""
    return {name[len("encoder.") :]: value for name, value in params.items() if name.startswith("encoder.")}


def model_param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Names and shapes of a model's parameters, as :func:`init_model_params` makes them."""
    from rnnbench.layers import layered_param_shapes

    shapes = {}
    if spec.vocab_size is not None:
        shapes["embedding"] = (spec.vocab_size, spec.embed_size)
    for name, shape in layered_param_shapes(
        spec.cell, spec.encoder_input_size, spec.hidden_size, spec.num_layers, spec.bidirectional
    ).items():
        shapes[f"encoder.{name}"] = shape
    shapes["head.W"] = (spec.encoder_output_size, spec.num_outputs)
    shapes["head.b"] = (spec.num_outputs,)
    return shapes


# The checks below run on the NumPy side of every backend's model, before anything
# reaches a framework or a device (a GPU gather returns zeros for an out-of-range id
# instead of failing), so all backends reject bad batches with the same message.


def check_model_params(spec: ModelSpec, params: dict) -> None:
    expected = model_param_shapes(spec)
    if set(params) != set(expected):
        raise RnnbenchError(f"model parameters must be {sorted(expected)}, got {sorted(params)}")
    for name, shape in expected.items():
        if np.shape(params[name]) != shape:
            raise RnnbenchError(f"model parameter {name} must have shape {shape}, got {np.shape(params[name])}")


def check_model_batch(spec: ModelSpec, inputs, lengths) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, lengths)``: int64 token ids or features in the spec's dtype, int64 lengths in [1, T]."""
    inputs = np.asarray(inputs)
    if spec.vocab_size is not None:
        if inputs.ndim != 2 or inputs.dtype.kind not in "iu":
            raise RnnbenchError(
                f"a token model takes int token ids [batch, steps], got {inputs.dtype.name} {inputs.shape}"
            )
        if inputs.size and (inputs.min() < 0 or inputs.max() >= spec.vocab_size):
            raise RnnbenchError(
                f"token ids must lie in [0, {spec.vocab_size}), got min {inputs.min()} max {inputs.max()}"
            )
        inputs = inputs.astype(np.int64, copy=False)
    else:
        if inputs.ndim != 3 or inputs.shape[2] != spec.input_size or inputs.dtype.kind not in "iuf":
            raise RnnbenchError(
                f"a feature model takes float inputs [batch, steps, {spec.input_size}], "
                f"got {inputs.dtype.name} {inputs.shape}"
            )
        inputs = np.ascontiguousarray(inputs, dtype=resolve_dtype(spec.dtype))
    B, T = inputs.shape[:2]
    if B == 0 or T == 0:
        raise RnnbenchError(f"a model batch needs at least one sequence and one step, got {B}x{T}")
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise RnnbenchError(f"lengths must be int [{B}], got {lengths.dtype.name} {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise RnnbenchError(
            f"model lengths must lie in [1, {T}] (pooling over zero steps is undefined), "
            f"got min {lengths.min()} max {lengths.max()}"
        )
    return inputs, lengths.astype(np.int64)


def check_model_targets(spec: ModelSpec, targets, batch: int) -> np.ndarray:
    """int64 class ids ``[B]`` (xent) or floats ``[B, C]`` in the spec's dtype (mse)."""
    targets = np.asarray(targets)
    C = spec.num_outputs
    if spec.pooling == "steps":
        if targets.ndim != 2 or targets.shape[0] != batch or targets.dtype.kind not in "iu":
            raise RnnbenchError(
                f"per-step targets must be int class ids [{batch}, steps] (-1: not scored), "
                f"got {targets.dtype.name} {targets.shape}"
            )
        if targets.min() < -1 or targets.max() >= C or targets.max() < 0:
            raise RnnbenchError(
                f"per-step class ids must lie in [0, {C}) or be -1, with one scored position "
                f"at least; got min {targets.min()} max {targets.max()}"
            )
        return targets.astype(np.int64)
    if spec.loss == "xent":
        if targets.shape != (batch,) or targets.dtype.kind not in "iu":
            raise RnnbenchError(
                f"xent targets must be int class ids [{batch}], got {targets.dtype.name} {targets.shape}"
            )
        if targets.min() < 0 or targets.max() >= C:
            raise RnnbenchError(f"class ids must lie in [0, {C}), got min {targets.min()} max {targets.max()}")
        return targets.astype(np.int64)
    if targets.shape != (batch, C) or targets.dtype.kind not in "iuf":
        raise RnnbenchError(f"mse targets must be floats [{batch}, {C}], got {targets.dtype.name} {targets.shape}")
    return targets.astype(resolve_dtype(spec.dtype))


class TrainableModel(abc.ABC):
    """The base of every backend's model, sequence and tree alike: what the runner calls, NumPy in and out.

    One base with a subclass a backend (as Keras 3 keeps one trainer base): ``backend.build_model(spec,
    params)`` returns an instance. The base checks the initial ``params`` against the spec and sets ``spec``
    and ``dtype``; the subclass then puts them in its framework and implements the four abstract methods (the
    module docstring says what each takes and returns; a tree model takes ``(leaf_ids, trees[, labels])``).
    """

    def __init__(self, spec, params: dict):
        self.spec = spec
        self.dtype = resolve_dtype(spec.dtype)
        check_model_params(spec, params)

    @abc.abstractmethod
    def predict(self, *inputs) -> np.ndarray:
        """Outputs for a batch (logits ``[B, C]``; ``[B, T, C]`` for pooling ``steps``; a tree model's per node)."""

    @abc.abstractmethod
    def loss_and_grads(self, *batch, masks=None) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter, as NumPy arrays."""

    @abc.abstractmethod
    def train_step(self, *batch, masks=None) -> float:
        """One update by :func:`rnnbench.optim.apply_update`'s formulas; the loss before it (L2 included)."""

    @abc.abstractmethod
    def get_params(self) -> dict:
        """The current parameters, NumPy copies in the canonical layout."""

    def state_gradient_norms(self, inputs, lengths, targets) -> np.ndarray:
        """``[T]``: the batch mean of ``||dL/dh_t||`` for every step (sequence models; the gradient-flow probe)."""
        raise UnsupportedError(f"{type(self).__name__} has no gradient-flow probe")
