"""Simulated motor and encoder sharing one shaft, so their readings agree exactly.

The motor's commanded power changes every few seconds (sometimes off); the shaft speed ramps
to ``power × max_rpm``; the shaft angle is the exact integral of the speed. An encoder on the
shaft counts ``floor(revolutions × ticks_per_rotation)``; a motor with an encoder reports its
position as ``ticks / ticks_per_rotation`` (as rdk's encoded motor does), else the exact angle.

Captured shapes follow rdk: motor ``Position`` → ``{"position": revolutions}``, ``IsPowered`` →
``{"is_on": bool, "power_pct": -1..1}``; encoder ``TicksCount`` →
``{"value": ticks, "position_type": 1}`` (``POSITION_TYPE_TICKS_COUNT``).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

from dmsim.errors import InternalError
from dmsim.runtime import RngTree, Runtime, Trace

from ._errors import DeviceParamError
from ._readings import Reading, TabularReading
from ._signals import Noise
from ._sim import ReadRequest, SimDevice

__all__ = ["POSITION_TYPE_TICKS_COUNT", "Shaft", "SimEncoder", "SimMotor"]

POSITION_TYPE_TICKS_COUNT = 1


class Shaft:
    """A motor shaft: power profile and its exact angle (revolutions) over time."""

    __slots__ = ("_max_rps", "_noise", "_ramp", "_segment", "_starts")

    def __init__(
        self, rng: RngTree, *, max_rpm: float = 120.0, segment_s: float = 6.0, ramp_s: float = 0.5
    ) -> None:
        self._noise = Noise(rng)
        self._max_rps = max_rpm / 60.0
        self._segment = segment_s
        self._ramp = min(ramp_s, segment_s)
        self._starts = array("d", [0.0])  # revolutions at the start of each segment

    def power(self, t: float) -> float:
        """Commanded power in [-1, 1] at time ``t`` (0 = off)."""
        return self._power(int(max(0.0, t) // self._segment))

    def _power(self, k: int) -> float:
        if k < 0 or self._noise.uniform(k, 0) < 0.3:
            return 0.0
        magnitude = 0.2 + 0.8 * self._noise.uniform(k, 1)
        return magnitude if self._noise.uniform(k, 2) < 0.6 else -magnitude

    def _travel(self, k: int, tau: float) -> float:
        """Revolutions turned in the first ``tau`` seconds of segment ``k``."""
        before, after = self._power(k - 1) * self._max_rps, self._power(k) * self._max_rps
        ramp = self._ramp
        if tau < ramp:
            return before * tau + (after - before) * tau * tau / (2 * ramp)
        return ramp * (before + after) / 2 + (tau - ramp) * after

    def revolutions(self, t: float) -> float:
        t = max(0.0, t)
        k = int(t // self._segment)
        starts = self._starts
        while len(starts) <= k:
            starts.append(starts[-1] + self._travel(len(starts) - 1, self._segment))
        return starts[k] + self._travel(k, t - k * self._segment)


class SimMotor(SimDevice):
    TYPE = "motor"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        max_rpm: float = 120.0,
        ticks_per_rotation: int | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self.shaft = Shaft(self._rng.child("shaft"), max_rpm=max_rpm)
        self.ticks_per_rotation = ticks_per_rotation

    def position(self, t: float) -> float:
        revs = self.shaft.revolutions(t)
        if self.ticks_per_rotation:
            return math.floor(revs * self.ticks_per_rotation) / self.ticks_per_rotation
        return revs

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        if req.method == "Position":
            return (TabularReading({"position": self.position(req.now.t)}),)
        power = self.shaft.power(req.now.t)
        return (TabularReading({"is_on": power != 0.0, "power_pct": power}),)


class SimEncoder(SimDevice):
    """An incremental encoder. With ``motor`` it counts that motor's shaft (resolved on first
    use, so build order does not matter); without, it sits on a shaft of its own."""

    TYPE = "encoder"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        ticks_per_rotation: int | None = None,
        motor: Callable[[], SimMotor] | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self._motor_ref = motor
        self._tpr = ticks_per_rotation
        self._shaft: Shaft | None = None if motor else Shaft(self._rng.child("shaft"))

    def _resolve(self) -> tuple[Shaft, int]:
        if self._shaft is None and self._motor_ref is not None:
            motor = self._motor_ref()
            if self._tpr is None:
                self._tpr = motor.ticks_per_rotation
            elif motor.ticks_per_rotation not in (None, self._tpr):
                raise DeviceParamError(
                    f"{self.label}: ticks_per_rotation {self._tpr} disagrees with motor "
                    f"{motor.name}'s {motor.ticks_per_rotation}"
                )
            self._shaft = motor.shaft
        if self._shaft is None:  # the constructor gives a shaft or a motor: a bug otherwise
            raise InternalError(f"{self.label}: encoder has no shaft")
        if self._tpr is None:
            self._tpr = 1024
        return self._shaft, self._tpr

    def ticks(self, t: float) -> int:
        shaft, tpr = self._resolve()
        return math.floor(shaft.revolutions(t) * tpr)

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        ticks = self.ticks(req.now.t)
        return (
            TabularReading({"value": float(ticks), "position_type": POSITION_TYPE_TICKS_COUNT}),
        )
