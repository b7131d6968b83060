"""Every simulated type and method returns a valid reading, deterministically."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from tests.unit.devices.devsim import MACHINE, PARAMS, SMALL, Sim

from dmsim.devices import (
    METHODS_BY_TYPE,
    BinaryReading,
    CaptureResult,
    SimResourceSpec,
    TabularReading,
    check_capture_result,
    parse_pcd,
    read_frame_strip,
)

ALL = sorted(
    (spec.name, method)
    for spec in MACHINE
    for method in METHODS_BY_TYPE[spec.api_type.rsplit(":", 1)[-1]]
)


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], CaptureResult]:
    """One capture of every (resource, method), 12.5 s into the run."""
    sim = Sim()

    async def main(rt: object) -> dict[tuple[str, str], CaptureResult]:
        await sim.rt.sleep(12.5)
        return {
            (name, method): await sim[name].capture(method, PARAMS.get(method, {}))
            for name, method in ALL
        }

    return sim.run(main)


def test_the_machine_covers_every_type_and_method_of_the_documents_table() -> None:
    covered = {
        (spec.api_type.rsplit(":", 1)[-1], m)
        for spec in MACHINE
        for m in METHODS_BY_TYPE[spec.api_type.rsplit(":", 1)[-1]]
    }
    assert covered == {(t, m) for t, methods in METHODS_BY_TYPE.items() for m in methods}
    assert len(METHODS_BY_TYPE) == 10


@pytest.mark.parametrize(("name", "method"), ALL)
def test_every_method_returns_a_valid_reading(
    results: dict[tuple[str, str], CaptureResult], name: str, method: str
) -> None:
    result = results[(name, method)]
    size = (
        (SMALL.image_width, SMALL.image_height) if "Image" in method or "Camera" in method else None
    )
    check_capture_result(result, method=method, params=PARAMS.get(method), image_size=size)
    assert result.time_requested_ns == 1_700_000_000 * 10**9 + 12_500_000_000
    assert result.time_received_ns >= result.time_requested_ns


def tabular(
    results: dict[tuple[str, str], CaptureResult], name: str, method: str
) -> dict[str, object]:
    reading = results[(name, method)].readings[0]
    assert isinstance(reading, TabularReading)
    return reading.data


def test_tabular_shapes_follow_rdk(results: dict[tuple[str, str], CaptureResult]) -> None:
    assert set(tabular(results, "arm-1", "JointPositions")) == {"positions"}
    assert len(tabular(results, "arm-1", "JointPositions")["positions"]["values"]) == 6
    assert set(tabular(results, "arm-1", "EndPosition")["pose"]) == {
        "x",
        "y",
        "z",
        "o_x",
        "o_y",
        "o_z",
        "theta",
    }
    analog = tabular(results, "my-esp32", "Analogs")
    assert set(analog) == {"value", "min_range", "max_range", "step_size"}
    assert 0 <= analog["value"] <= 4095
    assert analog["max_range"] == 3.3
    assert isinstance(tabular(results, "my-esp32", "Gpios")["high"], bool)
    assert set(tabular(results, "enc-1", "TicksCount")) == {"value", "position_type"}
    assert set(tabular(results, "motor-1", "IsPowered")) == {"is_on", "power_pct"}
    assert set(tabular(results, "gantry-1", "Lengths")) == {"lengths_mm"}
    assert set(tabular(results, "gantry-1", "Position")) == {"positions_mm"}
    assert 0 <= tabular(results, "servo-1", "Position")["position_deg"] <= 180
    assert set(tabular(results, "imu-1", "Position")) == {"coordinate", "altitude_m"}
    assert 0 <= tabular(results, "imu-1", "CompassHeading")["value"] < 360
    for method, key in (
        ("AngularVelocity", "angular_velocity"),
        ("LinearAcceleration", "linear_acceleration"),
        ("LinearVelocity", "linear_velocity"),
    ):
        assert set(tabular(results, "imu-1", method)[key]) == {"x", "y", "z"}
    assert set(tabular(results, "imu-1", "Orientation")["orientation"]) == {
        "o_x",
        "o_y",
        "o_z",
        "theta",
    }
    readings = tabular(results, "tmp36", "Readings")["readings"]
    assert 5 < readings["temperature_c"] < 35
    assert -95 <= tabular(results, "my-wifi-sensor", "Readings")["readings"]["rssi"] <= -20
    assert set(tabular(results, "fake-1", "Readings")["readings"]) == {"a", "b", "c"}
    for result in results.values():
        if result.is_tabular:
            json.dumps(result.readings[0].data, allow_nan=False)


def test_images_decode_at_the_configured_size_and_carry_their_frame_number(
    results: dict[tuple[str, str], CaptureResult],
) -> None:
    reading = results[("cam", "ReadImage")].readings[0]
    assert isinstance(reading, BinaryReading)
    assert reading.mime_type == "image/jpeg"
    image = Image.open(io.BytesIO(reading.payload))
    assert image.format == "JPEG"
    assert image.size == (160, 120)
    assert read_frame_strip(image) == int(12.5 * 30)


def test_get_images_returns_colour_and_depth_tagged_with_their_source(
    results: dict[tuple[str, str], CaptureResult],
) -> None:
    readings = results[("cam", "GetImages")].readings
    assert [r.mime_type for r in readings] == ["image/jpeg", "image/png"]
    labels = [r.annotations.classifications[0].label for r in readings]
    assert labels == ["color", "depth"]
    assert Image.open(io.BytesIO(readings[1].payload)).mode == "L"


def test_point_cloud_is_strict_pcd_with_the_configured_point_count(
    results: dict[tuple[str, str], CaptureResult],
) -> None:
    reading = results[("cam", "NextPointCloud")].readings[0]
    assert isinstance(reading, BinaryReading)
    assert reading.mime_type == "pointcloud/pcd"
    cloud = parse_pcd(reading.payload)
    assert cloud.points == SMALL.point_count
    assert cloud.fields == ("x", "y", "z", "rgb")
    depth = cloud.xyz()[:, 2]
    assert depth.min() > 0.3
    assert depth.max() < 2.5


def test_png_and_ascii_pcd_options() -> None:
    from dmsim.devices import PayloadOptions

    sim = Sim(
        payload=PayloadOptions(image_width=64, image_height=48, point_count=50, pcd_format="ascii")
    )
    png, cloud = (
        sim.capture_at("cam", "ReadImage", [1.0], {"mime_type": "image/png"})[0],
        sim.capture_at("cam", "NextPointCloud", [2.0])[0],
    )
    check_capture_result(
        png, method="ReadImage", params={"mime_type": "image/png"}, image_size=(64, 48)
    )
    assert parse_pcd(cloud.readings[0].payload).data_format == "ascii"


def payloads(results: list[CaptureResult]) -> list[object]:
    return [
        r.readings[0].payload if isinstance(r.readings[0], BinaryReading) else r.readings[0].data
        for r in results
    ]


TIMES = [0.5, 1.0, 7.25, 30.0]


@pytest.mark.parametrize(("name", "method"), ALL)
def test_same_seed_same_call_times_same_bytes(name: str, method: str) -> None:
    first = Sim(seed=11).capture_at(name, method, TIMES)
    second = Sim(seed=11).capture_at(name, method, TIMES)
    assert payloads(first) == payloads(second)
    assert [r.time_requested_ns for r in first] == [r.time_requested_ns for r in second]


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("arm-1", "JointPositions"),
        ("cam", "ReadImage"),
        ("cam", "NextPointCloud"),
        ("imu-1", "LinearAcceleration"),
        ("tmp36", "Readings"),
        ("my-esp32", "Analogs"),
    ],
)
def test_different_seeds_give_different_streams(name: str, method: str) -> None:
    assert payloads(Sim(seed=1).capture_at(name, method, TIMES)) != payloads(
        Sim(seed=2).capture_at(name, method, TIMES)
    )


def test_different_names_give_different_streams() -> None:
    sim = Sim()
    twin = Sim(
        specs=(
            MACHINE[0].__class__("arm", "arm-2", "ur5e"),
            MACHINE[0],
        )
    )
    assert payloads(sim.capture_at("arm-1", "JointPositions", TIMES)) == payloads(
        twin.capture_at("arm-1", "JointPositions", TIMES)
    )
    assert payloads(
        twin.capture_at("arm-2", "JointPositions", [t + 40 for t in TIMES])
    ) != payloads(twin.capture_at("arm-1", "JointPositions", [t + 80 for t in TIMES]))


def test_readings_do_not_depend_on_what_else_was_read() -> None:
    """Adding a collector (another method, another device) shifts no stream."""
    alone = Sim().capture_at("imu-1", "AngularVelocity", TIMES)
    busy = Sim()

    async def main(rt: object) -> list[CaptureResult]:
        out = []
        for t in TIMES:
            await busy.rt.sleep_until(t - 0.1)
            await busy["imu-1"].capture("LinearAcceleration", {})
            await busy["arm-1"].capture("EndPosition", {})
            await busy.rt.sleep_until(t)
            out.append(await busy["imu-1"].capture("AngularVelocity", {}))
        return out

    assert payloads(alone) == payloads(busy.run(main))


def test_scenes_change_over_time() -> None:
    shots = Sim().capture_at("cam", "ReadImage", [1.0, 2.0])
    assert payloads(shots)[0] != payloads(shots)[1]
    clouds = Sim().capture_at("cam", "NextPointCloud", [1.0, 2.0])
    first, second = (parse_pcd(p).xyz() for p in payloads(clouds))
    assert (first != second).any()


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({}, [True, True, False, False]),  # 22:00 to 06:00, across midnight
        ({"sync_from_hour": 1, "sync_until_hour": 2}, [False, False, False, False]),
        ({"sync_from_hour": 5, "sync_until_hour": 7}, [False, True, True, False]),
    ],
)
def test_sync_window_says_should_sync_inside_its_hours(
    window: dict[str, float], expected: list[bool]
) -> None:
    sim = Sim(specs=(SimResourceSpec("sensor", "gate", "sync-window", window),))
    hours = 3600.0
    # the epoch is 22:13:20 UTC: these are 22:13, 05:55, 06:13 and 10:13
    results = sim.capture_at("gate", "Readings", [0.0, 7.7 * hours, 8 * hours, 12 * hours])
    said = [r.readings[0].data["readings"]["should_sync"] for r in results]
    assert said == expected
