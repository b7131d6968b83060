"""The public names of dmsim.scenario and dmsim.faults (a change here is an API change)."""

from __future__ import annotations

import dmsim.faults
import dmsim.scenario


def test_scenario_exports() -> None:
    assert {
        "Scenario", "load_scenario", "loads_scenario", "run_scenario", "fuzz_scenario",
        "judge", "Verdict", "Report", "WorldResult", "Sample", "WorldRunner", "shrink_schedule",
        "build_schema", "write_report_json", "write_timeline_png", "apply_reconfigure",
        "fuzz_machines", "machine_scenario",
    } <= set(dmsim.scenario.__all__)  # fmt: skip
    for name in dmsim.scenario.__all__:
        assert hasattr(dmsim.scenario, name), name


def test_faults_exports() -> None:
    assert {
        "FaultStep", "FaultSchedule", "Envelope", "fault_schedules", "weaker_variants",
        "parse_schedule", "KINDS", "parse_duration",
    } <= set(dmsim.faults.__all__)  # fmt: skip
    for name in dmsim.faults.__all__:
        assert hasattr(dmsim.faults, name), name
