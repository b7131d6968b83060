"""Device readings as Viam ``SensorData``, and the content digest the oracle compares.

The digest covers the ``SensorData`` as captured, without unknown fields, so the cloud side can
compute the same digest from what it stored (which also carries dmsim's identity field).
"""

from __future__ import annotations

import hashlib

from viam.proto.app.datasync import SensorData

from dmsim.devices import BinaryReading, Reading, annotations_to_proto
from dmsim.storage._codec import binary_reading, serialize_deterministic, tabular_reading

__all__ = ["sensor_data_digest", "to_sensor_data"]


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
    clone = SensorData()
    clone.CopyFrom(data)
    clone.DiscardUnknownFields()  # the identity field is added on the way to disk
    return hashlib.blake2b(serialize_deterministic(clone), digest_size=8).hexdigest()
