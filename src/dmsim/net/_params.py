"""Link parameters: what one direction of a simulated link does to a message.

Units follow the simulation vocabulary: seconds as floats, bandwidth in bytes per second,
probabilities in [0, 1]. Upstream is device → cloud, downstream is cloud → device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from dmsim.errors import ConfigError, Problem

__all__ = ["Direction", "DirectionParams", "DownWindow", "LinkParams", "OutageModel"]


class Direction(StrEnum):
    UPSTREAM = "upstream"  # device → cloud
    DOWNSTREAM = "downstream"  # cloud → device


@dataclass(frozen=True, slots=True)
class DirectionParams:
    """One direction of a link.

    ``bandwidth`` of ``None`` means unlimited (no serialisation delay). ``jitter`` spreads the
    one-way ``latency`` uniformly over ``latency ± jitter`` (never below zero). ``loss`` is the
    probability that one message is lost (the sender only learns at its deadline).
    ``reset_after_bytes`` resets the connection once that many bytes went through it.
    """

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None
    loss: float = 0.0
    reset_after_bytes: int | None = None

    def __post_init__(self) -> None:
        problems = self.problems("")
        if problems:
            raise ConfigError(problems, source="link parameters")

    def problems(self, where: str) -> list[Problem]:
        """Every invalid field, named under ``where``."""
        out: list[Problem] = []
        prefix = f"{where}." if where else ""
        if not _finite_at_least(self.latency, 0.0):
            out.append(Problem(f"{prefix}latency", f"must be >= 0 seconds, got {self.latency!r}"))
        if not _finite_at_least(self.jitter, 0.0):
            out.append(Problem(f"{prefix}jitter", f"must be >= 0 seconds, got {self.jitter!r}"))
        if self.bandwidth is not None and not (
            _finite_at_least(self.bandwidth, 0.0) and self.bandwidth > 0
        ):
            out.append(
                Problem(f"{prefix}bandwidth", f"must be > 0 bytes/s, got {self.bandwidth!r}")
            )
        if not (_finite_at_least(self.loss, 0.0) and self.loss <= 1.0):
            out.append(Problem(f"{prefix}loss", f"must be in [0, 1], got {self.loss!r}"))
        if self.reset_after_bytes is not None and (
            isinstance(self.reset_after_bytes, bool)
            or not isinstance(self.reset_after_bytes, int)
            or self.reset_after_bytes < 0
        ):
            out.append(
                Problem(
                    f"{prefix}reset_after_bytes",
                    f"must be a whole number of bytes >= 0, got {self.reset_after_bytes!r}",
                )
            )
        return out

    def transmit_seconds(self, nbytes: int) -> float:
        """Serialisation time of ``nbytes`` at this direction's bandwidth."""
        return 0.0 if self.bandwidth is None else nbytes / self.bandwidth


@dataclass(frozen=True, slots=True)
class LinkParams:
    upstream: DirectionParams = field(default_factory=DirectionParams)
    downstream: DirectionParams = field(default_factory=DirectionParams)

    @classmethod
    def symmetric(cls, params: DirectionParams) -> LinkParams:
        return cls(upstream=params, downstream=params)

    def of(self, direction: Direction) -> DirectionParams:
        return self.upstream if direction is Direction.UPSTREAM else self.downstream


@dataclass(frozen=True, slots=True)
class DownWindow:
    """The link is down over ``[start, end)`` in absolute simulated seconds."""

    start: float
    end: float
    fault_id: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ConfigError(
                Problem("start", f"must be >= 0 seconds, got {self.start!r}"),
                source=f"down window {self.fault_id or '?'}",
            )
        if not (self.end > self.start):
            raise ConfigError(
                Problem("end", f"must be after start ({self.start!r}), got {self.end!r}"),
                source=f"down window {self.fault_id or '?'}",
            )


@dataclass(frozen=True, slots=True)
class OutageModel:
    """Random outages: up periods and down periods with exponential durations (seeded)."""

    mean_up: float
    mean_down: float

    def __post_init__(self) -> None:
        for name in ("mean_up", "mean_down"):
            value = getattr(self, name)
            if not (_finite_at_least(value, 0.0) and value > 0):
                raise ConfigError(
                    Problem(name, f"must be > 0 seconds, got {value!r}"), source="outage model"
                )


def _finite_at_least(value: object, low: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )
