"""Closing a collector while the disk fails (a reconfigure or shutdown at a bad moment): the
real writer's buffered readings are retried into a file, or reported dropped; close never
raises. It used to raise ``CaptureWriteError`` out of ``close()``, which ended the reconfigure
(or the capture control poller) that called it."""

from __future__ import annotations

from tests.unit.capture.fakes import Device
from viam.proto.app.datasync import DataType

from dmsim.capture import Collector
from dmsim.runtime import RngTree, SimKernel, Trace
from dmsim.service._sink import WriterSink
from dmsim.storage import SimFS
from dmsim.storage._naming import CollectorKey
from dmsim.storage._writer import CaptureWriter

CAPTURE_DIR = "/capture"


def collector_on_simfs() -> tuple[SimKernel, Collector, SimFS, Trace]:
    kernel = SimKernel(epoch_ns=1_767_225_600 * 10**9)
    rt = kernel.process("core")
    trace = Trace(kernel.now)
    fs = SimFS(capacity_bytes=1 << 26, rng=RngTree(1), wall_clock=kernel.wall_ns)
    writer = CaptureWriter(
        fs.for_process(rt),
        capture_dir=CAPTURE_DIR,
        key=CollectorKey.of("rdk:component:sensor", "probe", "Readings"),
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=rt.monotonic,
        wall_ns=rt.wall_ns,
        durability_window_s=10.0,  # readings stay in the writer's buffer until close
    )
    collector = Collector(
        rt=rt,
        stream="probe",
        boot=0,
        source=Device(rt),
        method="Readings",
        params={},
        period_s=0.5,
        queue_size=50,
        sink=WriterSink(writer),
        durability_window_s=10.0,
        capture_timeout_s=5.0,
        trace=trace,
    )
    collector.start()
    kernel.run(until=3.2)  # six readings, all still in the 4 KiB buffer
    return kernel, collector, fs, trace


def test_a_disk_that_fails_for_a_moment_at_close_costs_no_reading() -> None:
    kernel, collector, fs, trace = collector_on_simfs()
    fs.inject_eio(prefix=CAPTURE_DIR, ops=["write", "open"], fault_id="blip", count=2)

    async def close() -> None:
        await collector.stop_capture()
        await collector.finish(drain_timeout_s=60.0)

    kernel.run_main(close())
    stats = collector.statistics()
    assert stats.captured == 6
    assert stats.dropped == 0
    assert stats.write_errors >= 1
    assert trace.of_kind("reading.dropped") == []
    names = [n for _, _, files in fs.walk(CAPTURE_DIR) for n in files]
    assert names
    assert all(n.endswith(".capture") for n in names)


def test_a_disk_that_stays_broken_reports_the_buffered_readings_dropped() -> None:
    kernel, collector, fs, trace = collector_on_simfs()
    fs.inject_eio(prefix=CAPTURE_DIR, ops=["write", "open"], fault_id="dead")

    async def close() -> None:
        await collector.stop_capture()
        await collector.finish(drain_timeout_s=5.0)

    kernel.run_main(close())  # returns: no CaptureWriteError
    dropped = [tuple(i) for e in trace.of_kind("reading.dropped") for i in e.fields["ids"]]
    assert dropped == [("probe", 0, seq) for seq in range(6)]
    assert collector.statistics().dropped == 6
    assert 3.2 + 2.5 <= kernel.now() <= 3.2 + 5.0  # it backed off until the drain deadline
