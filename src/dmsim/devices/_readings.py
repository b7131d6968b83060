"""What a capture returns: tabular or binary readings with timestamps, and their protobuf forms.

The shapes mirror rdk's ``data.CaptureResult``: a tabular result holds exactly one
JSON-like mapping (stored as a ``google.protobuf.Struct``); a binary result holds one or
more payloads (``GetImages`` may return several images), each with a MIME type and
optional vision annotations (``viam.proto.app.data.Annotations``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dmsim.errors import InternalError

__all__ = [
    "MIME_JPEG",
    "MIME_PCD",
    "MIME_PNG",
    "Annotations",
    "BinaryReading",
    "BoundingBox",
    "CaptureResult",
    "Classification",
    "Reading",
    "TabularReading",
    "annotations_to_proto",
    "mime_type_to_proto",
    "tabular_to_struct",
]

MIME_JPEG = "image/jpeg"
MIME_PNG = "image/png"
MIME_PCD = "pointcloud/pcd"


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A labelled box in normalized image coordinates (0..1, origin top-left)."""

    id: str
    label: str
    x_min_normalized: float
    y_min_normalized: float
    x_max_normalized: float
    y_max_normalized: float
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    """A label for a whole image."""

    id: str
    label: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Annotations:
    bboxes: tuple[BoundingBox, ...] = ()
    classifications: tuple[Classification, ...] = ()

    def empty(self) -> bool:
        return not self.bboxes and not self.classifications


@dataclass(frozen=True, slots=True)
class TabularReading:
    """One JSON-like mapping (becomes a ``google.protobuf.Struct``)."""

    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BinaryReading:
    """One binary payload (an image, a PCD point cloud) and its MIME type."""

    payload: bytes
    mime_type: str
    annotations: Annotations | None = None


Reading = TabularReading | BinaryReading


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """One capture: a single tabular reading, or one or more binary readings.

    ``time_requested_ns``/``time_received_ns`` are wall-clock ns from the runtime port.
    """

    readings: tuple[Reading, ...]
    time_requested_ns: int
    time_received_ns: int

    def __post_init__(self) -> None:
        # A malformed result is a bug in the device model, not bad user input.
        if self.time_received_ns < self.time_requested_ns:
            raise InternalError("time_received_ns is before time_requested_ns")
        readings = self.readings
        if len(readings) == 1 and type(readings[0]) is TabularReading:
            return  # the common case, checked first
        if not readings:
            raise InternalError("a capture result needs at least one reading")
        if len(readings) > 1 and any(isinstance(r, TabularReading) for r in readings):
            raise InternalError("a tabular capture result holds exactly one reading")
        for reading in readings:
            if isinstance(reading, BinaryReading) and not reading.payload:
                raise InternalError("binary readings cannot have an empty payload")

    @property
    def is_tabular(self) -> bool:
        return isinstance(self.readings[0], TabularReading)


def annotations_to_proto(annotations: Annotations | None) -> Any:
    """``viam.proto.app.data.Annotations`` for ``annotations`` (``None`` when empty, like rdk)."""
    if annotations is None or annotations.empty():
        return None
    from viam.proto.app.data import Annotations as PbAnnotations
    from viam.proto.app.data import BoundingBox as PbBoundingBox
    from viam.proto.app.data import Classification as PbClassification

    bboxes = []
    for box in annotations.bboxes:
        pb_box = PbBoundingBox(
            id=box.id,
            label=box.label,
            x_min_normalized=box.x_min_normalized,
            y_min_normalized=box.y_min_normalized,
            x_max_normalized=box.x_max_normalized,
            y_max_normalized=box.y_max_normalized,
        )
        if box.confidence is not None:
            pb_box.confidence = box.confidence
        bboxes.append(pb_box)
    classifications = []
    for item in annotations.classifications:
        pb_item = PbClassification(id=item.id, label=item.label)
        if item.confidence is not None:
            pb_item.confidence = item.confidence
        classifications.append(pb_item)
    return PbAnnotations(bboxes=bboxes, classifications=classifications)


_MIME_ENUM = {
    MIME_JPEG: "MIME_TYPE_IMAGE_JPEG",
    MIME_PNG: "MIME_TYPE_IMAGE_PNG",
    MIME_PCD: "MIME_TYPE_APPLICATION_PCD",
}


def mime_type_to_proto(mime_type: str) -> int:
    """The ``viam.proto.app.datasync.MimeType`` value for a MIME string (UNSPECIFIED if unknown)."""
    from viam.proto.app.datasync import MimeType

    return int(MimeType.Value(_MIME_ENUM.get(mime_type, "MIME_TYPE_UNSPECIFIED")))


def tabular_to_struct(data: Mapping[str, Any]) -> Any:
    """``google.protobuf.Struct`` for a tabular reading; non-finite numbers are rejected because
    JSON (and Viam's cloud) cannot hold them."""
    from google.protobuf.struct_pb2 import Struct

    _check_json_like(data, "data")
    struct = Struct()
    struct.update(data)
    return struct


def _check_json_like(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InternalError(f"{path}: key {key!r} is not a string")
            _check_json_like(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_like(item, f"{path}[{index}]")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InternalError(f"{path}: {value} is not a finite number")
    elif value is not None and not isinstance(value, bool | int | str):
        raise InternalError(f"{path}: {type(value).__name__} is not JSON-like")
