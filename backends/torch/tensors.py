"""Tensors in and out of torch, for every module of this backend (backend, model, tree model, bench).

One public home for the conversions, so that no module reaches into another's
private helpers and the backend and its models import each other in one
direction only.
"""

from __future__ import annotations

import numpy as np


def to_numpy(tensor) -> np.ndarray:
    """A NumPy copy owned by the caller (a gradient may alias an upstream array otherwise)."""
    return np.array(tensor.detach().cpu().numpy(), copy=True)
