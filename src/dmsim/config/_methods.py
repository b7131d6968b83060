"""The capture method registry: which resource API supports which method, and how.

This is the documents' table of supported components and services (the ``viam-server``
column), with each method's capture type (rdk's ``MethodToCaptureType``: image and point-cloud
methods are *binary*, every other method is *tabular*), the ``additional_params`` it requires or
accepts, and the file extension its capture files get.

=====================  ========================================================================
API                    methods
=====================  ========================================================================
rdk:component:arm      EndPosition, JointPositions
rdk:component:board    Analogs (``reader_name``), Gpios (``pin_name``)
rdk:component:camera   GetImages, ReadImage (``mime_type``), NextPointCloud
rdk:component:encoder  TicksCount
rdk:component:gantry   Lengths, Position
rdk:component:motor    Position, IsPowered
rdk:component:movement_sensor  AngularVelocity, CompassHeading, LinearAcceleration,
                       LinearVelocity, Orientation, Position
rdk:component:sensor   Readings
rdk:component:servo    Position
rdk:service:vision     CaptureAllFromCamera (``camera_name``; ``mime_type``,
                       ``min_confidence_score``)
=====================  ========================================================================

Parameters not listed for a method are passed through to the collector untouched (the
documents' camera example carries a ``reader_name`` that ReadImage does not use); they still
make collectors distinct.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "METHODS",
    "MIME_EXTENSIONS",
    "CaptureType",
    "MethodSpec",
    "ParamSpec",
    "check_param",
    "file_extension",
    "method_spec",
    "unknown_method_message",
]

CaptureType = Literal["tabular", "binary"]

IMAGE_MIME_TYPES = ("image/jpeg", "image/png")
POINTCLOUD_MIME_TYPE = "pointcloud/pcd"

#: The file extension of a binary capture file for each MIME type (tabular files are ``.dat``;
#: a type not listed has none). A fixed table, not the host's mime.types, so the same reading
#: gets the same metadata on every machine; the writer and sync use it too.
MIME_EXTENSIONS: Mapping[str, str] = MappingProxyType(
    {
        "image/jpeg": ".jpeg",
        "image/png": ".png",
        POINTCLOUD_MIME_TYPE: ".pcd",
        "audio/wav": ".wav",
        "audio/mpeg": ".mp3",
        "video/mp4": ".mp4",
    }
)
TABULAR_EXTENSION = ".dat"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One ``additional_params`` entry a method understands (values are always strings)."""

    name: str
    required: bool = False
    choices: tuple[str, ...] = ()  # allowed values; empty = any non-empty string
    number_range: tuple[float, float] | None = None  # the string must be a number in here
    doc: str = ""


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One capture method of one resource API."""

    api: str
    method: str
    capture_type: CaptureType
    params: tuple[ParamSpec, ...] = ()
    default_mime_type: str = ""  # binary methods: what is captured when mime_type is unset
    doc: str = ""

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


def _tabular(api: str, doc: str, *methods: str) -> list[MethodSpec]:
    return [MethodSpec(api, m, "tabular", doc=f"{doc}: {m}") for m in methods]


_MIME_IMAGE = ParamSpec("mime_type", choices=IMAGE_MIME_TYPES, doc="image encoding to capture")

_ALL: list[MethodSpec] = [
    *_tabular("rdk:component:arm", "arm", "EndPosition", "JointPositions"),
    MethodSpec(
        "rdk:component:board",
        "Analogs",
        "tabular",
        (ParamSpec("reader_name", required=True, doc="the analog reader to read"),),
        doc="board: the value of one analog reader",
    ),
    MethodSpec(
        "rdk:component:board",
        "Gpios",
        "tabular",
        (ParamSpec("pin_name", required=True, doc="the GPIO pin to read"),),
        doc="board: the level of one GPIO pin",
    ),
    MethodSpec(
        "rdk:component:camera",
        "GetImages",
        "binary",
        (_MIME_IMAGE,),
        default_mime_type="image/jpeg",
        doc="camera: every image the camera returns",
    ),
    MethodSpec(
        "rdk:component:camera",
        "ReadImage",
        "binary",
        (ParamSpec("mime_type", required=True, choices=IMAGE_MIME_TYPES, doc=_MIME_IMAGE.doc),),
        doc="camera: one image in the requested encoding",
    ),
    MethodSpec(
        "rdk:component:camera",
        "NextPointCloud",
        "binary",
        (ParamSpec("mime_type", choices=(POINTCLOUD_MIME_TYPE,), doc="always pointcloud/pcd"),),
        default_mime_type=POINTCLOUD_MIME_TYPE,
        doc="camera: one point cloud (PCD)",
    ),
    *_tabular("rdk:component:encoder", "encoder", "TicksCount"),
    *_tabular("rdk:component:gantry", "gantry", "Lengths", "Position"),
    *_tabular("rdk:component:motor", "motor", "Position", "IsPowered"),
    *_tabular(
        "rdk:component:movement_sensor",
        "movement sensor",
        "AngularVelocity",
        "CompassHeading",
        "LinearAcceleration",
        "LinearVelocity",
        "Orientation",
        "Position",
    ),
    *_tabular("rdk:component:sensor", "sensor", "Readings"),
    *_tabular("rdk:component:servo", "servo", "Position"),
    MethodSpec(
        "rdk:service:vision",
        "CaptureAllFromCamera",
        "binary",
        (
            ParamSpec("camera_name", required=True, doc="the camera the vision service reads"),
            _MIME_IMAGE,
            ParamSpec(
                "min_confidence_score",
                number_range=(0.0, 1.0),
                doc="detections and classifications below this score are left out",
            ),
        ),
        default_mime_type="image/jpeg",
        doc="vision: an image with its detections and classifications",
    ),
]


def _index(specs: list[MethodSpec]) -> Mapping[str, Mapping[str, MethodSpec]]:
    table: dict[str, dict[str, MethodSpec]] = {}
    for spec in specs:
        table.setdefault(spec.api, {})[spec.method] = spec
    return MappingProxyType({api: MappingProxyType(m) for api, m in table.items()})


#: ``METHODS[api][method]`` → :class:`MethodSpec`, e.g. ``METHODS["rdk:component:camera"]``.
METHODS: Mapping[str, Mapping[str, MethodSpec]] = _index(_ALL)


def method_spec(api: str, method: str) -> MethodSpec | None:
    """The spec of ``method`` on resource API ``api``, or None if it is not supported."""
    return METHODS.get(api, {}).get(method)


def unknown_method_message(api: str, method: str) -> str:
    """Why ``method`` cannot be captured from ``api``: names what can, suggests a spelling."""
    methods = METHODS.get(api)
    if methods is None:
        supported = ", ".join(sorted(METHODS))
        return f"{api} supports no data capture; APIs that do: {supported}"
    valid = sorted(methods)
    close = difflib.get_close_matches(method, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{api} has no capture method {method!r}{hint}; valid methods: {', '.join(valid)}"


def check_param(param: ParamSpec, value: str) -> str | None:
    """Why ``value`` is not acceptable for ``param``, or None if it is."""
    if value == "":
        return "must not be empty"
    if param.choices and value not in param.choices:
        return f"must be one of {', '.join(param.choices)}, got {value!r}"
    if param.number_range is not None:
        low, high = param.number_range
        try:
            number = float(value)
        except ValueError:
            return f"must be a number between {low:g} and {high:g}, got {value!r}"
        if not low <= number <= high:
            return f"must be between {low:g} and {high:g}, got {value}"
    return None


def file_extension(spec: MethodSpec, mime_type: str) -> str:
    """The capture file extension: ``.dat`` for tabular data, else from the MIME type."""
    if spec.capture_type == "tabular":
        return TABULAR_EXTENSION
    return MIME_EXTENSIONS.get(mime_type or spec.default_mime_type, "")
