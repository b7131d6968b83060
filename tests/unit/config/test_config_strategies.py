"""The strategies draw configs that are valid, warning-free, and cover what they promise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tests.unit.config.config_kit import component, machine, parse, with_methods

from dmsim.config import METHODS, TAG_PATTERN, collector_specs
from dmsim.config.strategies import (
    capture_methods,
    data_manager_attributes,
    machine_configs,
    names,
    tags,
)


@settings(max_examples=60)
@given(machine_configs())
def test_machine_configs_are_valid_without_warnings(data: dict[str, Any]) -> None:
    config = parse(data)
    assert config.warnings == ()
    assert config.data_manager is not None
    specs = collector_specs(config)
    assert len({s.key for s in specs}) == len(specs)


@settings(max_examples=30)
@given(st.sampled_from(sorted(METHODS)), st.data())
def test_capture_methods_of_every_api(api: str, data: st.DataObject) -> None:
    kind = api.split(":")[2]
    cameras = ["cam"]
    methods = data.draw(capture_methods(api, camera_names=cameras))
    comps = [component("camera", name="cam")]
    services = []
    if kind == "vision":
        services.append({"name": "v", "type": "vision", "model": "m",
                         "service_configs": with_methods(methods)})  # fmt: skip
    elif kind != "camera":
        comps.append(component(kind, *methods))
    else:
        comps[0]["service_configs"] = with_methods(methods)
    config = parse(machine(*comps, services=services))
    assert config.warnings == ()
    assert sorted(m.method for m in config.capture_methods()) == sorted(
        m["method"] for m in methods
    )


@given(data_manager_attributes(sensor_names=("s",)))
def test_data_manager_attributes_are_valid(attrs: dict[str, Any]) -> None:
    config = parse(machine(component("sensor", name="s"), dm=attrs))
    assert config.warnings == ()
    assert config.data_manager is not None
    assert config.data_manager.explicit == frozenset(attrs)


@given(names(), tags())
def test_names_and_tags(name: str, drawn: list[str]) -> None:
    assert name[0].isalnum()
    assert all(TAG_PATTERN.fullmatch(t) for t in drawn)


@pytest.mark.parametrize("api", sorted(METHODS))
def test_every_method_of_every_api_is_drawn(api: str) -> None:
    seen: set[str] = set()

    @settings(max_examples=50, database=None, phases=[Phase.generate])
    @given(capture_methods(api, camera_names=["cam"]))
    def collect(methods: list[dict[str, Any]]) -> None:
        seen.update(m["method"] for m in methods)

    collect()
    assert seen == set(METHODS[api])
