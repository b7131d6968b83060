"""The capture-file wire format: uvarint-framed protobuf messages, as Viam's rdk writes them.

A capture file is one length-prefixed ``DataCaptureMetadata`` followed by length-prefixed
``SensorData`` messages (the classes of ``viam.proto.app.datasync``); each prefix is the
message length as an unsigned LEB128 varint (``pbutil.WriteDelimited`` / Java's
``writeDelimitedTo``). There is no magic, version, checksum or index: the extension alone says
what the file is, which is why the reader validates every record it can.

This module holds the framing, the message builders the writer and tests share, and the
format error that names the file and byte offset of what is wrong.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf import any_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message
from viam.proto.app.data import Annotations
from viam.proto.app.datasync import DataCaptureMetadata, DataType, SensorData

from dmsim.errors import StorageError

from ._creation import CreationStamp, creation_field_bytes
from ._identity import ReadingId, identity_field_bytes
from ._varint import (
    MAX_VARINT_BYTES,
    CaptureFormatError,
    decode_uvarint,
    length_prefix,
    uvarint,
)

__all__ = [
    "MAX_VARINT_BYTES",
    "CaptureFormatError",
    "MismatchedReadingError",
    "NoMetadataError",
    "binary_reading",
    "build_metadata",
    "decode_uvarint",
    "deterministic_serializer",
    "encode_metadata",
    "encode_sensor_data",
    "encode_uvarint",
    "frame",
    "serialize_deterministic",
    "tabular_reading",
    "timestamp_from_ns",
]


class MismatchedReadingError(CaptureFormatError):
    """A reading of the other kind than its file's header declares (binary in a tabular file or
    the reverse): the file is not what it says, so none of it should be trusted piecemeal."""


class NoMetadataError(CaptureFormatError):
    """The file has no readable ``DataCaptureMetadata`` header, so nothing in it is usable.

    ``empty`` is True when the file holds no data at all (no bytes, or only zero bytes): a
    file created just before a crash, with nothing lost.
    """

    def __init__(self, path: str | None, offset: int, what: str, *, empty: bool = False) -> None:
        self.empty = empty
        super().__init__(path, offset, what)


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf encodes lengths."""
    if value < 0:
        raise StorageError(f"a varint cannot encode a negative number ({value})")
    if value >= 1 << 64:
        raise StorageError(f"a varint cannot encode {value} (over 64 bits)")
    return uvarint(value)


def deterministic_serializer(probe: Any) -> Callable[[Message], bytes]:
    """``SerializeToString(deterministic=True)`` as cheaply as the protobuf runtime allows.

    Deterministic: map entries (a ``Struct``'s fields) in key order, so the same reading gives
    the same bytes in every process. upb takes the flag positionally, which skips keyword
    parsing (a sixth of the cost of serializing a small reading); the pure-Python runtime
    takes it by keyword only. ``probe`` is any message of the runtime in use.
    """
    # methodcaller calls the method from C: no Python frame per reading.
    try:
        probe.SerializeToString(True)
    except TypeError:
        return operator.methodcaller("SerializeToString", deterministic=True)
    return operator.methodcaller("SerializeToString", True)


serialize_deterministic = deterministic_serializer(SensorData())


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its uvarint length."""
    return length_prefix(len(payload)) + payload


def encode_metadata(metadata: DataCaptureMetadata, creation: CreationStamp | None = None) -> bytes:
    """The framed file header; ``creation`` travels as the unknown field Viam's parsers skip."""
    body = serialize_deterministic(metadata)
    if creation is not None:
        body += creation_field_bytes(creation)
    return frame(body)


def encode_sensor_data(reading: SensorData, reading_id: ReadingId | None = None) -> bytes:
    """One framed record; ``reading_id`` travels as the unknown field Viam's parsers skip.

    The identity bytes are appended after the serialized message: protobuf fields may come in
    any order, so this equals setting the field, without copying the message.
    """
    body = serialize_deterministic(reading)
    if reading_id is not None:
        body += identity_field_bytes(reading_id)
    return frame(body)


def timestamp_from_ns(ns: int) -> timestamp_pb2.Timestamp:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def _pack_params(params: Mapping[str, str]) -> dict[str, any_pb2.Any]:
    # rdk wraps each additional_params string in a StringValue inside an Any.
    packed: dict[str, any_pb2.Any] = {}
    for key, value in sorted(params.items()):
        item = any_pb2.Any()
        item.Pack(wrappers_pb2.StringValue(value=value))
        packed[key] = item
    return packed


def build_metadata(
    *,
    component_type: str,
    component_name: str,
    method_name: str,
    data_type: DataType.ValueType,
    method_parameters: Mapping[str, str] | None = None,
    tags: Iterable[str] = (),
    file_extension: str = "",
    mime_type: str = "",
) -> DataCaptureMetadata:
    """The ``DataCaptureMetadata`` header of one collector's files."""
    if data_type not in (DataType.DATA_TYPE_BINARY_SENSOR, DataType.DATA_TYPE_TABULAR_SENSOR):
        raise StorageError(f"capture files hold tabular or binary readings, not {data_type}")
    return DataCaptureMetadata(
        component_type=component_type,
        component_name=component_name,
        method_name=method_name,
        type=data_type,
        method_parameters=_pack_params(method_parameters or {}),
        file_extension=file_extension,
        tags=list(tags),
        mime_type=mime_type,
    )


def _stamp(data: SensorData, time_requested_ns: int, time_received_ns: int) -> None:
    # Set in place: building Timestamps and a SensorMetadata to copy in costs twice as much.
    metadata = data.metadata
    for stamp, ns in (
        (metadata.time_requested, time_requested_ns),
        (metadata.time_received, time_received_ns),
    ):
        stamp.seconds, stamp.nanos = divmod(ns, 1_000_000_000)


def _fill_struct(struct: struct_pb2.Struct, values: Mapping[str, Any]) -> None:
    """``struct.update(values)``, with the common scalars set directly: protobuf's update is
    pure Python and runs an isinstance chain per key."""
    fields = struct.fields
    for key, value in values.items():
        kind = type(value)
        if kind is float or kind is int:
            fields[key].number_value = value
        elif kind is str:
            fields[key].string_value = value
        else:  # None, bool, containers, subclasses: protobuf's own conversion
            struct[key] = value


def tabular_reading(
    values: Mapping[str, Any] | struct_pb2.Struct,
    *,
    time_requested_ns: int,
    time_received_ns: int,
) -> SensorData:
    """A tabular ``SensorData``: ``values`` become a ``google.protobuf.Struct``."""
    data = SensorData()
    _stamp(data, time_requested_ns, time_received_ns)
    payload = data.struct
    if isinstance(values, struct_pb2.Struct):
        payload.CopyFrom(values)
        return data
    try:
        _fill_struct(payload, values)
    except (ValueError, TypeError) as error:
        shown = json.dumps(values, default=repr)[:200]
        raise StorageError(f"reading is not a JSON-like mapping ({error}): {shown}") from None
    if not values:
        payload.SetInParent()  # an empty reading is still a Struct
    return data


def binary_reading(
    payload: bytes,
    *,
    time_requested_ns: int,
    time_received_ns: int,
    annotations: Annotations | None = None,
) -> SensorData:
    """A binary ``SensorData`` (an image, a point cloud...), with optional vision annotations."""
    data = SensorData(binary=payload)
    _stamp(data, time_requested_ns, time_received_ns)
    if annotations is not None:
        data.metadata.annotations.CopyFrom(annotations)
    return data
