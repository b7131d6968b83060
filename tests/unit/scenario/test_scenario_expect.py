"""Expectation checks: liveness from samples, SLOs, bounds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from tests.unit.scenario.scenario_kit import TraceBuilder

from dmsim.scenario import (
    CountBound,
    ExpectationResult,
    Expectations,
    Sample,
    Verdict,
    build_ledger,
    judge,
)
from dmsim.scenario._expect import (
    check_capture_gap,
    check_count,
    check_disk_high_water,
    check_drain,
    percentile,
)


def sample(t: float, backlog: int, used: int = 10, total: int = 100) -> Sample:
    return Sample(t, backlog, backlog * 1000, used, total, 0)


SAMPLES = [sample(t, b) for t, b in [(0, 0), (10, 5), (20, 9), (30, 4), (40, 0), (50, 0)]]


def drain(start: float, within: float, max_files: int | None, end: float = 60) -> ExpectationResult:
    return check_drain(
        SAMPLES, [], [], start=start, within=within, max_files=max_files, run_end=end
    )


def test_drain_samples_find_the_first_drained_sample() -> None:
    ok = drain(15, 30, 0)
    assert ok.ok
    assert "at 40s, 25s after" in ok.detail
    late = drain(15, 20, 0)
    assert not late.ok
    assert "lowest 4" in late.detail
    assert drain(15, 20, 4).ok
    assert drain(15, 20, None).ok  # no sample threshold: the ledger alone decides


@pytest.mark.parametrize(
    ("start", "within", "fragment"),
    [(math.inf, 10, "still active"), (50, 30, "lengthen the scenario"), (41, 2, "no sample")],
)
def test_drain_cannot_be_judged(start: float, within: float, fragment: str) -> None:
    result = drain(start, within, 0)
    assert not result.ok
    assert fragment in result.detail


def test_drain_follows_the_readings_of_the_faults() -> None:
    tb = TraceBuilder()
    tb.at(5).captured("s", 0, 0).at(6).captured("s", 0, 1).at(30).captured("s", 0, 2)
    tb.at(31).event("fault.start", fault_id="f1", fault_kind="link_down")
    tb.at(40).event("fault.end", fault_id="f1", fault_kind="link_down")
    tb.at(45).stored("s", 0, 0, "a").at(70).stored("s", 0, 1, "b")
    expect = Expectations(drain_within_s=20)
    verdict = judge(tb.result(end=200), expect)
    result = next(e for e in verdict.expectations if e.name == "drain_within")
    assert not result.ok  # s@0#1 arrived at 70 s, after 40 + 20; s@0#2 never did
    assert "2 reading(s) captured before the last fault ended (40s)" in result.detail
    assert "first: s@0#1 (delivered)" in result.detail
    tb.at(71).stored("s", 0, 2, "c")
    verdict = judge(tb.result(end=200), Expectations(drain_within_s=40))
    assert next(e for e in verdict.expectations if e.name == "drain_within").ok


def rejected_then_stored(
    code: str,
    stored_at: float,
    *,
    answered: float | None = 33.0,
    outcome: str = "fail",
    offline_waits: Sequence[tuple[float, float]] = ((0.0, 60.0),),
) -> Verdict:
    """A reading captured at 5 s, an rpc_reject window with ``code`` from 31 to 40 s in which
    the cloud answered an upload once (at ``answered``; never if ``None``), the reading
    stored at ``stored_at``; judged with a 10 s drain bound. ``offline_waits``: (time,
    offline interval) promised from then on (60 s from the start)."""
    tb = TraceBuilder()
    events: list[tuple[float, str, dict[str, Any]]] = [
        (t, "world.promise", {"durability_window_s": 1.0, "offline_wait_s": wait})
        for t, wait in offline_waits
    ]
    window = {"fault_id": "f1", "fault_kind": "rpc_reject"}
    events += [(31, "fault.start", {**window, "params": {"code": code}}), (40, "fault.end", window)]
    if answered is not None:
        events.append((answered, "net.transport.attempt", {
            "rpc": "DataCaptureUpload", "key": "a", "outcome": outcome, "cloud": f"error:{code}",
            "landed": False, "fault_id": "f1", "started": answered - 0.1,
        }))  # fmt: skip
    tb.at(5).captured("s", 0, 0)
    for t, kind, fields in sorted(events, key=lambda event: event[0]):
        tb.at(t).event(kind, **fields)
    tb.at(stored_at).stored("s", 0, 0, "a")
    return judge(tb.result(end=300), Expectations(drain_within_s=10))


def drain_of(verdict: Verdict) -> ExpectationResult:
    return next(e for e in verdict.expectations if e.name == "drain_within")


def assert_drain_held_to(held_to: float, paused: bool, **rejection: Any) -> None:
    on_time = rejected_then_stored(stored_at=held_to, **rejection)
    assert drain_of(on_time).ok, drain_of(on_time).detail
    assert (on_time.last_fault_end, on_time.drain_from) == (40.0, held_to - 10)
    late = drain_of(rejected_then_stored(stored_at=held_to + 0.5, **rejection))
    assert not late.ok
    since = (
        "the offline pause after the cloud's last pausing answer ended"
        if paused
        else "the last fault ended"
    )
    assert f"{since} ({held_to - 10:g}s) were not in the cloud by {held_to:g}s" in late.detail


@pytest.mark.parametrize(
    ("code", "held_to"), [("UNAVAILABLE", 103.0), ("PERMISSION_DENIED", 103.0), ("INTERNAL", 50.0)]
)
def test_an_answer_that_pauses_every_upload_holds_the_drain_bound_one_offline_interval(
    code: str, held_to: float
) -> None:
    """An answer that pauses every upload for the offline interval (60 s here) holds the
    backlog that long by design: the drain bound starts when the pause that the cloud's last
    such answer began can end (33 + 60 s), and no later; any other code's bound starts at the
    window's end."""
    assert_drain_held_to(held_to, code != "INTERNAL", code=code)


