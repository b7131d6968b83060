"""The kernel tells a clock set: what lets sync hold files in additional_sync_paths after the
wall clock was wrong, even for a moment (run as root: it sets the clock, to the time it has)."""

from __future__ import annotations

import time

import pytest

from dmsim.runtime import RealRuntime

pytestmark = [pytest.mark.hil, pytest.mark.timeout(30)]


@pytest.mark.usefixtures("settable_clock")
def test_a_set_of_the_wall_clock_is_counted_once() -> None:
    rt = RealRuntime()
    before = rt.wall_clock_sets()
    time.sleep(0.1)
    assert rt.wall_clock_sets() == before  # running is not a set
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))
    assert rt.wall_clock_sets() == before + 1
    assert rt.wall_clock_sets() == before + 1
