"""The reconfigure patch and resource names, on the documents' machines."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import pytest

from dmsim.config import parse_machine_config
from dmsim.errors import ConfigError
from dmsim.scenario import (
    SIM_ENV,
    Scenario,
    apply_reconfigure,
    load_scenario,
    matching_methods,
    resource_names,
)
from dmsim.scenario._machine import reconfigure_problems
from dmsim.scenario._world import World

ROOT = Path(__file__).resolve().parents[3]
TOMATO = load_scenario(ROOT / "scenarios/tomato-robot.scenario.yaml")
ESP32 = load_scenario(ROOT / "scenarios/esp32-remote.scenario.yaml")


def test_tomato_reconfigure_changes_both_rates_and_nothing_else() -> None:
    step = next(s for s in TOMATO.faults if s.kind == "reconfigure")
    before = dict(TOMATO.machine_document)
    patched = apply_reconfigure(TOMATO.machine_document, TOMATO.machine, step.params)
    assert dict(TOMATO.machine_document) == before  # input untouched
    config = parse_machine_config(patched, env=SIM_ENV, cpu_count=4)
    rates = {(m.resource.name, m.method): m.capture_frequency_hz for m in config.capture_methods()}
    assert rates == {("depth-cam", "NextPointCloud"): 10, ("picker-arm", "JointPositions"): 10}
    patched["components"][0]["service_configs"][0]["attributes"]["capture_methods"][0].pop(
        "capture_frequency_hz"
    )
    assert before == dict(TOMATO.machine_document)


def test_remote_resources_by_any_name_and_params_narrow_the_match() -> None:
    names = resource_names(ESP32.machine)
    assert {"my-esp32", "esp-home:my-esp32"} <= names
    both = {"resource": "my-esp32", "method": "Analogs"}
    assert len(matching_methods(ESP32.machine, both)) == 2
    only_a2 = {**both, "additional_params": {"reader_name": "A2"}}
    (method,) = matching_methods(ESP32.machine, only_a2)
    assert method.additional_params["reader_name"] == "A2"
    patched = apply_reconfigure(
        ESP32.machine_document,
        ESP32.machine,
        {"changes": [{**only_a2, "disabled": True}], "data_manager": {"sync_interval_mins": 1}},
    )
    config = parse_machine_config(patched, env=SIM_ENV, cpu_count=4)
    enabled = sorted(
        m.additional_params.get("reader_name", m.method)
        for m in config.capture_methods()
        if m.enabled
    )
    assert enabled == ["A1", "Gpios"]
    assert config.data_manager is not None
    assert config.data_manager.sync_interval_mins == 1


def test_unmatched_changes_are_problems() -> None:
    found = reconfigure_problems(
        TOMATO.machine, {"changes": [{"resource": "depth-cam", "method": "ReadImage"}]}, "faults[2]"
    )
    assert [p.path for p in found] == ["faults[2].changes[0]"]
    assert "depth-cam/NextPointCloud" in found[0].message


def test_a_world_that_fails_to_start_leaves_no_coroutine_never_awaited() -> None:
    """Regression: a config error at start-up (here: no data_manager service) came with
    "coroutine 'SimLink._drive' was never awaited" warnings: the world had spawned its tasks
    before the data manager refused the config, and nothing ran or closed them."""
    document = {"components": [{"name": "p", "type": "sensor", "model": "fake"}]}
    machine = parse_machine_config(document)

    def start() -> None:
        scenario = Scenario(
            name="bare", machine=machine, machine_document=document, duration_s=10.0
        )
        world = World(scenario, seed=1)
        with pytest.raises(ConfigError, match="no data_manager service"):
            world.start()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start()
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
