"""dmsim's orientation vectors are the ones rdk reports, and decode as rdk decodes them.

The reference below is an independent model of rdk's two conversions (viamrobotics/rdk,
spatialmath/quaternion.go ``QuatToOV`` and spatialmath/orientationVector.go
``OrientationVector.Quaternion``), written from what their source does:

- encode: ``(o_x, o_y, o_z)`` is the rotated +z axis. Outside the pole band (``1 - |o_z| >
  1e-4``) theta is the angle between the plane (local z, global z) and the plane (local z,
  local -x), 0 when at most 1e-4 rad, signed negative when turning the first plane by -theta
  about local z lands within ``1 - cos < 1e-8`` of the second; inside the band theta is
  ``-atan2(x'_y, -x'_x)`` near +Z and ``-atan2(x'_y, x'_x)`` near -Z, where x' is the rotated -x
  axis.
- decode: normalise, ``lat = acos(o_z)``, ``lon = atan2(o_y, o_x)`` but 0 inside the same band
  (``1 - |o_z| <= 1e-4``), rotation ``Rz(lon)·Ry(lat)·Rz(theta)``.

Inside the band rdk's own decode drops the longitude, so no orientation vector there decodes
exactly: the decoded frame can be off by up to twice its tilt from the pole (≤ 1.62°).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.devices.devsim import Sim

from dmsim.devices import (
    OrientationVector,
    TabularReading,
    forward_kinematics,
    matrix_from_orientation_vector,
    orientation_vector_from_matrix,
)
from dmsim.devices._arm import pose_record
from dmsim.devices._kinematics import Matrix

Vector = tuple[float, float, float]
Quat = tuple[float, float, float, float]  # (w, x, y, z), Hamilton, active rotation

POLE_BAND = 1e-4  # rdk: 1 - |o_z| at most this is "at the pole"; also its smallest theta
LOSS_PER_TILT = 2.001  # decoded frame's error in the band, per radian of tilt
# rdk's sign test for theta cannot tell θ from -θ this close to π, and reports -|θ|.
SIGN_BLIND = math.acos(1 - POLE_BAND**2) / 2
# How far theta moves at rdk's cutoffs: zeroed, or negated next to π.
THETA_CUTOFF_JUMPS = (POLE_BAND, 2 * SIGN_BLIND)


def qmul(a: Quat, b: Quat) -> Quat:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def about(axis: Vector, angle: float) -> Quat:
    n = math.sqrt(sum(c * c for c in axis))
    s = math.sin(angle / 2)
    return (math.cos(angle / 2), axis[0] / n * s, axis[1] / n * s, axis[2] / n * s)


def rotate(q: Quat, v: Vector) -> Vector:
    _, x, y, z = qmul(qmul(q, (0.0, *v)), (q[0], -q[1], -q[2], -q[3]))
    return (x, y, z)


def cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def cosine(a: Vector, b: Vector) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def matrix(q: Quat) -> Matrix:
    columns = [rotate(q, axis) for axis in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))]
    rows = [(columns[0][i], columns[1][i], columns[2][i]) for i in range(3)]
    return (rows[0], rows[1], rows[2])


def rdk_encode(q: Quat) -> OrientationVector:
    """rdk's ``QuatToOV`` (theta in radians)."""
    z_axis = rotate(q, (0.0, 0.0, 1.0))
    minus_x = rotate(q, (-1.0, 0.0, 0.0))
    if 1 - abs(z_axis[2]) > POLE_BAND:
        spun = cross(z_axis, minus_x)
        theta = math.acos(max(-1.0, min(1.0, cosine(spun, cross(z_axis, (0.0, 0.0, 1.0))))))
        if theta > POLE_BAND:
            unspun = rotate(about(z_axis, -theta), (0.0, 0.0, 1.0))
            if 1 - cosine(spun, cross(z_axis, unspun)) < POLE_BAND**2:
                theta = -theta
        else:
            theta = 0.0
    elif z_axis[2] > 0:
        theta = -math.atan2(minus_x[1], -minus_x[0])
    else:
        theta = -math.atan2(minus_x[1], minus_x[0])
    return OrientationVector(*z_axis, theta + 0.0)


def rdk_decode(ov: OrientationVector) -> Quat:
    """rdk's ``OrientationVector.Quaternion`` (theta in radians)."""
    norm = math.sqrt(ov.o_x**2 + ov.o_y**2 + ov.o_z**2)
    o_x, o_y, o_z = ov.o_x / norm, ov.o_y / norm, ov.o_z / norm
    lon = math.atan2(o_y, o_x) if 1 - abs(o_z) > POLE_BAND else 0.0
    z = (0.0, 0.0, 1.0)
    return qmul(qmul(about(z, lon), about((0.0, 1.0, 0.0), math.acos(o_z))), about(z, ov.theta))


def angle_between(a: Quat, b: Quat) -> float:
    """The rotation angle from ``a`` to ``b`` (a quaternion and its negation are one rotation)."""
    w, x, y, z = qmul((a[0], -a[1], -a[2], -a[3]), b)
    return 2 * math.atan2(math.sqrt(x * x + y * y + z * z), abs(w))


def matrix_angle(a: Matrix, b: Matrix) -> float:
    """The rotation angle between two rotation matrices (precise for small angles)."""
    frobenius = math.sqrt(sum((a[i][j] - b[i][j]) ** 2 for i in range(3) for j in range(3)))
    return 2 * math.asin(min(1.0, frobenius / (2 * math.sqrt(2))))


