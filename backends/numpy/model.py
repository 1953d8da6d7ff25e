"""The NumPy reference model: embedding -> encoder -> pooling -> head -> loss, by hand.

Every other backend's model is judged against this one, so each stage is a
small function with its own backward pass (pooling and loss are module-level
helpers that the tests check on their own), and the optimizer is the shared
formula of :mod:`rnnbench.optim`, never a hand-rolled variant.
"""

from __future__ import annotations

import numpy as np

from rnnbench import layers
from rnnbench.dropout import check_masks
from rnnbench.errors import RnnbenchError
from rnnbench.model import TrainableModel, check_model_batch, check_model_targets, encoder_params
from rnnbench.optim import NumpyOps, apply_update, init_state, is_regularised, l2_penalty

from . import sequence


class Trainable(TrainableModel):
    """What every NumPy model shares: its parameters, the L2 term and the shared update.

    A subclass implements ``_data_loss_and_grads(*batch) -> (float, grads)``:
    the data loss and its gradient by hand; ``*batch`` is what its
    ``train_step`` takes (sequences: inputs, lengths, targets; trees: leaf ids,
    TreeBatch, labels), and the keyword ``masks`` (:mod:`rnnbench.dropout`; None: no dropout).
    """

    def __init__(self, spec, params: dict):
        super().__init__(spec, params)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in params.items()}
        self.opt_state = init_state(spec, self.params, np.zeros_like)

    def loss_and_grads(self, *batch, masks=None) -> tuple[float, dict]:
        """The full loss (L2 penalty included) and its gradient for every parameter."""
        data_loss, grads = self._data_loss_and_grads(*batch, masks=masks)
        l2 = self.spec.l2
        if l2:
            grads = {k: g + l2 * self.params[k] if is_regularised(self.spec, k) else g for k, g in grads.items()}
        return data_loss + self._penalty(), grads

    def train_step(self, *batch, masks=None) -> float:
        """One optimizer step; returns the loss before it (L2 penalty included).

        The data-only gradient goes to :func:`rnnbench.optim.apply_update`,
        which adds the L2 term itself, exactly as the other backends do.
        ``masks``: the step's dropout masks (:mod:`rnnbench.dropout`), None for none.
        """
        data_loss, grads = self._data_loss_and_grads(*batch, masks=masks)
        loss = data_loss + self._penalty()
        self.params = apply_update(self.spec, self.params, grads, self.opt_state, NumpyOps)
        return loss

    def get_params(self) -> dict:
        return {k: v.copy() for k, v in self.params.items()}

    def _penalty(self) -> float:
        return float(l2_penalty(self.spec, self.params, NumpyOps))


