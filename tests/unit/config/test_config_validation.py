"""Whole-config validation: resources, names, references, and errors reported together."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.config.config_kit import (
    component,
    errors,
    loads,
    machine,
    method,
    parse,
    problems,
    warnings,
    with_methods,
)

from dmsim.config import ComponentConfig, ModuleConfig, RemoteConfig, ServiceConfig
from dmsim.errors import ConfigError


def vision(camera: str, name: str = "vis") -> dict[str, Any]:
    capture = method("CaptureAllFromCamera", additional_params={"camera_name": camera})
    return {
        "name": name,
        "type": "vision",
        "model": "mlmodel",
        "service_configs": with_methods([capture]),
    }


CAMERA_NAME = "services[1].service_configs[0].attributes.capture_methods[0].additional_params"


def test_resources_are_modelled() -> None:
    config = parse(
        {
            "components": [
                {
                    "name": "cam",
                    "type": "camera",
                    "model": "webcam",
                    "attributes": {"video_path": "video0", "nested": {"a": [1, 2.5, None]}},
                    "depends_on": ["local"],
                },
                {"name": "local", "api": "rdk:component:board", "model": "pi"},
            ],
            "services": [{"name": "ml", "namespace": "rdk", "type": "mlmodel", "model": "x"}],
            "remotes": [{"name": "r", "address": "r.local:80", "secret": "s"}],
            "modules": [
                {"type": "registry", "name": "m", "module_id": "viam:tflite_cpu", "version": "1"},
                {"type": "local", "name": "l", "executable_path": "/bin/m", "env": {"A": "1"}},
            ],
        }
    )
    cam, board = config.components
    assert cam == ComponentConfig(
        name="cam",
        type="camera",
        model="webcam",
        attributes={"video_path": "video0", "nested": {"a": [1, 2.5, None]}},
        depends_on=("local",),
    )
    assert (cam.api, cam.json_path) == ("rdk:component:camera", ("components", 0))
    assert (board.namespace, board.type, board.api) == ("rdk", "board", "rdk:component:board")
    assert config.services == (ServiceConfig(name="ml", type="mlmodel", model="x"),)
    assert config.services[0].api == "rdk:service:mlmodel"
    assert config.remotes == (RemoteConfig(name="r", address="r.local:80", secret="s"),)
    assert config.modules == (
        ModuleConfig(name="m", module_id="viam:tflite_cpu", version="1"),
        ModuleConfig(name="l", type="local", executable_path="/bin/m", env={"A": "1"}),
    )
    assert config.data_manager is None
    with pytest.raises(TypeError):
        cam.attributes["video_path"] = "x"  # type: ignore[index]


def entry(**fields: Any) -> dict[str, Any]:
    """A sensor component, with ``fields`` replacing (or, set to None, removing) its keys."""
    base: dict[str, Any] = {"name": "s", "type": "sensor", "model": "m"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


UNUSABLE = "is not a usable name: no '/', ':', control characters or outer spaces"
C = "components[0]"


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"name": None}, "name", "required: every component needs a name"),
        ({"name": ""}, "name", "must not be empty"),
        ({"name": 5}, "name", "expected a string, found a number (5)"),
        ({"name": "a/b"}, "name", f"'a/b' {UNUSABLE}"),
        ({"name": "a:b"}, "name", f"'a:b' {UNUSABLE}"),
        ({"name": " a"}, "name", f"' a' {UNUSABLE}"),
        ({"name": ".."}, "name", f"'..' {UNUSABLE}"),
        ({"type": None}, "type", "required: the component type, e.g. camera"),
        ({"type": "a/b"}, "type", "'a/b' is not a component type"),
        ({"model": None}, "model", "required: the component model, e.g. webcam or fake"),
        ({"namespace": "a:b"}, "namespace", "'a:b' is not a namespace"),
        (
            {"type": None, "api": "rdk:service:vision"},
            "api",
            "expected <namespace>:component:<type>, got 'rdk:service:vision'",
        ),
        (
            {"api": "rdk:component:camera"},
            "type",
            "'sensor' disagrees with api 'rdk:component:camera'",
        ),
        ({"attributes": [1]}, "attributes", "expected an object, found an array"),
        ({"depends_on": "x"}, "depends_on", "expected an array, found a string ('x')"),
        (
            {"attributes": {"x": float("nan")}},
            "attributes.x",
            "expected a finite number, found nan",
        ),
        (
            {"attributes": {"x": {1: 2}}},
            "attributes.x",
            "object keys must be strings, found a number (1)",
        ),
        (
            {"attributes": {"x": (1, 2)}},
            "attributes.x",
            "expected a JSON value, found a tuple (not a JSON value)",
        ),
    ],
)
def test_component_fields_are_checked(fields: dict[str, Any], path: str, message: str) -> None:
    assert errors({"components": [entry(**fields)]}) == {f"{C}.{path}": message}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ([], {"": "expected an object, found an array"}),
        ({1: []}, {"": "object keys must be strings, found a number (1)"}),
        ({"components": {}}, {"components": "expected an array, found an object"}),
        ({"components": [5]}, {"components[0]": "expected an object, found a number (5)"}),
        ({"services": "dm"}, {"services": "expected an array, found a string ('dm')"}),
        (
            {"modules": [{"name": "m", "type": "zip"}]},
            {"modules[0].type": "must be registry or local, got 'zip'"},
        ),
        (
            {"modules": [{"name": "m"}]},
            {"modules[0].module_id": "required for a registry module, e.g. viam:tflite_cpu"},
        ),
        (
            {"modules": [{"name": "m", "type": "local"}]},
            {"modules[0].executable_path": "required for a local module"},
        ),
        (
            {"modules": [{"name": "m", "module_id": "x", "env": {"A": 1}}]},
            {"modules[0].env.A": 'expected a string, found a number (1); write it as a string, '
             'e.g. "1"'},
        ),
    ],
)  # fmt: skip
def test_structure_is_checked(config: Any, expected: dict[str, str]) -> None:
    assert errors(config) == expected


def test_duplicate_names() -> None:
    config = {
        "components": [
            {"name": "a", "type": "sensor", "model": "m"},
            {"name": "a", "type": "camera", "model": "m"},
        ],
        "services": [{"name": "a", "type": "mlmodel"}],
        "remotes": [{"name": "r", "address": "x"}, {"name": "r", "address": "y"}],
        "modules": [{"name": "m", "module_id": "a:b"}, {"name": "m", "module_id": "a:c"}],
    }
    assert errors(config) == {
        "components[1].name": "duplicate resource name 'a' (also components[0])",
        "services[0].name": "duplicate resource name 'a' (also components[0])",
        "remotes[1].name": "duplicate remote name 'r' (also remotes[0])",
        "modules[1].name": "duplicate module name 'm' (also modules[0])",
    }


def test_duplicate_collectors() -> None:
    config = machine(
        component(
            "board",
            method("Analogs", 1, additional_params={"reader_name": "A1"}),
            method("Analogs", 5, additional_params={"reader_name": "A2"}),
            method("Analogs", 9, additional_params={"reader_name": "A1"}),
        )
    )
    path = "components[0].service_configs[0].attributes.capture_methods"
    assert errors(config) == {
        f"{path}[2]": "captures Analogs of rdk:component:board/my-board with the same "
        f"additional_params as {path}[0]: the two would write the same files"
    }


def test_camera_name_must_name_a_camera() -> None:
    cam = component("camera", name="cam")
    assert errors(machine(cam, services=[vision("cam")])) == {}
    assert errors(machine(cam, services=[vision("nope")])) == {
        f"{CAMERA_NAME}.camera_name": "'nope' names no camera in this config; cameras here: cam"
    }
    assert errors(machine(component("sensor", name="s"), services=[vision("s")])) == {
        f"{CAMERA_NAME}.camera_name": "'s' is a sensor, not a camera"
    }
    assert errors(machine(services=[vision("x")])) == {
        f"{CAMERA_NAME}.camera_name": "'x' names no camera in this config; there is no camera"
    }


BOARD_PARAMS = "components[0].service_configs[0].attributes.capture_methods[0].additional_params"


def board(attributes: dict[str, Any], capture: str, params: dict[str, str]) -> dict[str, Any]:
    return component(
        "board",
        method(capture, additional_params=params),
        name="my-esp32",
        model="esp32",
        attributes=attributes,
    )


def test_analogs_reader_name_must_be_declared_by_a_board_that_declares_analogs() -> None:
    analogs = {"analogs": [{"name": "temp", "pin": "32"}]}
    assert errors(machine(board(analogs, "Analogs", {"reader_name": "temp"}))) == {}
    assert errors(machine(board(analogs, "Analogs", {"reader_name": "A1"}))) == {
        f"{BOARD_PARAMS}.reader_name": "'A1' names no analog reader of board 'my-esp32'; "
        "its analogs: temp"
    }
    # Declaring none, the simulated board reads any reader name.
    assert errors(machine(board({}, "Analogs", {"reader_name": "A1"}))) == {}


def test_gpios_pin_name_must_be_declared_by_a_board_that_declares_pins() -> None:
    pins = {"pins": [27, "14"], "digital_interrupts": [{"pin": 4}]}
    for pin in ("27", "14", "4"):  # an interrupt pin reads as a GPIO too
        assert errors(machine(board(pins, "Gpios", {"pin_name": pin}))) == {}
    assert errors(machine(board(pins, "Gpios", {"pin_name": "5"}))) == {
        f"{BOARD_PARAMS}.pin_name": "'5' names no GPIO pin of board 'my-esp32'; its pins: 27, 14, 4"
    }
    # Declaring none, the simulated board reads any pin.
    assert errors(machine(board({}, "Gpios", {"pin_name": "5"}))) == {}


def test_camera_name_may_name_a_remote_camera() -> None:
    remote = {"name": "pi", "address": "pi.local"}
    assert errors(machine(services=[vision("pi:cam")], remotes=[remote])) == {}
    assert errors(machine(services=[vision("po:cam")], remotes=[remote])) == {
        f"{CAMERA_NAME}.camera_name": "'po:cam' names no configured remote ('po')"
    }


def test_selective_syncer_must_name_a_sensor() -> None:
    sensor = component("sensor", name="should-sync")
    assert errors(machine(sensor, dm={"selective_syncer_name": "should-sync"})) == {}
    assert errors(machine(sensor, dm={"selective_syncer_name": "nope"})) == {
        "services[0].attributes.selective_syncer_name": "'nope' names no sensor in this config; "
        "sensors here: should-sync"
    }
    camera = component("camera", name="c")
    assert errors(machine(camera, dm={"selective_syncer_name": "c"})) == {
        "services[0].attributes.selective_syncer_name": "'c' is a camera, not a sensor"
    }


def test_dependencies_that_resolve_nowhere_are_warned() -> None:
    config = machine(
        component("sensor", name="a", depends_on=["b", "ghost", "r", "r:x", "q:y"]),
        component("sensor", name="b"),
        remotes=[{"name": "r", "address": "r.local"}],
    )
    assert warnings(config) == {
        "components[0].depends_on[1]": "'ghost' names no resource or remote in this config",
        "components[0].depends_on[4]": "'q:y' names no resource or remote in this config",
    }


def test_capture_without_a_data_manager_is_warned() -> None:
    config = {"components": [component("sensor", method("Readings"))]}
    assert warnings(config) == {
        "services": "no data_manager service: the 1 capture method(s) capture nothing"
    }


def test_unknown_top_level_keys_are_warned() -> None:
    assert warnings({"component": [], "network": {}, "agent": {}}) == {
        "component": "unknown attribute 'component' is ignored; did you mean 'components'?"
    }


def test_every_problem_is_reported_at_once() -> None:
    config = machine(
        component("sensor", method("Readings", -1, capture_queue_size=-1)),
        component("camera", method("ReadImage")),
        dm={"disk_usage_deletion_threshold": 2, "tags": ["a b"]},
    )
    with pytest.raises(ConfigError) as caught:
        parse(config)
    found = [(p.severity, p.path) for p in caught.value.problems]
    m0 = "components[0].service_configs[0].attributes.capture_methods[0]"
    m1 = "components[1].service_configs[0].attributes.capture_methods[0]"
    assert found == [
        ("error", "services[0].attributes.tags[0]"),
        ("error", "services[0].attributes.disk_usage_deletion_threshold"),
        ("warning", f"{m0}.capture_frequency_hz"),
        ("error", f"{m0}.capture_queue_size"),
        ("error", f"{m1}.additional_params.mime_type"),
    ]
    assert str(caught.value).startswith(
        "4 problem(s), and 1 warning(s)\n  services[0].attributes.tags[0]: tag"
    )


def test_errors_in_text_carry_line_and_column() -> None:
    text = json.dumps(
        machine(component("sensor", method("Readings", "fast")), dm={"cache_size_kb": -2}),
        indent=2,
    )
    lines = text.splitlines()
    found = {p.path: (p.line, p.column) for p in problems(text)}
    hz_line = next(i for i, s in enumerate(lines, 1) if '"fast"' in s)
    kb_line = next(i for i, s in enumerate(lines, 1) if '"cache_size_kb"' in s)
    assert found == {
        "components[0].service_configs[0].attributes.capture_methods[0].capture_frequency_hz": (
            hz_line,
            lines[hz_line - 1].index('"fast"') + 1,
        ),
        "services[0].attributes.cache_size_kb": (kb_line, lines[kb_line - 1].index("-2") + 1),
    }


def test_a_missing_key_points_at_its_object() -> None:
    text = '{\n  "components": [\n    {"type": "sensor", "model": "m"}\n  ]\n}'
    (problem,) = problems(text)
    assert (problem.path, problem.line, problem.column) == ("components[0].name", 3, 5)


def test_syntax_problems_and_validation_problems_come_together() -> None:
    text = (
        '{"components": [{"name": "a", "name": "b", "type": "sensor", "model": "m"}],\n "x": NaN}'
    )
    found = [(p.path, p.line, p.column) for p in problems(text)]
    # the duplicate key, the NaN value, then the unknown key "x" (pointing at the key)
    assert found == [("components[0].name", 1, 31), ("x", 2, 7), ("x", 2, 2)]


def test_valid_config_keeps_its_warnings() -> None:
    text = '{"services": [{"name": "d", "type": "data_manager", "attributes": {"x": 1}}]}'
    (warning,) = loads(text).warnings
    assert (warning.severity, warning.path, warning.line, warning.column) == (
        "warning",
        "services[0].attributes.x",
        1,
        text.index('"x"') + 1,
    )
