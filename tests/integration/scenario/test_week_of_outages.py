"""A week in the field, checked reading by reading by the oracle: a sensor box with a camera
through outages hours long and seconds long, acknowledgements lost after commit, crashes in
the middle of files and of uploads, and a disk that fills. Every reading ends in the cloud
exactly once, or is explained (inside the durability window at a crash, or deleted by a
named rule)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from dmsim.faults import FaultSchedule, fault_schedules
from dmsim.scenario import loads_scenario, run_scenario

MACHINE = """
machine:
  components:
    - name: probe
      type: sensor
      model: tmp36
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Readings, capture_frequency_hz: 0.05}]
    - name: yard-cam
      type: camera
      model: webcam
      service_configs:
        - type: data_manager
          attributes:
            capture_methods:
              - method: ReadImage
                capture_frequency_hz: 0.002
                additional_params: {mime_type: image/jpeg}
  services:
    - name: data_manager
      type: data_manager
      attributes: {sync_interval_mins: 5, maximum_capture_file_size_bytes: 16384}
payload: {image_width: 48, image_height: 32, jpeg_quality: 40}
disk: {capacity: 16MiB, initial_fill: 4MiB}
network: {profile: lan}
"""

WEEK = (
    """
name: week-of-outages
seed: 21
duration: 7d
sample_every: 30m
"""
    + MACHINE
    + """
faults:
  - {at: 6h, kind: link_down, duration: 9h}
  - {at: 20h, kind: link_down, duration: 20s}
  - {at: 20h30m, kind: link_down, duration: 5s}
  - {at: 1d2h, kind: drop_ack_after_commit, duration: 2h}
  - {at: 1d6h, kind: crash, restart_after: 30s}
  - {at: 2d, kind: link_down, duration: 1d}
  - {at: 2d12h, kind: disk_fill, duration: 6h, bytes: 11MiB}
  - {at: 3d4h, kind: stall_mid_stream, duration: 3h}
  - {at: 3d5h, kind: crash, restart_after: 5m}
  - {at: 4d, kind: rpc_reject, duration: 4h, code: UNAVAILABLE}
  - {at: 4d2h, kind: crash, restart_after: 1m}
  - {at: 5d, kind: loss, duration: 6h, probability: 0.3}
  - {at: 5d3h, kind: drop_ack_after_commit, duration: 1h}
  - {at: 5d3h30m, kind: crash, restart_after: 10s}
  - {at: 6d, kind: link_down, duration: 30s}
expectations:
  allowed: [delivered, pending, lost_in_window, deleted_by_policy]
  drain_within: 1h
"""
)


def test_a_week_of_outages_loses_and_duplicates_nothing_unexplained() -> None:
    report = run_scenario(loads_scenario(WEEK, source="week-of-outages"), progress=False)
    data = report.to_json_dict()
    assert data["verdict"] == "pass", report.summary()
    readings = data["readings"]
    assert readings["captured"] > 30_000
    assert readings["lost"] == readings["duplicated"] == readings["corrupted"] == 0
    assert (
        readings["delivered"] + readings["lost_in_window"] + readings["deleted_by_policy"]
        == readings["captured"]
    )
    assert data["uploads"]["unknown"] > 0  # lost acks happened, and were resolved by keys


DAY = (
    """
name: generated-day
seed: 8
duration: 12h
sample_every: 30m
"""
    + MACHINE
    + """
expectations:
  allowed: [delivered, pending, lost_in_window, deleted_by_policy]
  drain_within: 1h
# The envelope `dmsim fuzz` would use: faults end an hour (drain_within) before the run does,
# and no window is longer than half of it. Past a longer window of errors a file's backoff can
# wait about as long again, so the drain promise, not the core, would be what fails.
fuzz:
  envelope:
    kinds: [link_down, drop_ack_after_commit, crash, rpc_reject, disk_fill, loss,
            stall_mid_stream, slow_ack]
    max_faults: 6
    max_disk_fill: 11MiB
"""
)
BASE = loads_scenario(DAY, source="generated-day")
ENVELOPE = BASE.envelope


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=fault_schedules(duration=BASE.duration_s, envelope=ENVELOPE))
def test_generated_fault_schedules_never_lose_or_duplicate(schedule: FaultSchedule) -> None:
    report = run_scenario(BASE.with_faults(schedule), progress=False)
    data = report.to_json_dict()
    readings = data["readings"]
    assert readings["lost"] == readings["duplicated"] == readings["corrupted"] == 0, (
        report.summary()
    )
    assert data["verdict"] == "pass", report.summary()
