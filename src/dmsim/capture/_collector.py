"""One collector per (resource, method, additional_params): capture → bounded queue → disk.

Three tasks per collector, all on the runtime port:

- the **capture loop** serves drift-free deadlines (:mod:`._schedule`). A tick is skipped, and
  counted by reason, when the queue is full, the device errs or times out, or a capture overran
  later deadlines. A reading gets its identity (stream, boot, seq) only once it is in the queue,
  so sequence numbers have no gaps for readings that never existed.
- the **writer loop** moves readings from the queue to the sink. It never dies: on a write
  error (ENOSPC, EIO) it counts, backs off (100 ms doubling to one durability window) and
  retries the *same* reading, so what waited is written within a window of the disk's
  recovery. While it waits the queue fills and ticks are skipped — counted.
- the **durability task** fsyncs pending data within ``durability_window_s`` of the write, so
  a power cut loses at most one window of readings per collector.

Stopping a collector (:meth:`Collector.stop_capture`, then :meth:`Collector.finish`) drains the
queue to disk before the file is closed (rdk drops up to a queue's worth of readings on every
Close).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from viam.proto.app.datasync import SensorData

from dmsim.devices import CaptureResult
from dmsim.errors import DeviceError
from dmsim.runtime import QueueFull, Runtime, Task, Trace

from ._encode import built_sensor_data_digest, to_sensor_data
from ._schedule import Schedule
from ._throttle import LogThrottle

__all__ = ["CaptureSource", "Collector", "CollectorStatistics", "ReadingSink", "StampedReading"]

_WRITE_BACKOFF_INITIAL_S = 0.1
_FLUSH_DRAIN_S = 5.0


class CaptureSource(Protocol):
    async def capture(self, method: str, params: Mapping[str, str]) -> CaptureResult: ...


class StampedReading(NamedTuple):  # a NamedTuple, not a dataclass: built for every reading
    """A reading with its identity, as the ``SensorData`` the sink writes."""

    stream: str
    boot: int
    seq: int
    sensor_data: SensorData
    mime_type: str  # "" for tabular readings


class ReadingSink(Protocol):
    """Where a collector's readings go (the capture-file writer, behind an adapter)."""

    def write(self, reading: StampedReading) -> None:
        """Persist one reading or raise ``OSError``; after an error the reading was not kept."""

    def sync(self) -> None:
        """fsync pending data (called within the durability window of each write)."""

    def close_file(self) -> None:
        """Complete the open file (the sync pass's flush hook); on ``OSError`` the readings
        not yet in a file are kept for the next try."""

    def close(self) -> None:
        """Complete everything. An ``OSError`` here has given readings up; its ``rejected``
        attribute, when it has one, holds ``(identity, reading)`` pairs of what was lost."""


@dataclass(frozen=True, slots=True)
class CollectorStatistics:
    stream: str
    captured: int
    written: int
    skipped: Mapping[str, int]
    device_errors: int
    write_errors: int
    dropped: int
    queue_depth: int

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


@dataclass(slots=True)
class _Counters:
    captured: int = 0
    written: int = 0
    device_errors: int = 0
    write_errors: int = 0
    dropped: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count


