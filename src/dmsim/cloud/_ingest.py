"""From validated upload messages to database rows and blobs (pure: no I/O).

Each row is a dict keyed by ``items`` column names. Binary payloads and files become blobs
named by their SHA-256 (a :class:`Payload`: the bytes, or a blob the server staged on disk as
they arrived); the row keeps the client's file name only as metadata. For readings
the ``raw`` column keeps the ``SensorData`` exactly as received (unknown fields included,
the binary payload removed since it lives in the blob).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct, Value
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataType,
    MimeType,
    SensorData,
    SensorMetadata,
    UploadMetadata,
)

from ._blobs import StagedBlob
from ._keys import item_id_for
from ._reading_id import decode_reading_id
from ._records import iso_from_ns

__all__ = [
    "NewItems",
    "Payload",
    "data_capture_items",
    "file_items",
    "streaming_items",
    "struct_to_json",
]

_MIME_BY_ENUM = {
    MimeType.MIME_TYPE_IMAGE_JPEG: "image/jpeg",
    MimeType.MIME_TYPE_IMAGE_PNG: "image/png",
    MimeType.MIME_TYPE_APPLICATION_PCD: "pointcloud/pcd",
    MimeType.MIME_TYPE_VIDEO_MP4: "video/mp4",
}
_MIME_BY_EXTENSION = {
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".pcd": "pointcloud/pcd",
    ".mp4": "video/mp4",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
}


@dataclass(frozen=True, slots=True)
class Payload:
    """A binary payload or a file: its digest and size, and its bytes or the staged blob."""

    sha256: str
    size: int
    content: bytes | StagedBlob

    @classmethod
    def of(cls, data: bytes | StagedBlob) -> Payload:
        if isinstance(data, bytes):
            return cls(hashlib.sha256(data).hexdigest(), len(data), data)
        return cls(data.sha256, data.size, data)


@dataclass(slots=True)
class NewItems:
    """Rows to insert for one upload and the blobs they point at (by digest)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[str, bytes | StagedBlob] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(int(row["size"]) for row in self.rows)


def struct_to_json(struct: Struct) -> dict[str, Any]:
    """A ``Struct`` as plain JSON. Unlike ``MessageToDict`` it accepts NaN and ±infinity (a
    failing sensor reports them), written as the strings ``"NaN"``, ``"Infinity"`` and
    ``"-Infinity"`` as proto3's JSON mapping does for doubles; ``raw`` keeps the exact value."""
    return {key: _value_to_json(value) for key, value in struct.fields.items()}