def rdk_round_trip_loss(ov: OrientationVector) -> float:
    """How far rdk's own decode of what rdk reports can be from the true rotation."""
    if 1 - abs(ov.o_z / math.sqrt(ov.o_x**2 + ov.o_y**2 + ov.o_z**2)) <= POLE_BAND:
        tilt = math.atan2(math.hypot(ov.o_x, ov.o_y), abs(ov.o_z))  # from the nearer pole
        return LOSS_PER_TILT * tilt + 1e-9
    if ov.theta == 0:
        return POLE_BAND + 1e-9
    if math.pi - abs(ov.theta) < SIGN_BLIND:
        return 2 * (math.pi - abs(ov.theta)) + 1e-9
    return 1e-9


def wrapped(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


def near_pole(tilt: st.SearchStrategy[float]) -> st.SearchStrategy[Quat]:
    """``Rz(lon)·Ry(lat)·Rz(spin)`` with +z tilted ``tilt`` from +Z or -Z."""
    turn = st.floats(-math.pi, math.pi)
    return st.builds(
        lambda lon, lat, spin, south: qmul(
            qmul(about((0, 0, 1), lon), about((0, 1, 0), math.pi - lat if south else lat)),
            about((0, 0, 1), spin),
        ),
        turn,
        tilt,
        turn,
        st.booleans(),
    )


def normalised(q: Quat) -> Quat:
    norm = math.hypot(*q)
    return (q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm)


def any_rotation() -> st.SearchStrategy[Quat]:
    unit = st.floats(-1.0, 1.0)
    return st.tuples(unit, unit, unit, unit).filter(lambda q: math.hypot(*q) > 0.1).map(normalised)


ROTATIONS = st.one_of(
    any_rotation(),
    near_pole(st.floats(0.0, 1e-3)),  # deep inside the pole band
    near_pole(st.floats(0.01, 0.02)),  # either side of its edge (tilt 0.0141 rad)
)


@given(ROTATIONS)
def test_orientation_vector_is_what_rdk_reports(q: Quat) -> None:
    ours = orientation_vector_from_matrix(matrix(q))
    theirs = rdk_encode(q)
    assert (ours.o_x, ours.o_y, ours.o_z) == pytest.approx(
        (theirs.o_x, theirs.o_y, theirs.o_z), abs=1e-12
    )
    difference = abs(wrapped(ours.theta - theirs.theta))
    # rdk's theta comes from acos, good to ~1e-8 rad next to 0 and ±π. Right at its cutoffs (a
    # theta up to 1e-4 reported as 0; one within 7.07e-5 of π negated) the two may round apart.
    at_cutoff = any(abs(difference - jump) < 1e-9 for jump in THETA_CUTOFF_JUMPS)
    assert difference < 1e-7 or at_cutoff


@given(ROTATIONS)
def test_rdk_decodes_the_rotation_that_was_encoded(q: Quat) -> None:
    ov = orientation_vector_from_matrix(matrix(q))
    assert angle_between(rdk_decode(ov), q) <= rdk_round_trip_loss(ov)


finite = st.floats(-1.0, 1.0)


@given(
    st.one_of(
        st.tuples(finite, finite, finite).filter(lambda v: math.hypot(*v) > 1e-3),
        # Vectors inside and around the pole band, not normalised.
        st.tuples(st.floats(-0.03, 0.03), st.floats(-0.03, 0.03), st.sampled_from([-2.0, 2.0])),
    ),
    st.floats(-math.pi, math.pi),
)
def test_orientation_vector_decodes_as_rdk_decodes(axis: Vector, theta: float) -> None:
    ov = OrientationVector(*axis, theta)
    assert matrix_angle(matrix_from_orientation_vector(ov), matrix(rdk_decode(ov))) < 1e-12


def tool_nearly_vertical(lon: float, wrist: float, spin: float, tilt: float) -> list[float]:
    """UR5 joints (degrees) with the tool's z axis ``tilt`` degrees from straight down."""
    shoulder, elbow = -60.0, 80.0
    # Tool z points straight down when shoulder + elbow + wrist 1 = -90 and wrist 2 = -90.
    return [lon, shoulder, elbow, -90.0 - shoulder - elbow + wrist, -90.0 + tilt, spin]


@given(
    st.floats(-180.0, 180.0),
    st.floats(-0.05, 0.05),
    st.floats(-180.0, 180.0),
    st.floats(-1.0, 1.0),
)
def test_arm_end_position_near_vertical_decodes_as_its_pose(
    lon: float, wrist: float, spin: float, tilt: float
) -> None:
    joints = tool_nearly_vertical(lon, wrist, spin, tilt)
    record = pose_record(joints)
    ov = OrientationVector(
        record["o_x"], record["o_y"], record["o_z"], math.radians(record["theta"])
    )
    truth = forward_kinematics([math.radians(j) for j in joints]).rotation
    assert matrix_angle(matrix(rdk_decode(ov)), truth) <= rdk_round_trip_loss(ov)


def test_movement_sensor_orientation_decodes_as_its_true_attitude() -> None:
    # The simulated vehicle rocks a few degrees, so many readings are inside the pole band.
    sim = Sim()
    times = [0.5 * i for i in range(1, 600)]
    results = sim.capture_at("imu-1", "Orientation", times)
    motion = sim["imu-1"].motion  # type: ignore[attr-defined]
    in_band = 0
    for t, result in zip(times, results, strict=True):
        reading = result.readings[0]
        assert isinstance(reading, TabularReading)
        o = reading.data["orientation"]
        ov = OrientationVector(o["o_x"], o["o_y"], o["o_z"], math.radians(o["theta"]))
        in_band += 1 - abs(ov.o_z) <= POLE_BAND
        truth = motion.rotation(t)
        assert matrix_angle(matrix(rdk_decode(ov)), truth) <= rdk_round_trip_loss(ov)
    assert in_band > len(times) // 10
