"""Capture method entries: fields, defaults, quirks, remotes, and the exact paths of errors."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.config.config_kit import (
    component,
    errors,
    machine,
    method,
    parse,
    warnings,
    with_methods,
)

from dmsim.config import ResourceRef, RetentionPolicy, collector_specs

M = "components[0].service_configs[0].attributes.capture_methods[0]"


def one_method(**fields: Any) -> Any:
    config = parse(machine(component("sensor", method("Readings", **fields))))
    (captured,) = config.capture_methods()
    return captured


def test_defaults_of_a_capture_method() -> None:
    m = one_method()
    assert m.resource == ResourceRef("rdk:component:sensor", "my-sensor")
    assert (m.method, m.capture_frequency_hz, dict(m.additional_params)) == ("Readings", 1.0, {})
    assert (m.disabled, m.enabled) == (False, True)
    assert (m.cache_size_kb, m.capture_queue_size, m.capture_buffer_size) == (1.0, 250, 4096)
    assert (m.retention_policy, m.name, m.tags) == (None, "", ())
    assert m.path == M
    assert (m.capture_type, m.mime_type, m.file_extension) == ("tabular", "", ".dat")


def test_every_field_can_be_set() -> None:
    m = one_method(
        disabled=True,
        cache_size_kb=10,
        capture_queue_size=7,
        capture_buffer_size=8,
        retention_policy={"days": 5, "binary_limit_gb": 2, "tabular_limit_gb": 3},
        tags=["t1"],
        name="my-sensor",
    )
    assert (m.disabled, m.cache_size_kb, m.capture_queue_size, m.capture_buffer_size) == (
        True,
        10.0,
        7,
        8,
    )
    assert m.retention_policy == RetentionPolicy(days=5, binary_limit_gb=2, tabular_limit_gb=3)
    assert m.tags == ("t1",)
    assert m.name == "my-sensor"


def test_zero_queue_and_buffer_sizes_mean_the_defaults() -> None:
    m = one_method(capture_queue_size=0, capture_buffer_size=0)
    assert (m.capture_queue_size, m.capture_buffer_size) == (250, 4096)


def test_cache_size_defaults_to_the_data_managers() -> None:
    config = parse(machine(component("sensor", method("Readings")), dm={"cache_size_kb": 4}))
    assert config.capture_methods()[0].cache_size_kb == 4.0


def test_retention_policy_of_the_service_config_applies_to_its_methods() -> None:
    comp = component("sensor")
    comp["service_configs"] = with_methods(
        [
            method("Readings"),
            method("Readings", additional_params={"x": "1"}, retention_policy={"days": 1}),
        ],
        retention_policy={"days": 5},
    )
    first, second = parse(machine(comp)).capture_methods()
    assert first.retention_policy == RetentionPolicy(days=5)
    assert second.retention_policy == RetentionPolicy(days=1)


BAD_TAG = "tag 'bad tag' may only contain letters, digits, underscores and dashes"
NOT_THIS = (
    "'other' is not this resource (rdk:component:sensor/my-sensor); only a remote's capture "
    "methods name their resource"
)


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"capture_queue_size": -1}, "capture_queue_size", "can't be negative, got -1"),
        ({"capture_buffer_size": -4096}, "capture_buffer_size", "can't be negative, got -4096"),
        ({"cache_size_kb": 0}, "cache_size_kb", "must be positive, got 0"),
        ({"cache_size_kb": -1}, "cache_size_kb", "must be positive, got -1"),
        ({"disabled": "no"}, "disabled", "expected true or false, found a string ('no')"),
        (
            {"capture_queue_size": 2.5},
            "capture_queue_size",
            "expected a whole number, found a number (2.5)",
        ),
        ({"tags": ["bad tag"]}, "tags[0]", BAD_TAG),
        ({"additional_params": []}, "additional_params", "expected an object, found an array"),
        ({"retention_policy": {"days": 0}}, "retention_policy.days", "must be at least 1, got 0"),
        ({"retention_policy": {"days": -3}}, "retention_policy.days", "must be at least 1, got -3"),
        (
            {"retention_policy": {"tabular_limit_gb": "1"}},
            "retention_policy.tabular_limit_gb",
            "expected a whole number, found a string ('1')",
        ),
        ({"retention_policy": 5}, "retention_policy", "expected an object, found a number (5)"),
        ({"name": "other"}, "name", NOT_THIS),
    ],
)
def test_invalid_fields(fields: dict[str, Any], key: str, message: str) -> None:
    config = machine(component("sensor", method("Readings", **fields)))
    assert errors(config) == {f"{M}.{key}": message}


@pytest.mark.parametrize("hz", [0, -1, -0.5, 1e-7])
def test_a_frequency_at_or_below_zero_disables_the_method_with_a_warning(hz: float) -> None:
    config = machine(component("sensor", method("Readings", hz)))
    assert warnings(config) == {
        f"{M}.capture_frequency_hz": f"{hz:g} Hz captures nothing: "
        "the method is treated as disabled"
    }
    m = parse(config).capture_methods()[0]
    assert (m.disabled, m.capture_frequency_hz) == (True, 0.0)
    assert collector_specs(parse(config)) == ()


def test_a_disabled_method_needs_no_frequency_and_gets_no_warning() -> None:
    config = machine(component("sensor", method("Readings", None, disabled=True)))
    assert warnings(config) == {}
    assert parse(config).capture_methods()[0].disabled
    zero = machine(component("sensor", method("Readings", 0, disabled=True)))
    assert warnings(zero) == {}


@pytest.mark.parametrize(
    ("hz", "message"),
    [
        (None, "required: captures per second, e.g. 0.5 for one every 2 s"),
        ("1", "expected a number, found a string ('1') (a number in quotes is text)"),
        (
            "1e9",
            "expected a number, found a string ('1e9') "
            "(YAML reads 1e9 as text: write it with a point, like 1.0e+9)",
        ),
        (True, "expected a number, found true"),
        (2e9, "must be at most 1e+09 Hz, got 2e+09"),
    ],
)
def test_invalid_frequency(hz: Any, message: str) -> None:
    assert errors(machine(component("sensor", method("Readings", hz)))) == {
        f"{M}.capture_frequency_hz": message
    }


def test_method_is_required() -> None:
    config = machine(component("sensor", {"capture_frequency_hz": 1}))
    assert errors(config) == {f"{M}.method": "required: the method to capture, e.g. Readings"}


def test_unknown_fields_and_ignored_ones_are_warned() -> None:
    config = machine(component("sensor", method("Readings", frequency=3, capture_directory="/x")))
    assert warnings(config) == {
        f"{M}.frequency": "unknown attribute 'frequency' is ignored",
        f"{M}.capture_directory": "'capture_directory' is ignored: the data_manager's "
        "capture_dir applies (as in rdk)",
    }


def test_other_service_configs_are_ignored_and_a_second_data_manager_entry_is_an_error() -> None:
    comp = component("sensor")
    comp["service_configs"] = [
        {"type": "motion", "attributes": {}},
        *with_methods([method("Readings")]),
        *with_methods([method("Readings")]),
        {"attributes": {}},
    ]
    assert warnings(machine(comp)) == {
        "components[0].service_configs[0]": "a service_configs entry of type 'motion' is "
        "ignored by dmsim",
        "components[0].service_configs[3]": "a service_configs entry without a type is ignored "
        "by dmsim",
    }
    assert errors(machine(comp)) == {
        "components[0].service_configs[2]": "a second data_manager entry (the first is "
        "components[0].service_configs[1])"
    }


REMOTE = "remotes[0].service_configs[0].attributes.capture_methods[0]"


def remote(*methods: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "esp-home",
        "address": "esp-home.local:80",
        "secret": "s",
        "service_configs": with_methods(list(methods)),
    }


def test_remote_capture_methods_name_their_resource() -> None:
    analogs = method(
        "Analogs", name="rdk:component:board/my-esp32", additional_params={"reader_name": "A1"}
    )
    config = parse(machine(remotes=[remote(analogs)]))
    (spec,) = collector_specs(config)
    assert spec.resource == ResourceRef("rdk:component:board", "my-esp32", "esp-home")
    assert spec.resource.short_name == "esp-home:my-esp32"
    assert str(spec.resource) == "rdk:component:board/esp-home:my-esp32"
    assert (spec.resource.kind, spec.resource.subtype) == ("component", "board")
    assert config.remotes[0].capture_methods[0].name == "rdk:component:board/my-esp32"


FORM = (
    "expected <namespace>:<component|service>:<type>/<name>, e.g. rdk:component:board/my-esp32, "
    "got "
)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            None,
            "required for a remote's capture method: the remote resource, "
            "e.g. rdk:component:board/my-esp32",
        ),
        ("my-esp32", FORM + "'my-esp32'"),
        ("rdk:thing:board/x", FORM + "'rdk:thing:board/x'"),
        ("rdk:component:board/", FORM + "'rdk:component:board/'"),
        ("rdk:component:board/a:b", FORM + "'rdk:component:board/a:b'"),
    ],
)
def test_remote_capture_method_names_are_checked(name: str | None, message: str) -> None:
    fields = {"name": name} if name else {}
    config = machine(remotes=[remote(method("Readings", **fields))])
    assert errors(config) == {f"{REMOTE}.name": message}


def test_remote_method_is_checked_against_the_named_api() -> None:
    config = machine(remotes=[remote(method("Readings", name="rdk:component:camera/cam"))])
    assert errors(config) == {
        f"{REMOTE}.method": "rdk:component:camera has no capture method 'Readings'; valid "
        "methods: GetImages, NextPointCloud, ReadImage"
    }


def test_remote_needs_a_name_and_an_address() -> None:
    assert errors(machine(remotes=[{"secret": "x"}])) == {
        "remotes[0].name": "required: every remote needs a name",
        "remotes[0].address": "required: host[:port] of the remote part",
    }


def test_the_documents_example_path_is_exact() -> None:
    config = machine(
        component("sensor", name="s1"),
        component("arm", method("JointPositions")),
        component(
            "board",
            method("Gpios", 1, additional_params={"pin_name": "1"}),
            method("Analogs", "fast", additional_params={"reader_name": "a"}),
        ),
    )
    assert errors(config) == {
        "components[2].service_configs[0].attributes.capture_methods[1].capture_frequency_hz": (
            "expected a number, found a string ('fast')"
        )
    }
