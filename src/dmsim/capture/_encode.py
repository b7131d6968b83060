"""Device readings as Viam ``SensorData``, and the content digest the oracle compares.

The digest covers the ``SensorData`` as captured, without unknown fields, so the cloud side can
compute the same digest from what it stored (which also carries dmsim's identity field).
"""

from __future__ import annotations

import hashlib
from typing import Any

from google.protobuf.unknown_fields import UnknownFieldSet
from viam.proto.app.datasync import SensorData

from dmsim.devices import BinaryReading, Reading, annotations_to_proto
from dmsim.errors import StorageError
from dmsim.storage._codec import binary_reading, serialize_deterministic, tabular_reading
from dmsim.storage._identity import IDENTITY_FIELD_NUMBER, identity_field_bytes, parse_identity

__all__ = ["sensor_data_digest", "to_sensor_data"]

_LENGTH_DELIMITED = 2


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
    body = serialize_deterministic(data)
    unknown = list(UnknownFieldSet(data))
    if unknown:  # the identity field is added on the way to disk: digest the rest
        body = _without_identity(body, unknown) or _known_fields_only(data)
    return hashlib.blake2b(body, digest_size=8).hexdigest()


def _without_identity(body: bytes, unknown: list[Any]) -> bytes | None:
    """``body`` less its identity field, when that is its only unknown field: serialization
    puts unknown fields last, so the field's own bytes end it. ``None`` otherwise."""
    if len(unknown) != 1:
        return None
    only = unknown[0]
    if only.field_number != IDENTITY_FIELD_NUMBER or only.wire_type != _LENGTH_DELIMITED:
        return None
    try:
        field = identity_field_bytes(parse_identity([bytes(only.data)]))
    except StorageError:
        return None
    return body[: -len(field)] if body.endswith(field) else None


def _known_fields_only(data: SensorData) -> bytes:
    clone = SensorData()
    clone.CopyFrom(data)
    clone.DiscardUnknownFields()
    return serialize_deterministic(clone)
