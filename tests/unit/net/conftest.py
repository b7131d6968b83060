"""Fixtures for the simulated network tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.unit.net.net_sim import Workload, run_sim


@pytest.fixture
def sim() -> Callable[[Workload], Any]:
    return run_sim
