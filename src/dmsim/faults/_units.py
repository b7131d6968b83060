"""Durations and sizes as people write them in scenario files: ``90s``, ``10m``, ``1h30m``,
``7d``, ``250ms``; ``64MiB``, ``2GB``, ``4096``.

A bare number is seconds (durations) or bytes (sizes). Parsing returns ``None`` for anything
malformed so each caller can name the offending field in its own error.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "format_size", "parse_duration", "parse_size"]

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"
_DURATION_RE = re.compile(rf"^(-?)((?:{_DURATION_PART})+)$")
_DURATION_PART_RE = re.compile(_DURATION_PART)

_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?$")

# Units from largest to smallest, used to print a duration in the biggest exact unit.
_FORMAT_UNITS = (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))


def parse_duration(value: object, *, signed: bool = False) -> float | None:
    """Seconds for ``value`` (a number or a string like ``'1h30m'``), or ``None`` if malformed.

    Negative values are accepted only with ``signed`` (a clock step backwards).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value.strip().replace(" ", ""))
        if match is None:
            return None
        total = sum(
            # dividing keeps '700ms' exactly 0.7 (multiplying by 0.001 would not)
            float(number) / 1000 if unit == "ms" else float(number) * _DURATION_UNITS[unit]
            for number, unit in _DURATION_PART_RE.findall(match.group(2))
        )
        seconds = -total if match.group(1) else total
    else:
        return None
    if not math.isfinite(seconds) or (seconds < 0 and not signed):
        return None
    return seconds


def parse_size(value: object) -> int | None:
    """Bytes for ``value`` (an integer or a string like ``'64MiB'``), or ``None`` if malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE_RE.match(value.strip())
    if match is None:
        return None
    number = float(match.group(1)) * _SIZE_UNITS[match.group(2) or ""]
    return int(number) if number.is_integer() else None


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: ``5400`` → ``'90m'``, ``1.5`` → ``'1.5s'``."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    magnitude = abs(seconds)
    for unit, size in _FORMAT_UNITS:
        count = magnitude / size
        if count >= 1 and abs(count - round(count)) < 1e-6:
            return f"{sign}{round(count)}{unit}"
    return sign + f"{magnitude:.9f}".rstrip("0").rstrip(".") + "s"


def format_size(nbytes: int) -> str | int:
    """The biggest exact binary unit: ``67108864`` → ``'64MiB'``; otherwise the plain number."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        size = _SIZE_UNITS[unit]
        if nbytes >= size and nbytes % size == 0:
            return f"{nbytes // size}{unit}"
    return nbytes
