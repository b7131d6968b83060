"""The simulated capture control sensor answers as Viam's capture-control module does, its
start_capture/stop_capture commands scripted by ``recordings``."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.devices.devsim import Sim

from dmsim.config import parse_control_overrides
from dmsim.devices import SimCaptureControl, SimResourceSpec
from dmsim.errors import ConfigError

RESOURCES = [
    {"resource_name": "cam", "method": "GetImages"},
    {"resource_name": "arm", "method": "JointPositions"},
]


def control(**attributes: Any) -> Sim:
    spec = SimResourceSpec(
        "sensor", "recorder", "viam:capture-control:capture-control-sensor",
        {"resources": RESOURCES, **attributes},
    )  # fmt: skip
    return Sim(specs=(spec,))


def readings_at(sim: Sim, times: list[float]) -> list[dict[str, Any]]:
    results = sim.capture_at("recorder", "Readings", times)
    return [r.readings[0].data["readings"] for r in results]


def test_the_module_model_triple_builds_the_capture_control_sensor() -> None:
    assert isinstance(control()["recorder"], SimCaptureControl)


def test_recordings_switch_every_resource_on_with_their_tags_and_a_sequence() -> None:
    sim = control(
        default_tags=["idle"],
        recordings=[
            {"start_s": 10, "stop_s": 20, "frequency_hz": 5, "tags": ["run-1"]},
            {"start_s": 30, "stop_s": 40},
        ],
    )
    before, during, after, defaults = readings_at(sim, [5.0, 10.0, 25.0, 35.0])
    assert before == {
        "overrides": [{**r, "capture_frequency_hz": 0.0, "tags": ["idle"]} for r in RESOURCES],
        "sequences": [],
    }
    assert during == {
        "overrides": [{**r, "capture_frequency_hz": 5.0, "tags": ["run-1"]} for r in RESOURCES],
        "sequences": [{"resources": RESOURCES, "sequence_tags": ["run-1"]}],
    }
    # stop_capture: frequency 0, the recording's tags stay
    assert [o["capture_frequency_hz"] for o in after["overrides"]] == [0.0, 0.0]
    assert after["overrides"][0]["tags"] == ["run-1"]
    assert after["sequences"] == []
    # a recording with neither frequency nor tags takes the defaults (0 Hz: a sequence only)
    assert defaults["overrides"][0] == {**RESOURCES[0], "capture_frequency_hz": 0.0,
                                        "tags": ["idle"]}  # fmt: skip
    assert defaults["sequences"] == [{"resources": RESOURCES, "sequence_tags": ["idle"]}]


def test_its_readings_parse_as_overrides_and_tags_are_left_out_when_there_are_none() -> None:
    sim = control(default_capture_frequency_hz=2)
    (reading,) = readings_at(sim, [1.0])
    assert "tags" not in reading["overrides"][0]
    parsed = parse_control_overrides(reading, "overrides")
    assert {pair: o.capture_frequency_hz for pair, o in parsed.items()} == {
        ("cam", "GetImages"): 2.0,
        ("arm", "JointPositions"): 2.0,
    }


@pytest.mark.parametrize(
    ("attributes", "where", "message"),
    [
        ({"resources": []}, "attributes.resources", "required"),
        ({"resources": [{"resource_name": "cam"}]}, "attributes.resources[0].method", "required"),
        ({"default_capture_frequency_hz": -1}, "attributes.default_capture_frequency_hz", "in [0"),
        ({"default_tags": "run"}, "attributes.default_tags", "list of strings"),
        (
            {"recordings": [{"start_s": 0, "stop_s": 1, "frequency_hz": 1e9}]},
            "frequency_hz",
            "in [0, 10000]",
        ),
        ({"recordings": [{"start_s": 5}]}, "attributes.recordings[0].stop_s", "required"),
        ({"recordings": [{"start_s": 5, "stop_s": 5}]}, "recordings[0].stop_s", "after start_s"),
        (
            {"recordings": [{"start_s": 0, "stop_s": 10}, {"start_s": 5, "stop_s": 20}]},
            "attributes.recordings[1].start_s",
            "must not overlap",
        ),
        ({"recordings": [{"start_s": 0, "stop_s": 1, "hz": 3}]}, "recordings[0].hz", "unknown"),
    ],
)
def test_bad_attributes_name_the_field(
    attributes: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        control(**attributes)
    (problem,) = caught.value.problems
    assert where in problem.path
    assert message in problem.message
