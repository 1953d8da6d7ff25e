"""Recurrent-weight initialisations for long-range training, as transformations of the canonical params.

Every backend starts from :func:`rnnbench.model.init_model_params`; the options
here rewrite only the encoder's recurrent matrix (and, for ``identity``, its
bias), so the data, the head and every other weight stay those of the same seed.

* ``default``: the canonical draw (uniform in ±1/sqrt(H), LSTM forget bias 1).
* ``identity``: ``W_h = I`` and ``b = 0`` for the ``rnn`` cell: with the relu
  activation this is the IRNN of Le, Jaitly & Hinton (2015), whose state is
  carried unchanged until the inputs move it. Gated cells have no single
  recurrent matrix to set to the identity, so they reject it.
* ``orthogonal``: each gate's ``H x H`` block of ``W_h`` an independent random
  orthogonal matrix (Saxe et al. 2014): all singular values 1, so the linear
  part of the recurrence neither shrinks nor grows a gradient.
"""

from __future__ import annotations

import numpy as np

from rnnbench import RnnbenchError

INITS = ("default", "identity", "orthogonal")


def check_init(kind: str, cell: str) -> str:
    if kind not in INITS:
        raise RnnbenchError(f"unknown init {kind!r}; valid: {', '.join(INITS)}")
    if kind == "identity" and cell != "rnn":
        raise RnnbenchError(
            f"init 'identity' is for the rnn cell (IRNN); {cell} has gate blocks: use orthogonal or default"
        )
    return kind


def apply_init(params: dict, cell: str, kind: str, seed: int) -> dict:
    """A copy of model ``params`` with the recurrent weights of ``kind`` (``default``: unchanged)."""
    check_init(kind, cell)
    params = {name: value.copy() for name, value in params.items()}
    if kind == "default":
        return params
    rng = np.random.default_rng([seed, 2])  # apart from the streams of init_model_params ([seed], [seed, 1])
    # every unit of a stacked/bidirectional encoder (encoder.l0.fw.W_h ...), in canonical order
    for key in [k for k in params if k.startswith("encoder.") and k.endswith("W_h")]:
        prefix = key[: -len("W_h")]
        W_h = params[key]
        H = W_h.shape[0]
        if kind == "identity":
            params[key] = np.eye(H, dtype=W_h.dtype)
            params[prefix + "b"] = np.zeros_like(params[prefix + "b"])
            continue
        blocks = [_orthogonal(rng, H) for _ in range(W_h.shape[1] // H)]
        params[key] = np.concatenate(blocks, axis=1).astype(W_h.dtype)
    return params


def _orthogonal(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random orthogonal matrix, uniform over the group (QR of a Gaussian, column signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))
