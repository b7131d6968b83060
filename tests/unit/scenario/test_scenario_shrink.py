"""Shrinking failing schedules: fewer faults, weaker faults, absolute times kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dmsim.faults import Envelope, FaultSchedule, FaultStep, fault_schedules, parse_schedule
from dmsim.scenario import shrink_schedule

STORM, _ = parse_schedule(
    [
        {"at": "10s", "kind": "link_down", "duration": "5m"},
        {"at": "40s", "kind": "crash", "restart_after": "20s"},
        {"at": "150s", "kind": "crash", "restart_after": "40s"},
        {"at": "200s", "kind": "loss", "duration": "2m", "probability": 0.5},
        {"at": "250s", "kind": "clock_step", "seconds": "-1h"},
        {"at": "300s", "kind": "drop_ack_after_commit", "duration": "10m"},
        {"at": "320s", "kind": "rpc_reject", "duration": "1m", "code": "UNAVAILABLE"},
        {"at": "400s", "kind": "latency", "duration": "2m", "seconds": "2s", "jitter": "1s"},
        {"at": "500s", "kind": "disk_fill", "duration": "1m", "bytes": "64MiB"},
        {"at": "600s", "kind": "crash", "restart_after": "1m"},
        {"at": "700s", "kind": "slow_ack", "duration": "1m", "seconds": "5s"},
        {"at": "800s", "kind": "rtc_unset", "duration": "1m"},
    ]
)


def crash_after_100_and_drop_ack(schedule: FaultSchedule) -> bool:
    crash = any(s.kind == "crash" and s.at > 100 for s in schedule)
    return crash and any(s.kind == "drop_ack_after_commit" for s in schedule)


def test_shrinks_the_brief_example_to_two_faults_at_their_original_times() -> None:
    assert crash_after_100_and_drop_ack(STORM)
    result = shrink_schedule(STORM, crash_after_100_and_drop_ack)
    assert len(result.schedule) <= 3
    assert crash_after_100_and_drop_ack(result.schedule)
    original = {s.fault_id: s for s in STORM}
    for step in result.schedule:
        assert step.at == original[step.fault_id].at  # absolute times kept
    kinds = sorted(s.kind for s in result.schedule)
    assert kinds == ["crash", "drop_ack_after_commit"]
    crash = next(s for s in result.schedule if s.kind == "crash")
    assert crash.params["restart_after"] == 0.0  # weakened as far as it goes
    drop = next(s for s in result.schedule if s.kind == "drop_ack_after_commit")
    assert drop.params["count"] == 1
    assert drop.duration == 1.0
    assert not result.exhausted
    assert result.runs < 120
    assert any(line.startswith("removed") for line in result.log)
    assert any(line.startswith("weakened") for line in result.log)


def test_a_failure_without_faults_shrinks_to_nothing() -> None:
    result = shrink_schedule(STORM, lambda _schedule: True)
    assert len(result.schedule) == 0
    assert result.log == ("fails without any fault",)
    assert result.runs == 1


def test_the_budget_bounds_the_work() -> None:
    result = shrink_schedule(STORM, crash_after_100_and_drop_ack, max_runs=5)
    assert result.runs == 5
    assert result.exhausted
    assert crash_after_100_and_drop_ack(result.schedule)


def test_memoised_predicate_runs_each_schedule_once() -> None:
    seen: list[str] = []

    def fails(schedule: FaultSchedule) -> bool:
        seen.append(schedule.canonical())
        return crash_after_100_and_drop_ack(schedule)

    result = shrink_schedule(STORM, fails)
    assert len(seen) == len(set(seen)) == result.runs


ENVELOPE = Envelope(max_faults=8, max_disk_fill_bytes=64 * 2**20, quiet_tail_s=60)
PAIRS = st.tuples(
    st.sampled_from(["link_down", "crash", "loss", "rpc_reject", "disk_fill"]),
    st.sampled_from(["latency", "clock_step", "slow_ack", "drop_ack_after_commit"]),
)


@settings(max_examples=60, deadline=None)
@given(fault_schedules(duration=3600.0, envelope=ENVELOPE), PAIRS)
def test_shrunk_schedules_still_fail_and_are_one_minimal(
    schedule: FaultSchedule, pair: tuple[str, str]
) -> None:
    def fails(candidate: FaultSchedule) -> bool:
        kinds = {s.kind for s in candidate}
        return set(pair) <= kinds

    if not fails(schedule):
        return
    result = shrink_schedule(schedule, fails)
    assert fails(result.schedule)
    assert len(result.schedule) == 2
    original = {s.fault_id: s for s in schedule}
    for step in result.schedule:
        assert step.fault_id in original
        assert step.at == original[step.fault_id].at
    for step in result.schedule:
        assert not fails(result.schedule.without([step.fault_id]))


def test_weakening_keeps_ids_and_stops_when_the_failure_needs_strength() -> None:
    strong = FaultSchedule(
        (FaultStep(at=5, kind="loss", params={"probability": 0.5}, duration=64),)
    )

    def needs_heavy_loss(schedule: FaultSchedule) -> bool:
        return any(s.kind == "loss" and s.params["probability"] >= 0.2 for s in schedule)

    result = shrink_schedule(strong, needs_heavy_loss)
    (step,) = result.schedule
    assert step.params["probability"] == 0.2
    assert step.duration == 1.0
    assert step.fault_id == "f1"
