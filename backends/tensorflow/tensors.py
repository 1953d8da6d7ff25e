"""TensorFlow, loaded quietly, and the tensors every module of this backend shares.

The backend, its models, its bench timers and its layered encoders import
from here (and never from each other's private helpers), so the backend and
its timers import each other in one direction only.
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

from rnnbench.errors import RnnbenchError

# Quiet TensorFlow's C++ logging (start-up lines, "no CUDA driver" on CPU machines) unless the
# user chose a level; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence fd 2 while TensorFlow loads: some of its start-up lines are written
    before its log level is read. Skipped when the user set a verbose level."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") < "2":
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with quiet_native_stderr():
    import tensorflow as tf


def hidden_size(params) -> int:
    """Rows of the recurrent matrix: H for sequence cells, 2H for tree cells."""
    return int(np.shape(params["W_h"] if "W_h" in params else params["W"])[0])


def tensors(params, dtype) -> dict:
    """Canonical NumPy parameters as TensorFlow constants of ``dtype``."""
    return {k: tf.constant(np.asarray(v, dtype)) for k, v in params.items()}


@functools.lru_cache(maxsize=None)
def check_xla(tf_device, device) -> None:
    """Compile a trivial function so that an XLA-less build fails here, with a reason (once per device).

    Eagerly even when asked while a function is being traced (``init_scope``): inside a trace
    ``.numpy()`` fails, which read as "no XLA" and left the model's fused update op by op.
    """
    try:
        with tf.init_scope(), tf.device(tf_device):
            tf.function(lambda a: a * 2.0, jit_compile=True)(tf.ones(2)).numpy()
    except Exception as exc:  # noqa: BLE001  (any failure means XLA is unusable here)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RnnbenchError(f"impl 'xla' is unavailable on {device}: XLA could not compile ({first_line})") from exc
