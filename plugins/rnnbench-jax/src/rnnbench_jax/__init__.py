"""rnnbench-jax: a JAX backend for rnnbench (registration in :mod:`.plugin`; jax is imported on first use)."""
