"""The entry point: registration only. The impls are declared here, so ``rnnbench bench`` lists them without
importing :mod:`rnnbench_twin.backend`."""

from rnnbench import Entry, hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(
        Entry(
            "twin",
            "rnnbench_twin.backend:TwinBackend",
            requires=("numpy",),
            impls=("native", "copy"),
            description="the NumPy backend under another name (rnnbench's extension-point test)",
        )
    )
