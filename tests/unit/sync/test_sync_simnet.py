"""The sync engine against the real simulated network and cloud: ``SimLink`` with outages,
``SimCloudTransport`` with RPC faults (lost acknowledgements, rejections, a cloud restart)."""

from __future__ import annotations

from tests.unit.sync.sync_fakes import (
    CAPTURE_DIR,
    World,
    binary_metadata,
    binary_record,
    capture_path,
    stored_identities,
    tabular_metadata,
    tabular_readings,
    write_capture,
)

from dmsim.cloud import RpcFault, RpcFaultPlan
from dmsim.net import DownWindow, SimCloudTransport, SimLink
from dmsim.runtime import RngTree
from dmsim.sync import SyncEngine, SyncStatistics


def test_outages_and_rpc_faults_end_with_every_reading_stored_once() -> None:
    world = World(seed=11)
    expected = []
    for index in range(12):
        records = tabular_readings("t", 20, start=index * 20, pad=50)
        write_capture(world.fs, capture_path(index), tabular_metadata(), records)
        expected += [("t", 1, s) for s in range(index * 20, index * 20 + 20)]
    path = f"{CAPTURE_DIR}/rdk_component_camera/cam/ReadImage/big.capture"
    write_capture(world.fs, path, binary_metadata(), [binary_record("b", 0, b"i" * 2_500_000)])
    expected.append(("b", 1, 0))
    plan = RpcFaultPlan(
        [
            RpcFault("lost-acks", "drop_ack", count=3),
            RpcFault("busy", "reject", code="INTERNAL", start=200.0, count=2),
            RpcFault(
                "restart",
                "restart",
                rpcs=frozenset({"StreamingDataCaptureUpload"}),
                after_bytes=1_000_000,
                count=1,
            ),
        ]
    )
    link = SimLink(
        world.rt,
        rng=RngTree(11).child("link"),
        profile="wifi-flaky",
        down_windows=[DownWindow(20.0, 140.0, "outage-1"), DownWindow(300.0, 305.0, "blip")],
        trace=world.trace,
    )
    transport = SimCloudTransport(
        world.rt, link, world.core, plan=plan, timeout=20.0, restart_downtime=5.0
    )

    async def main() -> SyncStatistics:
        link.start()
        engine = SyncEngine(
            rt=world.rt,
            fs=world.fs,
            transport=transport,
            settings=world.settings(maximum_num_sync_threads=2, max_request_bytes=2048),
            rng=RngTree(11),
            trace=world.trace,
            tracker=world.tracker,
            flush_capture=world.flush,
            is_online=link.is_up,
        )
        engine.start()
        await world.rt.sleep(3 * 3600)
        await engine.close()
        await link.stop()
        return engine.statistics()

    stats = world.run(main())
    assert stored_identities(world.core) == sorted(expected)
    assert world.files() == []
    assert stats.requests_unknown >= 3  # the dropped acknowledgements at least
    assert stats.resends_acknowledged >= 1
    # Every call that landed while the client saw "unknown" was resent and recognised.
    assert transport.statistics().landed_unknown >= 3
    assert world.core.statistics().duplicates >= 3
    # While the link was down, scheduled passes neither flushed capture nor walked.
    flush_times = [e.time for e in world.trace.of_kind("sync.pass")]
    assert not [t for t in flush_times if 26.0 <= t < 140.0]
