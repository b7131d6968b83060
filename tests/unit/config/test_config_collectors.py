"""Collector specs (what the capture engine runs) and the effective config (defaults written)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from tests.unit.config.config_kit import component, machine, method, parse, with_methods

from dmsim.config import (
    CollectorSpec,
    collector_specs,
    merge_tags,
    to_effective_dict,
)
from dmsim.config.strategies import machine_configs


def test_tags_are_the_union_service_first() -> None:
    assert merge_tags(("a", "b"), ("b", "c")) == ("a", "b", "c")
    assert merge_tags((), ("x",)) == ("x",)
    assert merge_tags(("x",), ()) == ("x",)
    config = parse(
        machine(
            component("sensor", method("Readings", tags=["mine", "shared"])),
            dm={"tags": ["shared", "fleet"]},
        )
    )
    (spec,) = collector_specs(config)
    assert spec.tags == ("shared", "fleet", "mine")
    assert config.capture_methods()[0].tags == ("mine", "shared")  # the method keeps its own


def test_disabled_methods_and_capture_disabled_run_nothing() -> None:
    sensor = component(
        "sensor",
        method("Readings", 1, disabled=True),
        method("Readings", 2, additional_params={"k": "v"}),
    )
    (spec,) = collector_specs(parse(machine(sensor)))
    assert dict(spec.additional_params) == {"k": "v"}
    assert collector_specs(parse(machine(sensor, dm={"capture_disabled": True}))) == ()
    assert collector_specs(parse({"components": [sensor]})) == ()  # no data manager


def test_spec_fields_and_key() -> None:
    camera = component(
        "camera",
        method(
            "ReadImage",
            4,
            additional_params={"reader_name": "r", "mime_type": "image/png"},
            capture_queue_size=10,
            capture_buffer_size=20,
            cache_size_kb=3,
        ),
    )
    (spec,) = collector_specs(parse(machine(camera)))
    assert spec == CollectorSpec(
        resource=spec.resource,
        method="ReadImage",
        additional_params={"mime_type": "image/png", "reader_name": "r"},
        capture_type="binary",
        capture_frequency_hz=4.0,
        capture_queue_size=10,
        capture_buffer_size=20,
        cache_size_kb=3.0,
        tags=(),
        mime_type="image/png",
        file_extension=".png",
        retention_policy=None,
        config_path="",
    )
    assert spec.config_path == "components[0].service_configs[0].attributes.capture_methods[0]"
    assert spec.interval_s == 0.25
    assert spec.key == (
        "rdk:component:camera",
        "my-camera",
        "ReadImage",
        (("mime_type", "image/png"), ("reader_name", "r")),
    )
    hash(spec.key)


def test_collectors_come_in_config_order() -> None:
    vision = {
        "name": "vis",
        "type": "vision",
        "model": "m",
        "service_configs": with_methods(
            [method("CaptureAllFromCamera", additional_params={"camera_name": "my-camera"})]
        ),
    }
    remote = {
        "name": "r",
        "address": "r.local",
        "service_configs": with_methods([method("Readings", name="rdk:component:sensor/s")]),
    }
    config = parse(
        machine(
            component("camera", method("GetImages")),
            component("sensor", method("Readings")),
            services=[vision],
            remotes=[remote],
        )
    )
    assert [str(s.resource) for s in collector_specs(config)] == [
        "rdk:component:camera/my-camera",
        "rdk:component:sensor/my-sensor",
        "rdk:service:vision/vis",
        "rdk:component:sensor/r:s",
    ]


def test_effective_dict_fills_every_default() -> None:
    config = parse(machine(component("sensor", method("Readings", 0.5))))
    effective = to_effective_dict(config)
    assert effective["components"][0] == {
        "name": "my-sensor",
        "namespace": "rdk",
        "type": "sensor",
        "model": "fake",
        "attributes": {},
        "depends_on": [],
        "service_configs": [
            {
                "type": "data_manager",
                "attributes": {
                    "capture_methods": [
                        {
                            "method": "Readings",
                            "capture_frequency_hz": 0.5,
                            "additional_params": {},
                            "disabled": False,
                            "cache_size_kb": 1.0,
                            "capture_queue_size": 250,
                            "capture_buffer_size": 4096,
                            "tags": [],
                        }
                    ]
                },
            }
        ],
    }
    attributes = effective["services"][0]["attributes"]
    assert attributes["sync_interval_mins"] == 0.1
    assert attributes["capture_dir"] == "/home/robot/.viam/capture"
    assert attributes["durability_window_ms"] == 1000
    assert (effective["remotes"], effective["modules"]) == ([], [])
    json.dumps(effective)  # plain JSON


def test_effective_dict_resolves_the_quirks() -> None:
    config = parse(
        machine(
            component("sensor", method("Readings", 0, capture_queue_size=0)),
            dm={"sync_interval_mins": 0, "unknown": 1},
        )
    )
    effective = to_effective_dict(config)
    entry = effective["components"][0]["service_configs"][0]["attributes"]["capture_methods"][0]
    assert (entry["disabled"], entry["capture_frequency_hz"], entry["capture_queue_size"]) == (
        True,
        0.0,
        250,
    )
    assert effective["services"][0]["attributes"]["sync_interval_mins"] == 0.1
    assert "unknown" not in effective["services"][0]["attributes"]
    assert parse(effective).warnings == ()


def test_effective_dict_of_a_remote_names_the_remote_resource() -> None:
    remote = {
        "name": "esp",
        "address": "a:1",
        "service_configs": with_methods(
            [method("Gpios", name="rdk:component:board/b", additional_params={"pin_name": "2"})]
        ),
    }
    effective = to_effective_dict(parse(machine(remotes=[remote])))
    entry = effective["remotes"][0]["service_configs"][0]["attributes"]["capture_methods"][0]
    assert entry["name"] == "rdk:component:board/b"


@settings(max_examples=50)
@given(machine_configs())
def test_the_effective_dict_parses_back_to_the_same_config(data: dict[str, object]) -> None:
    config = parse(data)
    effective = json.loads(json.dumps(to_effective_dict(config)))
    again = parse(effective)
    assert again == config
    assert again.warnings == ()
    assert collector_specs(again) == collector_specs(config)
