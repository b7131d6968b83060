"""Capture control sensor overrides: parsing the sensor's reading and the collectors it yields
(rdk ``capture_control.go``: frequency and tags replaced, 0 stops, auto-enable)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.config.config_kit import component, machine, method, parse

from dmsim.config import (
    ControlOverride,
    ControlReadingError,
    collector_specs,
    controlled_specs,
    parse_control_overrides,
    parse_control_sequences,
)
from dmsim.config.strategies import machine_configs


def cfg(**dm: Any) -> Any:
    return parse(
        machine(
            component("camera", method("GetImages", 1.0), name="cam"),
            component("sensor", method("Readings", 0.5, disabled=True), name="probe"),
            component("arm", name="arm"),
            component("board", name="board"),
            dm={"tags": ["fleet"], **dm},
        )
    )


def overrides(*entries: dict[str, Any]) -> dict[tuple[str, str], ControlOverride]:
    return parse_control_overrides({"overrides": list(entries)}, "overrides")


def by_name(specs: Any) -> dict[str, Any]:
    return {spec.resource.short_name: spec for spec in specs}


# -- parsing ------------------------------------------------------------------------------


def test_a_missing_null_or_empty_list_means_no_overrides() -> None:
    assert parse_control_overrides({}, "overrides") == {}
    assert parse_control_overrides({"overrides": None}, "overrides") == {}
    assert parse_control_overrides({"overrides": []}, "overrides") == {}


def test_entries_are_keyed_by_resource_and_method_and_the_last_one_wins() -> None:
    parsed = overrides(
        {"resource_name": "cam", "method": "GetImages", "capture_frequency_hz": 2},
        {"resource_name": "cam", "method": "GetImages", "tags": [], "extra": "ignored"},
    )
    assert parsed == {("cam", "GetImages"): ControlOverride("cam", "GetImages", None, ())}


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        ({"overrides": {"resource_name": "cam"}}, r"overrides: expected a list .* got dict"),
        ({"overrides": [7]}, r"overrides\[0\]: expected an object, got int"),
        ({"overrides": [{"method": "GetImages"}]}, r"overrides\[0\]\.resource_name: required"),
        ({"overrides": [{"resource_name": "cam", "method": ""}]}, r"\[0\]\.method: required"),
        (
            {"overrides": [{"resource_name": "c", "method": "m", "capture_frequency_hz": -1}]},
            r"overrides\[0\]\.capture_frequency_hz: must be a number >= 0 .* not -1",
        ),
        (
            {"overrides": [{"resource_name": "c", "method": "m", "capture_frequency_hz": "2"}]},
            r"capture_frequency_hz: must be a number",
        ),
        (
            {"overrides": [{"resource_name": "c", "method": "m", "capture_frequency_hz": True}]},
            r"capture_frequency_hz: must be a number",
        ),
        (
            {"overrides": [{"resource_name": "c", "method": "m", "tags": "run-1"}]},
            r"overrides\[0\]\.tags: expected a list of tags, got str",
        ),
        (
            {"overrides": [{"resource_name": "c", "method": "m", "tags": ["ok", "not ok"]}]},
            r"overrides\[0\]\.tags\[1\]: 'not ok' is not a tag",
        ),
    ],
)
def test_a_reading_that_does_not_parse_names_the_entry_and_field(
    reading: dict[str, Any], message: str
) -> None:
    with pytest.raises(ControlReadingError, match=message):
        parse_control_overrides(reading, "overrides")


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
_ENTRY = st.fixed_dictionaries(
    {"resource_name": st.sampled_from(["cam", "arm", ""]), "method": st.sampled_from(["m", 1])},
    optional={"capture_frequency_hz": _JSON, "tags": _JSON},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_JSON, st.lists(st.one_of(_ENTRY, _JSON), max_size=4)))
def test_any_reading_either_parses_or_raises_the_one_documented_error(value: Any) -> None:
    parsed: dict[tuple[str, str], ControlOverride] = {}
    failure = ""
    try:
        parsed = parse_control_overrides({"overrides": value}, "overrides")
    except ControlReadingError as error:
        failure = str(error)
    assert not failure or failure.startswith("overrides")  # names where it is wrong
    for (name, method_name), override in parsed.items():
        assert (override.resource_name, override.method) == (name, method_name)
        assert override.capture_frequency_hz is None or override.capture_frequency_hz >= 0


# -- what runs ------------------------------------------------------------------------------


def test_no_overrides_runs_exactly_the_configured_collectors() -> None:
    config = cfg()
    assert controlled_specs(config, {}) == (collector_specs(config), ())


@settings(max_examples=40, deadline=None)
@given(machine_configs())
def test_no_overrides_is_collector_specs_for_any_machine(data: dict[str, Any]) -> None:
    config = parse(data)
    assert controlled_specs(config, {})[0] == collector_specs(config)


def test_frequency_and_tags_replace_the_configured_ones_and_zero_stops() -> None:
    config = cfg()
    cam_at_5 = {"resource_name": "cam", "method": "GetImages", "capture_frequency_hz": 5}
    specs, notes = controlled_specs(config, overrides({**cam_at_5, "tags": ["run-1"]}))
    assert notes == ()
    cam = by_name(specs)["cam"]
    assert (cam.capture_frequency_hz, cam.tags) == (5.0, ("run-1",))
    stopped, _ = controlled_specs(config, overrides({**cam_at_5, "capture_frequency_hz": 0}))
    assert "cam" not in by_name(stopped)


def test_tags_alone_keep_the_frequency_and_an_empty_list_clears_the_service_tags() -> None:
    specs, _ = controlled_specs(
        cfg(), overrides({"resource_name": "cam", "method": "GetImages", "tags": []})
    )
    cam = by_name(specs)["cam"]
    assert (cam.capture_frequency_hz, cam.tags) == (1.0, ())


def test_a_frequency_turns_a_disabled_method_on_and_tags_alone_do_not() -> None:
    config = cfg()
    assert "probe" not in by_name(collector_specs(config))
    probe = {"resource_name": "probe", "method": "Readings"}
    on, _ = controlled_specs(config, overrides({**probe, "capture_frequency_hz": 3}))
    assert by_name(on)["probe"].capture_frequency_hz == 3.0
    still_off, notes = controlled_specs(config, overrides({**probe, "tags": ["x"]}))
    assert "probe" not in by_name(still_off)
    assert notes == ()  # it is configured: nothing to auto-enable


def test_an_unconfigured_pair_is_auto_enabled_with_defaults_and_service_tags() -> None:
    specs, notes = controlled_specs(
        cfg(),
        overrides({"resource_name": "arm", "method": "JointPositions", "capture_frequency_hz": 2}),
    )
    assert notes == ()
    arm = by_name(specs)["arm"]
    assert (arm.resource.api, arm.method, arm.capture_frequency_hz) == (
        "rdk:component:arm", "JointPositions", 2.0,
    )  # fmt: skip
    assert (arm.tags, arm.capture_queue_size, arm.capture_type) == (("fleet",), 250, "tabular")
    assert arm.config_path == "capture_control_sensor: arm/JointPositions"


@pytest.mark.parametrize(
    ("entry", "note"),
    [
        ({"resource_name": "ghost", "method": "Readings"}, "no resource named 'ghost'"),
        ({"resource_name": "arm", "method": "Readings"}, "has no capture method 'Readings'"),
        ({"resource_name": "board", "method": "Analogs"}, "needs additional_params (reader_name)"),
    ],
)
def test_an_override_that_cannot_be_auto_enabled_is_skipped_with_a_note(
    entry: dict[str, Any], note: str
) -> None:
    specs, notes = controlled_specs(cfg(), overrides({**entry, "capture_frequency_hz": 1}))
    assert by_name(specs).keys() == {"cam"}
    (only,) = notes
    assert note in only
    assert only.endswith("skipped")


def test_an_auto_enabled_pair_with_no_frequency_does_not_run() -> None:
    specs, notes = controlled_specs(
        cfg(), overrides({"resource_name": "arm", "method": "JointPositions", "tags": ["t"]})
    )
    assert by_name(specs).keys() == {"cam"}
    assert notes == ()


def test_capture_disabled_ignores_every_override() -> None:
    entry = {"resource_name": "arm", "method": "JointPositions", "capture_frequency_hz": 2}
    assert controlled_specs(cfg(capture_disabled=True), overrides(entry)) == ((), ())


# -- sequences ------------------------------------------------------------------------------


def test_sequences_parse_order_free_and_entries_without_resources_are_dropped() -> None:
    cam = {"resource_name": "cam", "method": "GetImages"}
    arm = {"resource_name": "arm", "method": "JointPositions"}
    first, second = parse_control_sequences({
        "sequences": [
            {"resources": [cam, arm], "sequence_tags": ["b", "a"]},
            {"resources": [], "sequence_tags": ["dropped"]},
            {"resources": [arm, cam], "sequence_tags": ["a", "b"]},
        ]
    })  # fmt: skip
    assert first.resources == (("cam", "GetImages"), ("arm", "JointPositions"))
    assert first.identity == second.identity  # the same sequence, listed in another order
    assert parse_control_sequences({}) == ()
    assert parse_control_sequences({"sequences": None}) == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"resources": []}, r"sequences: expected a list, got dict"),
        ([5], r"sequences\[0\]: expected an object, got int"),
        ([{"resources": "cam"}], r"sequences\[0\]\.resources: expected a list"),
        ([{"resources": [{"resource_name": "cam"}]}], r"resources\[0\]: needs resource_name"),
        ([{"resources": [{"resource_name": "c", "method": "m"}], "sequence_tags": [1]}],
         r"sequences\[0\]\.sequence_tags: expected a list of strings"),
    ],
)  # fmt: skip
def test_a_sequences_list_that_does_not_parse_names_the_entry(value: Any, message: str) -> None:
    with pytest.raises(ControlReadingError, match=message):
        parse_control_sequences({"sequences": value})
