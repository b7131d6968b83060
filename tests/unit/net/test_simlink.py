"""SimLink on simulated time: exact timing, faults, determinism, traces and profiles."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from tests.unit.net.net_sim import run_sim

from dmsim.errors import ConfigError, InternalError
from dmsim.net import (
    ConnectivityRow,
    Direction,
    DirectionParams,
    DownWindow,
    Impairment,
    LinkDownError,
    LinkParams,
    LinkProfile,
    LinkResetError,
    LinkTimeoutError,
    SimLink,
    profile,
)
from dmsim.runtime import ProcessKilled, RngTree, Runtime, SimKernel, Trace

Sim = Callable[[Callable[[Runtime], Any]], Any]

SLOW = LinkProfile(
    "slow",
    LinkParams(
        upstream=DirectionParams(latency=0.05, bandwidth=1000.0),
        downstream=DirectionParams(latency=0.01, bandwidth=10_000.0),
    ),
)


def make_link(rt: Runtime, seed: int = 1, **kwargs: Any) -> SimLink:
    kwargs.setdefault("profile", SLOW)
    return SimLink(rt, rng=RngTree(seed).child("link"), **kwargs)


def test_latency_and_bandwidth_are_exact(sim: Sim) -> None:
    async def workload(rt: Runtime) -> list[float]:
        times = []
        async with make_link(rt) as link:
            await link.transfer(500, "upstream", deadline=100)
            times.append(rt.monotonic())
            await link.transfer(1000, Direction.DOWNSTREAM, deadline=100)
            times.append(rt.monotonic())
        return times

    assert sim(workload) == [pytest.approx(0.55, abs=1e-12), pytest.approx(0.66, abs=1e-12)]


def test_concurrent_messages_queue_on_the_bandwidth(sim: Sim) -> None:
    async def workload(rt: Runtime) -> list[tuple[str, float]]:
        done: list[tuple[str, float]] = []
        async with make_link(rt) as link:

            async def send(name: str, nbytes: int) -> None:
                await link.transfer(nbytes, "upstream", deadline=100)
                done.append((name, rt.monotonic()))

            tasks = [rt.spawn(send(n, 500), name=n) for n in ("a", "b", "c")]
            for task in tasks:
                await task.join()
        return done

    assert sim(workload) == [
        ("a", pytest.approx(0.55)),
        ("b", pytest.approx(1.05)),
        ("c", pytest.approx(1.55)),
    ]


def test_a_message_abandoned_at_its_deadline_stops_taking_the_bandwidth(sim: Sim) -> None:
    """Regression (fuzz, oversize-tabular-request seed 1919): a 640 KB upload at 1 kB/s hit
    its 30 s deadline, yet kept the lane busy for its whole 640 s, so every later call queued
    behind it and timed out too, for ten minutes after the slow link had recovered. A caller
    that gives up stops sending (gRPC cancels the stream)."""

    async def workload(rt: Runtime) -> float:
        async with make_link(rt) as link:
            with pytest.raises(LinkTimeoutError):
                await link.transfer(100_000, "upstream", deadline=5.0)  # 100 s at 1 kB/s
            await link.transfer(500, "upstream", deadline=100)
            return rt.monotonic()

    assert sim(workload) == pytest.approx(5.55)


def test_a_bandwidth_fault_slows_only_the_bytes_sent_while_it_lasts(sim: Sim) -> None:
    """A message is carried at the bandwidth in force while each of its bytes leaves: a
    throttle ending mid-message lets the rest go at full speed, one starting mid-message
    slows the rest (the link used to charge the whole message the bandwidth at its start)."""
    throttles = [
        Impairment(0.0, 1.0, "early", bandwidth=100.0),
        Impairment(10.5, 20.0, "late", bandwidth=100.0),
    ]

    async def workload(rt: Runtime) -> list[float]:
        times = []
        async with make_link(rt, impairments=throttles) as link:
            # 100 B in the first second, the other 500 B at 1 kB/s
            await link.transfer(600, "upstream", deadline=100)
            times.append(rt.monotonic())
            await rt.sleep_until(10.0)
            # 500 B at 1 kB/s, then the last 500 B at 100 B/s
            await link.transfer(1000, "upstream", deadline=100)
            times.append(rt.monotonic())
        return times

    assert sim(workload) == [pytest.approx(1.55), pytest.approx(15.55)]


def test_a_message_queued_behind_another_gets_the_bandwidth_of_its_own_turn(sim: Sim) -> None:
    throttle = [Impairment(0.0, 0.5, "early", bandwidth=100.0)]

    async def workload(rt: Runtime) -> list[tuple[str, float]]:
        done: list[tuple[str, float]] = []
        async with make_link(rt, impairments=throttle) as link:

            async def send(name: str, nbytes: int) -> None:
                await link.transfer(nbytes, "upstream", deadline=100)
                done.append((name, rt.monotonic()))

            tasks = [rt.spawn(send(n, 50), name=n) for n in ("a", "b")]
            for task in tasks:
                await task.join()
        return done

    # a: 50 B at 100 B/s; b leaves at 0.5 s, when the link is back to 1 kB/s
    assert sim(workload) == [("a", pytest.approx(0.55)), ("b", pytest.approx(0.6))]


def test_down_window_refuses_then_aborts_and_is_traced(sim: Sim) -> None:
    async def workload(rt: Runtime) -> tuple[list[str], Trace]:
        log = []
        link = make_link(rt, down_windows=[DownWindow(1.0, 3.0, "storm")])
        async with link:
            try:  # starts at 0, would arrive at 1.05: the window at 1.0 cuts it
                await link.transfer(1000, "upstream", deadline=100)
            except LinkDownError as error:
                log.append(f"aborted {rt.monotonic():g} {error.fault_id}")
            try:
                await link.transfer(1, "upstream", deadline=100)
            except LinkDownError as error:
                log.append(f"refused {rt.monotonic():g} {error.fault_id}")
            await rt.sleep_until(3.0)
            await link.transfer(1, "upstream", deadline=100)
            log.append(f"ok {rt.monotonic():g}")
            assert link.statistics().refused == 1
            assert link.statistics().interrupted == 1
            return log, link.trace

    log, trace = sim(workload)
    assert log == ["aborted 1 storm", "refused 1 storm", "ok 3.051"]
    states = [
        (e.kind, e.time, e.fields.get("cause"))
        for e in trace.of_kind("net.link.up", "net.link.down")
    ]
    assert states == [("net.link.down", 1.0, "storm"), ("net.link.up", 3.0, "")]
    faults = [e.fields["fault"] for e in trace.of_kind("net.link.fault")]
    assert faults == ["down", "refused"]


def test_a_lost_message_times_out_at_the_deadline(sim: Sim) -> None:
    lossy = LinkProfile("lossy", LinkParams.symmetric(DirectionParams(latency=0.1, loss=1.0)))

    async def workload(rt: Runtime) -> tuple[float, str]:
        async with make_link(rt, profile=lossy) as link:
            with pytest.raises(LinkTimeoutError) as caught:
                await link.transfer(10, "downstream", deadline=7.5)
            assert link.statistics().lost == 1
            return rt.monotonic(), caught.value.fault_id

    assert sim(workload) == (7.5, "link:loss:downstream")


def test_a_slow_message_times_out_at_the_deadline(sim: Sim) -> None:
    async def workload(rt: Runtime) -> float:
        async with make_link(rt) as link:
            with pytest.raises(TimeoutError):
                await link.transfer(10_000, "upstream", deadline=2.0)  # needs 10.05 s
            assert link.statistics().deadline_exceeded == 1
            return rt.monotonic()

    assert sim(workload) == 2.0


def test_reset_after_n_bytes_cuts_mid_transfer_then_reconnects(sim: Sim) -> None:
    budget = LinkProfile(
        "budget", LinkParams.symmetric(DirectionParams(bandwidth=1000.0, reset_after_bytes=1500))
    )

    async def workload(rt: Runtime) -> list[str]:
        log = []
        async with make_link(rt, profile=budget) as link:
            await link.transfer(1000, "upstream", deadline=100)
            log.append(f"ok {rt.monotonic():g}")
            with pytest.raises(LinkResetError):
                await link.transfer(1000, "upstream", deadline=100)
            log.append(f"reset {rt.monotonic():g}")
            await link.transfer(1000, "upstream", deadline=100)  # a fresh connection
            log.append(f"ok {rt.monotonic():g}")
            await link.transfer(1000, "downstream", deadline=100)  # budgets are per direction
            log.append(f"ok {rt.monotonic():g}")
        return log

    assert sim(workload) == ["ok 1", "reset 1.5", "ok 2.5", "ok 3.5"]


def test_set_up_cuts_transfers_in_flight_and_stacks_faults(sim: Sim) -> None:
    async def workload(rt: Runtime) -> list[str]:
        log = []
        async with make_link(rt) as link:

            async def cut() -> None:
                await rt.sleep(0.2)
                link.set_up(False, "unplug")
                link.set_up(False, "modem-reboot")
                await rt.sleep(1.0)
                link.set_up(True, "unplug")
                log.append(f"still down: {link.state().cause}")
                link.set_up(True, "modem-reboot")

            task = rt.spawn(cut(), name="cut")
            with pytest.raises(LinkDownError) as caught:
                await link.transfer(1000, "upstream", deadline=100)
            log.append(f"cut {rt.monotonic():g} {caught.value.fault_id}")
            await task.join()
            assert link.is_up()
            await link.transfer(100, "upstream", deadline=100)
            log.append(f"ok {rt.monotonic():g}")
        return log

    assert sim(workload) == ["cut 0.2 unplug", "still down: modem-reboot", "ok 1.35"]


def test_connectivity_trace_replay_drives_the_link(sim: Sim) -> None:
    rows = [
        ConnectivityRow(0.0, up=True, bandwidth_up=100.0, latency=0.0),
        ConnectivityRow(5.0, up=False),
        ConnectivityRow(8.0, up=True, bandwidth_up=1000.0, latency=0.5),
    ]

    async def workload(rt: Runtime) -> tuple[list[str], list[str]]:
        log = []
        async with make_link(rt, connectivity=rows) as link:
            await link.transfer(200, "upstream", deadline=100)
            log.append(f"{rt.monotonic():g}")
            await rt.sleep_until(6.0)
            log.append(f"up={link.is_up()}")
            await rt.sleep_until(8.0)
            await link.transfer(200, "upstream", deadline=100)
            log.append(f"{rt.monotonic():g}")
            kinds = [e.kind for e in link.trace if e.kind.startswith("net.link.")]
        return log, kinds

    log, kinds = sim(workload)
    assert log == ["2", "up=False", "8.7"]
    assert kinds == [
        "net.link.start",
        "net.link.down",
        "net.link.params",
        "net.link.up",
        "net.link.params",
    ]


def test_impairments_act_per_direction_with_seeded_jitter(sim: Sim) -> None:
    impairments = [
        Impairment(1.0, 5.0, "acks", loss=1.0, directions=frozenset({Direction.DOWNSTREAM})),
        Impairment(
            1.0, 5.0, "slow", latency=0.5, jitter=0.2, directions=frozenset({Direction.UPSTREAM})
        ),
    ]

    async def workload(rt: Runtime) -> tuple[list[float], str]:
        delays = []
        async with make_link(rt, impairments=impairments) as link:
            await rt.sleep_until(1.0)
            for _ in range(5):
                start = rt.monotonic()
                await link.transfer(0, "upstream", deadline=100)
                delays.append(rt.monotonic() - start)
            with pytest.raises(LinkTimeoutError) as caught:
                await link.transfer(10, "downstream", deadline=rt.monotonic() + 1)
            await rt.sleep_until(5.0)
            await link.transfer(10, "downstream", deadline=100)  # the fault is over
        return delays, caught.value.fault_id

    delays, fault_id = sim(workload)
    assert all(0.55 - 0.2 <= d <= 0.55 + 0.2 for d in delays)  # the profile's 50 ms + 500 ms
    assert len(set(delays)) == len(delays)
    assert fault_id == "link:loss:downstream"
    assert sim(workload) == (delays, fault_id)


def lossy_run(seed: int) -> str:
    async def workload(rt: Runtime) -> str:
        link = make_link(rt, seed=seed, profile="wifi-flaky")
        async with link:
            for i in range(200):
                with contextlib.suppress(TimeoutError, ConnectionError):
                    await link.transfer(20_000, "upstream", deadline=rt.monotonic() + 5)
                await rt.sleep(i % 7)
        stats = link.statistics()
        assert stats.lost > 0
        assert stats.delivered > stats.lost
        return link.trace.digest()

    return str(run_sim(workload))


def test_same_seed_same_trace_other_seed_other_trace() -> None:
    assert lossy_run(3) == lossy_run(3)
    assert lossy_run(3) != lossy_run(4)


@pytest.mark.parametrize("name", ["lan", "wifi-flaky", "lte", "satellite", "offline"])
def test_profiles_carry_a_message_or_refuse(sim: Sim, name: str) -> None:
    async def workload(rt: Runtime) -> float | str:
        async with make_link(rt, profile=name) as link:
            try:
                await link.transfer(100_000, "upstream", deadline=60)
            except ConnectionError as error:
                return str(error)
            return rt.monotonic()

    result = sim(workload)
    if name == "offline":
        assert result == "link 'link' is down (profile:offline)"
        return
    assert isinstance(result, float)
    up = profile(name).params.upstream
    assert up.bandwidth is not None
    expected = 100_000 / up.bandwidth + up.latency
    assert result == pytest.approx(expected, abs=up.jitter + 1e-9)


def test_profile_ordering_is_sensible() -> None:
    lan, lte, sat = (profile(n).params.upstream for n in ("lan", "lte", "satellite"))
    assert lan.latency < lte.latency < sat.latency
    assert (lan.bandwidth or 0) > (lte.bandwidth or 0) > (sat.bandwidth or 0) > 0
    with pytest.raises(ConfigError, match="unknown link profile 'dialup'; known: lan, lte"):
        profile("dialup")


def test_link_must_be_started(sim: Sim) -> None:
    async def workload(rt: Runtime) -> None:
        link = make_link(rt)
        with pytest.raises(InternalError, match="before start"):
            await link.transfer(1, "upstream", deadline=1)
        with pytest.raises(ValueError, match="nbytes"):
            async with link:
                await link.transfer(-1, "upstream", deadline=1)

    sim(workload)


def test_a_cancelled_transfer_leaves_the_link_usable(sim: Sim) -> None:
    async def workload(rt: Runtime) -> tuple[float, int, int]:
        async with make_link(rt) as link:
            task = rt.spawn(link.transfer(1000, "upstream", deadline=100), name="doomed")
            await rt.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task.join()
            await link.transfer(100, "downstream", deadline=100)
            stats = link.statistics()
            return rt.monotonic(), stats.transfers, stats.delivered

    assert sim(workload) == (pytest.approx(0.12), 2, 1)


def test_a_crashed_device_process_does_not_break_a_shared_link() -> None:
    kernel = SimKernel(epoch_ns=0)
    world, device = kernel.process("world"), kernel.process("device")
    log: list[str] = []

    async def uploader(link: SimLink) -> None:
        try:
            await link.transfer(1000, "upstream", deadline=100)
        except ProcessKilled:
            log.append(f"killed at {device.monotonic():g}")
            raise

    async def scenario(rt: Runtime) -> None:
        async with make_link(rt) as link:
            device.spawn(uploader(link), name="uploader")
            await rt.sleep(0.3)
            device.kill()
            await rt.sleep(0.01)
            await link.transfer(10, "downstream", deadline=100)
            log.append(f"link still works at {rt.monotonic():g}")

    kernel.run_main(scenario(world), name="world-main")
    assert log == ["killed at 0.3", "link still works at 0.321"]


def test_on_up_fires_each_time_the_link_comes_back_by_schedule_or_by_hand(sim: Sim) -> None:
    async def workload(rt: Runtime) -> list[float]:
        ups: list[float] = []
        link = make_link(rt, down_windows=[DownWindow(0.0, 2.0, "boot"), DownWindow(5.0, 6.0)])
        link.on_up(lambda: ups.append(rt.monotonic()))
        async with link:
            await rt.sleep(8)
            link.set_up(False, "unplug")
            link.set_up(False, "modem-reboot")
            link.set_up(True, "unplug")  # still down: the modem
            await rt.sleep(1)
            link.set_up(True, "modem-reboot")
        return ups

    assert sim(workload) == [2.0, 6.0, 9.0]  # never for the state it starts in
