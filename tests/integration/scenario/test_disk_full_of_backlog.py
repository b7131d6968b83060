"""Regression: when the disk fills with the unsynced backlog itself (an outage, no ballast)
and the disk-full deletion rule cannot fire, sync must still run once the link returns: its
pass used to wait for collectors that could not drain, so nothing was uploaded, nothing was
freed, and capture stayed stuck."""

from __future__ import annotations

from dmsim.scenario import loads_scenario, run_scenario

DOC = """
name: disk-full-of-backlog
seed: 9
duration: 1h
sample_every: 1m
disk: {capacity: 3MiB, initial_fill: 512KiB}
payload: {image_width: 320, image_height: 240, jpeg_quality: 90}
machine:
  components:
    - name: cam
      type: camera
      model: webcam
      service_configs:
        - type: data_manager
          attributes:
            capture_methods:
              - method: ReadImage
                capture_frequency_hz: 0.5
                additional_params: {mime_type: image/jpeg}
  services:
    - name: data_manager
      type: data_manager
      attributes:
        sync_interval_mins: 0.5
        # the rule never fires: the capture dir is never 100% of what is used
        disk_usage_deletion_threshold: 1.0
        capture_dir_deletion_threshold: 1.0
faults:
  - {at: 5m, kind: link_down, duration: 20m}
expectations:
  allowed: [delivered, pending, lost_in_window]
  drain_within: 20m
"""


def test_sync_frees_a_disk_full_of_backlog_once_the_link_returns() -> None:
    report = run_scenario(loads_scenario(DOC, source="disk-full-of-backlog"), progress=False)
    data = report.to_json_dict()
    assert data["verdict"] == "pass", report.summary()
    readings = data["readings"]
    assert readings["skipped"] > 0, "the disk did fill: ticks were skipped, and counted"
    assert readings["lost"] == readings["duplicated"] == 0
