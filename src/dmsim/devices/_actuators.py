"""Simulated gantry and servo: positions moving between random waypoints.

Captured shapes follow rdk: gantry ``Position`` → ``{"positions_mm": [...]}``, ``Lengths`` →
``{"lengths_mm": [...]}``; servo ``Position`` → ``{"position_deg": 0..180}`` (an integer, as
the servo API's ``uint32``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import RngTree, Runtime, Trace

from ._readings import Reading, TabularReading
from ._signals import Noise, Waypoints
from ._sim import ReadRequest, SimDevice

__all__ = ["SimGantry", "SimServo"]

_DEFAULT_LENGTHS_MM = (1000.0, 800.0, 300.0)


def _lengths(attributes: Mapping[str, Any], source: str) -> tuple[float, ...]:
    raw = attributes.get("lengths_mm", _DEFAULT_LENGTHS_MM)
    if (
        not isinstance(raw, Sequence)
        or isinstance(raw, str)
        or not raw
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in raw)
    ):
        raise ConfigError(
            Problem(
                "attributes.lengths_mm",
                f"must be a non-empty list of positive lengths, got {raw!r}",
            ),
            source=source,
        )
    return tuple(float(v) for v in raw)


class SimGantry(SimDevice):
    TYPE = "gantry"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self.lengths_mm = _lengths(attributes or {}, f"{self.label} attributes")
        self._path = Waypoints(
            Noise(self._rng.child("waypoints")),
            low=tuple(0.0 for _ in self.lengths_mm),
            high=self.lengths_mm,
            move_s=4.0,
            dwell_s=2.0,
        )

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        if req.method == "Lengths":
            return (TabularReading({"lengths_mm": list(self.lengths_mm)}),)
        return (TabularReading({"positions_mm": self._path.value(req.now.t)}),)


class SimServo(SimDevice):
    TYPE = "servo"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self._path = Waypoints(
            Noise(self._rng.child("waypoints")), low=(0.0,), high=(180.0,), move_s=1.0, dwell_s=1.5
        )

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        return (TabularReading({"position_deg": round(self._path.value(req.now.t)[0])}),)