class Collector:
    def __init__(
        self,
        *,
        rt: Runtime,
        stream: str,
        boot: int,
        source: CaptureSource,
        method: str,
        params: Mapping[str, str],
        period_s: float,
        queue_size: int,
        sink: ReadingSink,
        durability_window_s: float,
        capture_timeout_s: float,
        first_seq: int = 0,
        trace: Trace | None = None,
        log: Callable[[str], None] | None = None,
        throttle: LogThrottle | None = None,
    ) -> None:
        self._rt = rt
        self.stream = stream
        self._boot = boot
        self._source = source
        self._method = method
        self._params = dict(params)
        self._period = period_s
        self._sink = sink
        self._window = durability_window_s
        self._timeout = capture_timeout_s
        self._trace = trace
        self._log = log
        self._throttle = throttle or LogThrottle()
        self._queue = rt.queue(maxsize=queue_size)
        self._dirty = rt.event()
        self._idle = rt.event()
        self._idle.set()
        self._counters = _Counters()
        self._seq = first_seq
        # Readings enqueued and not yet accepted by the sink; "drained" means zero. (Queue
        # size alone misses a reading the writer has taken but not yet written.)
        self._unwritten = 0
        self._in_hand: StampedReading | None = None
        self._schedule: Schedule | None = None
        self._tasks: list[Task[None]] = []

    @property
    def next_seq(self) -> int:
        """The sequence number the next reading of this stream gets."""
        return self._seq

    # lifecycle
    def start(self) -> None:
        self._schedule = Schedule.starting_at(self._rt.monotonic(), self._period)
        self._tasks = [
            self._rt.spawn(self._capture_loop(), name=f"capture:{self.stream}"),
            self._rt.spawn(self._writer_loop(), name=f"write:{self.stream}"),
        ]
        if self._window > 0:  # with no window the sink fsyncs each write itself
            self._tasks.append(self._rt.spawn(self._durability_loop(), name=f"fsync:{self.stream}"))

    def set_period(self, period_s: float) -> None:
        """Change the rate in place: queue, file and phase are kept."""
        self._period = period_s
        if self._schedule is not None:
            self._schedule = self._schedule.with_period(period_s)

    async def flush(self, *, drain_timeout_s: float = _FLUSH_DRAIN_S) -> None:
        """Write what is queued (waiting at most ``drain_timeout_s``), then complete the open
        file. The wait is bounded: when the disk is full of unsynced files the queue cannot
        drain, and the sync pass that calls this must still go on to upload and free space."""
        with contextlib.suppress(TimeoutError):
            await self._rt.with_timeout(drain_timeout_s, self._drained())
        self._sink.close_file()

    async def stop_capture(self) -> None:
        """Take no more readings; the writer goes on with what is queued."""
        if self._tasks:
            await self._tasks[0].stop()

    async def finish(self, *, drain_timeout_s: float | None) -> None:
        """After :meth:`stop_capture`: drain the queue to disk, complete the file, stop the
        writer. If the disk stays unwritable for ``drain_timeout_s`` the readings still queued
        are dropped *and reported* (trace ``reading.dropped``), never lost silently; ``None``
        waits for the disk as long as it takes. Cancelled, it may be called again (with a
        bound): it goes on from where it was cut."""
        if drain_timeout_s is None:
            deadline = math.inf
            await self._drained()
        else:
            deadline = self._rt.monotonic() + drain_timeout_s
            try:
                await self._rt.with_timeout(drain_timeout_s, self._drained())
            except TimeoutError:
                self._drop_undrained()
        for task in self._tasks[1:]:
            await task.stop()
        self._tasks = []
        await self._complete_file(deadline)
        try:
            self._sink.close()
        except OSError as error:  # a reconfigure or shutdown must go on: report, never raise
            self._counters.write_errors += 1
            self._report("closing the capture file failed", str(error))
            lost = [identity for identity, _ in getattr(error, "rejected", ()) if identity]
            self._counters.dropped += len(lost)
            if self._trace is not None and lost:
                self._trace.record(
                    "reading.dropped",
                    reason="disk unwritable at close",
                    ids=[[i.stream, i.boot, i.seq] for i in lost],
                )

    async def _complete_file(self, deadline: float) -> None:
        """Complete the open file, retrying with the writer's backoff until ``deadline``: a
        disk that fails for a moment as a collector closes must not cost its last readings."""
        backoff = _WRITE_BACKOFF_INITIAL_S
        while True:
            try:
                self._sink.close_file()
                return
            except OSError as error:
                self._counters.write_errors += 1
                if self._rt.monotonic() + backoff > deadline:
                    return  # finish() reports what is given up
                self._report(
                    "closing the capture file failed", f"{error}; retrying in {backoff:g}s"
                )
                await self._rt.sleep(backoff)
                backoff = min(backoff * 2, self._retry_cap)

    async def _drained(self) -> None:
        while self._unwritten:
            await self._idle.wait()

    def _drop_undrained(self) -> None:
        dropped = [self._in_hand] if self._in_hand is not None else []
        while self._queue.qsize():
            dropped.append(self._queue.get_nowait())
        self._counters.dropped += len(dropped)
        self._unwritten = 0
        self._idle.set()
        if self._trace is not None and dropped:
            self._trace.record(
                "reading.dropped",
                reason="disk unwritable at close",
                ids=[[r.stream, r.boot, r.seq] for r in dropped],
            )

    def statistics(self) -> CollectorStatistics:
        c = self._counters
        return CollectorStatistics(
            stream=self.stream,
            captured=c.captured,
            written=c.written,
            skipped=dict(c.skipped),
            device_errors=c.device_errors,
            write_errors=c.write_errors,
            dropped=c.dropped,
            queue_depth=self._queue.qsize(),
        )

    # capture
    async def _capture_loop(self) -> None:
        assert self._schedule is not None
        while True:
            await self._rt.sleep_until(self._schedule.deadline)
            if self._queue.full():
                self._schedule, skipped = self._schedule.skip_current(self._rt.monotonic())
                self._counters.skip("queue_full", 1)
                self._counters.skip("overrun", skipped - 1)
                continue
            await self._capture_once()
            self._schedule, skipped = self._schedule.after_serving(self._rt.monotonic())
            self._counters.skip("overrun", skipped)

    async def _capture_once(self) -> None:
        try:
            result = await self._rt.with_timeout(
                self._timeout, self._source.capture(self._method, self._params)
            )
        except TimeoutError:
            self._counters.skip("timeout")
            self._report("capture timed out", f"no answer within {self._timeout:g}s")
            return
        except DeviceError as error:
            self._counters.device_errors += 1
            self._counters.skip("device_error")
            self._report(type(error).__name__, str(error))
            return
        for reading in result.readings:
            data, mime_type = to_sensor_data(
                reading,
                time_requested_ns=result.time_requested_ns,
                time_received_ns=result.time_received_ns,
            )
            stamped = StampedReading(self.stream, self._boot, self._seq, data, mime_type)
            try:
                self._queue.put_nowait(stamped)
            except QueueFull:
                self._counters.skip("queue_full")
                continue
            self._seq += 1
            self._unwritten += 1
            self._idle.clear()
            self._counters.captured += 1
            if self._trace is not None:
                self._trace.record(
                    "reading.captured",
                    stream=self.stream,
                    boot=self._boot,
                    seq=stamped.seq,
                    t_ns=result.time_requested_ns,
                    digest=built_sensor_data_digest(data),
                )

    # writing
    async def _writer_loop(self) -> None:
        while True:
            reading = await self._queue.get()
            self._in_hand = reading
            backoff = _WRITE_BACKOFF_INITIAL_S
            while True:
                try:
                    self._sink.write(reading)
                except OSError as error:
                    self._counters.write_errors += 1
                    self._report("write failed", f"{error}; retrying in {backoff:g}s")
                    await self._rt.sleep(backoff)
                    backoff = min(backoff * 2, self._retry_cap)
                    continue
                break
            self._in_hand = None
            self._counters.written += 1
            self._unwritten -= 1
            self._dirty.set()
            if not self._unwritten:
                self._idle.set()

    async def _durability_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await self._rt.sleep(self._window)
            self._dirty.clear()
            try:
                self._sink.sync()
            except OSError as error:
                self._counters.write_errors += 1
                self._dirty.set()  # still pending: try again next window
                self._report("fsync failed", str(error))

    @property
    def _retry_cap(self) -> float:
        # A failed write is retried at least once a durability window: what waited for the
        # disk is written within one window of its recovery and fsynced within the next.
        return max(self._window, _WRITE_BACKOFF_INITIAL_S)

    def _report(self, what: str, detail: str) -> None:
        suppressed = self._throttle.admit(self.stream, what, self._rt.monotonic())
        if suppressed is None:
            return
        message = f"{self.stream}: {what}: {detail}"
        if suppressed:
            message += f" ({suppressed} similar suppressed)"
        if self._log is not None:
            self._log(message)
        if self._trace is not None:
            self._trace.record("capture.error", stream=self.stream, what=what, detail=detail)
