"""Joining a Ray cluster on a loopback address keeps it there (no Ray instance is started here).

Ray rewrites ``127.0.0.1:PORT`` to the machine's external address, where a cluster kept on loopback
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ray start --head``, docs/sweeps.md) does not listen: the sweep then
waited for a minute and failed. ``connect`` must hand Ray the address as given.
"""

from __future__ import annotations

import socket

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rnnbench[ray]' (make install does)")

from rnnbench.sweep import ray_executor  # noqa: E402


@pytest.fixture
def ray_state(monkeypatch):
    """What connect changes in this process (Ray's one-machine switch, its auth mode), put back afterwards."""
    import ray._private.ray_constants as constants

    assert not ray.is_initialized(), "a Ray instance of another test is still up"
    monkeypatch.setattr(constants, "ENABLE_RAY_CLUSTER", constants.ENABLE_RAY_CLUSTER)
    monkeypatch.delenv(ray_executor.LOOPBACK_SWITCH, raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # as set; connect must not turn a chosen mode off
    return constants


class _Driver:
    """Stands in for the ray module: records where ray.init would connect, as Ray resolves it."""

    def __init__(self):
        self.resolved = []

    @staticmethod
    def is_initialized():
        return False

    def init(self, address, **options):
        from ray._private.services import canonicalize_bootstrap_address

        self.resolved.append(canonicalize_bootstrap_address(address))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_address_reaches_ray_as_given(ray_state, host):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        driver = _Driver()
        ray_executor.connect(driver, f"{host}:{port}")
    assert driver.resolved == [f"127.0.0.1:{port}"]


def test_auto_finds_a_loopback_cluster_and_keeps_it_there(ray_state, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # what `auto` reads first (then ray start's record)
    driver = _Driver()
    ray_executor.connect(driver, "auto")
    assert driver.resolved == ["127.0.0.1:6379"]


def test_another_address_is_left_to_ray(ray_state):
    assert not ray_executor._address_on_loopback("192.0.2.7:6379")
    assert not ray_executor._address_on_loopback("ray://127.0.0.1:10001")  # Ray Client: Ray's own business


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.3.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.2", False),
        ("example.org", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert ray_executor.is_loopback(host) is loopback
