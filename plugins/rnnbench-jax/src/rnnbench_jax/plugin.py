"""The entry point rnnbench loads (``[project.entry-points.rnnbench] jax = "rnnbench_jax.plugin"``).

Registration only: it names the backend class by import path and its impls, and never
imports jax, so ``rnnbench --help`` and ``rnnbench plugins`` stay fast and ``rnnbench bench``
lists the impls without starting a process to ask.
"""

from rnnbench import Entry, hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(
        Entry(
            "jax",
            "rnnbench_jax.backend:JaxBackend",
            requires=("jax",),
            impls=("native",),
            description="lax.scan under jit, gradients by jax.vjp (rnnbench-jax)",
        )
    )
