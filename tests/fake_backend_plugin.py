"""A stand-in third-party plugin: what a user's package would ship in its own distribution.

It registers a backend named ``fakenp`` (NumPy underneath) through the
``rnnbench`` entry-point group, so the contract suite can run on a backend that
was loaded exactly as an external one would be.
"""

from rnnbench.entry import Entry
from rnnbench.hookspecs import hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(
        Entry("fakenp", "fake_backend_plugin:FakeBackend", requires=("numpy",), description="third-party test double")
    )


def _backend_class():
    from rnnbench.backends.numpy.backend import NumpyBackend

    class FakeBackend(NumpyBackend):
        name = "fakenp"

    return FakeBackend


def __getattr__(name):
    if name == "FakeBackend":
        return _backend_class()
    raise AttributeError(name)