class NumpyModel(Trainable):
    """A trainable model for a :class:`~rnnbench.model.ModelSpec`; all inputs and outputs are NumPy.

    ``padding`` ``"pack"`` sorts each ragged training batch longest first, so that the encoder's
    ragged loop runs every step on the rows still running (:mod:`.sequence`); the loss is the batch
    mean either way and the gradients are sums over the batch, so only their rounding changes.
    """

    def __init__(self, spec, params: dict, padding: str = "mask"):
        super().__init__(spec, params)
        self.padding = padding

    # -- public interface (rnnbench.model) ---------------------------------------------------

    def predict(self, inputs, lengths) -> np.ndarray:
        """Logits ``[B, C]`` (outputs, for ``mse``); ``[B, T, C]`` for pooling ``steps``."""
        _, x, lengths = self._check_inputs(inputs, lengths)
        return self._forward(x, lengths)[0]

    def state_gradient_norms(self, inputs, lengths, targets) -> np.ndarray:
        """``[T]``: the batch mean of ``||dL/dh_t||`` (data loss), read off this model's own BPTT."""
        ids, x, lengths = self._check_inputs(inputs, lengths)
        B, T, _ = x.shape
        state_grads = np.empty((B, T, self.spec.hidden_size), dtype=self.dtype)
        self._data_loss_and_grads(inputs, lengths, targets, state_grads)
        return np.linalg.norm(state_grads, axis=2).mean(axis=0)

    # -- composition ---------------------------------------------------------------------------

    def _data_loss_and_grads(self, inputs, lengths, targets, state_grads=None, masks=None):
        """Data loss and gradients; ``state_grads [B,T,H]``, if given, receives every ``dL/dh_t``.

        ``masks`` (dropout, :mod:`rnnbench.dropout`): ``input`` multiplies the encoder's input,
        ``head`` the pooled output the head reads; the gradients flow back through both.
        """
        ids, x, lengths = self._check_inputs(inputs, lengths)
        targets = self._check_targets(targets, len(lengths))
        masks = check_masks(self.spec, (inputs, lengths), masks)
        order = _longest_first(lengths) if self.padding == "pack" and state_grads is None else None
        if order is not None:  # the ragged loop: rows sorted longest first (a permutation of a batch mean)
            ids = ids[order] if ids is not None else None
            x, lengths, targets = x[order], lengths[order], targets[order]
            masks = None if masks is None else {k: v[order] for k, v in masks.items()}
        if masks is not None:
            x = x * masks["input"]
        outputs, pooled, pool_index, cache = self._forward(x, lengths, None if masks is None else masks["head"])
        if self.spec.pooling == "steps":
            loss, doutputs = _steps_xent_and_doutputs(outputs, targets)
        else:
            loss, doutputs = loss_and_doutputs(self.spec.loss, outputs, targets)
        # pooled is [B,H], or [B,T,H] for steps: the head is the same map at every position
        H, C = self.params["head.W"].shape
        grads = {
            "head.W": pooled.reshape(-1, H).T @ doutputs.reshape(-1, C),
            "head.b": doutputs.reshape(-1, C).sum(axis=0),
        }
        dpooled = doutputs @ self.params["head.W"].T
        if masks is not None:
            dpooled = dpooled * masks["head"]
        dy = _pool_backward(self.spec.pooling, dpooled, lengths, x.shape[1], pool_index, self._backward_half)
        if self.spec.layered:
            encoder_grads = layers.backward(sequence.backward, cache, dy, {}, self.spec.hidden_size, state_grads)
        else:
            encoder_grads = sequence.backward(cache, dy, None, state_grads)
        dx = encoder_grads.pop("x")
        if masks is not None:
            dx = dx * masks["input"]
        grads.update({f"encoder.{k}": g for k, g in encoder_grads.items() if k not in ("h0", "c0")})
        if self.spec.vocab_size is not None:
            grads["embedding"] = embedding_backward(ids, dx, self.params["embedding"].shape)
        return float(loss), {k: np.asarray(grads[k], dtype=self.dtype) for k in self.params}

    def _forward(self, x, lengths, head_mask=None):
        """Returns (outputs [B,C], what the head read [B,H], pooling index, encoder cache); [B,T,...] for steps.

        ``head_mask`` (dropout) multiplies the pooled output before the head.
        """
        spec = self.spec
        if spec.layered:
            y, _, cache = layers.forward(
                sequence.forward,
                spec.cell,
                encoder_params(self.params),
                x,
                lengths,
                None,
                spec.activation,
                spec.num_layers,
                spec.bidirectional,
            )
        else:
            y, _, cache = sequence.forward(spec.cell, encoder_params(self.params), x, lengths, None, spec.activation)
        pooled, pool_index = _pool_forward(spec.pooling, y, lengths, self._backward_half)
        if head_mask is not None:
            pooled = pooled * head_mask
        outputs = pooled @ self.params["head.W"] + self.params["head.b"]
        return outputs, pooled, pool_index, cache

    @property
    def _backward_half(self):
        """Where the backward direction's half of ``y`` starts (for ``last`` pooling); None if unidirectional."""
        return self.spec.hidden_size if self.spec.bidirectional else None

    # -- validation ----------------------------------------------------------------------------

    def _check_inputs(self, inputs, lengths):
        """Return ``(ids or None, x [B,T,D], int64 lengths)``: x is the embedded tokens or the features."""
        inputs, lengths = check_model_batch(self.spec, inputs, lengths)
        if self.spec.vocab_size is None:
            return None, inputs, lengths
        return inputs, self.params["embedding"][inputs], lengths

    def _check_targets(self, targets, batch):
        return check_model_targets(self.spec, targets, batch)


def _longest_first(lengths: np.ndarray):
    """The permutation that sorts a ragged batch longest first; None when it is sorted so or not ragged."""
    if lengths.size < 2 or int(lengths.min()) == int(lengths.max()) or bool(np.all(lengths[:-1] >= lengths[1:])):
        return None
    return np.argsort(-lengths, kind="stable")


def _step_mask(lengths, steps) -> np.ndarray:
    """``[B, T]`` bool: True at the real (unpadded) steps."""
    return np.arange(steps)[None, :] < lengths[:, None]


