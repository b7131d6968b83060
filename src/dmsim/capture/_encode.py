"""Device readings as Viam ``SensorData``, and the content digest the oracle compares.

The digest covers the ``SensorData`` as captured, without unknown fields, so the cloud side can
compute the same digest from what it stored (which also carries dmsim's identity field).
"""

from __future__ import annotations

import hashlib

from viam.proto.app.datasync import SensorData

from dmsim.devices import BinaryReading, Reading, annotations_to_proto
from dmsim.storage._codec import binary_reading, serialize_deterministic, tabular_reading

__all__ = ["built_sensor_data_digest", "sensor_data_digest", "to_sensor_data"]


def to_sensor_data(
    reading: Reading, *, time_requested_ns: int, time_received_ns: int
) -> tuple[SensorData, str]:
    """The ``SensorData`` for one reading and its MIME type ("" for tabular)."""
    if isinstance(reading, BinaryReading):
        data = binary_reading(
            reading.payload,
            time_requested_ns=time_requested_ns,
            time_received_ns=time_received_ns,
            annotations=annotations_to_proto(reading.annotations),
        )
        return data, reading.mime_type
    data = tabular_reading(
        reading.data, time_requested_ns=time_requested_ns, time_received_ns=time_received_ns
    )
    return data, ""


def sensor_data_digest(data: SensorData) -> str:
    """The digest of any ``SensorData``: unknown fields at any depth are left out (the
    identity rides as one, on the reading or, when streamed, on its metadata)."""
    clone = SensorData()
    clone.CopyFrom(data)
    clone.DiscardUnknownFields()
    return _digest(clone)


def built_sensor_data_digest(data: SensorData) -> str:
    """The same digest for a ``SensorData`` built here from device values, which has no
    unknown field to leave out: no copy (the capture side's per-reading path)."""
    return _digest(data)


def _digest(data: SensorData) -> str:
    return hashlib.blake2b(serialize_deterministic(data), digest_size=8).hexdigest()
