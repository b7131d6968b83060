"""Simulated 6-DOF arm (UR5-like): joints move between random waypoints with minimum-jerk
blends; the end pose is the forward kinematics of the joints, so the two always agree.

Captured shapes follow rdk's arm collectors:
``JointPositions`` → ``{"positions": {"values": [deg × 6]}}``;
``EndPosition`` → ``{"pose": {"x", "y", "z" (mm), "o_x", "o_y", "o_z", "theta" (deg)}}``.
"""

from __future__ import annotations

import math
from typing import Any

from dmsim.runtime import RngTree, Runtime, Trace

from ._kinematics import UR5_DH, forward_kinematics, orientation_vector_from_matrix
from ._readings import Reading, TabularReading
from ._signals import Noise, Waypoints
from ._sim import ReadRequest, SimDevice

__all__ = ["SimArm", "pose_record"]

# Joint ranges (degrees) that keep a UR5 in a plausible pick-and-place workspace.
_LOW = (-170.0, -150.0, -150.0, -170.0, -120.0, -180.0)
_HIGH = (170.0, -30.0, 150.0, 10.0, 120.0, 180.0)


def pose_record(joints_deg: list[float]) -> dict[str, float]:
    """rdk's ``Pose`` record (mm, orientation vector in degrees) for joint angles in degrees."""
    pose = forward_kinematics([math.radians(q) for q in joints_deg], UR5_DH)
    ov = orientation_vector_from_matrix(pose.rotation)
    return {
        "x": pose.x * 1000.0,
        "y": pose.y * 1000.0,
        "z": pose.z * 1000.0,
        "o_x": ov.o_x,
        "o_y": ov.o_y,
        "o_z": ov.o_z,
        "theta": math.degrees(ov.theta),
    }


class SimArm(SimDevice):
    TYPE = "arm"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        move_s: float = 3.0,
        dwell_s: float = 1.0,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self._path = Waypoints(
            Noise(self._rng.child("waypoints")),
            low=_LOW,
            high=_HIGH,
            move_s=move_s,
            dwell_s=dwell_s,
        )

    def joints_deg(self, t: float) -> list[float]:
        """Joint angles (degrees) at simulated time ``t``."""
        return self._path.value(t)

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        joints = self.joints_deg(req.now.t)
        data: dict[str, Any]
        if req.method == "JointPositions":
            data = {"positions": {"values": joints}}
        else:
            data = {"pose": pose_record(joints)}
        return (TabularReading(data),)
