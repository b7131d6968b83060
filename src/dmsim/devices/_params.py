"""Payload size options, and checks of capture params and model attributes with clear errors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dmsim.errors import ConfigError, Problem

from ._errors import DeviceParamError
from ._readings import MIME_JPEG, MIME_PNG

__all__ = [
    "IMAGE_MIME_TYPES",
    "PayloadOptions",
    "attr_float",
    "attr_int",
    "attr_str",
    "param_float",
    "param_image_mime",
    "param_required",
]

IMAGE_MIME_TYPES: tuple[str, ...] = (MIME_JPEG, MIME_PNG)


@dataclass(frozen=True, slots=True)
class PayloadOptions:
    """Sizes of simulated binary payloads (a camera's ``width_px``/``height_px`` win)."""

    image_width: int = 640
    image_height: int = 480
    jpeg_quality: int = 75
    point_count: int = 2000
    pcd_format: str = "binary"
    images_per_get: int = 2
    tabular_fields: int = 3

    def __post_init__(self) -> None:
        problems = []
        for name, low, high in (
            ("image_width", 16, 8192),
            ("image_height", 16, 8192),
            ("jpeg_quality", 1, 95),
            ("point_count", 1, 10_000_000),
            ("images_per_get", 1, 16),
            ("tabular_fields", 1, 10_000),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append(
                    Problem(name, f"must be an integer in [{low}, {high}], got {value!r}")
                )
        if self.pcd_format not in ("binary", "ascii"):
            problems.append(
                Problem("pcd_format", f"must be 'binary' or 'ascii', got {self.pcd_format!r}")
            )
        if problems:
            raise ConfigError(problems, source="payload options")


def param_required(params: Mapping[str, str], key: str, *, where: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise DeviceParamError(f"{where}: additional_params.{key} is required")
    if not isinstance(value, str):
        raise DeviceParamError(f"{where}: additional_params.{key} must be a string, got {value!r}")
    return value


def param_image_mime(params: Mapping[str, str], *, where: str, default: str = MIME_JPEG) -> str:
    mime = params.get("mime_type") or default
    if mime not in IMAGE_MIME_TYPES:
        raise DeviceParamError(
            f"{where}: additional_params.mime_type {mime!r} is not supported; "
            f"use one of {', '.join(IMAGE_MIME_TYPES)}"
        )
    return mime


def param_float(
    params: Mapping[str, str], key: str, *, where: str, default: float, low: float, high: float
) -> float:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DeviceParamError(
            f"{where}: additional_params.{key} {raw!r} is not a number"
        ) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise DeviceParamError(
            f"{where}: additional_params.{key} {raw!r} must be in [{low}, {high}]"
        )
    return value


def _attr_problem(source: str, key: str, message: str) -> ConfigError:
    return ConfigError(Problem(f"attributes.{key}", message), source=source)


def attr_float(
    attributes: Mapping[str, Any],
    key: str,
    *,
    source: str,
    default: float,
    low: float = -math.inf,
    high: float = math.inf,
) -> float:
    value = attributes.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _attr_problem(source, key, f"must be a number, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise _attr_problem(source, key, f"must be in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def attr_int(
    attributes: Mapping[str, Any], key: str, *, source: str, default: int, low: int, high: int
) -> int:
    value = attributes.get(key, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _attr_problem(source, key, f"must be an integer in [{low}, {high}], got {value!r}")
    return value


def attr_str(
    attributes: Mapping[str, Any],
    key: str,
    *,
    source: str,
    default: str,
    choices: Sequence[str] | None = None,
) -> str:
    value = attributes.get(key, default)
    if not isinstance(value, str):
        raise _attr_problem(source, key, f"must be a string, got {value!r}")
    if choices is not None and value not in choices:
        raise _attr_problem(source, key, f"must be one of {', '.join(choices)}, got {value!r}")
    return value
