"""The capture half of the core: collectors on drift-free schedules, a bounded queue per
collector, a writer that never dies, and reconfigure without losses."""

from ._collector import (
    CaptureSource,
    Collector,
    CollectorStatistics,
    ReadingSink,
    StampedReading,
)
from ._encode import sensor_data_digest, to_sensor_data
from ._engine import SHUTDOWN_DRAIN_S, CaptureEngine, stream_id
from ._schedule import Schedule, interval_for_hz
from ._throttle import LogThrottle

__all__ = [
    "SHUTDOWN_DRAIN_S",
    "CaptureEngine",
    "CaptureSource",
    "Collector",
    "CollectorStatistics",
    "LogThrottle",
    "ReadingSink",
    "Schedule",
    "StampedReading",
    "interval_for_hz",
    "sensor_data_digest",
    "stream_id",
    "to_sensor_data",
]
