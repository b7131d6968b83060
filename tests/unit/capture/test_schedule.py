from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dmsim.capture._schedule import Schedule, interval_for_hz
from dmsim.capture._throttle import LogThrottle


def test_first_capture_is_one_period_after_start() -> None:
    assert Schedule.starting_at(10.0, 0.5).deadline == 10.5


def test_on_time_service_skips_nothing_and_does_not_drift() -> None:
    s = Schedule.starting_at(0.0, 0.1)
    for k in range(1, 1001):
        assert abs(s.deadline - k * 0.1) < 1e-9
        s, skipped = s.after_serving(s.deadline + 0.05)  # served late, within the period
        assert skipped == 0


def test_overrun_skips_and_counts_whole_missed_ticks() -> None:
    s = Schedule.starting_at(0.0, 1.0)  # deadline 1.0
    s, skipped = s.after_serving(3.5)  # ticks 2 and 3 passed while capturing tick 1
    assert skipped == 2
    assert s.deadline == 4.0


def test_exactly_on_a_later_deadline_is_not_a_skip() -> None:
    s = Schedule.starting_at(0.0, 1.0)
    s, skipped = s.after_serving(2.0)
    assert (skipped, s.deadline) == (0, 2.0)


def test_skip_current_counts_the_current_tick() -> None:
    s = Schedule.starting_at(0.0, 1.0)
    s, skipped = s.skip_current(1.0)
    assert (skipped, s.deadline) == (1, 2.0)


def test_rate_change_keeps_the_pending_deadline() -> None:
    s = Schedule.starting_at(0.0, 1.0)
    s, _ = s.after_serving(1.0)  # next deadline 2.0
    faster = s.with_period(0.1)
    assert faster.deadline == 2.0
    faster, _ = faster.after_serving(2.0)
    assert abs(faster.deadline - 2.1) < 1e-9


@given(
    period=st.floats(min_value=1e-4, max_value=100),
    delays=st.lists(st.floats(min_value=0, max_value=500), min_size=1, max_size=50),
)
def test_every_tick_is_served_or_counted(period: float, delays: list[float]) -> None:
    """Property: ticks served + ticks skipped = the tick index reached; deadlines stay in the
    future of the service time, and on the original grid."""
    s = Schedule.starting_at(0.0, period)
    served = skipped_total = 0
    for delay in delays:
        now = s.deadline + delay * period / 100
        s, skipped = s.after_serving(now)
        served += 1
        skipped_total += skipped
        assert s.deadline >= now - 1e-9 * max(1.0, now)
    assert served + skipped_total == s.tick - 1


def test_disabling_frequencies() -> None:
    assert interval_for_hz(0) is None
    assert interval_for_hz(-1) is None
    assert interval_for_hz(1e-7) is None
    assert interval_for_hz(float("nan")) is None
    assert interval_for_hz(2) == 0.5


def test_log_throttle_admits_once_per_interval_and_counts_suppressed() -> None:
    log = LogThrottle(interval_s=2.0)
    assert log.admit("arm/JointPositions", "boom", 0.0) == 0
    assert log.admit("arm/JointPositions", "boom", 1.0) is None
    assert log.admit("arm/JointPositions", "boom", 1.5) is None
    assert log.admit("arm/JointPositions", "other", 1.5) == 0
    assert log.admit("cam/ReadImage", "boom", 1.5) == 0
    assert log.admit("arm/JointPositions", "boom", 2.0) == 2
