"""Any machine config the parser accepts runs in simulation, and without faults every reading
it captures reaches the cloud exactly once, or waits for a sync interval longer than the run,
or a disk rule the config sets deleted it, by name: every capturing type and method, remotes,
modules, any valid subset of the data manager's attributes (dmsim's extensions included). And
with no fault no tick is skipped: each simulated model answers each method it offers. Through
the faults `dmsim fuzz` draws, each keeps the promises that hold for any schedule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmsim.config.strategies import machine_configs
from dmsim.faults import fault_schedules
from dmsim.scenario import fuzz_expectations, machine_scenario, run_scenario
from dmsim.scenario._fuzz_machines import rates_capped

#: Device models (JPEG and PNG rendering, point clouds) set a simulation's pace; the rates a
#: config may draw go up to 1 kHz, which says nothing more about the core in a short run.
#: (`dmsim fuzz --machines` allows 5 Hz: its runs are not in `make test`.)
_MAX_RATE_HZ = 2.0


def _rates_capped(config: dict[str, Any]) -> dict[str, Any]:
    return rates_capped(config, _MAX_RATE_HZ)


# 12 examples in `make test` (≈ 5 s), 250 in `make fuzz`
@settings(
    max_examples=settings.default.max_examples // 8,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    machine_configs(max_components=3, max_remotes=1).map(_rates_capped), st.integers(0, 2**32 - 1)
)
def test_any_valid_machine_config_delivers_what_it_captures(
    config: dict[str, Any], seed: int
) -> None:
    scenario = machine_scenario(config, name="any-config", seed=seed, duration_s=120)
    report = run_scenario(scenario, progress=False)
    assert report.passed, report.summary()
    verdict = report.verdict
    assert verdict.skipped == 0  # no fault: every device answers every tick
    assert verdict.captured == sum(verdict.counts.values())
    classes = {name for name, count in verdict.counts.items() if count}
    assert classes <= {"delivered", "pending", "deleted_by_policy"}, verdict.counts


# 4 examples in `make test`, 80 in `make fuzz`: random machines meeting what `dmsim fuzz`
# draws (this search, run as a script, found a disk refusing renames hiding data from the
# stale-data warning, on a config with a 0.9 s threshold, which no library scenario sets;
# `dmsim fuzz --machines` runs it from the command line and shrinks what it finds)
@settings(
    max_examples=settings.default.max_examples // 25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    machine_configs(max_components=3, max_remotes=1).map(_rates_capped),
    st.integers(0, 2**32 - 1),
    st.data(),
)
def test_any_valid_machine_config_keeps_its_promises_through_generated_faults(
    config: dict[str, Any], seed: int, data: st.DataObject
) -> None:
    scenario = machine_scenario(config, name="any-config", seed=seed, duration_s=600)
    schedule = data.draw(
        fault_schedules(duration=scenario.duration_s, envelope=scenario.envelope, min_faults=1),
        label="faults",
    )
    judged = replace(scenario.with_faults(schedule), expectations=fuzz_expectations(scenario))
    report = run_scenario(judged, progress=False)
    assert report.passed, report.summary()
