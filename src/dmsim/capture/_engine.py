"""The capture engine: the set of collectors of one process, and how it changes on reconfigure.

Reconfigure compares collector keys (resource, method, additional_params):

- unchanged spec → the collector is not touched (it keeps its phase, queue and open file);
- only the frequency changed → the rate changes in place (queue, file and phase kept);
- anything else changed (tags, queue size) → the old collector stops capturing and a new
  one starts at once; the old one drains its queue to disk in the background, however long
  its disk takes, and completes its file;
- gone or disabled → stopped and drained the same way; new → started.

A paused resource (:meth:`CaptureEngine.pause`: its device is being closed and rebuilt) has
no collector, whatever the specs ask, until :meth:`CaptureEngine.resume`.

Shutdown waits up to :data:`SHUTDOWN_DRAIN_S` for every queue; what a disk still refuses
then is dropped and reported (trace ``reading.dropped``), never lost silently.

rdk restarted every collector on every config update (rdk#2067), so a canary bot captured far
less than configured; here an unrelated edit costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from dmsim.capture._collector import (
    CaptureSource,
    Collector,
    CollectorStatistics,
    ReadingSink,
)
from dmsim.capture._schedule import interval_for_hz
from dmsim.capture._throttle import LogThrottle
from dmsim.config import CollectorSpec
from dmsim.runtime import Runtime, Task, Trace

__all__ = ["RETIRE_WAIT_S", "SHUTDOWN_DRAIN_S", "CaptureEngine", "stream_id"]

SHUTDOWN_DRAIN_S = 60.0
RETIRE_WAIT_S = 5.0  # a reconfigure's wait for retired collectors, as long as a flush's


async def _joined(tasks: Sequence[Task[None]]) -> None:
    for task in tasks:
        await task.join()


def stream_id(spec: CollectorSpec) -> str:
    """A stable, readable stream id; unique per (resource, method, params)."""
    api, name, method, params = spec.key
    base = f"{api}/{name}/{method}"
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")


def _same_except_rate(old: CollectorSpec, new: CollectorSpec) -> bool:
    return replace(old, capture_frequency_hz=new.capture_frequency_hz) == new


class CaptureEngine:
    def __init__(
        self,
        *,
        rt: Runtime,
        boot: int,
        resolve: Callable[[str, str], CaptureSource | None],
        make_sink: Callable[[CollectorSpec], ReadingSink],
        durability_window_s: float,
        capture_timeout_s: float = 10.0,
        trace: Trace | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._rt = rt
        self._boot = boot
        self._resolve = resolve
        self._make_sink = make_sink
        self._window = durability_window_s
        self._timeout = capture_timeout_s
        self._trace = trace
        self._log = log
        self._throttle = LogThrottle()
        self._collectors: dict[object, tuple[CollectorSpec, Collector]] = {}
        # retired collectors still writing out their queues, each with the task doing it
        self._draining: dict[Collector, Task[None]] = {}
        self._retired: list[CollectorStatistics] = []
        # Identities are (stream, boot, seq): a collector restarted within a boot continues.
        self._next_seq: dict[str, int] = {}
        self._applied: tuple[CollectorSpec, ...] = ()  # the last specs given, paused ones too
        self._paused: frozenset[tuple[str, str]] = frozenset()  # (api, name)

    async def apply(
        self,
        specs: Sequence[CollectorSpec],
        *,
        durability_window_s: float | None = None,
        restart_all: bool = False,
    ) -> None:
        """Make the running collectors match ``specs`` (enabled collectors only), and with
        ``durability_window_s`` keep that window from now on; ``restart_all`` restarts every
        collector, so that new sinks pick up a changed setting (a rotation size). Returns once
        the retired collectors' files are complete, or after :data:`RETIRE_WAIT_S` when a disk
        holds them up (they go on draining; new collectors are capturing already)."""
        self._applied = tuple(specs)
        wanted = {
            spec.key: spec
            for spec in specs
            if interval_for_hz(spec.capture_frequency_hz) and _resource(spec) not in self._paused
        }
        new_window = durability_window_s not in (None, self._window)
        if durability_window_s is not None:
            self._window = durability_window_s
        drains = []
        # A new window restarts every collector: a file keeps the promise it was opened with,
        # so the old files are completed (durable) and new ones opened under the new window.
        for key in [k for k in self._collectors if new_window or restart_all or k not in wanted]:
            drains.append(await self._retire(key))
        for key, spec in wanted.items():
            current = self._collectors.get(key)
            if current is not None:
                old_spec, collector = current
                if old_spec == spec:
                    continue
                if _same_except_rate(old_spec, spec):
                    collector.set_period(_period(spec))
                    self._collectors[key] = (spec, collector)
                    self._record("capture.rate_changed", spec)
                    continue
                drains.append(await self._retire(key))
            self._start(spec)
        with contextlib.suppress(TimeoutError):
            await self._rt.with_timeout(RETIRE_WAIT_S, _joined(drains))

    async def pause(self, resources: Collection[tuple[str, str]]) -> None:
        """Stop the collectors reading these (api, name) resources, as a reconfigure that
        drops them would (queues drained, files completed), and start none for them until
        :meth:`resume`: their devices are being closed and rebuilt."""
        self._paused = frozenset(resources)
        await self.apply(self._applied)

    async def resume(self) -> None:
        """Start the paused resources' collectors, as the specs last applied ask."""
        self._paused = frozenset()
        await self.apply(self._applied)

    def _start(self, spec: CollectorSpec) -> None:
        source = self._resolve(*_resource(spec))
        if source is None:
            self._say(f"{stream_id(spec)}: no such resource; collector not started")
            self._record("capture.unresolved", spec)
            return
        collector = Collector(
            rt=self._rt,
            stream=stream_id(spec),
            boot=self._boot,
            first_seq=self._next_seq.get(stream_id(spec), 0),
            source=source,
            method=spec.method,
            params=dict(spec.additional_params),
            period_s=_period(spec),
            queue_size=spec.capture_queue_size,
            sink=self._make_sink(spec),
            durability_window_s=self._window,
            capture_timeout_s=self._timeout,
            trace=self._trace,
            log=self._log,
            throttle=self._throttle,
        )
        collector.start()
        self._collectors[spec.key] = (spec, collector)
        self._record("capture.started", spec)

    async def _retire(self, key: object) -> Task[None]:
        """Stop the collector's capture and leave it draining; the task that drains it."""
        spec, collector = self._collectors.pop(key)
        try:
            await collector.stop_capture()
        finally:
            # even when a cancel cuts the stop short: the stream must not restart at a used seq
            self._next_seq[collector.stream] = collector.next_seq
            drain = self._rt.spawn(self._drain(collector), name=f"drain:{collector.stream}")
            self._draining[collector] = drain
            self._record("capture.stopped", spec)
        return drain

    async def _drain(self, collector: Collector) -> None:
        await collector.finish(drain_timeout_s=None)
        self._settle(collector)

    def _settle(self, collector: Collector) -> None:
        del self._draining[collector]
        self._retired.append(collector.statistics())

    async def flush(self) -> None:
        """Write out every queue and complete every open file (called by each sync pass)."""
        # A snapshot: a reconfigure may retire collectors while a flush waits for a disk.
        for _, collector in list(self._collectors.values()):
            await collector.flush()

    async def close(self) -> None:
        for key in list(self._collectors):
            await self._retire(key)
        with contextlib.suppress(TimeoutError):
            await self._rt.with_timeout(SHUTDOWN_DRAIN_S, self._all_drained())
        for collector, drain in list(self._draining.items()):
            await drain.stop()
            if collector in self._draining:  # not settled in the meantime
                await collector.finish(drain_timeout_s=0.0)  # drops and reports what is left
                self._settle(collector)

    async def _all_drained(self) -> None:
        await _joined(list(self._draining.values()))

    def specs(self) -> list[CollectorSpec]:
        return [spec for spec, _ in self._collectors.values()]

    def statistics(self) -> list[CollectorStatistics]:
        """Running collectors first, then retired ones still draining, then those closed."""
        return [
            *(c.statistics() for _, c in self._collectors.values()),
            *(c.statistics() for c in self._draining),
            *self._retired,
        ]

    def _say(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def _record(self, kind: str, spec: CollectorSpec) -> None:
        if self._trace is not None:
            self._trace.record(
                kind,
                stream=stream_id(spec),
                hz=spec.capture_frequency_hz,
                api=spec.resource.api,
                component=spec.resource.short_name,
                method=spec.method,
                params=dict(spec.additional_params),
            )


def _resource(spec: CollectorSpec) -> tuple[str, str]:
    return spec.resource.api, spec.resource.short_name


def _period(spec: CollectorSpec) -> float:
    period = interval_for_hz(spec.capture_frequency_hz)
    assert period is not None  # apply() keeps enabled specs only
    return period
