"""Physical consistency of the simulated models."""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

import numpy as np
import pytest
from tests.unit.devices.devsim import Sim

from dmsim.devices import (
    GRAVITY,
    UR5_DH,
    OrientationVector,
    TabularReading,
    esp32_adc_code,
    esp32_adc_volts,
    forward_kinematics,
    matrix_from_orientation_vector,
    orientation_vector_from_matrix,
)
from dmsim.devices._kinematics import euler_zyx_matrix
from dmsim.devices._signals import Noise, RandomWalk, Waypoints
from dmsim.runtime import RngTree


def data(result: Any) -> Any:
    reading = result.readings[0]
    assert isinstance(reading, TabularReading)
    return reading.data


def dh_reference(joints: list[float]) -> np.ndarray:
    """An independent FK: the product of 4×4 homogeneous DH transforms."""
    total = np.eye(4)
    for theta, link in zip(joints, UR5_DH, strict=True):
        ct, st_, ca, sa = (
            math.cos(theta),
            math.sin(theta),
            math.cos(link.alpha),
            math.sin(link.alpha),
        )
        total = total @ np.array(
            [
                [ct, -st_ * ca, st_ * sa, link.a * ct],
                [st_, ct * ca, -ct * sa, link.a * st_],
                [0, sa, ca, link.d],
                [0, 0, 0, 1],
            ]
        )
    return total


def test_ur5_home_pose() -> None:
    pose = forward_kinematics([0.0] * 6)
    assert (pose.x, pose.y, pose.z) == pytest.approx((-0.81725, -0.19145, -0.005491), abs=1e-9)


def test_arm_end_pose_is_the_forward_kinematics_of_its_joints() -> None:
    sim = Sim()
    times = [0.3 * i for i in range(1, 40)]
    joints = sim.capture_at("arm-1", "JointPositions", times)
    poses = sim.capture_at("arm-1", "EndPosition", [t + 100 for t in times])
    replay = Sim()
    poses_same_time = replay.capture_at("arm-1", "EndPosition", times)
    assert poses != poses_same_time  # the arm really moves between t and t + 100
    for joint_result, pose_result in zip(joints, poses_same_time, strict=True):
        q = [math.radians(v) for v in data(joint_result)["positions"]["values"]]
        ref = dh_reference(q)
        pose = data(pose_result)["pose"]
        assert (pose["x"], pose["y"], pose["z"]) == pytest.approx(
            tuple(ref[:3, 3] * 1000), abs=1e-6
        )
        ov = OrientationVector(pose["o_x"], pose["o_y"], pose["o_z"], math.radians(pose["theta"]))
        assert np.allclose(np.array(matrix_from_orientation_vector(ov)), ref[:3, :3], atol=1e-9)


def test_arm_joints_move_smoothly() -> None:
    times = [i * 0.05 for i in range(200)]
    values = [
        data(r)["positions"]["values"] for r in Sim().capture_at("arm-1", "JointPositions", times)
    ]
    steps = [
        max(abs(a - b) for a, b in zip(x, y, strict=True)) for x, y in itertools.pairwise(values)
    ]
    assert max(steps) < 15.0  # degrees per 50 ms: no jumps
    assert sum(steps) > 30.0  # and it does move


@pytest.mark.parametrize("flip", [False, True])
def test_orientation_vector_at_the_poles(flip: bool) -> None:
    m = euler_zyx_matrix(math.pi if flip else 0.0, 0.0, 0.7)
    ov = orientation_vector_from_matrix(m)
    assert ov.o_z == pytest.approx(-1.0 if flip else 1.0)
    assert np.allclose(np.array(matrix_from_orientation_vector(ov)), np.array(m), atol=1e-9)


def test_encoder_counts_what_the_motor_turns() -> None:
    sim = Sim()
    times = [0.7 * i for i in range(1, 60)]
    ticks = [data(r)["value"] for r in sim.capture_at("enc-1", "TicksCount", times)]
    replay = Sim()
    revs = [data(r)["position"] for r in replay.capture_at("motor-1", "Position", times)]
    assert ticks == [round(p * 200) for p in revs]
    assert len(set(ticks)) > 10  # the shaft turns


def test_motor_position_integrates_its_power() -> None:
    sim = Sim()
    times = [i * 0.5 for i in range(1, 200)]
    power = [data(r) for r in sim.capture_at("motor-1", "IsPowered", times)]
    replay = Sim()
    position = [data(r)["position"] for r in replay.capture_at("motor-1", "Position", times)]
    for i in range(1, len(times) - 1):
        earlier, before, after = power[i - 1], power[i], power[i + 1]
        p0, p1 = position[i], position[i + 1]
        if not earlier["is_on"] and earlier == before == after:
            assert p1 == p0  # off for a while (past the 0.5 s ramp): the shaft holds still
        if before["is_on"] and earlier == before == after and abs(before["power_pct"]) > 0.3:
            assert (p1 - p0) * before["power_pct"] > 0


