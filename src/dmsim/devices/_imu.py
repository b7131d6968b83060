"""Simulated movement sensor: an IMU (with a GPS and compass) on a vehicle, or at rest.

Truth (:class:`ImuMotion`): the vehicle drives a smooth path in a local east-north-up frame,
heading along its velocity, rocking a few degrees in roll and pitch. The body frame is
x forward, y left, z up; body-to-world rotation ``Rz(yaw)·Ry(pitch)·Rx(roll)``.

Sensor (:class:`SimMovementSensor`): the accelerometer measures specific force, so at rest it
reads gravity rotated into the body frame (magnitude 9.80665 m/s²); gyro and accelerometer
each add white noise and a bias that starts at a random offset and drifts as a random walk.

Captured shapes follow rdk's movement sensor collectors: ``AngularVelocity`` →
``{"angular_velocity": {"x","y","z"}}`` (deg/s, body); ``LinearAcceleration`` →
``{"linear_acceleration": {...}}`` (m/s², body); ``LinearVelocity`` → ``{"linear_velocity":
{...}}`` (m/s, world east/north/up); ``Orientation`` → ``{"orientation": {"o_x", "o_y", "o_z",
"theta"}}`` (deg); ``CompassHeading`` → ``{"value": 0..360}`` (deg, clockwise from north);
``Position`` → ``{"coordinate": {"latitude", "longitude"}, "altitude_m"}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dmsim.runtime import RngTree, Runtime, Trace

from ._kinematics import Matrix, euler_zyx_matrix, orientation_vector_from_matrix, transpose
from ._params import attr_float, attr_str
from ._readings import Reading, TabularReading
from ._signals import Noise, RandomWalk, Smooth
from ._sim import ReadRequest, SimDevice, SimTime

__all__ = ["GRAVITY", "ImuMotion", "ImuTruth", "SimMovementSensor"]

GRAVITY = 9.80665
_EARTH_RADIUS_M = 6_371_000.0
_GYRO_NOISE_DPS = 0.05
_GYRO_BIAS_DPS = 0.5
_GYRO_WALK_DPS = 0.005  # per √s
_ACCEL_NOISE = 0.03
_ACCEL_BIAS = 0.05
_ACCEL_WALK = 0.0005  # per √s
_GPS_NOISE_M = 1.5
_COMPASS_NOISE_DEG = 0.8


def _apply(m: Matrix, v: tuple[float, float, float]) -> tuple[float, float, float]:
    return (
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    )


@dataclass(frozen=True, slots=True)
class ImuTruth:
    """The true motion at one instant (no sensor errors)."""

    rotation: Matrix  # body → world
    specific_force: tuple[float, float, float]  # body frame, m/s² (what an accelerometer reads)
    angular_rate_dps: tuple[float, float, float]  # body frame
    velocity: tuple[float, float, float]  # world east/north/up, m/s
    position_enu: tuple[float, float, float]  # metres from the start point
    temperature_c: float

    @property
    def yaw(self) -> float:
        return math.atan2(self.rotation[1][0], self.rotation[0][0])


class ImuMotion:
    """The vehicle's true motion: ``motion="vehicle"`` drives around, ``"static"`` sits still
    at a small random tilt."""

    def __init__(self, rng: RngTree, *, motion: str = "vehicle") -> None:
        self.motion = motion
        self._east = Smooth(rng.child("east"), amplitude=40.0, min_hz=0.002, max_hz=0.02)
        self._north = Smooth(rng.child("north"), amplitude=40.0, min_hz=0.002, max_hz=0.02)
        self._roll = Smooth(rng.child("roll"), amplitude=math.radians(3), min_hz=0.1, max_hz=0.8)
        self._pitch = Smooth(rng.child("pitch"), amplitude=math.radians(3), min_hz=0.1, max_hz=0.8)
        self._temp = Smooth(
            rng.child("temp"), offset=31.0, amplitude=2.0, min_hz=0.0005, max_hz=0.005
        )
        self._last_truth: tuple[float, ImuTruth] | None = None
        tilt = Noise(rng.child("tilt"))
        self._rest = (
            math.radians(4) * (tilt.uniform(0) - 0.5),
            math.radians(4) * (tilt.uniform(1) - 0.5),
            2 * math.pi * tilt.uniform(2),
        )

    def velocity(self, t: float) -> tuple[float, float, float]:
        """World velocity (east, north, up), m/s."""
        if self.motion == "static":
            return (0.0, 0.0, 0.0)
        return (self._east.slope(t), self._north.slope(t), 0.0)

    def position(self, t: float) -> tuple[float, float, float]:
        """Metres east, north and up of the start point."""
        if self.motion == "static":
            return (0.0, 0.0, 0.0)
        return (self._east.value(t), self._north.value(t), 0.0)

    def yaw(self, t: float) -> float:
        """Heading in the east-north plane, radians counter-clockwise from east."""
        if self.motion == "static":
            return self._rest[2]
        return math.atan2(self._north.slope(t), self._east.slope(t))

    def rotation(self, t: float) -> Matrix:
        if self.motion == "static":
            return euler_zyx_matrix(*self._rest)
        return euler_zyx_matrix(self._roll.value(t), self._pitch.value(t), self.yaw(t))

    def truth(self, t: float) -> ImuTruth:
        # An IMU's methods are captured at the same instants: compute each instant once.
        if self._last_truth is None or self._last_truth[0] != t:
            self._last_truth = (t, self._truth(t))
        return self._last_truth[1]

    def _truth(self, t: float) -> ImuTruth:
        if self.motion == "static":
            rotation = self.rotation(t)
            force = _apply(transpose(rotation), (0.0, 0.0, GRAVITY))
            zero = (0.0, 0.0, 0.0)
            return ImuTruth(rotation, force, zero, zero, zero, self._temp.value(t))
        ve, vn = self._east.slope(t), self._north.slope(t)
        ae, an = self._east.curvature(t), self._north.curvature(t)
        yaw = math.atan2(vn, ve)
        speed_sq = max(ve * ve + vn * vn, 1e-6)
        yaw_rate = (ve * an - vn * ae) / speed_sq
        roll, pitch = self._roll.value(t), self._pitch.value(t)
        droll, dpitch = self._roll.slope(t), self._pitch.slope(t)
        rotation = euler_zyx_matrix(roll, pitch, yaw)
        # Body rates from ZYX Euler rates.
        p = droll - yaw_rate * math.sin(pitch)
        q = dpitch * math.cos(roll) + yaw_rate * math.sin(roll) * math.cos(pitch)
        r = -dpitch * math.sin(roll) + yaw_rate * math.cos(roll) * math.cos(pitch)
        force = _apply(transpose(rotation), (ae, an, GRAVITY))
        return ImuTruth(
            rotation,
            force,
            (math.degrees(p), math.degrees(q), math.degrees(r)),
            (ve, vn, 0.0),
            self.position(t),
            self._temp.value(t),
        )


class SimMovementSensor(SimDevice):
    TYPE = "movement_sensor"

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
        attrs = attributes or {}
        source = f"{self.label} attributes"
        motion = attr_str(
            attrs, "motion", source=source, default="vehicle", choices=("vehicle", "static")
        )
        self._lat0 = attr_float(
            attrs, "latitude", source=source, default=37.7749, low=-89.0, high=89.0
        )
        self._lon0 = attr_float(
            attrs, "longitude", source=source, default=-122.4194, low=-180.0, high=180.0
        )
        self._alt0 = attr_float(attrs, "altitude_m", source=source, default=16.0)
        self.motion = ImuMotion(self._rng.child("motion"), motion=motion)
        self._noise = Noise(self._rng.child("noise"))
        bias = Noise(self._rng.child("bias0"))
        self._gyro_bias0 = tuple(_GYRO_BIAS_DPS * (2 * bias.uniform(i) - 1) for i in range(3))
        self._accel_bias0 = tuple(_ACCEL_BIAS * (2 * bias.uniform(3 + i) - 1) for i in range(3))
        walk = self._rng.child("walk")
        self._gyro_walk = [
            RandomWalk(Noise(walk.child(f"g{i}")), sigma=_GYRO_WALK_DPS) for i in range(3)
        ]
        self._accel_walk = [
            RandomWalk(Noise(walk.child(f"a{i}")), sigma=_ACCEL_WALK) for i in range(3)
        ]

    def gyro_bias(self, t: float) -> tuple[float, float, float]:
        b = [b0 + w.value(t) for b0, w in zip(self._gyro_bias0, self._gyro_walk, strict=True)]
        return (b[0], b[1], b[2])

    def accel_bias(self, t: float) -> tuple[float, float, float]:
        b = [b0 + w.value(t) for b0, w in zip(self._accel_bias0, self._accel_walk, strict=True)]
        return (b[0], b[1], b[2])

    def _vector(
        self,
        values: tuple[float, float, float],
        bias: tuple[float, float, float],
        sigma: float,
        now: SimTime,
        channel: int,
    ) -> dict[str, float]:
        axes = [
            v + b + sigma * self._noise.normal(now.t_ns, channel + i)
            for i, (v, b) in enumerate(zip(values, bias, strict=True))
        ]
        return {"x": axes[0], "y": axes[1], "z": axes[2]}

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        now, t, motion = req.now, req.now.t, self.motion
        data: dict[str, Any]
        if req.method == "AngularVelocity":
            rates = motion.truth(t).angular_rate_dps
            data = {
                "angular_velocity": self._vector(rates, self.gyro_bias(t), _GYRO_NOISE_DPS, now, 0)
            }
        elif req.method == "LinearAcceleration":
            force = motion.truth(t).specific_force
            data = {
                "linear_acceleration": self._vector(force, self.accel_bias(t), _ACCEL_NOISE, now, 3)
            }
        elif req.method == "LinearVelocity":
            data = {
                "linear_velocity": self._vector(motion.velocity(t), (0.0, 0.0, 0.0), 0.05, now, 6)
            }
        elif req.method == "Orientation":
            ov = orientation_vector_from_matrix(motion.truth(t).rotation)
            data = {
                "orientation": {
                    "o_x": ov.o_x,
                    "o_y": ov.o_y,
                    "o_z": ov.o_z,
                    "theta": math.degrees(ov.theta),
                }
            }
        elif req.method == "CompassHeading":
            heading = (
                90.0
                - math.degrees(motion.yaw(t))
                + _COMPASS_NOISE_DEG * self._noise.normal(now.t_ns, 9)
            )
            data = {"value": heading % 360.0}
        else:
            data = self._position(motion.position(t), now)
        return (TabularReading(data),)

    def _position(self, enu: tuple[float, float, float], now: SimTime) -> dict[str, Any]:
        east = enu[0] + _GPS_NOISE_M * self._noise.normal(now.t_ns, 10)
        north = enu[1] + _GPS_NOISE_M * self._noise.normal(now.t_ns, 11)
        lat = self._lat0 + math.degrees(north / _EARTH_RADIUS_M)
        lon = self._lon0 + math.degrees(
            east / (_EARTH_RADIUS_M * math.cos(math.radians(self._lat0)))
        )
        altitude = self._alt0 + 2.5 * self._noise.normal(now.t_ns, 12)
        return {"coordinate": {"latitude": lat, "longitude": lon}, "altitude_m": altitude}
