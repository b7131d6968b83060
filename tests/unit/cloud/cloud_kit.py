"""Helpers shared by the cloud's tests: a settable clock and the reading-identity encoder."""

from __future__ import annotations

from viam.proto.app.datasync import SensorData

from dmsim.storage._identity import ReadingId
from dmsim.storage._identity import with_identity as _tag

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class Clock:
    """The core's receive clock, moved by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def with_identity(sensor_data: SensorData, stream: str, boot: int, seq: int) -> SensorData:
    """Tag a reading with dmsim's identity (field 71000) the way the capture side does."""
    return _tag(sensor_data, ReadingId(stream, boot, seq))