@pytest.mark.parametrize(
    "rejection", [{"answered": None}, {"outcome": "unknown"}], ids=["never-called", "answer-lost"]
)
def test_a_pausing_window_that_paused_nothing_holds_the_drain_bound_at_its_end(
    rejection: dict[str, Any],
) -> None:
    """Regression: an UNAVAILABLE window got the offline interval on top of its end even when
    the machine never received its answer (it made no call in the window, or the answer was
    lost on the way), so a machine that then sat on its backlog a minute passed."""
    assert_drain_held_to(50.0, False, code="UNAVAILABLE", **rejection)


@pytest.mark.parametrize(
    ("offline_waits", "held_to"),
    [
        (((0.0, 60.0), (34.0, 5.0)), 103.0),  # lowered after the answer: its pause ran 60 s
        (((0.0, 5.0), (20.0, 120.0)), 163.0),  # raised before it: 33 + 120 + 10
        (((0.0, 60.0), (20.0, 5.0)), 50.0),  # lowered before it: 38 s, the window's end rules
    ],
    ids=["lowered-after", "raised-before", "lowered-before"],
)
def test_a_pause_lasts_the_offline_interval_promised_when_the_cloud_asked(
    offline_waits: tuple[tuple[float, float], ...], held_to: float
) -> None:
    """Regression: the judge gave every pausing answer the run's last offline interval."""
    paused = held_to != 50.0
    assert_drain_held_to(held_to, paused, code="UNAVAILABLE", offline_waits=offline_waits)


def test_disk_high_water() -> None:
    samples = [sample(0, 0, used=50), sample(1, 0, used=96), sample(2, 0, used=70)]
    assert check_disk_high_water(samples, 0.97, peak_fraction=0.96).ok
    high = check_disk_high_water(samples, 0.95, peak_fraction=0.96)
    assert not high.ok
    assert "peak 0.960 at 1s" in high.detail


def test_disk_high_water_judges_the_disks_own_peak_not_just_the_samples() -> None:
    # Regression: a disk full for 3 s between two samples passed a 0.9 bound.
    samples = [sample(0, 0, used=6), sample(10, 0, used=6)]
    full = check_disk_high_water(samples, 0.9, peak_fraction=1.0)
    assert not full.ok
    assert full.detail == "peak 1.000 between samples; highest sample 0.060 > 0.9"
    assert not check_disk_high_water([], 0.9, peak_fraction=0.95).ok
    close = check_disk_high_water(samples, 0.9, peak_fraction=0.0604)  # 0.060 as printed
    assert close.detail == "peak 0.060 at 0s <= 0.9"


def test_count_bounds() -> None:
    assert check_count("x", 3, CountBound(minimum=1, maximum=3)).ok
    assert not check_count("x", 0, CountBound(minimum=1)).ok
    assert check_count("x", 0, CountBound(maximum=0)).detail == "0 (expected <= 0)"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([7.0], 0.99) == 7.0


def test_capture_gap_ignores_downtime_and_counts_the_tail() -> None:
    tb = TraceBuilder()
    for i, t in enumerate([0, 1, 2, 10, 11]):
        tb.at(t).captured("a", 0, i)
    tb.at(3).event("process.crash").at(9).event("process.restart", boot=1)
    ledger = build_ledger(tb.trace)
    result = check_capture_gap(ledger, 2.0, run_end=12.0)
    assert result.ok, result.detail  # 2 → 10 minus 6 s down = 2 s
    tail = check_capture_gap(ledger, 2.0, run_end=20.0)
    assert not tail.ok
    assert "on a (11s to 20s)" in tail.detail


def test_judge_reports_each_expectation() -> None:
    tb = TraceBuilder()
    for i in range(10):
        tb.at(i).captured("s", 0, i)
        tb.at(i + 0.5).event("file.completed", path=f"/f{i}", ids=[["s", 0, i]])
        tb.at(i + 1 + i).stored("s", 0, i, f"k{i}")
    tb.at(30).event("capture.skipped", stream="s", count=4, reason="queue_full")
    expect = Expectations(
        time_to_cloud_p99_s=5.0,
        disk_high_water=0.5,
        min_delivered=10,
        max_skipped=3,
        drain_within_s=10,
        counts={"readings.captured": CountBound(minimum=10), "uploads.ok": CountBound(minimum=1)},
    )
    verdict = judge(tb.result(end=40, samples=[sample(5, 0)]), expect)
    results = {e.name: e.ok for e in verdict.expectations}
    assert results == {
        "allowed_classes": True,
        "trace_consistent": True,
        "time_to_cloud_p99": False,  # latencies 1..10 s
        "drain_within": True,
        "disk_high_water": True,
        "min_delivered": True,
        "max_skipped": False,
        "counts[readings.captured]": True,
        "counts[uploads.ok]": False,
    }
    assert verdict.latency.p50 == 5
    assert verdict.latency.max == 10
    assert not verdict.passed
    assert [e.name for e in verdict.failed()] == [
        "time_to_cloud_p99",
        "max_skipped",
        "counts[uploads.ok]",
    ]


def test_nothing_delivered_fails_the_latency_slo() -> None:
    tb = TraceBuilder().at(1).captured("s", 0, 0)
    verdict = judge(tb.result(end=5), Expectations(time_to_cloud_p99_s=1.0))
    p99 = next(e for e in verdict.expectations if e.name == "time_to_cloud_p99")
    assert not p99.ok
    assert p99.detail == "no reading reached the cloud"
