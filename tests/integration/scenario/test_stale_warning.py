"""The stale-data warning in whole runs, judged (``stale_warning``): it warns while data
waits, and each warning is as old as the data then waiting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.integration.scenario.probe_machine import probe_machine

from dmsim.scenario import Scenario, Verdict, fuzz_expectations, judge, loads_scenario
from dmsim.scenario._world import World, run_world

MACHINES = Path(__file__).resolve().parents[3] / "scenarios" / "machines"
LINK_BACK_S = 15 * 60.0


def run_passing(scenario: Scenario) -> tuple[World, Verdict]:
    """Run ``scenario`` at its seed; the run passes every expectation, or names those failed."""
    world = run_world(scenario, seed=scenario.seed)
    verdict = judge(world, scenario.expectations)
    assert verdict.passed, [e for e in verdict.expectations if not e.ok]
    return world, verdict


@pytest.mark.slow
def test_a_backlog_drained_over_a_slow_link_is_warned_about_while_it_drains() -> None:
    """Ten minutes offline, then 2 KB/s: one pass drains the camera's backlog for half an
    hour. The backlog's look goes on beside it (before, the warning fell silent for the
    whole drain, and the judge failed the run)."""
    scenario = loads_scenario(
        f"""
name: slow-drain
seed: 3
duration: 50m
machine: {{path: {MACHINES / "camera-and-sensor.json"}}}
payload: {{image_width: 160, image_height: 120, jpeg_quality: 60}}
faults:
  - {{at: 5m, kind: link_down, duration: 10m}}
  - {{at: 5m, kind: bandwidth, bytes_per_s: 2000, duration: 30m}}
expectations:
  drain_within: 15m
""",
        source="slow-drain",
    )
    world, verdict = run_passing(scenario)
    (stale,) = [e for e in verdict.expectations if e.name == "stale_warning"]
    assert stale.detail.endswith("none missed")
    draining = [e.time for e in world.trace.of_kind("sync.stale") if e.time > LINK_BACK_S]
    assert len(draining) >= 3


def test_data_a_refusing_disk_keeps_in_files_being_written_is_warned_about() -> None:
    """A disk that refuses renames for five minutes: no capture file completes, so passes,
    every six seconds, found nothing to send, and data waited in the files still being
    written with no warning (found by fuzzing random machine configs). Passes now count
    those files too, as the backlog's own look does."""
    scenario = loads_scenario(
        "name: refused-renames\nseed: 5\nduration: 10m\n"
        + probe_machine(2, stale_data_warning_secs=30)
        + """
faults:
  - {at: 1m, kind: disk_eio, duration: 5m, ops: [rename]}
expectations:
  drain_within: 3m
""",
        source="refused-renames",
    )
    world, _ = run_passing(scenario)
    refused = [e for e in world.trace.of_kind("sync.stale") if 60 < e.time < 360]
    assert refused, "no warning while the disk refused renames"
    assert all(e.fields["files"] >= 1 for e in refused)


# Found by `dmsim fuzz --machines 30 --runs 4 --seed 29` (machine 20, world seed 350), its
# schedule and config shrunk by the command: four collectors at 5 Hz, rdk's threshold.
STEPPED_BACK = """
name: stepped-back
seed: 350
duration: 10m
faults:
  - {at: 16.9s, kind: clock_step, seconds: -87s}
  - {at: 22.9s, kind: link_down, duration: 72.4s}
  - {at: 48.3s, kind: bandwidth, duration: 434.4s, bytes_per_s: 1000, direction: upstream}
machine:
  components:
    - name: servo
      type: servo
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Position, capture_frequency_hz: 5}]
    - name: board
      type: board
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods:
              - {method: Analogs, capture_frequency_hz: 5, additional_params: {reader_name: a1}}
              - {method: Gpios, capture_frequency_hz: 5, additional_params: {pin_name: p7}}
  services:
    - {name: data_manager, type: data_manager}
  remotes:
    - name: arm-host
      address: arm-host.local:8080
      service_configs:
        - type: data_manager
          attributes:
            capture_methods:
              - {method: Readings, capture_frequency_hz: 5, name: "rdk:component:sensor/e"}
"""


def test_data_of_a_file_named_past_a_clock_stepped_back_is_warned_about_in_time() -> None:
    """The clock steps back 87 s; the servo's next file is named 1 µs after its previous
    one (the old clock's 12:00:12.2, so names keep their order), and is completed 77 s
    later, when the link comes back at a crawl. The engine dated it by that name and its
    mtime, both on the current clock after its data: its reading of 18.2 s waited 317 s
    before the first warning, which said 240 s (the judge's bound: threshold + look period,
    311 s). A name the clock showed twice now dates nothing: the walk reads the file's
    creation stamp, when this process began it (fuzz --machines seed 29, machine 20)."""
    scenario = loads_scenario(STEPPED_BACK, source="stepped-back")
    run_passing(replace(scenario, expectations=fuzz_expectations(scenario)))


def test_data_written_before_the_clock_stepped_back_is_warned_about_in_time() -> None:
    """The clock steps back 150 s while the link is down: files written before the step are
    named at times today's clock shows again 133 s later, and were dated on it from then,
    150 s after their data; the warning came past the judge's bound. Each file's header
    says when, on the monotonic clock, it was begun; a walk reads it for names the clock
    showed twice."""
    scenario = loads_scenario(
        "name: written-before-the-step\nseed: 1\nduration: 10m\n"
        + probe_machine(5)
        + """
faults:
  - {at: 1s, kind: link_down, duration: 400s}
  - {at: 16.9s, kind: clock_step, seconds: -150s}
""",
        source="written-before-the-step",
    )
    run_passing(replace(scenario, expectations=fuzz_expectations(scenario)))
