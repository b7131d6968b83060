"""Repository-wide pytest setup: hypothesis profiles and hardware gating."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile(
    "fuzz", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("DMSIM_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)

# gpiozero must never probe real pin factories in tests.
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")


@pytest.fixture(autouse=True)
def _own_viam_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test its own $VIAM_HOME: a `dmsim machine` records there which capture directories
    its part used, and would otherwise sync what another test (or the developer's machine)
    left in one of them."""
    monkeypatch.setenv("VIAM_HOME", str(tmp_path / "viam-home"))
