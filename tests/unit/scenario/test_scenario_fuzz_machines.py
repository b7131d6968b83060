"""`dmsim fuzz --machines`: draw valid machines, fuzz each, shrink the first failure's
schedule and then its config, write it down."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.unit.scenario.scenario_kit import ToyWorld

from dmsim.errors import InternalError, ScenarioError
from dmsim.scenario import Scenario, WorldResult, fuzz_machines, load_scenario, run_scenario
from dmsim.scenario._fuzz_machines import MAX_RATE_HZ, random_machines


def camera_methods(scenario: Scenario) -> list[str]:
    return [
        f"{m.resource.name}.{m.method}"
        for m in scenario.machine.capture_methods()
        if m.enabled and m.resource.subtype == "camera"
    ]


def crash_on_camera_capture(
    scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
) -> WorldResult:
    """A world with a bug only a machine capturing from a camera meets."""
    if camera_methods(scenario):
        raise ValueError("a camera broke the world")
    return ToyWorld()(scenario, seed=seed, progress=progress)


def test_the_same_seed_draws_the_same_valid_machines_each_capturing_something() -> None:
    first = random_machines(6, seed=4)
    assert len(first) == 6
    assert random_machines(6, seed=4) == first
    assert random_machines(6, seed=5) != first
    assert len({json.dumps(m, sort_keys=True) for m in first}) == 6
    for machine in first:
        rates = [
            method["capture_frequency_hz"]
            for holder in [*machine.get("components", []), *machine.get("services", [])]
            for service in holder.get("service_configs", [])
            for method in service["attributes"].get("capture_methods", [])
        ]
        rates += [
            method["capture_frequency_hz"]
            for remote in machine.get("remotes", [])
            for service in remote.get("service_configs", [])
            for method in service["attributes"].get("capture_methods", [])
        ]
        assert rates
        assert max(rates) <= MAX_RATE_HZ


def test_a_correct_core_passes_every_machine() -> None:
    lines: list[str] = []
    summary = fuzz_machines(machines=4, runs=2, seed=1, world=ToyWorld(), log=lines.append)
    assert not summary.failed
    assert (summary.machines, summary.runs, summary.passed) == (4, 8, 8)
    assert sum(1 for line in lines if line.startswith("machine ")) == 4
    assert summary.text().startswith("dmsim fuzz: 4 random machine(s), 8 run(s), 8 passed")


def test_a_machine_bug_is_found_and_the_config_shrunk_to_what_it_needs(tmp_path: Path) -> None:
    lines: list[str] = []
    summary = fuzz_machines(
        machines=10,
        runs=2,
        seed=0,
        world=crash_on_camera_capture,
        out_dir=tmp_path,
        log=lines.append,
    )
    finding = summary.finding
    assert finding is not None, summary.text()
    assert finding.fuzz.crash == "ValueError: a camera broke the world"
    assert finding.removed  # the drawn machine had more than one camera method
    assert any(line.startswith("  removed ") for line in lines)

    assert finding.files is not None
    written = load_scenario(finding.files.scenario)
    assert len(camera_methods(written)) == 1
    assert len(written.machine.capture_methods()) == 1
    assert (written.seed, written.faults) == (finding.fuzz.seed, finding.fuzz.minimal)
    with pytest.raises(InternalError, match="a camera broke the world"):
        run_scenario(finding.files.scenario, world=crash_on_camera_capture, progress=False)
    assert run_scenario(finding.files.scenario, world=ToyWorld(), progress=False).passed

    text = summary.text()
    assert f"machine {finding.machine}, seed {finding.fuzz.seed}: failed world crash" in text
    assert f"config: {len(finding.removed)} part(s) removed" in text
    assert text.endswith(
        f"reproduce: dmsim run {finding.files.scenario} --seed {finding.fuzz.seed}"
    )


def test_without_an_output_directory_the_reproduce_line_reruns_the_campaign() -> None:
    summary = fuzz_machines(
        machines=10, runs=2, seed=0, duration_s=120, world=crash_on_camera_capture, kinds={"crash"}
    )
    assert summary.finding is not None
    assert summary.text().endswith(
        "reproduce: dmsim fuzz --machines 10 --runs 2 --seed 0 --duration 120s --kinds crash "
        "--out DIR"
    )


def test_bad_overrides_are_refused_before_any_run() -> None:
    world = ToyWorld()
    with pytest.raises(ScenarioError, match="unknown fault kind 'meteor'"):
        fuzz_machines(machines=3, runs=1, world=world, kinds={"meteor"})
    assert world.calls == 0
