"""SimCloudTransport: the client's ok/fail/unknown against what the in-process cloud did."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from tests.unit.net.net_sim import run_sim

from dmsim.cloud import CloudCore, RpcFault, RpcFaultPlan
from dmsim.cloud.samples import file_metadata, streaming_metadata, tabular_request
from dmsim.errors import CloudError
from dmsim.net import (
    DirectionParams,
    DownWindow,
    LinkParams,
    LinkProfile,
    SimCloudTransport,
    SimLink,
    UploadAttempt,
)
from dmsim.runtime import RngTree, Runtime

FAST = LinkProfile(
    "fast",
    LinkParams(
        upstream=DirectionParams(latency=0.01, bandwidth=100_000.0),
        downstream=DirectionParams(latency=0.01, bandwidth=100_000.0),
    ),
)
REQUEST = tabular_request([{"temp": 20.5}, {"temp": 21.0}])


class World:
    """A link, a cloud and the transport between them, on one simulated runtime."""

    def __init__(
        self,
        rt: Runtime,
        *,
        faults: Sequence[RpcFault] = (),
        profile: LinkProfile = FAST,
        down: Sequence[DownWindow] = (),
        **options: Any,
    ) -> None:
        self.rt = rt
        self.core = CloudCore(clock=lambda: 1_700_000_000 + rt.monotonic())
        self.link = SimLink(rt, rng=RngTree(5).child("link"), profile=profile, down_windows=down)
        self.transport = SimCloudTransport(
            rt, self.link, self.core, plan=RpcFaultPlan(faults), **options
        )

    def stored(self) -> int:
        return self.core.statistics().stored_items


def run_world(
    body: Callable[[World], Any], **world_options: Any
) -> tuple[Any, tuple[UploadAttempt, ...]]:
    async def workload(rt: Runtime) -> tuple[Any, tuple[UploadAttempt, ...]]:
        world = World(rt, **world_options)
        async with world.link:
            result = await body(world)
        await world.transport.close()
        return result, world.transport.attempts()

    result: tuple[Any, tuple[UploadAttempt, ...]] = run_sim(workload)
    return result


def outcomes(attempts: Sequence[UploadAttempt]) -> list[tuple[str, str, bool]]:
    return [(a.outcome, a.cloud, a.landed) for a in attempts]


def test_ok_upload_takes_the_link_time_both_ways() -> None:
    async def body(w: World) -> tuple[str, float, int]:
        response = await w.transport.data_capture_upload(REQUEST, key="k1")
        return response.file_id, w.rt.monotonic(), w.stored()

    (file_id, elapsed, stored), attempts = run_world(body)
    assert file_id
    assert stored == 2
    up = 128 + REQUEST.ByteSize() + 5
    assert elapsed == pytest.approx(up / 100_000 + 0.02 + 128 / 100_000 + 0.01)
    assert outcomes(attempts) == [("ok", "ok", True)]
    assert attempts[0].bytes_sent == up


def test_ack_lost_after_commit_is_unknown_then_the_resend_is_a_duplicate() -> None:
    fault = RpcFault("drop-1", "drop_ack", count=1)

    async def body(w: World) -> list[str]:
        log = []
        with pytest.raises(ConnectionError):
            await w.transport.data_capture_upload(REQUEST, key="k1")
        log.append(f"stored after drop: {w.stored()}")
        response = await w.transport.data_capture_upload(REQUEST, key="k1")
        log.append(f"resend ok: {bool(response.file_id)}; stored: {w.stored()}")
        log.append(f"cloud duplicates: {w.core.statistics().duplicates}")
        return log

    log, attempts = run_world(body, faults=[fault])
    assert log == ["stored after drop: 2", "resend ok: True; stored: 2", "cloud duplicates: 1"]
    assert outcomes(attempts) == [("unknown", "dropped", True), ("ok", "duplicate", True)]
    assert attempts[0].fault_id == "drop-1"


def test_only_the_latest_attempts_are_kept_but_the_statistics_count_every_one() -> None:
    # A simulated week uploads millions of files: the record must not grow with them.
    fault = RpcFault("drop-1", "drop_ack", count=1)

    async def body(w: World) -> Any:
        with pytest.raises(ConnectionError):
            await w.transport.data_capture_upload(REQUEST, key="k0")
        for n in range(1, 5):
            await w.transport.data_capture_upload(REQUEST, key=f"k{n}")
        return w.transport.statistics()

    stats, attempts = run_world(body, faults=[fault], keep_attempts=2)
    assert [(a.index, a.key) for a in attempts] == [(3, "k3"), (4, "k4")]
    assert (stats.calls, stats.ok, stats.unknown, stats.landed_unknown) == (5, 4, 1, 1)
    assert stats.bytes_sent == 5 * attempts[0].bytes_sent


def test_downstream_loss_after_commit_times_out_but_the_cloud_has_it() -> None:
    lossy_down = LinkProfile(
        "lossy-down",
        LinkParams(upstream=FAST.params.upstream, downstream=DirectionParams(loss=1.0)),
    )

    async def body(w: World) -> tuple[float, int]:
        with pytest.raises(TimeoutError):
            await w.transport.data_capture_upload(REQUEST, key="k1")
        return w.rt.monotonic(), w.stored()

    (elapsed, stored), attempts = run_world(body, profile=lossy_down, timeout=5.0)
    assert (elapsed, stored) == (5.0, 2)
    assert outcomes(attempts) == [("unknown", "ok", True)]
    assert attempts[0].fault_id == "link:loss:downstream"
    assert attempts[0].error.startswith("LinkTimeoutError")


def test_reject_is_a_fail_and_nothing_is_stored() -> None:
    fault = RpcFault("busy", "reject", code="UNAVAILABLE", count=1)

    async def body(w: World) -> int:
        with pytest.raises(CloudError) as caught:
            await w.transport.data_capture_upload(REQUEST, key="k1")
        assert caught.value.code == "UNAVAILABLE"
        return w.stored()

    stored, attempts = run_world(body, faults=[fault])
    assert stored == 0
    assert outcomes(attempts) == [("fail", "error:UNAVAILABLE", False)]


def test_validation_errors_come_back_as_fail() -> None:
    bad = tabular_request([{"x": 1}], part_id="")

    async def body(w: World) -> None:
        with pytest.raises(CloudError) as caught:
            await w.transport.data_capture_upload(bad, key="k1")
        assert caught.value.code == "INVALID_ARGUMENT"

    _, attempts = run_world(body)
    assert outcomes(attempts) == [("fail", "error:INVALID_ARGUMENT", False)]


def test_storage_full_and_deadline_exceeded_codes() -> None:
    faults = [
        RpcFault("full", "storage_full", count=1),
        RpcFault("late", "reject", code="DEADLINE_EXCEEDED", count=1),
    ]

    async def body(w: World) -> list[str]:
        codes = []
        for key in ("a", "b"):
            with pytest.raises(CloudError) as caught:
                await w.transport.data_capture_upload(REQUEST, key=key)
            codes.append(caught.value.code)
        return codes

    codes, attempts = run_world(body, faults=faults)
    assert codes == ["RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"]
    # DEADLINE_EXCEEDED may have landed: the client must treat it as unknown
    assert [a.outcome for a in attempts] == ["fail", "unknown"]


def test_link_down_at_the_start_never_reaches_the_cloud() -> None:
    async def body(w: World) -> int:
        with pytest.raises(ConnectionError):
            await w.transport.data_capture_upload(REQUEST, key="k1")
        return len(w.transport.plan.timeline())

    decided, attempts = run_world(body, down=[DownWindow(0, 10, "outage")])
    assert decided == 0
    assert outcomes(attempts) == [("unknown", "unreached", False)]
    assert attempts[0].fault_id == "outage"


def test_slow_ack_within_and_beyond_the_deadline() -> None:
    faults = [
        RpcFault("slow", "slow_ack", seconds=2.0, count=1),
        RpcFault("slower", "slow_ack", seconds=5.0, count=1),
    ]

    async def body(w: World) -> list[float]:
        times = []
        start = w.rt.monotonic()
        await w.transport.data_capture_upload(REQUEST, key="a")
        times.append(w.rt.monotonic() - start)
        start = w.rt.monotonic()
        with pytest.raises(TimeoutError):
            await w.transport.data_capture_upload(REQUEST, key="b")
        times.append(w.rt.monotonic() - start)
        return times

    (first, second), attempts = run_world(body, faults=faults, timeout=3.0)
    assert first == pytest.approx(2.0, abs=0.05)
    assert second == pytest.approx(3.0)
    assert outcomes(attempts) == [("ok", "ok", True), ("unknown", "ok", True)]
    assert [a.fault_id for a in attempts] == ["slow", "slower"]


async def chunks(total: int, size: int) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield bytes([start % 251]) * min(size, total - start)


def test_streaming_upload_consumes_every_chunk() -> None:
    async def body(w: World) -> tuple[str, float, int]:
        response = await w.transport.file_upload(
            file_metadata("log.txt"), chunks(200_000, 50_000), key="f1"
        )
        items = w.core.query()
        assert len(items) == 1
        assert items[0].size == 200_000
        return response.file_id, w.rt.monotonic(), w.transport.attempts()[0].bytes_sent

    (file_id, elapsed, sent), attempts = run_world(body, chunk_size=64 * 1024)
    assert file_id
    assert sent > 200_000
    assert elapsed == pytest.approx(sent / 100_000 + 4 * 0.01 + 128 / 100_000 + 0.01, rel=0.05)
    assert outcomes(attempts) == [("ok", "ok", True)]


def test_stall_mid_stream_times_out_without_storing() -> None:
    fault = RpcFault(
        "stall", "stall", after_bytes=10_000, rpcs=frozenset({"StreamingDataCaptureUpload"})
    )

    async def body(w: World) -> tuple[float, int]:
        with pytest.raises(TimeoutError):
            await w.transport.streaming_data_capture_upload(
                streaming_metadata(), chunks(100_000, 4096), key="s1"
            )
        return w.rt.monotonic(), w.stored()

    (elapsed, stored), attempts = run_world(body, faults=[fault], timeout=3.0)
    assert (elapsed, stored) == (3.0, 0)
    assert outcomes(attempts) == [("unknown", "cancelled", False)]
    assert 10_000 <= attempts[0].bytes_sent < 20_000


def test_restart_mid_stream_loses_the_call_and_the_cloud_is_briefly_gone() -> None:
    faults = [RpcFault("crash", "restart", after_bytes=5_000, count=1)]

    async def body(w: World) -> list[str]:
        log = []
        with pytest.raises(ConnectionError):
            await w.transport.streaming_data_capture_upload(
                streaming_metadata(), chunks(50_000, 4096), key="s1"
            )
        log.append(f"stored {w.stored()}")
        with pytest.raises(ConnectionError, match="restarting"):
            await w.transport.streaming_data_capture_upload(
                streaming_metadata(), chunks(50_000, 4096), key="s1"
            )
        await w.rt.sleep(5)
        await w.transport.streaming_data_capture_upload(
            streaming_metadata(), chunks(50_000, 4096), key="s1"
        )
        log.append(f"stored {w.stored()}")
        return log

    log, attempts = run_world(body, faults=faults, restart_downtime=2.0)
    assert log == ["stored 0", "stored 1"]
    assert outcomes(attempts) == [
        ("unknown", "crashed", False),
        ("unknown", "unreached", False),
        ("ok", "ok", True),
    ]


def test_restart_after_commit_landed_although_the_client_saw_a_failure() -> None:
    faults = [RpcFault("crash", "restart", commit=True, count=1)]

    async def body(w: World) -> int:
        with pytest.raises(ConnectionError):
            await w.transport.data_capture_upload(REQUEST, key="k1")
        await w.transport.data_capture_upload(REQUEST, key="k1")
        return w.stored()

    stored, attempts = run_world(body, faults=faults)
    assert stored == 2
    assert outcomes(attempts) == [("unknown", "crashed", True), ("ok", "duplicate", True)]
    stats_calls = [a.rpc for a in attempts]
    assert stats_calls == ["DataCaptureUpload", "DataCaptureUpload"]


def test_every_attempt_is_traced_and_counted() -> None:
    faults = [RpcFault("drop", "drop_ack", count=1)]

    async def body(w: World) -> tuple[list[dict[str, Any]], Any, list[str]]:
        for _ in range(2):
            with contextlib.suppress(ConnectionError):
                await w.transport.data_capture_upload(REQUEST, key="k1")
        events = [e.fields for e in w.link.trace.of_kind("net.transport.attempt")]
        timeline = [e.outcome for e in w.transport.plan.timeline()]
        return events, w.transport.statistics(), timeline

    (events, stats, timeline), _ = run_world(body, faults=faults)
    assert [(e["key"], e["outcome"], e["cloud"], e["landed"]) for e in events] == [
        ("k1", "unknown", "dropped", True),
        ("k1", "ok", "duplicate", True),
    ]
    assert (stats.calls, stats.ok, stats.unknown, stats.landed_unknown, stats.duplicates) == (
        2, 1, 1, 1, 1,
    )  # fmt: skip
    assert timeline == ["dropped", "duplicate"]


def lossy_history(seed: int) -> list[tuple[str, str, bool]]:
    flaky = LinkProfile(
        "flaky", LinkParams.symmetric(DirectionParams(latency=0.05, bandwidth=50_000, loss=0.3))
    )

    async def workload(rt: Runtime) -> list[tuple[str, str, bool]]:
        core = CloudCore(clock=rt.monotonic)
        link = SimLink(rt, rng=RngTree(seed).child("link"), profile=flaky)
        transport = SimCloudTransport(rt, link, core, timeout=2.0)
        async with link:
            for i in range(30):
                for _ in range(10):  # retry with the same key until acknowledged
                    try:
                        await transport.data_capture_upload(
                            tabular_request([{"i": i}]), key=f"k{i}"
                        )
                        break
                    except (TimeoutError, ConnectionError):
                        continue
        assert core.statistics().stored_items == 30  # exactly once each
        return outcomes(transport.attempts())

    result: list[tuple[str, str, bool]] = run_sim(workload)
    return result


def test_retries_under_loss_deliver_exactly_once_and_deterministically() -> None:
    history = lossy_history(11)
    assert history == lossy_history(11)
    assert ("unknown", "ok", True) in history  # some acks were lost after commit
    assert ("ok", "duplicate", True) in history  # and their resends were recognised
