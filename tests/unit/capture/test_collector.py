"""Collector behaviour on simulated time with a scripted device and an in-memory sink."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.capture.fakes import Device, Sink

from dmsim.capture._collector import Collector
from dmsim.runtime import SimKernel, Trace


def make(
    kernel: SimKernel, *, hz: float = 10.0, queue: int = 250, window: float = 1.0, **device: Any
) -> tuple[Collector, Device, Sink, Trace]:
    rt = kernel.process("core")
    trace = Trace(kernel.now)
    dev, sink = Device(rt, **device), Sink(rt)
    collector = Collector(
        rt=rt,
        stream="rdk:component:arm/arm1/JointPositions",
        boot=0,
        source=dev,
        method="JointPositions",
        params={},
        period_s=1 / hz,
        queue_size=queue,
        sink=sink,
        durability_window_s=window,
        capture_timeout_s=5.0,
        trace=trace,
    )
    return collector, dev, sink, trace


def run_for(kernel: SimKernel, collector: Collector, seconds: float) -> None:
    collector.start()
    kernel.run(until=kernel.now() + seconds)


def test_count_matches_frequency_times_duration_and_first_capture_after_one_period() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, trace = make(kernel, hz=10)
    run_for(kernel, collector, 60.0)
    stats = collector.statistics()
    assert stats.captured in (599, 600)  # ticks at 0.1 .. 60.0 (the last may be at the edge)
    assert stats.skipped_total == 0
    first = trace.of_kind("reading.captured")[0]
    assert first.time == pytest.approx(0.1)
    assert [r.seq for r in sink.written] == list(range(len(sink.written)))


def test_slow_device_overruns_are_counted_as_skipped_ticks() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, _sink, _ = make(kernel, hz=10, delay_s=0.25)  # each capture spans 2.5 ticks
    run_for(kernel, collector, 30.0)
    stats = collector.statistics()
    ticks = 299  # deadlines 0.1 .. 29.9 fall inside the run
    in_flight = 3  # the capture running at the end has not been accounted yet
    assert ticks - in_flight <= stats.captured + stats.skipped_total <= ticks
    assert stats.skipped["overrun"] > 150


def test_device_errors_skip_ticks_and_capture_resumes() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, _sink, trace = make(kernel, hz=1, fail_between=(10.0, 20.0))
    run_for(kernel, collector, 60.0)
    stats = collector.statistics()
    assert stats.device_errors == 10
    assert stats.skipped == {"device_error": 10}
    assert stats.captured == 49  # deadlines 1 .. 59 fall inside the run
    # one error line per 2 s at most: throttled
    assert len(trace.of_kind("capture.error")) == 5


def test_writer_survives_disk_full_and_skips_are_accounted() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, _ = make(kernel, hz=10, queue=20)
    sink.broken_until = 30.0
    run_for(kernel, collector, 60.0)
    stats = collector.statistics()
    assert stats.write_errors > 0
    assert stats.skipped["queue_full"] > 200
    assert stats.captured + stats.skipped_total in (599, 600)
    # everything captured was eventually written, in order, none lost
    assert stats.written == stats.captured - stats.queue_depth
    assert [r.seq for r in sink.written] == list(range(len(sink.written)))


def test_what_waited_for_a_failing_disk_is_durable_one_window_after_it_recovers() -> None:
    """Regression (dmsim fuzz, clock-step-backwards seed 1724786): the writer's retries
    backed off to 30 s, so readings held while writes failed stayed in memory up to 30 s
    after the disk recovered, and a power cut then took them; now a retry waits at most one
    durability window, so they are written within one and fsynced within the next."""
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, _ = make(kernel, hz=2, window=1.0)
    sink.broken_until = 41.6  # writes fail from the start until then
    run_for(kernel, collector, 44.0)
    assert sink.written  # the backlog went in within a window of the disk's recovery
    assert sink.sync_times[0] <= 41.6 + 2 * 1.0
    assert sink.synced_upto >= 80  # everything captured by the recovery (2 Hz × 40 s)


def test_fsync_happens_within_the_durability_window() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, _ = make(kernel, hz=0.1, window=1.0)  # one reading every 10 s
    run_for(kernel, collector, 35.0)
    assert sink.sync_times == pytest.approx([11.0, 21.0, 31.0])


def test_close_drains_the_queue_to_disk() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, _ = make(kernel, hz=100, queue=250)
    sink.broken_until = 5.0
    collector.start()
    kernel.run(until=4.0)
    queued = collector.statistics().queue_depth
    assert queued > 100

    async def shutdown() -> None:
        await collector.stop_capture()
        await collector.finish(drain_timeout_s=60.0)

    kernel.run_main(shutdown())
    stats = collector.statistics()
    assert stats.queue_depth == 0
    assert stats.written == stats.captured
    assert sink.closed


def test_close_reports_readings_it_cannot_write() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, trace = make(kernel, hz=10, queue=50)
    sink.broken_until = 1e9
    collector.start()
    kernel.run(until=10.0)

    async def shutdown() -> None:
        await collector.stop_capture()
        await collector.finish(drain_timeout_s=5.0)

    kernel.run_main(shutdown())
    stats = collector.statistics()
    dropped = trace.of_kind("reading.dropped")
    assert stats.dropped == stats.captured == len(dropped[0].fields["ids"])


def test_rate_change_keeps_queue_and_phase() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, _sink, trace = make(kernel, hz=1)
    collector.start()
    kernel.run(until=10.5)
    collector.set_period(0.1)
    kernel.run(until=20.5)
    times = [e.time for e in trace.of_kind("reading.captured")]
    assert times[:10] == pytest.approx([float(i) for i in range(1, 11)])
    assert times[10] == pytest.approx(11.0)  # the pending 1 Hz deadline is kept
    assert times[11] == pytest.approx(11.1)
    assert len(times) == 10 + 95  # 11.0 .. 20.4 at 10 Hz


def test_a_killed_process_stops_capturing() -> None:
    kernel = SimKernel(epoch_ns=0)
    collector, dev, _sink, _ = make(kernel, hz=10)
    collector.start()
    kernel.run(until=5.0)
    calls = dev.calls
    dev.rt.kill()  # type: ignore[attr-defined]
    kernel.run(until=10.0)
    assert dev.calls == calls


def test_flush_does_not_wait_for_a_disk_that_cannot_drain() -> None:
    """Regression: flush() waited until the queue drained. With the disk full of unsynced
    files the writer cannot drain, and the sync pass (which flushes first) never uploaded
    the files that would free the space."""
    kernel = SimKernel(epoch_ns=0)
    collector, _dev, sink, _ = make(kernel, hz=10)
    collector.start()
    kernel.run(until=5.0)
    sink.broken_until = 1e9  # the disk is full from now on
    kernel.run(until=10.0)
    assert collector.statistics().queue_depth > 0

    async def flush() -> float:
        start = collector._rt.monotonic()
        await collector.flush()
        return collector._rt.monotonic() - start

    waited = kernel.run_main(flush())
    assert waited <= 5.0
    assert sink.files_closed == 1  # what was written so far is a complete file, ready to sync
