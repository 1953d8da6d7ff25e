"""rnnbench's contract suite over the JAX backend, from the public kit (rnnbench.testing) alone.

The plugin is registered explicitly from its module, as the kit does, so these
tests need no entry-point autoloading. Tolerances: the kit's (rnnbench check's).
"""

from rnnbench import contract_tests

globals().update(contract_tests("jax", plugin="rnnbench_jax.plugin"))