def _pool_forward(kind: str, y: np.ndarray, lengths: np.ndarray, backward_half=None):
    """Pool ``y [B,T,H]`` over each sequence's real steps; returns ``(pooled [B,H], index)``.

    ``index`` is what the backward pass needs beyond the lengths: the argmax
    step per (row, unit) for ``max``, None otherwise. ``steps`` keeps every
    step: "pooled" is ``y [B,T,H]`` itself (zero past each length).
    ``backward_half`` (bidirectional): units from there on are the backward
    direction, whose ``last`` is step 0 (it has read the whole sequence there).
    """
    if kind == "last" and backward_half is not None:
        B = y.shape[0]
        return np.concatenate([y[np.arange(B), lengths - 1, :backward_half], y[:, 0, backward_half:]], axis=1), None
    B, T, _ = y.shape
    if kind == "steps":
        return y, None
    mask = _step_mask(lengths, T)[:, :, None]
    if kind == "mean":
        return np.where(mask, y, 0).sum(axis=1) / lengths[:, None].astype(y.dtype), None
    if kind == "last":
        return y[np.arange(B), lengths - 1], None
    if kind == "max":
        index = np.where(mask, y, -np.inf).argmax(axis=1)  # [B, H]
        return np.take_along_axis(y, index[:, None, :], axis=1)[:, 0], index
    raise RnnbenchError(f"unknown pooling {kind!r}")


def _pool_backward(
    kind: str, dpooled: np.ndarray, lengths: np.ndarray, steps: int, index, backward_half=None
) -> np.ndarray:
    """The gradient ``dy [B,T,H]`` of :func:`_pool_forward`; zero at padded steps."""
    if kind == "last" and backward_half is not None:
        B, H = dpooled.shape
        dy = np.zeros((B, steps, H), dtype=dpooled.dtype)
        dy[np.arange(B), lengths - 1, :backward_half] = dpooled[:, :backward_half]
        dy[:, 0, backward_half:] = dpooled[:, backward_half:]
        return dy
    if kind == "steps":
        return np.where(_step_mask(lengths, steps)[:, :, None], dpooled, 0).astype(dpooled.dtype, copy=False)
    B, H = dpooled.shape
    dy = np.zeros((B, steps, H), dtype=dpooled.dtype)
    if kind == "mean":
        mask = _step_mask(lengths, steps)[:, :, None]
        dy[...] = np.where(mask, (dpooled / lengths[:, None].astype(dpooled.dtype))[:, None, :], 0)
    elif kind == "last":
        dy[np.arange(B), lengths - 1] = dpooled
    elif kind == "max":
        np.put_along_axis(dy, index[:, None, :], dpooled[:, None, :], axis=1)
    else:
        raise RnnbenchError(f"unknown pooling {kind!r}")
    return dy


def loss_and_doutputs(kind: str, outputs: np.ndarray, targets: np.ndarray):
    """Batch-mean loss (without L2) and its gradient w.r.t. ``outputs [B,C]``."""
    B = outputs.shape[0]
    if kind == "xent":
        shifted = outputs - outputs.max(axis=1, keepdims=True)  # log-softmax without overflow
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_norm
        rows = np.arange(B)
        loss = -log_probs[rows, targets].mean()
        doutputs = np.exp(log_probs)
        doutputs[rows, targets] -= 1
        return loss, doutputs / B
    if kind == "mse":
        diff = outputs - targets
        return (diff * diff).sum(axis=1).mean(), diff * (2.0 / B)
    raise RnnbenchError(f"unknown loss {kind!r}")


def _steps_xent_and_doutputs(outputs: np.ndarray, targets: np.ndarray):
    """Mean softmax cross-entropy over the scored positions (``targets >= 0``) of ``outputs [B,T,C]``.

    Unscored positions (``-1``) get a zero gradient; the mean is over the
    scored positions of the whole batch, not per sequence.
    """
    B, T, C = outputs.shape
    flat = outputs.reshape(B * T, C)
    labels = targets.reshape(B * T)
    scored = labels >= 0
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.flatnonzero(scored)
    count = len(rows)
    loss = -log_probs[rows, labels[rows]].sum() / count
    doutputs = np.exp(log_probs)
    doutputs[rows, labels[rows]] -= 1
    doutputs *= (scored / count)[:, None]
    return loss, doutputs.reshape(B, T, C)


def embedding_backward(ids: np.ndarray, dx: np.ndarray, shape) -> np.ndarray:
    """Scatter-add ``dx [B,T,E]`` into the rows of the tokens that appear (the rest stay zero)."""
    grad = np.zeros(shape, dtype=dx.dtype)
    np.add.at(grad, np.asarray(ids).reshape(-1), dx.reshape(-1, shape[1]))
    return grad
