"""Fixtures for the cloud core's unit tests: an in-memory core on a settable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.unit.cloud.cloud_kit import Clock

from dmsim.cloud import CloudCore


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def core(clock: Clock) -> Iterator[CloudCore]:
    cloud = CloudCore(clock=clock)
    yield cloud
    cloud.close()
