"""The sync engine on the real runtime and disk, uploading to the fake cloud over gRPC on
loopback: every upload path, lost acknowledgements and re-sent files stored once."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.unit.sync.sync_fakes import (
    binary_metadata,
    binary_record,
    tabular_metadata,
    tabular_readings,
    write_capture,
    write_file,
)

from dmsim.cloud import CloudCore, CloudHost, CloudServer, GrpcTransport, RpcFault
from dmsim.runtime import RealRuntime, RngTree
from dmsim.storage._realfs import RealFS
from dmsim.sync import InUseTracker, SyncEngine, SyncReport, SyncSettings

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def syncing(
    rt: RealRuntime, capture_dir: Path, **settings: Any
) -> AsyncIterator[tuple[SyncEngine, CloudServer]]:
    """A cloud on an ephemeral loopback port and a started engine uploading to it."""
    core = CloudCore(clock=lambda: rt.wall_ns() / 1e9)
    server = CloudServer(CloudHost(core, runtime=rt))
    await server.start()
    transport = GrpcTransport(port=server.port, timeout=10.0)

    async def flush() -> None:
        return None

    engine = SyncEngine(
        rt=rt,
        fs=RealFS(),
        transport=transport,
        settings=SyncSettings(
            capture_dir=str(capture_dir), part_id="part-1", sync_disabled=True, **settings
        ),
        rng=RngTree(7),
        trace=None,
        tracker=InUseTracker(),
        flush_capture=flush,
        is_online=lambda: True,
    )
    engine.start()
    try:
        yield engine, server
    finally:
        await engine.close()
        await transport.close()
        await server.stop()


def run(body: Callable[[RealRuntime], Awaitable[Any]]) -> Any:
    rt = RealRuntime()
    return rt.run_main(body(rt))


async def stored(server: CloudServer) -> tuple[list[tuple[str, int, int]], int]:
    """Reading identities the cloud holds (a duplicate shows twice), and how many files."""
    items = await server.host.call(server.host.core.query)
    readings = sorted(
        (i.reading_stream, i.reading_boot or 0, i.reading_seq or 0)
        for i in items
        if i.reading_stream is not None
    )
    return readings, sum(1 for i in items if i.kind == "file")


def test_every_upload_path_over_grpc(tmp_path: Path) -> None:
    fs = RealFS()
    capture = tmp_path / "capture"
    extra = tmp_path / "extra"
    write_capture(
        fs,
        f"{capture}/sensor/Readings/a.capture",
        tabular_metadata(),
        tabular_readings("t", 400, pad=60),
    )
    write_capture(
        fs,
        f"{capture}/cam/ReadImage/big.capture",
        binary_metadata(),
        [binary_record("b", 0, bytes(range(256)) * 16_000)],
    )
    write_capture(
        fs,
        f"{capture}/cam/ReadImage/small.capture",
        binary_metadata(),
        [binary_record("b", 1, b"jpeg")],
    )
    write_file(fs, f"{extra}/notes.txt", b"field notes")

    async def body(rt: RealRuntime) -> tuple[SyncReport, Any, dict[str, int]]:
        async with syncing(
            rt,
            capture,
            additional_sync_paths=(str(extra),),
            file_last_modified_millis=0,
            max_request_bytes=8192,
            maximum_num_sync_threads=2,
        ) as (engine, server):
            report = await engine.sync_now()
            stats = engine.statistics().as_dict()
            return report, await stored(server), stats

    report, (readings, files), stats = run(body)
    assert (report.dispatched, report.uploaded, report.failed) == (4, 4, 0)
    assert report.all_uploaded
    expected = [("b", 1, 0), ("b", 1, 1)] + [("t", 1, i) for i in range(400)]
    assert readings == expected
    assert files == 1
    assert stats["requests"] > 4  # the tabular file went as several requests under 8 KiB
    assert list(capture.rglob("*.capture")) == []
    assert not (extra / "notes.txt").exists()


def test_lost_ack_over_grpc_is_resent_and_stored_once(tmp_path: Path) -> None:
    fs = RealFS()
    capture = tmp_path / "capture"
    write_capture(
        fs, f"{capture}/s/Readings/a.capture", tabular_metadata(), tabular_readings("t", 10)
    )

    async def body(rt: RealRuntime) -> tuple[SyncReport, SyncReport, Any, int]:
        async with syncing(rt, capture) as (engine, server):
            server.host.plan.add(RpcFault("lost-ack", "drop_ack", count=1))
            first = await engine.sync_now()
            second = await engine.sync_now()
            readings, _ = await stored(server)
            return first, second, readings, server.host.core.statistics().duplicates

    first, second, readings, duplicates = run(body)
    assert (first.uploaded, first.failed) == (0, 1)
    assert (second.uploaded, second.failed) == (1, 0)
    assert readings == [("t", 1, i) for i in range(10)]
    assert duplicates == 1


def test_a_file_sent_again_after_a_crash_is_recognised(tmp_path: Path) -> None:
    fs = RealFS()
    capture = tmp_path / "capture"
    path = f"{capture}/s/Readings/a.capture"
    write_capture(fs, path, tabular_metadata(), tabular_readings("t", 25))
    shutil.copy(path, tmp_path / "kept")

    async def body(rt: RealRuntime) -> tuple[list[tuple[str, int, int]], int]:
        async with syncing(rt, capture) as (engine, server):
            await engine.sync_now()
            # As if the process died after the acknowledgement, before the unlink was durable.
            shutil.copy(tmp_path / "kept", path)
            again = await engine.sync_now()
            assert again.uploaded == 1
            readings, _ = await stored(server)
            return readings, server.host.core.statistics().duplicates

    readings, duplicates = run(body)
    assert readings == [("t", 1, i) for i in range(25)]
    assert duplicates == 1
    assert not Path(path).exists()