def test_imu_at_rest_reads_gravity_and_its_gyro_bias_drifts() -> None:
    from tests.unit.devices.devsim import SimResourceSpec

    sim = Sim(specs=(SimResourceSpec("movement_sensor", "imu", "mpu6050", {"motion": "static"}),))
    early = [0.01 * i + 1 for i in range(200)]
    late = [t + 7200 for t in early]
    accel = [
        data(r)["linear_acceleration"] for r in sim.capture_at("imu", "LinearAcceleration", early)
    ]
    magnitudes = [math.sqrt(a["x"] ** 2 + a["y"] ** 2 + a["z"] ** 2) for a in accel]
    assert statistics.fmean(magnitudes) == pytest.approx(GRAVITY, abs=0.15)
    assert statistics.fmean(a["z"] for a in accel) > 9.6
    gyro_early = [
        data(r)["angular_velocity"]
        for r in Sim(specs=sim_specs()).capture_at("imu", "AngularVelocity", early)
    ]
    gyro_late = [
        data(r)["angular_velocity"]
        for r in Sim(specs=sim_specs()).capture_at("imu", "AngularVelocity", late)
    ]
    noise_floor = 0.05 / math.sqrt(len(early))
    drift = [
        abs(
            statistics.fmean(g[axis] for g in gyro_late)
            - statistics.fmean(g[axis] for g in gyro_early)
        )
        for axis in "xyz"
    ]
    assert max(drift) > 10 * noise_floor
    assert all(abs(statistics.fmean(g[axis] for g in gyro_early)) < 1.0 for axis in "xyz")


def sim_specs() -> tuple[object, ...]:
    from tests.unit.devices.devsim import SimResourceSpec

    return (SimResourceSpec("movement_sensor", "imu", "mpu6050", {"motion": "static"}),)


def test_moving_imu_heading_follows_its_velocity() -> None:
    sim = Sim()
    times = [5.0 * i for i in range(1, 20)]
    headings = [data(r)["value"] for r in sim.capture_at("imu-1", "CompassHeading", times)]
    velocities = [
        data(r)["linear_velocity"] for r in Sim().capture_at("imu-1", "LinearVelocity", times)
    ]
    for heading, v in zip(headings, velocities, strict=True):
        if math.hypot(v["x"], v["y"]) > 0.5:
            expected = math.degrees(math.atan2(v["x"], v["y"])) % 360
            diff = (heading - expected + 180) % 360 - 180
            assert abs(diff) < 15


def test_gps_position_stays_near_its_start() -> None:
    positions = [
        data(r) for r in Sim().capture_at("imu-1", "Position", [10.0 * i for i in range(30)])
    ]
    for p in positions:
        assert p["coordinate"]["latitude"] == pytest.approx(37.7749, abs=0.002)
        assert p["coordinate"]["longitude"] == pytest.approx(-122.4194, abs=0.002)


def test_esp32_adc_transfer_curve() -> None:
    assert esp32_adc_code(0.05, 0.0) == 0  # dead zone
    assert esp32_adc_code(3.3, 0.0) == 4095  # saturated
    codes = [esp32_adc_code(v / 100, 0.0) for v in range(0, 331)]
    assert codes == sorted(codes)  # monotonic
    assert 1900 < esp32_adc_code(1.65, 0.0) < 2400
    assert esp32_adc_volts(esp32_adc_code(0.75, 0.0)) == pytest.approx(0.75, abs=0.001)
    assert esp32_adc_code(5.0, 50.0) == 4095
    assert esp32_adc_code(0.1, -50.0) == 0


def test_tmp36_follows_a_daily_cycle() -> None:
    # Readings every hour for a day: warmest in the afternoon, coolest before dawn.
    sim = Sim()
    temps = [
        data(r)["readings"]["temperature_c"]
        for r in sim.capture_at("tmp36", "Readings", [3600.0 * h for h in range(24)])
    ]
    start_hour = (1_700_000_000 // 3600) % 24  # the epoch's hour of day (UTC)
    by_hour = {(start_hour + i) % 24: t for i, t in enumerate(temps)}
    assert by_hour[15] > by_hour[3] + 4
    assert max(temps) - min(temps) < 16


def test_wifi_rssi_fades() -> None:
    rssi = [
        data(r)["readings"]["rssi"]
        for r in Sim().capture_at("my-wifi-sensor", "Readings", [0.1 * i for i in range(300)])
    ]
    assert all(isinstance(v, int) for v in rssi)
    assert max(rssi) - min(rssi) > 10


def test_random_walk_is_the_same_whatever_order_it_is_queried_in() -> None:
    times = [0.0, 3.3, 100.7, 42.0, 7.5]
    forwards = RandomWalk(Noise(RngTree(3)), sigma=1.0)
    backwards = RandomWalk(Noise(RngTree(3)), sigma=1.0)
    assert [forwards.value(t) for t in times] == [backwards.value(t) for t in reversed(times)][::-1]
    spread = statistics.pstdev(
        RandomWalk(Noise(RngTree(s)), sigma=1.0).value(400.0) for s in range(300)
    )
    assert spread == pytest.approx(20.0, rel=0.2)  # σ·√t


def test_waypoints_rest_then_move() -> None:
    path = Waypoints(Noise(RngTree(1)), low=(0.0,), high=(10.0,), move_s=2.0, dwell_s=1.0)
    assert path.value(0.2) == path.value(0.9)  # dwelling
    assert path.value(3.0) == pytest.approx(path.value(3.9))
    assert path.value(1.5) != path.value(2.5)


def test_noise_is_standard_normal() -> None:
    noise = Noise(RngTree(5))
    samples = [noise.normal(k) for k in range(20000)]
    assert statistics.fmean(samples) == pytest.approx(0.0, abs=0.03)
    assert statistics.pstdev(samples) == pytest.approx(1.0, abs=0.03)
    assert noise.normal(17, 3) == Noise(RngTree(5)).normal(17, 3)
