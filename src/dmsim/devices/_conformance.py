"""Conformance checks every backend's captures must pass (simulated, real, a user's own).

:func:`check_capture_result` validates one result the way the capture engine and the cloud
will consume it: tabular data converts to JSON and to a ``google.protobuf.Struct``; images
decode with Pillow (at the expected size, in the requested format); point clouds parse with
the strict PCD parser; annotations are normalized and convert to the viam-sdk proto.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

from PIL import Image

from dmsim.errors import DmsimError

from ._pcd import PcdError, parse_pcd
from ._readings import (
    MIME_JPEG,
    MIME_PCD,
    MIME_PNG,
    BinaryReading,
    CaptureResult,
    TabularReading,
    annotations_to_proto,
    tabular_to_struct,
)
from ._resource import Resource

__all__ = ["BINARY_METHODS", "ConformanceError", "check_capture_result", "check_resource"]

BINARY_METHODS = frozenset({"ReadImage", "GetImages", "NextPointCloud", "CaptureAllFromCamera"})
_FORMATS = {MIME_JPEG: "JPEG", MIME_PNG: "PNG"}


class ConformanceError(DmsimError):
    """A capture result breaks the contract the capture engine relies on."""


def check_capture_result(
    result: CaptureResult,
    *,
    method: str,
    params: Mapping[str, str] | None = None,
    image_size: tuple[int, int] | None = None,
) -> None:
    """Raise :class:`ConformanceError` if ``result`` is not a valid capture of ``method``."""
    params = params or {}
    if result.time_requested_ns <= 0:
        raise ConformanceError(f"{method}: time_requested_ns is not set")
    if (method in BINARY_METHODS) == result.is_tabular:
        raise ConformanceError(
            f"{method}: expected {'binary' if method in BINARY_METHODS else 'tabular'} data"
        )
    for reading in result.readings:
        if isinstance(reading, TabularReading):
            _check_tabular(method, reading)
        else:
            _check_binary(method, reading, params, image_size)


def _check_tabular(method: str, reading: TabularReading) -> None:
    try:
        json.dumps(reading.data, allow_nan=False)
        tabular_to_struct(reading.data)
    except (TypeError, ValueError, DmsimError) as error:
        raise ConformanceError(
            f"{method}: tabular data is not JSON/Struct-convertible: {error}"
        ) from None


def _check_binary(
    method: str,
    reading: BinaryReading,
    params: Mapping[str, str],
    image_size: tuple[int, int] | None,
) -> None:
    if method == "NextPointCloud" or reading.mime_type == MIME_PCD:
        if reading.mime_type != MIME_PCD:
            raise ConformanceError(f"{method}: point cloud has MIME type {reading.mime_type!r}")
        try:
            parse_pcd(reading.payload)
        except PcdError as error:
            raise ConformanceError(f"{method}: invalid PCD: {error}") from None
        return
    wanted = params.get("mime_type")
    if method in ("ReadImage", "CaptureAllFromCamera") and wanted and reading.mime_type != wanted:
        raise ConformanceError(f"{method}: asked for {wanted}, got {reading.mime_type}")
    expected_format = _FORMATS.get(reading.mime_type)
    if expected_format is None:
        raise ConformanceError(f"{method}: unsupported image MIME type {reading.mime_type!r}")
    try:
        with Image.open(io.BytesIO(reading.payload)) as image:
            image.load()
            actual_format, size = image.format, image.size
    except (OSError, ValueError) as error:
        raise ConformanceError(f"{method}: image does not decode: {error}") from None
    if actual_format != expected_format:
        raise ConformanceError(
            f"{method}: payload is {actual_format}, MIME type says {expected_format}"
        )
    if image_size is not None and size != image_size:
        raise ConformanceError(
            f"{method}: image is {size[0]}x{size[1]}, expected {image_size[0]}x{image_size[1]}"
        )
    annotations = reading.annotations
    if annotations is not None:
        for box in annotations.bboxes:
            corners = (
                box.x_min_normalized,
                box.y_min_normalized,
                box.x_max_normalized,
                box.y_max_normalized,
            )
            if (
                not all(0.0 <= c <= 1.0 for c in corners)
                or corners[0] > corners[2]
                or corners[1] > corners[3]
            ):
                raise ConformanceError(f"{method}: bounding box {box} is not normalized")
            if box.confidence is not None and not 0.0 <= box.confidence <= 1.0:
                raise ConformanceError(f"{method}: confidence {box.confidence} outside [0, 1]")
        annotations_to_proto(annotations)


async def check_resource(
    resource: Resource,
    method: str,
    params: Mapping[str, str] | None = None,
    *,
    image_size: tuple[int, int] | None = None,
) -> CaptureResult:
    """Capture once and check the result; returns it for further assertions."""
    if method not in resource.methods():
        raise ConformanceError(f"{resource.name}: {method} is not in methods()")
    result = await resource.capture(method, params or {})
    check_capture_result(result, method=method, params=params, image_size=image_size)
    return result
