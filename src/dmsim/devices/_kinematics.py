"""Rigid-body maths for the simulated arm and IMU: DH forward kinematics, rotations, and
Viam's orientation vector.

Viam's orientation vector ``(o_x, o_y, o_z, theta)`` is the direction of the rotated frame's
z axis plus a spin ``theta`` about it; as rotations it is ``Rz(lon) · Ry(lat) · Rz(theta)``
with ``lat = acos(o_z)`` and ``lon = atan2(o_y, o_x)``. Both conversions follow rdk's
(spatialmath ``QuatToOV`` and ``OrientationVector.Quaternion``) including its pole band
``1 - |o_z| <= 1e-4`` (a tilt under 0.81°), where rdk decodes with ``lon = 0`` and encodes a
theta that suits that decoding. No vector decodes exactly there: rdk's own round trip moves the
frame by up to twice its tilt, and dmsim reports what rdk would so that Viam decodes it the same.
Matrices are row-major 3×3 tuples; angles are radians unless a name says ``deg``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "UR5_DH",
    "DhJoint",
    "Matrix",
    "OrientationVector",
    "Pose",
    "euler_zyx_matrix",
    "forward_kinematics",
    "matmul",
    "matrix_from_orientation_vector",
    "orientation_vector_from_matrix",
    "rot_y",
    "rot_z",
    "transpose",
]

Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
# rdk's pole band: 1 - |o_z| at most this decodes with lon = 0. rdk also reports a theta this
# small (radians) outside the band as 0.
_POLE_BAND = 1e-4
# rdk signs theta by rotating through -|theta| and testing 1 - cos(miss) < 1e-8; within this of
# π the miss is that small either way, so a positive theta is reported negated.
_SIGN_BLIND = math.acos(1 - _POLE_BAND**2) / 2


@dataclass(frozen=True, slots=True)
class DhJoint:
    """Standard Denavit-Hartenberg parameters of one revolute joint (metres, radians)."""

    d: float
    a: float
    alpha: float


# UR5 (Universal Robots' published DH table).
UR5_DH: tuple[DhJoint, ...] = (
    DhJoint(0.089159, 0.0, math.pi / 2),
    DhJoint(0.0, -0.425, 0.0),
    DhJoint(0.0, -0.39225, 0.0),
    DhJoint(0.10915, 0.0, math.pi / 2),
    DhJoint(0.09465, 0.0, -math.pi / 2),
    DhJoint(0.0823, 0.0, 0.0),
)


@dataclass(frozen=True, slots=True)
class OrientationVector:
    o_x: float
    o_y: float
    o_z: float
    theta: float  # radians


@dataclass(frozen=True, slots=True)
class Pose:
    """Position in metres and orientation as a rotation matrix (base frame)."""

    x: float
    y: float
    z: float
    rotation: Matrix


def matmul(a: Matrix, b: Matrix) -> Matrix:
    rows = [tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3)]
    return (rows[0], rows[1], rows[2])  # type: ignore[return-value]


def transpose(m: Matrix) -> Matrix:
    return (
        (m[0][0], m[1][0], m[2][0]),
        (m[0][1], m[1][1], m[2][1]),
        (m[0][2], m[1][2], m[2][2]),
    )


def rot_z(angle: float) -> Matrix:
    c, s = math.cos(angle), math.sin(angle)
    return ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))


def rot_y(angle: float) -> Matrix:
    c, s = math.cos(angle), math.sin(angle)
    return ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c))


def rot_x(angle: float) -> Matrix:
    c, s = math.cos(angle), math.sin(angle)
    return ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))


def euler_zyx_matrix(roll: float, pitch: float, yaw: float) -> Matrix:
    """Body-to-world rotation ``Rz(yaw) · Ry(pitch) · Rx(roll)`` (aerospace convention)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return (
        (cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr),
        (sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr),
        (-sp, cp * sr, cp * cr),
    )


def forward_kinematics(joints: Sequence[float], dh: Sequence[DhJoint] = UR5_DH) -> Pose:
    """The tool flange pose for joint angles ``joints`` (radians)."""
    if len(joints) != len(dh):
        raise ValueError(f"{len(dh)} joint angles needed, got {len(joints)}")
    rotation: Matrix = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    px = py = pz = 0.0
    for theta, link in zip(joints, dh, strict=True):
        ct, st = math.cos(theta), math.sin(theta)
        ca, sa = math.cos(link.alpha), math.sin(link.alpha)
        # Link transform: rotation Rz(θ)·Rx(α), translation (a·cosθ, a·sinθ, d).
        local: Matrix = ((ct, -st * ca, st * sa), (st, ct * ca, -ct * sa), (0.0, sa, ca))
        offset = (link.a * ct, link.a * st, link.d)
        px += sum(rotation[0][k] * offset[k] for k in range(3))
        py += sum(rotation[1][k] * offset[k] for k in range(3))
        pz += sum(rotation[2][k] * offset[k] for k in range(3))
        rotation = matmul(rotation, local)
    return Pose(px, py, pz, rotation)


def orientation_vector_from_matrix(m: Matrix) -> OrientationVector:
    o_x, o_y, o_z = m[0][2], m[1][2], m[2][2]
    norm = math.sqrt(o_x * o_x + o_y * o_y + o_z * o_z)
    o_x, o_y, o_z = o_x / norm, o_y / norm, o_z / norm
    if 1 - abs(o_z) > _POLE_BAND:
        # Rz(lon)·Ry(lat)·Rz(θ): the bottom row is (-sin lat·cos θ, sin lat·sin θ, cos lat).
        theta = math.atan2(m[2][1], -m[2][0])
        if abs(theta) <= _POLE_BAND:
            theta = 0.0
        elif math.pi - theta < _SIGN_BLIND:
            theta = -theta
    elif o_z > 0:
        # The decoder takes lon = 0 here: Ry(lat)·Rz(θ) ≈ Rz(θ), so θ is the turn of the x axis.
        theta = math.atan2(m[1][0], m[0][0])
    else:
        # Ry(π)·Rz(θ) sends the x axis to (-cos θ, sin θ, 0).
        theta = math.atan2(m[1][0], -m[0][0])
    return OrientationVector(o_x, o_y, o_z, theta + 0.0)


def matrix_from_orientation_vector(ov: OrientationVector) -> Matrix:
    norm = math.sqrt(ov.o_x**2 + ov.o_y**2 + ov.o_z**2)
    o_z = max(-1.0, min(1.0, ov.o_z / norm))
    lat = math.acos(o_z)
    lon = math.atan2(ov.o_y, ov.o_x) if 1 - abs(o_z) > _POLE_BAND else 0.0
    return matmul(rot_z(lon), matmul(rot_y(lat), rot_z(ov.theta)))
