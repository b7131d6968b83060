"""Checking and normalising one fault parameter against its :class:`ParamSpec`.

Each checker returns the normalised value or a message saying what was expected, so the caller
can attach the path (and, for scenario files, the line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ._kinds import ParamSpec
from ._units import parse_duration, parse_size

__all__ = ["FAULT_ID_RE", "check_param", "freeze", "thaw"]

FAULT_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_CHANGE_FIELDS = ("resource", "method", "additional_params", "capture_frequency_hz", "disabled")


class _Bad(Exception):
    """A parameter value is not acceptable; the message says what was expected."""


def check_param(spec: ParamSpec, value: Any) -> Any:
    """The normalised value; raises ``ValueError`` with a user-facing message otherwise."""
    try:
        normalised = _CHECKERS[spec.type](spec, value)
    except _Bad as bad:
        raise ValueError(str(bad)) from None
    return freeze(normalised)


def _number(spec: ParamSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Bad(f"expected a number, got {value!r}")
    _bounds(spec, float(value), str(value))
    return value


def _integer(spec: ParamSpec, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"expected a whole number, got {value!r}")
    _bounds(spec, float(value), str(value))
    return value


def _string(spec: ParamSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected a string, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise _Bad(f"expected one of {', '.join(spec.choices)}, got {value!r}")
    return value


def _boolean(_spec: ParamSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


def _duration(spec: ParamSpec, value: Any) -> float:
    seconds = parse_duration(value, signed=spec.type == "signed_duration")
    if seconds is None:
        example = "'-1h' or '90s'" if spec.type == "signed_duration" else "'90s'"
        raise _Bad(f"expected a duration like {example}, got {value!r}")
    _bounds(spec, seconds, str(value))
    return seconds


def _size(spec: ParamSpec, value: Any) -> int:
    nbytes = parse_size(value)
    if nbytes is None:
        raise _Bad(f"expected a size like '64MiB' or a number of bytes, got {value!r}")
    _bounds(spec, float(nbytes), str(value))
    return nbytes


def _strings(spec: ParamSpec, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _Bad(f"expected a non-empty list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str) or (spec.choices and item not in spec.choices):
            allowed = f" (one of {', '.join(spec.choices)})" if spec.choices else ""
            raise _Bad(f"expected strings{allowed}, got {item!r}")
    if len(set(value)) != len(value):
        raise _Bad(f"lists an entry twice: {list(value)!r}")
    return tuple(value)


def _object(_spec: ParamSpec, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise _Bad(f"expected a non-empty mapping, got {value!r}")
    if not all(isinstance(key, str) for key in value):
        raise _Bad("expected string keys")
    return dict(value)


def _changes(_spec: ParamSpec, value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _Bad(f"expected a non-empty list of changes, got {value!r}")
    return tuple(_change(index, item) for index, item in enumerate(value))


def _change(index: int, item: Any) -> dict[str, Any]:
    where = f"change [{index}]"
    if not isinstance(item, Mapping):
        raise _Bad(f"{where}: expected a mapping, got {item!r}")
    unknown = sorted(set(item) - set(_CHANGE_FIELDS))
    if unknown:
        raise _Bad(f"{where}: unknown field {unknown[0]!r}; known: {', '.join(_CHANGE_FIELDS)}")
    for key in ("resource", "method"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise _Bad(f"{where}: '{key}' must be a non-empty string")
    params = item.get("additional_params", {})
    if not isinstance(params, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        raise _Bad(f"{where}: 'additional_params' must map strings to strings")
    if "capture_frequency_hz" not in item and "disabled" not in item:
        raise _Bad(f"{where}: set 'capture_frequency_hz' or 'disabled'")
    hz = item.get("capture_frequency_hz", 0.0)
    if isinstance(hz, bool) or not isinstance(hz, int | float) or not math.isfinite(hz) or hz < 0:
        raise _Bad(f"{where}: 'capture_frequency_hz' must be a number >= 0, got {hz!r}")
    if not isinstance(item.get("disabled", False), bool):
        raise _Bad(f"{where}: 'disabled' must be true or false")
    return dict(item)


def _bounds(spec: ParamSpec, number: float, shown: str) -> None:
    if spec.minimum is not None and number < spec.minimum:
        raise _Bad(f"must be >= {spec.minimum:g}, got {shown}")
    if spec.above is not None and number <= spec.above:
        raise _Bad(f"must be > {spec.above:g}, got {shown}")
    if spec.maximum is not None and number > spec.maximum:
        raise _Bad(f"must be <= {spec.maximum:g}, got {shown}")
    if spec.nonzero and number == 0:
        raise _Bad("must not be zero")


_CHECKERS: dict[str, Callable[[ParamSpec, Any], Any]] = {
    "number": _number,
    "integer": _integer,
    "string": _string,
    "boolean": _boolean,
    "duration": _duration,
    "signed_duration": _duration,
    "size": _size,
    "strings": _strings,
    "object": _object,
    "changes": _changes,
}


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become mapping proxies, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Plain JSON-like data (dicts and lists) from a frozen value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(item) for item in value]
    return value
