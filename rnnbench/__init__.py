"""rnnbench: recurrent and recursive networks, the same function in NumPy, PyTorch and TensorFlow.

The package root stays light: no framework (and no NumPy-heavy module) is
imported until it is used, so ``rnnbench --help`` is fast.
"""
__version__ = "0.1.0"

__all__ = ["get_backend", "init_params", "__version__"]


def __getattr__(name):
    if name == "get_backend":
        from rnnbench.plugins import get_backend

        return get_backend
    if name == "init_params":
        from rnnbench.params import init_params

        return init_params
    raise AttributeError(f"module 'rnnbench' has no attribute {name!r}")
