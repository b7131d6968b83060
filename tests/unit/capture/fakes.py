"""Scripted capture sources and an in-memory sink for capture-engine tests."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field

from dmsim.capture._collector import StampedReading
from dmsim.devices import CaptureResult, TabularReading
from dmsim.errors import DeviceError
from dmsim.runtime import Runtime


@dataclass
class Device:
    rt: Runtime
    delay_s: float = 0.0
    fail_between: tuple[float, float] | None = None
    calls: int = 0

    async def capture(self, method: str, params: Mapping[str, str]) -> CaptureResult:
        self.calls += 1
        now = self.rt.monotonic()
        if self.fail_between and self.fail_between[0] <= now < self.fail_between[1]:
            raise DeviceError("sensor NACK (errno 121)")
        if self.delay_s:
            await self.rt.sleep(self.delay_s)
        t = self.rt.wall_ns()
        return CaptureResult((TabularReading({"t": now}),), t, t)


@dataclass
class Sink:
    rt: Runtime
    broken_until: float = -1.0
    written: list[StampedReading] = field(default_factory=list)
    synced_upto: int = 0
    sync_times: list[float] = field(default_factory=list)
    files_closed: int = 0
    closed: bool = False

    def write(self, reading: StampedReading) -> None:
        if self.rt.monotonic() < self.broken_until:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.written.append(reading)

    def sync(self) -> None:
        self.synced_upto = len(self.written)
        self.sync_times.append(self.rt.monotonic())

    def close_file(self) -> None:
        self.synced_upto = len(self.written)
        self.files_closed += 1

    def close(self) -> None:
        self.close_file()
        self.closed = True
