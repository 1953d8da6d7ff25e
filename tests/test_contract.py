"""The contract suite over every backend, builtin or third-party, through the public kit.

The tests themselves live in :mod:`rnnbench.testing` (installed, so a plugin's
own tests run exactly these); here they run over the builtin backends and over
a simulated third-party plugin loaded through the ``rnnbench`` entry-point
group. A backend whose framework is missing is skipped with the reason (a
failure where RNNBENCH_REQUIRE_BACKENDS names it). Tolerances: those of
``rnnbench check`` (:data:`rnnbench.parity.TOLERANCE`, 1e-10 in float64, 1e-4 in
float32, norm-wise relative).
"""

from __future__ import annotations

import pytest

from rnnbench.testing import BackendContract, contract_tests

from plugin_fixtures import FakeEntryPoint, registry_with

globals().update(contract_tests("numpy"))
globals().update(contract_tests("torch"))
globals().update(contract_tests("tensorflow"))


class TestThirdPartyContract(BackendContract):
    """``fakenp`` from a stand-in distribution, loaded as an installed plugin would be."""

    backend_name = "fakenp"

    def entry(self, request):
        monkeypatch = request.getfixturevalue("monkeypatch")
        return registry_with(monkeypatch, FakeEntryPoint("fake", "fake_backend_plugin")).backend("fakenp")


def test_the_kit_refuses_a_plugin_without_the_backend():
    from rnnbench.errors import RnnbenchError
    from rnnbench.testing import plugin_entry

    with pytest.raises(RnnbenchError, match="registers no backend 'nope'; it registers fakenp"):
        plugin_entry("nope", "fake_backend_plugin")


@pytest.mark.parametrize(
    "reason, fails",
    [
        ("backend jax: jax not installed (pip install jax)", True),
        ("optional feature: jax declares single layers only", False),
        ("backend mxnet: mxnet not installed", False),
    ],
)
def test_a_required_backend_skipped_fails_an_optional_feature_does_not(monkeypatch, reason, fails):
    from types import SimpleNamespace

    from rnnbench.testing import fail_required_skips

    monkeypatch.setenv("RNNBENCH_REQUIRE_BACKENDS", "numpy, jax")
    report = SimpleNamespace(skipped=True, outcome="skipped", longrepr=("file.py", 1, f"Skipped: {reason}"))
    fail_required_skips(report)
    assert (report.outcome == "failed") is fails