def _value_to_json(value: Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = float(value.number_value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    if kind == "struct_value":
        return struct_to_json(value.struct_value)
    if kind == "list_value":
        return [_value_to_json(item) for item in value.list_value.values]
    if kind in ("string_value", "bool_value"):
        return getattr(value, kind)
    return None  # null_value, or no kind set


def _timestamp_ns(message: Message, name: str) -> int | None:
    if not message.HasField(name):
        return None
    stamp = getattr(message, name)
    return int(stamp.seconds) * 1_000_000_000 + int(stamp.nanos)


def _common(md: UploadMetadata, kind: str, file_id: str, received_ns: int) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "kind": kind,
        "part_id": md.part_id,
        "component_type": md.component_type,
        "component_name": md.component_name,
        "method_name": md.method_name,
        "tags": json.dumps(list(md.tags)),
        "dataset_ids": json.dumps(list(md.dataset_ids)),
        "file_name": md.file_name or None,
        "file_extension": md.file_extension or None,
        "mime_type": md.mime_type or _MIME_BY_EXTENSION.get(md.file_extension.lower()),
        "received_ns": received_ns,
        "received_at": iso_from_ns(received_ns),
        "data": None,
        "annotations": None,
        "blob_sha256": None,
        "raw": None,
        "reading_stream": None,
        "reading_boot": None,
        "reading_seq": None,
    }


def _set_times(row: dict[str, Any], requested: int | None, received: int | None) -> None:
    row["time_requested_ns"] = requested
    row["time_received_ns"] = received
    row["time_requested"] = None if requested is None else iso_from_ns(requested)
    row["time_received"] = None if received is None else iso_from_ns(received)
    captured = requested if requested is not None else received
    row["captured_ns"] = row["received_ns"] if captured is None else captured
    row["captured_at"] = iso_from_ns(row["captured_ns"])


def _set_sensor_metadata(row: dict[str, Any], metadata: SensorMetadata) -> None:
    _set_times(
        row,
        _timestamp_ns(metadata, "time_requested"),
        _timestamp_ns(metadata, "time_received"),
    )
    if metadata.HasField("annotations") and (
        metadata.annotations.bboxes or metadata.annotations.classifications
    ):
        annotations = MessageToDict(metadata.annotations, preserving_proto_field_name=True)
        row["annotations"] = json.dumps(annotations, sort_keys=True)
    if row["mime_type"] is None and metadata.mime_type in _MIME_BY_ENUM:
        row["mime_type"] = _MIME_BY_ENUM[metadata.mime_type]


def _set_identity(row: dict[str, Any], message: SensorData | SensorMetadata) -> None:
    identity = decode_reading_id(message)
    if identity is not None:
        row["reading_stream"] = identity.stream
        row["reading_boot"] = identity.boot
        row["reading_seq"] = identity.seq


def _add_blob(items: NewItems, row: dict[str, Any], payload: Payload) -> None:
    items.blobs[payload.sha256] = payload.content
    row["blob_sha256"] = payload.sha256
    row["size"] = payload.size


def data_capture_items(
    request: DataCaptureUploadRequest, file_id: str, received_ns: int
) -> NewItems:
    md = request.metadata
    tabular = md.type == DataType.DATA_TYPE_TABULAR_SENSOR
    items = NewItems()
    common = _common(md, "tabular" if tabular else "binary", file_id, received_ns)
    for index, sensor_data in enumerate(request.sensor_contents):
        row = dict(common)  # the upload's columns are the same for each of its readings
        row["item_id"] = item_id_for(file_id, index)
        _set_sensor_metadata(row, sensor_data.metadata)
        _set_identity(row, sensor_data)
        if tabular:
            row["raw"] = sensor_data.SerializeToString(deterministic=True)
            row["size"] = len(row["raw"])
            data = struct_to_json(sensor_data.struct)
            row["data"] = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        else:
            without_payload = SensorData()
            without_payload.CopyFrom(sensor_data)
            without_payload.ClearField("binary")
            row["raw"] = without_payload.SerializeToString(deterministic=True)
            _add_blob(items, row, Payload.of(sensor_data.binary))
        items.rows.append(row)
    return items


def file_items(
    metadata: UploadMetadata, payload: Payload, file_id: str, received_ns: int
) -> NewItems:
    row = _common(metadata, "file", file_id, received_ns)
    row["item_id"] = item_id_for(file_id, 0)
    _set_times(row, None, None)
    created = _timestamp_ns(metadata, "file_create_time")
    modified = _timestamp_ns(metadata, "file_modify_time")
    file_time = created if created is not None else modified
    if file_time is not None:
        row["captured_ns"] = file_time
        row["captured_at"] = iso_from_ns(file_time)
    items = NewItems()
    _add_blob(items, row, payload)
    items.rows.append(row)
    return items


def streaming_items(
    metadata: DataCaptureUploadMetadata, payload: Payload, file_id: str, received_ns: int
) -> NewItems:
    row = _common(metadata.upload_metadata, "binary", file_id, received_ns)
    row["item_id"] = item_id_for(file_id, 0)
    _set_sensor_metadata(row, metadata.sensor_metadata)
    # A streaming client can carry the reading identity in SensorMetadata (same field number).
    _set_identity(row, metadata.sensor_metadata)
    row["raw"] = SensorData(metadata=metadata.sensor_metadata).SerializeToString(deterministic=True)
    items = NewItems()
    _add_blob(items, row, payload)
    items.rows.append(row)
    return items
