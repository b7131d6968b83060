"""A 24-hour simulated day on a two-collector machine whose disk fills up for hours and whose
camera disconnects: no collector stops for good, every tick is either a reading or a counted
skip, and every reading is delivered once or explained."""

from __future__ import annotations

import math

from dmsim.scenario import loads_scenario, run_scenario

DAY = """
name: day-of-faults
seed: 5
duration: 24h
sample_every: 5m
disk: {capacity: 64MiB, initial_fill: 8MiB}
payload: {image_width: 32, image_height: 24, jpeg_quality: 50}
machine:
  components:
    - name: probe
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Readings, capture_frequency_hz: 0.2}]
    - name: cam
      type: camera
      model: webcam
      service_configs:
        - type: data_manager
          attributes:
            capture_methods:
              - method: ReadImage
                capture_frequency_hz: 0.05
                additional_params: {mime_type: image/jpeg}
  services:
    - name: data_manager
      type: data_manager
      attributes: {sync_interval_mins: 1}
faults:
  - {at: 2h, kind: link_down, duration: 5h}
  - {at: 3h, kind: disk_fill, duration: 3h, bytes: 56MiB}
  - {at: 10h, kind: device_disconnect, duration: 1h, component: cam}
  - {at: 15h, kind: crash, restart_after: 2m}
expectations:
  allowed: [delivered, pending, lost_in_window, deleted_by_policy]
  drain_within: 2h
  max_capture_gap: 3h30m
"""


def test_a_day_of_disk_full_and_disconnects_stops_no_collector_for_good() -> None:
    report = run_scenario(loads_scenario(DAY, source="day-of-faults"), progress=False)
    data = report.to_json_dict()
    assert data["verdict"] == "pass", report.summary()
    readings = data["readings"]
    assert readings["lost"] == readings["duplicated"] == readings["corrupted"] == 0
    # every tick of every collector is a reading or a counted skip (the crash restarts the
    # schedule, so allow the ticks of two minutes plus the restart's first period)
    ticks = 24 * 3600 * (0.2 + 0.05)
    restart_gap = 120 * (0.2 + 0.05) + 2
    accounted = readings["captured"] + readings["skipped"]
    assert ticks - restart_gap - 2 <= accounted <= ticks, (accounted, ticks)
    assert readings["skipped"] > 0  # the disconnected camera's ticks were counted, not hidden
    assert math.isfinite(data["sim_seconds"])
