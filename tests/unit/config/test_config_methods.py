"""The method registry: the documents' table, capture types, parameters, file extensions."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.config.config_kit import (
    component,
    errors,
    machine,
    method,
    parse,
    problems,
    warnings,
)

from dmsim.config import METHODS, MIME_EXTENSIONS, collector_specs, method_spec

# The documents' table (viam-server), verbatim.
DOCUMENTED = {
    "arm": ["EndPosition", "JointPositions"],
    "board": ["Analogs", "Gpios"],
    "camera": ["GetImages", "ReadImage", "NextPointCloud"],
    "encoder": ["TicksCount"],
    "gantry": ["Lengths", "Position"],
    "motor": ["Position", "IsPowered"],
    "movement_sensor": [
        "AngularVelocity",
        "CompassHeading",
        "LinearAcceleration",
        "LinearVelocity",
        "Orientation",
        "Position",
    ],
    "sensor": ["Readings"],
    "servo": ["Position"],
}
BINARY = {"ReadImage", "GetImages", "NextPointCloud", "CaptureAllFromCamera"}
# The least each method needs to be valid.
MINIMAL_PARAMS: dict[str, dict[str, str]] = {
    "Analogs": {"reader_name": "A1"},
    "Gpios": {"pin_name": "27"},
    "ReadImage": {"mime_type": "image/jpeg"},
}
EVERY_COMPONENT_METHOD = [(kind, m) for kind, ms in DOCUMENTED.items() for m in ms]


def test_registry_is_the_documented_table() -> None:
    expected = {f"rdk:component:{kind}": sorted(ms) for kind, ms in DOCUMENTED.items()}
    expected["rdk:service:vision"] = ["CaptureAllFromCamera"]
    assert {api: sorted(methods) for api, methods in METHODS.items()} == expected


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        METHODS["rdk:component:arm"] = {}  # type: ignore[index]


@pytest.mark.parametrize(("kind", "name"), EVERY_COMPONENT_METHOD)
def test_every_component_method_is_captured(kind: str, name: str) -> None:
    params = MINIMAL_PARAMS.get(name, {})
    config = parse(machine(component(kind, method(name, 2.0, additional_params=params))))
    (spec,) = collector_specs(config)
    assert (spec.resource.api, spec.resource.name, spec.method) == (
        f"rdk:component:{kind}",
        f"my-{kind}",
        name,
    )
    assert spec.capture_type == ("binary" if name in BINARY else "tabular")
    assert spec.capture_frequency_hz == 2.0
    assert not config.warnings


@pytest.mark.parametrize(
    ("kind", "name", "params", "mime", "extension"),
    [
        ("sensor", "Readings", {}, "", ".dat"),
        ("board", "Analogs", {"reader_name": "A1"}, "", ".dat"),
        ("camera", "ReadImage", {"mime_type": "image/jpeg"}, "image/jpeg", ".jpeg"),
        ("camera", "ReadImage", {"mime_type": "image/png"}, "image/png", ".png"),
        ("camera", "GetImages", {}, "image/jpeg", ".jpeg"),
        ("camera", "GetImages", {"mime_type": "image/png"}, "image/png", ".png"),
        ("camera", "NextPointCloud", {}, "pointcloud/pcd", ".pcd"),
        ("camera", "NextPointCloud", {"mime_type": "pointcloud/pcd"}, "pointcloud/pcd", ".pcd"),
    ],
)
def test_mime_type_and_file_extension(
    kind: str, name: str, params: dict[str, str], mime: str, extension: str
) -> None:
    config = parse(machine(component(kind, method(name, additional_params=params))))
    (spec,) = collector_specs(config)
    assert (spec.mime_type, spec.file_extension) == (mime, extension)
    assert MIME_EXTENSIONS.get(mime, ".dat") == extension


def test_vision_capture_all_from_camera() -> None:
    vision = {
        "name": "vis",
        "type": "vision",
        "model": "mlmodel",
        "service_configs": [
            {
                "type": "data_manager",
                "attributes": {
                    "capture_methods": [
                        method(
                            "CaptureAllFromCamera",
                            additional_params={"camera_name": "cam", "min_confidence_score": "1"},
                        )
                    ]
                },
            }
        ],
    }
    config = parse(machine(component("camera", name="cam"), services=[vision]))
    (spec,) = collector_specs(config)
    assert str(spec.resource) == "rdk:service:vision/vis"
    assert (spec.capture_type, spec.mime_type, spec.file_extension) == (
        "binary",
        "image/jpeg",
        ".jpeg",
    )
    assert dict(spec.additional_params) == {"camera_name": "cam", "min_confidence_score": "1"}


def _vision_errors(params: dict[str, Any]) -> dict[str, str]:
    vision = {
        "name": "vis",
        "type": "vision",
        "model": "mlmodel",
        "service_configs": [
            {
                "type": "data_manager",
                "attributes": {
                    "capture_methods": [method("CaptureAllFromCamera", additional_params=params)]
                },
            }
        ],
    }
    return errors(machine(component("camera", name="cam"), services=[vision]))


PARAMS_PATH = "services[1].service_configs[0].attributes.capture_methods[0].additional_params"


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        (
            {},
            "camera_name",
            "required by CaptureAllFromCamera: the camera the vision service reads",
        ),
        ({"camera_name": ""}, "camera_name", "must not be empty"),
        (
            {"camera_name": "cam", "mime_type": "image/gif"},
            "mime_type",
            "must be one of image/jpeg, image/png, got 'image/gif'",
        ),
        (
            {"camera_name": "cam", "min_confidence_score": "1.5"},
            "min_confidence_score",
            "must be between 0 and 1, got 1.5",
        ),
        (
            {"camera_name": "cam", "min_confidence_score": "-0.1"},
            "min_confidence_score",
            "must be between 0 and 1, got -0.1",
        ),
        (
            {"camera_name": "cam", "min_confidence_score": "high"},
            "min_confidence_score",
            "must be a number between 0 and 1, got 'high'",
        ),
        (
            {"camera_name": "cam", "min_confidence_score": 0.7},
            "min_confidence_score",
            'expected a string, found a number (0.7); write it as a string, e.g. "0.7"',
        ),
    ],
)
def test_vision_params_are_checked(params: dict[str, Any], key: str, message: str) -> None:
    assert _vision_errors(params) == {f"{PARAMS_PATH}.{key}": message}


@pytest.mark.parametrize(
    ("kind", "name", "params", "key", "message"),
    [
        ("board", "Analogs", {}, "reader_name", "required by Analogs: the analog reader to read"),
        ("board", "Gpios", {}, "pin_name", "required by Gpios: the GPIO pin to read"),
        ("board", "Gpios", {"pin_name": ""}, "pin_name", "must not be empty"),
        (
            "board",
            "Gpios",
            {"pin_name": 27},
            "pin_name",
            'expected a string, found a number (27); write it as a string, e.g. "27"',
        ),
        (
            "camera",
            "ReadImage",
            {},
            "mime_type",
            "required by ReadImage: image encoding to capture",
        ),
        (
            "camera",
            "ReadImage",
            {"mime_type": "image/bmp"},
            "mime_type",
            "must be one of image/jpeg, image/png, got 'image/bmp'",
        ),
        (
            "camera",
            "GetImages",
            {"mime_type": "pointcloud/pcd"},
            "mime_type",
            "must be one of image/jpeg, image/png, got 'pointcloud/pcd'",
        ),
        (
            "camera",
            "NextPointCloud",
            {"mime_type": "image/png"},
            "mime_type",
            "must be one of pointcloud/pcd, got 'image/png'",
        ),
    ],
)
def test_component_params_are_checked(
    kind: str, name: str, params: dict[str, Any], key: str, message: str
) -> None:
    config = machine(component(kind, method(name, additional_params=params)))
    found = [(p.path, p.message) for p in problems(config) if p.severity == "error"]
    path = "components[0].service_configs[0].attributes.capture_methods[0].additional_params"
    assert found == [(f"{path}.{key}", message)]  # one problem, said once


def test_unknown_params_pass_through_and_distinguish_collectors() -> None:
    config = parse(
        machine(
            component(
                "camera",
                method(
                    "ReadImage", additional_params={"mime_type": "image/png", "reader_name": "a"}
                ),
                method(
                    "ReadImage", additional_params={"mime_type": "image/png", "reader_name": "b"}
                ),
            )
        )
    )
    assert [dict(s.additional_params)["reader_name"] for s in collector_specs(config)] == ["a", "b"]


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        (
            "camera",
            "GetPointCloud",
            "rdk:component:camera has no capture method 'GetPointCloud' (did you mean "
            "'NextPointCloud'?); valid methods: GetImages, NextPointCloud, ReadImage",
        ),
        (
            "sensor",
            "GetReadings",
            "rdk:component:sensor has no capture method 'GetReadings' (did you mean "
            "'Readings'?); valid methods: Readings",
        ),
        (
            "arm",
            "Readings",
            "rdk:component:arm has no capture method 'Readings'; valid methods: EndPosition, "
            "JointPositions",
        ),
        (
            "movement_sensor",
            "Heading",
            "rdk:component:movement_sensor has no capture method 'Heading' (did you mean "
            "'CompassHeading'?); valid methods: AngularVelocity, CompassHeading, "
            "LinearAcceleration, LinearVelocity, Orientation, Position",
        ),
    ],
)
def test_unknown_method_names_the_valid_ones(kind: str, name: str, message: str) -> None:
    found = errors(machine(component(kind, method(name))))
    assert found == {
        "components[0].service_configs[0].attributes.capture_methods[0].method": message
    }


def test_a_type_without_capture_names_the_apis_that_have_it() -> None:
    found = errors(machine(component("base", method("Position"))))
    (message,) = found.values()
    assert message.startswith("rdk:component:base supports no data capture; APIs that do: ")
    assert "rdk:component:arm, rdk:component:board" in message
    assert message.endswith("rdk:service:vision")


def test_another_namespace_has_no_builtin_methods() -> None:
    found = errors(machine(component("sensor", method("Readings"), namespace="acme")))
    (message,) = found.values()
    assert message.startswith("acme:component:sensor supports no data capture")


def test_method_spec_lookup() -> None:
    spec = method_spec("rdk:component:board", "Analogs")
    assert spec is not None
    assert spec.capture_type == "tabular"
    reader = spec.param("reader_name")
    assert reader is not None
    assert reader.required
    assert spec.param("nonexistent") is None
    assert method_spec("rdk:component:board", "Readings") is None
    assert method_spec("rdk:component:nothing", "Readings") is None


def test_documented_methods_give_no_warnings() -> None:
    config = machine(
        *(
            component(kind, *(method(m, additional_params=MINIMAL_PARAMS.get(m, {})) for m in ms))
            for kind, ms in DOCUMENTED.items()
        )
    )
    assert warnings(config) == {}
    assert len(collector_specs(parse(config))) == len(EVERY_COMPONENT_METHOD)
