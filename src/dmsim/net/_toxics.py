"""Toxics for the TCP fault proxy, in Toxiproxy's vocabulary, and their pure decisions.

A toxic is a named, typed fault on one stream of a proxy: ``upstream`` (client → server) or
``downstream`` (server → client, the default). ``toxicity`` is the probability that the toxic
applies to a given connection, drawn once per (connection, toxic) from a seeded stream, so the
same seed and the same order of connections and toxics give the same decisions. A toxicity of
0 never applies (Toxiproxy's #603 applied it anyway).

Attributes (integers, as in Toxiproxy; missing ones default to 0 unless noted):

=============  ============================================  =====================================
type           attributes                                    effect
=============  ============================================  =====================================
latency        ``latency``, ``jitter`` (ms)                  each chunk delayed latency ± jitter
bandwidth      ``rate`` (KB/s, 1 KB = 1000 B; required > 0)  throughput capped at rate
down           (none)                                        refuse connections (toxicity 1:
                                                             listener closed, live connections
                                                             closed; below 1: the chosen new
                                                             connections are reset at once)
timeout        ``timeout`` (ms)                              drop all data; close after timeout
                                                             (0: never; removing the toxic closes
                                                             the connection, its stream is broken)
reset_peer     ``timeout`` (ms)                              after the first data on the stream,
                                                             wait timeout, then TCP RST both ends
limit_data     ``bytes``                                     close both ends after that many bytes
slicer         ``average_size`` (required > 0),              cut chunks into pieces of
               ``size_variation`` (< average_size),          average ± variation bytes, waiting
               ``delay`` (µs)                                delay between pieces
=============  ============================================  =====================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np

from dmsim.errors import ConfigError, Problem

__all__ = [
    "Stream",
    "Toxic",
    "ToxicConflictError",
    "ToxicNotFoundError",
    "ToxicType",
    "applies",
    "latency_seconds",
    "parse_toxic",
    "slice_sizes",
    "update_toxic",
]


class ToxicType(StrEnum):
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    DOWN = "down"
    TIMEOUT = "timeout"
    RESET_PEER = "reset_peer"
    LIMIT_DATA = "limit_data"
    SLICER = "slicer"


class Stream(StrEnum):
    UPSTREAM = "upstream"  # client → server
    DOWNSTREAM = "downstream"  # server → client


class ToxicConflictError(ConfigError):
    """A toxic with that name already exists on the proxy."""


class ToxicNotFoundError(ConfigError):
    """No such toxic (or proxy)."""


# type -> attribute -> smallest allowed value; attributes in ``_REQUIRED`` have no default.
_ATTRIBUTES: dict[ToxicType, dict[str, int]] = {
    ToxicType.LATENCY: {"latency": 0, "jitter": 0},
    ToxicType.BANDWIDTH: {"rate": 1},
    ToxicType.DOWN: {},
    ToxicType.TIMEOUT: {"timeout": 0},
    ToxicType.RESET_PEER: {"timeout": 0},
    ToxicType.LIMIT_DATA: {"bytes": 0},
    ToxicType.SLICER: {"average_size": 1, "size_variation": 0, "delay": 0},
}
_REQUIRED = {(ToxicType.BANDWIDTH, "rate"), (ToxicType.SLICER, "average_size")}
_KEYS = ("name", "type", "stream", "toxicity", "attributes")
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Toxic:
    name: str
    type: ToxicType
    stream: Stream = Stream.DOWNSTREAM
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def attr(self, key: str) -> int:
        return self.attributes[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.value,
            "stream": self.stream.value,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


def parse_toxic(data: object, *, where: str = "toxic") -> Toxic:
    """A toxic from its Toxiproxy-shaped JSON; every problem reported with its path."""
    if not isinstance(data, Mapping):
        raise ConfigError(Problem(where, "expected a JSON object"))
    problems: list[Problem] = [
        Problem(f"{where}.{key}", f"unknown key; known: {', '.join(_KEYS)}")
        for key in data
        if key not in _KEYS
    ]
    kind = _enum(ToxicType, data.get("type"), f"{where}.type", problems, required=True)
    stream = _enum(Stream, data.get("stream", "downstream"), f"{where}.stream", problems)
    toxicity = _toxicity(data.get("toxicity", 1.0), f"{where}.toxicity", problems)
    attributes = (
        _attributes(kind, data.get("attributes", {}), f"{where}.attributes", problems)
        if kind is not None
        else {}
    )
    name = data.get("name")
    if name is None and kind is not None and stream is not None:
        name = f"{kind.value}_{stream.value}"
    # Without a name, a bad type or stream (already reported) leaves no default to derive.
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        problems.append(
            Problem(f"{where}.name", f"must be a non-empty string without '/', got {name!r}")
        )
    if kind is ToxicType.DOWN and stream is Stream.UPSTREAM:
        problems.append(
            Problem(f"{where}.stream", "a down toxic acts on whole connections; omit stream")
        )
    if problems:
        raise ConfigError(problems)
    assert kind is not None
    assert stream is not None
    assert toxicity is not None
    return Toxic(str(name), kind, stream, toxicity, MappingProxyType(attributes))


def update_toxic(toxic: Toxic, data: object, *, where: str = "toxic") -> Toxic:
    """Toxiproxy's update: new ``toxicity`` and/or ``attributes`` (merged); name, type and
    stream cannot change."""
    if not isinstance(data, Mapping):
        raise ConfigError(Problem(where, "expected a JSON object"))
    fixed = [
        Problem(f"{where}.{key}", f"cannot be changed (is {getattr(toxic, key)!s})")
        for key in ("name", "type", "stream")
        if key in data and str(data[key]) != str(getattr(toxic, key))
    ]
    if fixed:
        raise ConfigError(fixed)
    changes = data.get("attributes")
    if changes is None:  # Toxiproxy's Go client sends null for no attributes
        changes = {}
    if not isinstance(changes, Mapping):
        raise ConfigError(Problem(f"{where}.attributes", "expected an object"))
    merged = toxic.to_json()
    merged["attributes"].update(changes)
    if "toxicity" in data:
        merged["toxicity"] = data["toxicity"]
    return parse_toxic(merged, where=where)


# Pure decisions, each from explicit draws so tests need no sockets.


def applies(toxicity: float, draw: float) -> bool:
    """Whether a toxic applies to one connection, from a uniform draw in [0, 1)."""
    if toxicity <= 0.0:
        return False
    return toxicity >= 1.0 or draw < toxicity


def latency_seconds(latency_ms: int, jitter_ms: int, draw: float) -> float:
    """latency ± jitter (uniform from ``draw`` in [0, 1)), never negative."""
    return max(0.0, latency_ms + jitter_ms * (2.0 * draw - 1.0)) / 1000.0


def slice_sizes(total: int, average: int, variation: int, rng: np.random.Generator) -> list[int]:
    """Piece sizes (each >= 1, summing to ``total``) around ``average ± variation``."""
    sizes: list[int] = []
    left = total
    while left > 0:
        size = average + int(rng.integers(-variation, variation + 1)) if variation else average
        size = min(max(1, size), left)
        sizes.append(size)
        left -= size
    return sizes


def _enum(
    cls: type[_E], value: object, path: str, problems: list[Problem], *, required: bool = False
) -> _E | None:
    if value is None and required:
        problems.append(Problem(path, f"missing; one of {', '.join(m.value for m in cls)}"))
        return None
    try:
        return cls(str(value))
    except ValueError:
        problems.append(
            Problem(path, f"unknown value {value!r}; one of {', '.join(m.value for m in cls)}")
        )
        return None


def _toxicity(value: object, path: str, problems: list[Problem]) -> float | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        problems.append(Problem(path, f"must be a number in [0, 1], got {value!r}"))
        return None
    return float(value)


def _attributes(kind: ToxicType, raw: object, path: str, problems: list[Problem]) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "expected an object"))
        return {}
    known = _ATTRIBUTES[kind]
    out: dict[str, int] = {}
    for key in raw:
        if key not in known:
            names = ", ".join(known) or "none"
            problems.append(Problem(f"{path}.{key}", f"unknown for {kind.value}; known: {names}"))
    for key, low in known.items():
        value = raw.get(key)
        if value is None:
            if (kind, key) in _REQUIRED:
                problems.append(Problem(f"{path}.{key}", f"required for {kind.value}"))
            out[key] = 0
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(Problem(f"{path}.{key}", f"must be an integer >= {low}, got {value!r}"))
            continue
        out[key] = value
    if kind is ToxicType.SLICER and out.get("size_variation", 0) >= max(
        1, out.get("average_size", 1)
    ):
        problems.append(Problem(f"{path}.size_variation", "must be less than average_size"))
    return out
