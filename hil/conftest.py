"""Bench gating: hil tests run only with DMSIM_HIL=1 and the device node present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def hil_enabled() -> bool:
    return os.environ.get("DMSIM_HIL") == "1"


def require_node(*candidates: str) -> Path:
    """The first existing device node among ``candidates``, or skip the test."""
    if not hil_enabled():
        pytest.skip("bench only: set DMSIM_HIL=1 on the rig")
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    pytest.skip(f"no device node among {', '.join(c for c in candidates if c)}")


@pytest.fixture
def i2c_node() -> Path:
    bus = os.environ.get("DMSIM_HIL_I2C_BUS", "1")
    return require_node(f"/dev/i2c-{bus}")


@pytest.fixture
def esp32_node() -> Path:
    return require_node(os.environ.get("DMSIM_HIL_ESP32", ""), "/dev/ttyUSB0", "/dev/ttyACM0")


@pytest.fixture
def settable_clock() -> None:
    """Skip unless this bench run may set the system clock (root: CAP_SYS_TIME)."""
    if not hil_enabled():
        pytest.skip("bench only: set DMSIM_HIL=1 on the rig")
    if os.geteuid() != 0:
        pytest.skip("setting the clock needs root (CAP_SYS_TIME)")
