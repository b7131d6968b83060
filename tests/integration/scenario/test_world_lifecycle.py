"""The world's process lifecycle: one dmsim process at a time, whatever the fault schedule."""

from __future__ import annotations

from dmsim.faults import FaultSchedule, FaultStep
from dmsim.scenario import loads_scenario
from dmsim.scenario._world import World

DOC = """
name: lifecycle
seed: 2
duration: 10m
machine:
  components:
    - name: probe
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Readings, capture_frequency_hz: 1}]
  services:
    - {name: data_manager, type: data_manager, attributes: {sync_interval_mins: 0.1}}
"""
# Overlapping process faults: the scenario loader refuses these in files, but generated and
# shrunk schedules reach the world directly, so the world must stay sane on its own.
FAULTS = FaultSchedule((
    FaultStep(at=100.0, kind="crash", params={"restart_after": 60.0}, fault_id="f1"),
    FaultStep(at=110.0, kind="crash", params={"restart_after": 5.0}, fault_id="f2"),
    FaultStep(at=300.0, kind="clean_restart", params={"restart_after": 30.0}, fault_id="f3"),
    FaultStep(at=310.0, kind="crash", params={"restart_after": 1.0}, fault_id="f4"),
    FaultStep(at=590.0, kind="crash", params={"restart_after": 300.0}, fault_id="f5"),
))  # fmt: skip


def test_crashes_while_down_start_no_second_process() -> None:
    """Regression: a crash fault while the process was already down still scheduled a restart,
    so two restarts started two data managers on one disk."""
    world = World(loads_scenario(DOC, source="lifecycle").with_faults(FAULTS), seed=2)
    result = world.run(progress=None)
    events = [(e.time, e.kind) for e in result.trace.of_kind(
        "process.crash", "process.stop", "process.restart")]  # fmt: skip
    assert events == [
        (100.0, "process.crash"),
        (160.0, "process.restart"),
        (300.0, "process.stop"),
        (330.0, "process.restart"),
        (590.0, "process.crash"),
        (600.0, "process.restart"),  # the final drain boots the machine once more
    ]
