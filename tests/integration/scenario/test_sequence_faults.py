"""Faults aimed at CreateSequence alone, while uploads flow: every closed sequence still reaches
the cloud once, and every reading too."""

from __future__ import annotations

from dmsim.scenario import loads_scenario, run_scenario

# Three recordings; each one's CreateSequence (at its stop, after the next sync pass) meets a
# different fault: rejected for two minutes, its acknowledgement lost after the commit, and
# the cloud dying mid-call after committing.
SCENARIO = """
name: sequence-faults
seed: 3
duration: 14m
machine:
  components:
    - {name: probe, type: sensor, model: fake}
    - name: recorder
      type: sensor
      model: viam:capture-control:capture-control-sensor
      attributes:
        resources: [{resource_name: probe, method: Readings}]
        recordings:
          - {start_s: 30, stop_s: 120, frequency_hz: 2, tags: [run-1]}
          - {start_s: 240, stop_s: 330, frequency_hz: 2, tags: [run-2]}
          - {start_s: 450, stop_s: 540, frequency_hz: 2, tags: [run-3]}
  services:
    - name: data-manager
      type: data_manager
      attributes:
        sync_interval_mins: 0.1
        capture_control_sensor: {name: recorder, key: overrides}
faults:
  - {at: 1m50s, kind: rpc_reject, code: UNAVAILABLE, rpcs: [CreateSequence], duration: 2m}
  - {at: 5m20s, kind: drop_ack_after_commit, rpcs: [CreateSequence], duration: 1m}
  - {at: 8m50s, kind: restart_mid_stream, commit: true, rpcs: [CreateSequence], duration: 1m}
expectations:
  drain_within: 3m
  counts:
    sequences.stored: {min: 3, max: 3}
"""


def test_sequences_survive_faults_on_their_own_rpc() -> None:
    report = run_scenario(loads_scenario(SCENARIO, source="sequence-faults"), progress=False)
    data = report.to_json_dict()
    assert data["verdict"] == "pass", report.summary()
    assert data["sequences"] == {
        "opened": 3, "closed": 3, "stored": 3, "pending": 0, "orphaned": 0, "lost": 0,
        "duplicated": 0,
    }  # fmt: skip
    readings = data["readings"]
    assert readings["delivered"] == readings["captured"]
    assert 3 * (90 * 2 - 1) <= readings["captured"] <= 3 * 90 * 2  # within a tick a recording
    # the faults met their calls: a rejection, and outcomes the client could not know
    uploads = data["uploads"]
    assert uploads["by_code"].get("UNAVAILABLE", 0) >= 1
    assert uploads["unknown"] >= 2
    assert not data["faults_without_target"]


def test_a_clean_stop_keeps_trying_to_close_a_sequence_while_the_disk_recovers() -> None:
    """Regression (capture-on-demand, fuzz seed 4343): a clean restart while the disk refused
    writes for five more seconds. The shutdown drained the queues to the disk until it
    recovered, but tried the open recording's `.seq` once and reported it lost; the next boot
    found its `.progseq` and quarantined it. The stop now closes its sequences with the
    patience it gives the readings."""
    doc = SCENARIO.replace(
        "faults:\n",
        "faults:\n"
        "  - {at: 50s, kind: disk_eio, ops: [write], probability: 1.0, duration: 15s}\n"
        "  - {at: 60s, kind: clean_restart, restart_after: 1s}\n",
    ).replace("    sequences.stored: {min: 3, max: 3}", "    sequences.stored: {min: 4, max: 4}")
    report = run_scenario(loads_scenario(doc, source="sequence-faults"), progress=False)
    data = report.to_json_dict()
    assert data["verdict"] == "pass", report.summary()
    sequences = data["sequences"]
    assert (sequences["lost"], sequences["orphaned"]) == (0, 0)
    assert sequences["stored"] == sequences["closed"] == 4  # the first recording, cut in two
