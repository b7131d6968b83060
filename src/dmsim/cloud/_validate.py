"""Validation of upload requests: pure functions that raise :class:`CloudError` with the gRPC
status name and the precise field at fault.

Codes: ``INVALID_ARGUMENT`` for a request that can never succeed as sent (missing metadata,
empty ``part_id``, contents that do not match the declared data type, an empty binary payload,
a metadata field over its limit, a timestamp that protobuf or the store cannot represent) —
Viam's sync client treats it as terminal and quarantines the file; ``RESOURCE_EXHAUSTED`` for a
message or stream over the size limit (gRPC's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataType,
    SensorMetadata,
    UploadMetadata,
)

from dmsim.errors import CloudError

__all__ = [
    "CloudLimits",
    "validate_data_capture",
    "validate_file",
    "validate_key",
    "validate_streaming",
]

_TABULAR = DataType.DATA_TYPE_TABULAR_SENSOR
_BINARY = DataType.DATA_TYPE_BINARY_SENSOR
_FILE = DataType.DATA_TYPE_FILE
_UNSPECIFIED = DataType.DATA_TYPE_UNSPECIFIED

# protobuf's Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_FIRST_SECOND, _LAST_SECOND = -62_135_596_800, 253_402_300_799
_NANOS_PER_SECOND = 1_000_000_000
# The cloud keeps times as signed 64-bit nanoseconds since the epoch (SQLite INTEGER), which
# hold 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z.
_FIRST_NS, _LAST_NS = -(2**63), 2**63 - 1
_STORABLE = "1677-09-21T00:12:43.145224192Z..2262-04-11T23:47:16.854775807Z"


@dataclass(frozen=True, slots=True)
class CloudLimits:
    """Size limits the cloud enforces (bytes unless said otherwise)."""

    #: One gRPC message; 4 MiB is gRPC's default receive limit.
    max_message_bytes: int = 4 * 1024 * 1024
    #: Everything sent in one FileUpload / StreamingDataCaptureUpload call.
    max_stream_bytes: int = 256 * 1024 * 1024
    #: The serialized UploadMetadata (or DataCaptureUploadMetadata).
    max_metadata_bytes: int = 64 * 1024
    #: part_id, component_type, component_name, method_name, mime_type, file_extension, tags.
    max_name_bytes: int = 1024
    max_file_name_bytes: int = 4096
    max_tags: int = 1000
    #: The idempotency key header.
    max_key_bytes: int = 512

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"CloudLimits.{name} must be positive, got {value}")


def _invalid(message: str) -> CloudError:
    return CloudError("INVALID_ARGUMENT", message)


def validate_key(key: str | None, limits: CloudLimits) -> None:
    if key is None:
        return
    if not key:
        raise _invalid("idempotency key: empty (omit the header instead)")
    size = len(key.encode())
    if size > limits.max_key_bytes:
        raise _invalid(
            f"idempotency key: {size} bytes exceeds the {limits.max_key_bytes}-byte limit"
        )


def _check_metadata(md: UploadMetadata, where: str, limits: CloudLimits) -> None:
    size = md.ByteSize()
    if size > limits.max_metadata_bytes:
        raise _invalid(f"{where}: {size} bytes exceeds the {limits.max_metadata_bytes}-byte limit")
    if not md.part_id:
        raise _invalid(f"{where}.part_id: empty")
    for field in (
        "part_id",
        "component_type",
        "component_name",
        "method_name",
        "mime_type",
        "file_extension",
    ):
        _check_length(getattr(md, field), f"{where}.{field}", limits.max_name_bytes)
    _check_length(md.file_name, f"{where}.file_name", limits.max_file_name_bytes)
    if len(md.tags) > limits.max_tags:
        raise _invalid(f"{where}.tags: {len(md.tags)} tags exceed the limit of {limits.max_tags}")
    for index, tag in enumerate(md.tags):
        _check_length(tag, f"{where}.tags[{index}]", limits.max_name_bytes)
    for index, dataset in enumerate(md.dataset_ids):
        _check_length(dataset, f"{where}.dataset_ids[{index}]", limits.max_name_bytes)


def _check_timestamps(message: Message, fields: tuple[str, ...], where: str) -> None:
    for field in fields:
        if message.HasField(field):
            _check_timestamp(getattr(message, field), f"{where}.{field}")


def _check_timestamp(stamp: Timestamp, where: str) -> None:
    if not 0 <= stamp.nanos < _NANOS_PER_SECOND:
        raise _invalid(f"{where}: nanos {stamp.nanos} is outside 0..999999999")
    if not _FIRST_SECOND <= stamp.seconds <= _LAST_SECOND:
        raise _invalid(
            f"{where}: seconds {stamp.seconds} is outside protobuf's Timestamp range "
            "(0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z)"
        )
    if not _FIRST_NS <= stamp.seconds * _NANOS_PER_SECOND + stamp.nanos <= _LAST_NS:
        raise _invalid(
            f"{where}: {stamp.ToJsonString()} is outside the range this cloud stores "
            f"({_STORABLE}: nanoseconds since the epoch in 64 bits)"
        )


def _check_sensor_times(metadata: SensorMetadata, where: str) -> None:
    _check_timestamps(metadata, ("time_requested", "time_received"), where)


def _check_length(value: str, where: str, limit: int) -> None:
    size = len(value.encode())
    if size > limit:
        raise _invalid(f"{where}: {size} bytes exceeds the {limit}-byte limit")


def _check_message_size(size: int, what: str, limit: int) -> None:
    if size > limit:
        raise CloudError(
            "RESOURCE_EXHAUSTED", f"{what}: {size} bytes exceeds the {limit}-byte message limit"
        )


def _type_name(data_type: int) -> str:
    return str(DataType.Name(data_type)) if data_type in DataType.values() else str(data_type)


def validate_data_capture(request: DataCaptureUploadRequest, limits: CloudLimits) -> None:
    """DataCaptureUpload: metadata present, TABULAR or BINARY, contents all of that type."""
    _check_message_size(request.ByteSize(), "DataCaptureUploadRequest", limits.max_message_bytes)
    if not request.HasField("metadata"):
        raise _invalid("DataCaptureUploadRequest.metadata: missing")
    md = request.metadata
    _check_metadata(md, "metadata", limits)
    if md.type not in (_TABULAR, _BINARY):
        raise _invalid(
            f"metadata.type: {_type_name(md.type)} is not valid for DataCaptureUpload "
            "(expected DATA_TYPE_TABULAR_SENSOR or DATA_TYPE_BINARY_SENSOR)"
        )
    if not request.sensor_contents:
        raise _invalid("sensor_contents: empty (no readings to store)")
    expected = "struct" if md.type == _TABULAR else "binary"
    for index, sensor_data in enumerate(request.sensor_contents):
        where = f"sensor_contents[{index}]"
        kind = sensor_data.WhichOneof("data")
        if kind is None:
            raise _invalid(f"{where}: no data (neither struct nor binary)")
        if kind != expected:
            raise _invalid(f"{where}: {kind} data in a {_type_name(md.type)} upload")
        if kind == "binary" and not sensor_data.binary:
            raise _invalid(f"{where}.binary: empty payload")
        _check_sensor_times(sensor_data.metadata, f"{where}.metadata")


def validate_file(metadata: UploadMetadata, size: int, limits: CloudLimits) -> None:
    """FileUpload: metadata of type FILE (or unspecified), a non-empty file of ``size`` bytes."""
    _check_metadata(metadata, "metadata", limits)
    if metadata.type not in (_FILE, _UNSPECIFIED):
        raise _invalid(
            f"metadata.type: {_type_name(metadata.type)} is not valid for FileUpload "
            "(expected DATA_TYPE_FILE)"
        )
    _check_timestamps(metadata, ("file_create_time", "file_modify_time"), "metadata")
    _check_stream_size(size, "FileUpload", limits)
    if not size:
        raise _invalid("file_contents: empty file")


def validate_streaming(metadata: DataCaptureUploadMetadata, size: int, limits: CloudLimits) -> None:
    """StreamingDataCaptureUpload: upload_metadata present and BINARY, a non-empty payload of
    ``size`` bytes."""
    if not metadata.HasField("upload_metadata"):
        raise _invalid("metadata.upload_metadata: missing")
    metadata_size = metadata.ByteSize()
    if metadata_size > limits.max_metadata_bytes:
        raise _invalid(
            f"metadata: {metadata_size} bytes exceeds the {limits.max_metadata_bytes}-byte limit"
        )
    md = metadata.upload_metadata
    _check_metadata(md, "metadata.upload_metadata", limits)
    if md.type != _BINARY:
        raise _invalid(
            f"metadata.upload_metadata.type: {_type_name(md.type)} is not valid for "
            "StreamingDataCaptureUpload (expected DATA_TYPE_BINARY_SENSOR)"
        )
    _check_sensor_times(metadata.sensor_metadata, "metadata.sensor_metadata")
    _check_stream_size(size, "StreamingDataCaptureUpload", limits)
    if not size:
        raise _invalid("data: empty payload")


def _check_stream_size(size: int, what: str, limits: CloudLimits) -> None:
    if size > limits.max_stream_bytes:
        raise CloudError(
            "RESOURCE_EXHAUSTED",
            f"{what}: {size} bytes exceeds the {limits.max_stream_bytes}-byte stream limit",
        )
