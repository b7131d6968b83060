"""Validation of upload requests: pure functions that raise :class:`CloudError` with the gRPC
status name and the precise field at fault.

Codes: ``INVALID_ARGUMENT`` for a request that can never succeed as sent (missing metadata,
empty ``part_id``, contents that do not match the declared data type, an empty binary payload,
a metadata field over its limit) — Viam's sync client treats it as terminal and quarantines the
file; ``RESOURCE_EXHAUSTED`` for a message or stream over the size limit (gRPC's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataType,
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


def validate_file(metadata: UploadMetadata, data: bytes, limits: CloudLimits) -> None:
    """FileUpload: metadata of type FILE (or unspecified), a non-empty file."""
    _check_metadata(metadata, "metadata", limits)
    if metadata.type not in (_FILE, _UNSPECIFIED):
        raise _invalid(
            f"metadata.type: {_type_name(metadata.type)} is not valid for FileUpload "
            "(expected DATA_TYPE_FILE)"
        )
    _check_stream_size(len(data), "FileUpload", limits)
    if not data:
        raise _invalid("file_contents: empty file")


def validate_streaming(
    metadata: DataCaptureUploadMetadata, data: bytes, limits: CloudLimits
) -> None:
    """StreamingDataCaptureUpload: upload_metadata present and BINARY, a non-empty payload."""
    if not metadata.HasField("upload_metadata"):
        raise _invalid("metadata.upload_metadata: missing")
    size = metadata.ByteSize()
    if size > limits.max_metadata_bytes:
        raise _invalid(f"metadata: {size} bytes exceeds the {limits.max_metadata_bytes}-byte limit")
    md = metadata.upload_metadata
    _check_metadata(md, "metadata.upload_metadata", limits)
    if md.type != _BINARY:
        raise _invalid(
            f"metadata.upload_metadata.type: {_type_name(md.type)} is not valid for "
            "StreamingDataCaptureUpload (expected DATA_TYPE_BINARY_SENSOR)"
        )
    _check_stream_size(len(data), "StreamingDataCaptureUpload", limits)
    if not data:
        raise _invalid("data: empty payload")


def _check_stream_size(size: int, what: str, limits: CloudLimits) -> None:
    if size > limits.max_stream_bytes:
        raise CloudError(
            "RESOURCE_EXHAUSTED",
            f"{what}: {size} bytes exceeds the {limits.max_stream_bytes}-byte stream limit",
        )
