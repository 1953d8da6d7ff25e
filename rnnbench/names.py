"""The names a user may choose among (optimizers, poolings, activations), in a module that imports nothing.

Parsers offer them as choices while ``rnnbench --help`` stays fast; the model spec checks against the same tuples,
so a choice the command line accepts is one the model knows.
"""

from __future__ import annotations

OPTIMIZERS = ("adam", "sgd", "adagrad")
#: ``steps`` (a head at every step) is chosen by tasks, not offered on the command line.
POOLINGS = ("mean", "last", "max", "steps")
USER_POOLINGS = ("mean", "last", "max")
ACTIVATIONS = ("tanh", "relu")
DTYPES = ("float32", "float64")
