"""The `dmsim_machine` fixture: a simulated machine driven step by step from a test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.scenario.probe_machine import probe_machine

from dmsim.scenario import judge, loads_scenario
from dmsim.scenario._world import World

PROBE = "name: probe-box\nseed: 3\nduration: 10m" + probe_machine(1, sync_interval_mins=0.1)


def test_drive_a_machine_through_a_crash_by_hand(dmsim_machine: Callable[..., World]) -> None:
    machine = dmsim_machine(PROBE)
    machine.advance(until=120.0)
    assert machine.cloud.statistics().readings > 100
    assert machine.crash()
    machine.advance(until=150.0)
    machine.restart()
    machine.advance(until=300.0)
    result = machine.finish()
    verdict = judge(result, machine.scenario.expectations)
    assert verdict.passed, verdict
    assert [e.kind for e in result.trace.of_kind("process.crash", "process.restart")] == [
        "process.crash",
        "process.restart",
    ]


def test_any_form_of_scenario_gives_the_same_machine(
    dmsim_machine: Callable[..., World], tmp_path: Path
) -> None:
    """A path (Path or str), YAML text (even led by comments, as every shipped scenario is) or
    a ``Scenario``; an explicit seed wins over the scenario's."""
    path = tmp_path / "probe.scenario.yaml"
    path.write_text(PROBE, encoding="utf-8")
    commented = "# a probe box\n#\n" + PROBE
    for source in (path, str(path), PROBE, commented, loads_scenario(PROBE)):
        machine = dmsim_machine(source, seed=11)
        assert (machine.scenario.name, machine.seed) == ("probe-box", 11)
        machine.finish()


def test_the_documented_example_passes(dmsim_machine: Callable[..., World]) -> None:
    # docs/pytest-plugin.md: finish() after 150 s judged a 12-minute scenario at 150 s, so
    # the example failed its drain and delivery expectations.
    root = Path(__file__).resolve().parents[2]
    machine = dmsim_machine(
        root / "scenarios/field-failures/orphaned-prog-after-crash.scenario.yaml"
    )
    machine.advance(until=120.0)
    assert machine.crash()
    machine.advance(until=150.0)
    machine.restart()
    result = machine.finish()
    assert result.sim_seconds >= machine.scenario.duration_s
    assert judge(result, machine.scenario.expectations).passed
