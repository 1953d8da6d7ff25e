"""The entry point rnnbench loads (``[project.entry-points.rnnbench] jax = "rnnbench_jax.plugin"``).

Registration only: it names the backend class by import path and never imports
jax, so ``rnnbench --help`` and ``rnnbench plugins`` stay fast.
"""
from rnnbench import Entry, hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(Entry("jax", "rnnbench_jax.backend:JaxBackend", requires=("jax",),
                   description="lax.scan under jit, gradients by jax.vjp (rnnbench-jax)"))
