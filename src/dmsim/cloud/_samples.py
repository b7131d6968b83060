"""Well-formed upload messages, built the way rdk's sync client builds them — for tests,
benchmarks and demos of the cloud (the sync engine builds its own from capture files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from viam.proto.app.data import Annotations, BoundingBox
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataType,
    SensorData,
    SensorMetadata,
    UploadMetadata,
)

__all__ = [
    "Box",
    "binary_request",
    "file_metadata",
    "streaming_metadata",
    "tabular_request",
]

EPOCH_NS = 1_700_000_000 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Box:
    """A detection: label and normalized corners (0..1)."""

    label: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    confidence: float | None = None


def _timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def _sensor_metadata(ns: int, boxes: Sequence[Box] = ()) -> SensorMetadata:
    metadata = SensorMetadata(time_requested=_timestamp(ns), time_received=_timestamp(ns + 1000))
    if boxes:
        metadata.annotations.CopyFrom(
            Annotations(
                bboxes=[
                    BoundingBox(
                        id=str(i),
                        label=b.label,
                        x_min_normalized=b.x_min,
                        y_min_normalized=b.y_min,
                        x_max_normalized=b.x_max,
                        y_max_normalized=b.y_max,
                        confidence=b.confidence,
                    )
                    for i, b in enumerate(boxes)
                ]
            )
        )
    return metadata


def tabular_request(
    readings: Sequence[Mapping[str, Any]],
    *,
    part_id: str = "part-1",
    component_type: str = "rdk:component:sensor",
    component_name: str = "sensor-1",
    method_name: str = "Readings",
    start_ns: int = EPOCH_NS,
    interval_ns: int = 1_000_000_000,
    tags: Sequence[str] = (),
) -> DataCaptureUploadRequest:
    """One DataCaptureUpload of tabular readings taken every ``interval_ns`` from ``start_ns``."""
    contents = []
    for index, reading in enumerate(readings):
        sensor_data = SensorData(metadata=_sensor_metadata(start_ns + index * interval_ns))
        sensor_data.struct.update(dict(reading))
        contents.append(sensor_data)
    metadata = UploadMetadata(
        part_id=part_id,
        component_type=component_type,
        component_name=component_name,
        method_name=method_name,
        type=DataType.DATA_TYPE_TABULAR_SENSOR,
        file_extension=".dat",
        tags=list(tags),
    )
    return DataCaptureUploadRequest(metadata=metadata, sensor_contents=contents)


def binary_request(
    payloads: Sequence[bytes],
    *,
    part_id: str = "part-1",
    component_type: str = "rdk:component:camera",
    component_name: str = "camera-1",
    method_name: str = "ReadImage",
    mime_type: str = "image/jpeg",
    start_ns: int = EPOCH_NS,
    interval_ns: int = 1_000_000_000,
    boxes: Sequence[Sequence[Box]] = (),
    tags: Sequence[str] = (),
) -> DataCaptureUploadRequest:
    """One DataCaptureUpload of binary captures; ``boxes[i]`` are the detections of image i."""
    contents = []
    for index, payload in enumerate(payloads):
        detections = boxes[index] if index < len(boxes) else ()
        metadata = _sensor_metadata(start_ns + index * interval_ns, detections)
        contents.append(SensorData(metadata=metadata, binary=payload))
    upload = UploadMetadata(
        part_id=part_id,
        component_type=component_type,
        component_name=component_name,
        method_name=method_name,
        type=DataType.DATA_TYPE_BINARY_SENSOR,
        mime_type=mime_type,
        tags=list(tags),
    )
    return DataCaptureUploadRequest(metadata=upload, sensor_contents=contents)


def file_metadata(
    file_name: str,
    *,
    part_id: str = "part-1",
    file_extension: str = "",
    tags: Sequence[str] = (),
) -> UploadMetadata:
    """FileUpload's first packet, as rdk sends it for an arbitrary file."""
    return UploadMetadata(
        part_id=part_id,
        type=DataType.DATA_TYPE_FILE,
        file_name=file_name,
        file_extension=file_extension,
        tags=list(tags),
    )


def streaming_metadata(
    *,
    part_id: str = "part-1",
    component_type: str = "rdk:component:camera",
    component_name: str = "camera-1",
    method_name: str = "ReadImage",
    mime_type: str = "image/jpeg",
    time_ns: int = EPOCH_NS,
    boxes: Sequence[Box] = (),
) -> DataCaptureUploadMetadata:
    """StreamingDataCaptureUpload's first packet for one large binary capture."""
    upload = UploadMetadata(
        part_id=part_id,
        component_type=component_type,
        component_name=component_name,
        method_name=method_name,
        type=DataType.DATA_TYPE_BINARY_SENSOR,
        mime_type=mime_type,
    )
    return DataCaptureUploadMetadata(
        upload_metadata=upload, sensor_metadata=_sensor_metadata(time_ns, boxes)
    )
