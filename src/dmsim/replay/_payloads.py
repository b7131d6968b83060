"""The sizes of a field device's binary payloads, so an inferred machine captures like it.

For each binary stream the first reading of its first file is looked at: an image's pixel size
becomes its camera's ``width_px``/``height_px`` (Pillow reads only the header), a point cloud's
``POINTS`` the scenario's ``payload.point_count``. A payload that cannot be read or decoded
leaves the simulated default and says why.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from dmsim.errors import DmsimError
from dmsim.storage import CaptureReader, RealFS

from ._snapshot import StreamSummary

__all__ = ["ObservedPayloads", "observe_payloads"]

_MAX_LOOK_BYTES = 64 * 1024 * 1024  # a bigger payload is not loaded to learn its size
_SIZE_RANGE = (16, 8192)  # what a simulated camera accepts


@dataclass(slots=True)
class ObservedPayloads:
    image_sizes: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    point_count: int | None = None
    notes: list[str] = field(default_factory=list)  # what could not be learned, and why


def observe_payloads(streams: tuple[StreamSummary, ...]) -> ObservedPayloads:
    observed = ObservedPayloads()
    for stream in streams:
        if stream.data_type != "binary" or stream.first_file is None:
            continue
        try:
            payload = _first_payload(stream.first_file)
        except (DmsimError, OSError) as error:
            observed.notes.append(f"{stream.label}: payload not read ({error})")
            continue
        if payload is None:
            continue
        if stream.method_name == "NextPointCloud":
            _point_cloud(stream, payload, observed)
        elif stream.component_type.endswith(":camera"):
            _image(stream, payload, observed)
    return observed


def _first_payload(path: str) -> bytes | None:
    with CaptureReader(RealFS(), path) as reader:
        record = next(reader.records(), None)
        if record is None or record.payload is None or record.payload.length > _MAX_LOOK_BYTES:
            return None
        return reader.read_payload(record)


def _image(stream: StreamSummary, payload: bytes, observed: ObservedPayloads) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(payload)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as error:
        observed.notes.append(f"{stream.label}: not an image Pillow reads ({error})")
        return
    low, high = _SIZE_RANGE
    if not (low <= width <= high and low <= height <= high):
        observed.notes.append(f"{stream.label}: {width}×{height} is outside {low}..{high} px")
        return
    observed.image_sizes.setdefault((stream.component_type, stream.component_name), (width, height))


def _point_cloud(stream: StreamSummary, payload: bytes, observed: ObservedPayloads) -> None:
    from dmsim.devices import PcdError, parse_pcd

    try:
        points = parse_pcd(payload).points
    except PcdError as error:
        observed.notes.append(f"{stream.label}: not a PCD point cloud ({error})")
        return
    if points >= 1:
        observed.point_count = max(observed.point_count or 0, points)
