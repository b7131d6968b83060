"""Link parameters: what one direction of a simulated link does to a message.

Units follow the simulation vocabulary: seconds as floats, bandwidth in bytes per second,
probabilities in [0, 1]. Upstream is device → cloud, downstream is cloud → device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from dmsim.errors import ConfigError, Problem

__all__ = ["Direction", "DirectionParams", "DownWindow", "Impairment", "LinkParams", "OutageModel"]


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
        return _effect_problems(
            where,
            latency=self.latency,
            jitter=self.jitter,
            bandwidth=self.bandwidth,
            loss=self.loss,
            reset_after_bytes=self.reset_after_bytes,
        )


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
        problems = _window_problems(self.start, self.end)
        if problems:
            raise ConfigError(problems, source=f"down window {self.fault_id or '?'}")


@dataclass(frozen=True, slots=True)
class Impairment:
    """A scheduled impairment over ``[start, end)``, in ``directions``, on top of the link's
    base (the profile, or the connectivity trace's row): ``latency`` and ``jitter`` are extra
    seconds, ``loss`` an extra stage that loses messages independently, ``bandwidth`` and
    ``reset_after_bytes`` caps. Fields left at their defaults change nothing; an impairment
    never takes the link down or brings it up."""

    start: float
    end: float
    fault_id: str = ""
    directions: frozenset[Direction] = frozenset(Direction)
    latency: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    bandwidth: float | None = None
    reset_after_bytes: int | None = None

    def __post_init__(self) -> None:
        problems = _window_problems(self.start, self.end) + _effect_problems(
            "",
            latency=self.latency,
            jitter=self.jitter,
            bandwidth=self.bandwidth,
            loss=self.loss,
            reset_after_bytes=self.reset_after_bytes,
        )
        if not self.directions:
            problems.append(Problem("directions", "must name at least one direction"))
        if problems:
            raise ConfigError(problems, source=f"impairment {self.fault_id or '?'}")


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


def _window_problems(start: float, end: float) -> list[Problem]:
    if not (math.isfinite(start) and start >= 0):
        return [Problem("start", f"must be >= 0 seconds, got {start!r}")]
    if not (end > start):
        return [Problem("end", f"must be after start ({start!r}), got {end!r}")]
    return []


def _effect_problems(
    where: str,
    *,
    latency: float,
    jitter: float,
    bandwidth: float | None,
    loss: float,
    reset_after_bytes: int | None,
) -> list[Problem]:
    out: list[Problem] = []
    prefix = f"{where}." if where else ""
    if not _finite_at_least(latency, 0.0):
        out.append(Problem(f"{prefix}latency", f"must be >= 0 seconds, got {latency!r}"))
    if not _finite_at_least(jitter, 0.0):
        out.append(Problem(f"{prefix}jitter", f"must be >= 0 seconds, got {jitter!r}"))
    if bandwidth is not None and not (_finite_at_least(bandwidth, 0.0) and bandwidth > 0):
        out.append(Problem(f"{prefix}bandwidth", f"must be > 0 bytes/s, got {bandwidth!r}"))
    if not (_finite_at_least(loss, 0.0) and loss <= 1.0):
        out.append(Problem(f"{prefix}loss", f"must be in [0, 1], got {loss!r}"))
    if reset_after_bytes is not None and (
        isinstance(reset_after_bytes, bool)
        or not isinstance(reset_after_bytes, int)
        or reset_after_bytes < 0
    ):
        out.append(
            Problem(
                f"{prefix}reset_after_bytes",
                f"must be a whole number of bytes >= 0, got {reset_after_bytes!r}",
            )
        )
    return out


def _finite_at_least(value: object, low: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )
