"""The world applies a fault schedule as documented, however its faults overlap or touch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from tests.integration.scenario.probe_machine import probe_machine

from dmsim.faults import Envelope, FaultSchedule, fault_schedules
from dmsim.net import LinkTimeline, profile
from dmsim.runtime import Trace
from dmsim.scenario import Scenario, judge, loads_scenario
from dmsim.scenario._world import World
from dmsim.scenario._world_faults import link_setup

MACHINE = probe_machine(2, sync_interval_mins=0.1)
LAN = profile("lan").params.upstream


def scenario(faults: str, *, extra: str = "") -> Scenario:
    doc = f"name: faults\nseed: 1\nduration: 8m\n{extra}\nfaults:\n{faults}\n{MACHINE}"
    return loads_scenario(doc, source="faults")


def world(faults: str, *, extra: str = "") -> World:
    return World(scenario(faults, extra=extra), seed=1)


def run(faults: str, **kwargs: Any) -> Trace:
    return world(faults, **kwargs).run(progress=None).trace


def link_at(trace: Trace, t: float, direction: str = "upstream") -> dict[str, Any]:
    """The link's parameters in force at ``t``, as the link traced them."""
    changes = [e for e in trace.of_kind("net.link.params") if e.time <= t]
    if not changes:
        return {
            "latency": LAN.latency,
            "jitter": LAN.jitter,
            "bandwidth": LAN.bandwidth,
            "loss": LAN.loss,
            "reset_after_bytes": LAN.reset_after_bytes,
        }
    fields: dict[str, Any] = changes[-1].fields[direction]
    return fields


def test_link_faults_starting_together_or_back_to_back_run() -> None:
    """Regression: faults starting at one instant, or one starting as another ended, made
    connectivity rows with equal times and the world crashed before simulating anything."""
    trace = run(
        "  - {at: 1m, kind: latency, duration: 2m, seconds: 2s}\n"
        "  - {at: 1m, kind: bandwidth, duration: 1m, bytes_per_s: 1000}\n"
        "  - {at: 3m, kind: loss, duration: 1m, probability: 0.5}\n"
    )
    assert link_at(trace, 60)["latency"] == pytest.approx(LAN.latency + 2)
    assert link_at(trace, 60)["bandwidth"] == 1000
    assert link_at(trace, 120)["bandwidth"] == LAN.bandwidth
    assert link_at(trace, 180)["latency"] == LAN.latency
    assert link_at(trace, 180)["loss"] == 0.5
    assert link_at(trace, 240) == link_at(trace, 0)


@settings(max_examples=300)
@given(fault_schedules(duration=3600.0, envelope=Envelope(max_faults=8)))
def test_any_generated_schedule_sets_up_the_link(schedule: FaultSchedule) -> None:
    """Regression: 51 of 3,000 schedules from the default envelope crashed the world."""
    setup = link_setup(scenario("  []").with_faults(schedule))
    timeline = LinkTimeline(profile(setup.pop("profile")), **setup)
    changes = [0.0]
    while (nxt := timeline.next_change_after(changes[-1])) is not None:
        changes.append(nxt)
    for t in changes:
        timeline.state_at(t)


def test_overlapping_link_faults_compose_and_each_ends_on_its_own() -> None:
    """Regression: an inner fault's end restored the base profile while the outer fault was
    still active, and an earlier fault's end cancelled a later one still running."""
    trace = run(
        "  - {at: 1m, kind: latency, duration: 5m, seconds: 5s}\n"
        "  - {at: 2m, kind: latency, duration: 1m, seconds: 1s}\n"
        "  - {at: 2m30s, kind: loss, duration: 2m, probability: 0.5}\n"
        "  - {at: 4m, kind: loss, duration: 2m, probability: 0.2}\n"
    )
    assert link_at(trace, 150)["latency"] == pytest.approx(LAN.latency + 6)
    assert link_at(trace, 180)["latency"] == pytest.approx(LAN.latency + 5)  # outer holds
    assert link_at(trace, 240)["loss"] == pytest.approx(1 - 0.5 * 0.8)
    assert link_at(trace, 270)["loss"] == 0.2  # the later loss outlives the earlier one
    assert link_at(trace, 360) == link_at(trace, 0)


def test_link_faults_never_lift_a_traced_outage(tmp_path: Path) -> None:
    """Regression: a fault's row forced the link up over the connectivity trace's down row."""
    log = tmp_path / "modem.csv"
    log.write_text("time,state\n0,up\n60,down\n240,up\n")
    trace = run(
        "  - {at: 2m, kind: latency, duration: 1m, seconds: 1s}\n",
        extra=f"network: {{trace: {log}}}",
    )
    states = [(e.time, e.kind) for e in trace.of_kind("net.link.up", "net.link.down")]
    assert states == [(60.0, "net.link.down"), (240.0, "net.link.up")]


def test_latency_jitter_and_direction_are_applied() -> None:
    """Regression: jitter and direction were ignored and latency replaced the profile's."""
    trace = run(
        "  - {at: 1m, kind: latency, duration: 1m, seconds: 1s, jitter: 500ms, "
        "direction: upstream}\n"
        "  - {at: 1m, kind: bandwidth, duration: 1m, bytes_per_s: 1000, direction: downstream}\n"
    )
    up, down = link_at(trace, 60), link_at(trace, 60, "downstream")
    assert (up["latency"], up["jitter"]) == pytest.approx((LAN.latency + 1, LAN.jitter + 0.5))
    assert up["bandwidth"] == LAN.bandwidth
    assert (down["latency"], down["jitter"], down["bandwidth"]) == (
        LAN.latency,
        LAN.jitter,
        1000,
    )


def test_downstream_loss_loses_only_acknowledgements() -> None:
    """Regression: a loss fault's direction was ignored, so requests were lost too. With only
    the acknowledgements lost, every upload lands and its resends are duplicates by key."""
    trace = run("  - {at: 1m, kind: loss, duration: 2m, probability: 1, direction: downstream}\n")
    lost = trace.of_kind("net.link.fault")
    assert lost
    assert {e.fields["direction"] for e in lost} == {"downstream"}
    attempts = [e.fields for e in trace.of_kind("net.transport.attempt")]
    unknown = [a for a in attempts if a["outcome"] == "unknown"]
    assert unknown
    assert all(a["landed"] for a in unknown)
    assert any(a["cloud"] == "duplicate" for a in attempts)


def test_a_resend_the_cloud_recognises_is_traced_once_not_per_reading() -> None:
    """Regression: every reading of a resend the cloud recognised was traced again (a
    duplicate ``cloud.stored``), so a config that resent a file every 0.2 s through ten
    minutes of lost acknowledgements outgrew 10 GB (found fuzzing random configs)."""
    faults = "  - {at: 1m, kind: drop_ack_after_commit, duration: 3m, rpcs: [DataCaptureUpload]}\n"
    sim = world(faults)
    result = sim.run(progress=None)
    trace = result.trace
    landed = [a.fields["key"] for a in trace.of_kind("net.transport.attempt") if a.fields["landed"]]
    recognised = [e.fields["key"] for e in trace.of_kind("cloud.recognised")]
    resent = {key: n - 1 for key, n in Counter(landed).items() if n > 1}  # after the first
    assert sum(resent.values()) >= 100
    assert Counter(recognised) == resent
    assert all(e.fields["readings"] == 12 for e in trace.of_kind("cloud.recognised"))
    assert len(trace.of_kind("cloud.stored")) == len(trace.of_kind("reading.captured"))
    verdict = judge(result, sim.scenario.expectations)
    assert verdict.passed, [e for e in verdict.expectations if not e.ok]
    classes = {name: n for name, n in verdict.counts.items() if n}
    assert classes == {"delivered": len(trace.of_kind("reading.captured"))}


def test_reset_after_bytes_fault_resets_connections_for_its_window() -> None:
    """Regression: reset_after_bytes faults were accepted and never applied."""
    trace = run("  - {at: 1m, kind: reset_after_bytes, duration: 2m, bytes: 10}\n")
    assert link_at(trace, 60)["reset_after_bytes"] == 10
    assert link_at(trace, 180)["reset_after_bytes"] is None
    resets = [e.time for e in trace.of_kind("net.link.fault") if e.fields["fault"] == "reset"]
    assert resets
    assert all(60 <= t < 180 for t in resets)


def disk_at(trace: Trace, kind: str, field: str, times: list[float]) -> list[int]:
    """The value of ``field`` the last ``kind`` event had set by each time."""
    events = trace.of_kind(kind)
    return [[e.fields[field] for e in events if e.time <= t][-1] for t in times]


MIB = 1 << 20


def test_overlapping_disk_fills_add_up_and_each_ends_on_its_own() -> None:
    """Regression: a fill replaced the ballast and its end emptied the disk, the initial fill
    and an outer fill still active included."""
    trace = run(
        "  - {at: 1m, kind: disk_fill, duration: 5m, bytes: 40MiB}\n"
        "  - {at: 2m, kind: disk_fill, duration: 1m, bytes: 20MiB}\n",
        extra="disk: {capacity: 128MiB, initial_fill: 4MiB}",
    )
    ballast = disk_at(trace, "fs.fill", "ballast_bytes", [60, 120, 180, 360])
    assert ballast == [44 * MIB, 64 * MIB, 44 * MIB, 4 * MIB]


def test_disk_capacity_is_the_smallest_active_capacity_fault() -> None:
    """Regression: the first capacity fault to end restored the disk's own capacity."""
    trace = run(
        "  - {at: 1m, kind: disk_capacity, duration: 2m, bytes: 96MiB}\n"
        "  - {at: 2m, kind: disk_capacity, duration: 2m, bytes: 80MiB}\n"
        "  - {at: 2m30s, kind: disk_capacity, duration: 1m, bytes: 90MiB}\n",
        extra="disk: {capacity: 128MiB}",
    )
    capacity = disk_at(trace, "fs.capacity", "capacity_bytes", [60, 120, 150, 180, 210, 240])
    assert capacity == [96 * MIB, 80 * MIB, 80 * MIB, 80 * MIB, 80 * MIB, 128 * MIB]


@pytest.mark.parametrize(
    "faults",
    [
        "  - {at: 1m, kind: rtc_unset, duration: 4m}\n"
        "  - {at: 2m, kind: rtc_unset, duration: 1m}\n",
        "  - {at: 1m, kind: rtc_unset, duration: 2m}\n"
        "  - {at: 2m, kind: rtc_unset, duration: 3m}\n",
    ],
    ids=["nested", "staggered"],
)
def test_overlapping_rtc_faults_each_undo_their_own_step(faults: str) -> None:
    """Regression: overlapping rtc_unset faults shared one offset, so the wall clock was
    left wrong after both had ended."""
    w = world(faults)
    w.start()
    w.advance(until=90)
    assert w.kernel.wall_ns() == 30 * 10**9  # unset at 1m: 1970 plus 30 s
    w.advance(until=400)
    assert w.kernel.wall_ns() == w.scenario.epoch_ns + 400 * 10**9
    w.finish()


def test_a_manual_sync_sends_the_backlog_through_the_offline_pause_and_not_while_down() -> None:
    """An operator's Sync() (`kill -USR1`): the files go now, though the pause after an
    outage (60 s) is still on and the next tick is minutes away; while the process is down
    there is nobody to ask."""
    machine = probe_machine(2, sync_interval_mins=10)
    doc = f"""name: operator
seed: 1
duration: 8m
faults:
  - {{at: 30s, kind: link_down, duration: 60s}}
  - {{at: 95s, kind: manual_sync}}
  - {{at: 3m, kind: crash, restart_after: 30s}}
  - {{at: 3m10s, kind: manual_sync}}
{machine}"""
    scenario = loads_scenario(doc, source="operator")
    result = World(scenario, seed=1).run(progress=None)
    trace = result.trace
    [manual] = trace.of_kind("sync.manual")
    assert manual.fields["fault_id"] == "f2"
    assert manual.time < 100  # at once, not after the pause, nor at the 10 min tick
    assert manual.fields["dispatched"] == manual.fields["uploaded"] > 0
    [nobody] = trace.of_kind("fault.no_target")
    assert (nobody.time, nobody.fields["fault_id"]) == (190.0, "f4")
    verdict = judge(result, scenario.expectations)
    assert verdict.passed, verdict.summary()
