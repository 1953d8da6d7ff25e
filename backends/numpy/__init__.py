"""NumPy reference backend plugin (registration only; the code lives in .backend)."""

from rnnbench.entry import Entry
from rnnbench.hookspecs import hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(
        Entry(
            "numpy",
            "rnnbench.backends.numpy.backend:NumpyBackend",
            requires=("numpy",),
            impls=("native",),
            description="hand-written forward and backward passes; the reference",
        )
    )
