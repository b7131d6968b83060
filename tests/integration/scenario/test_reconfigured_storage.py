"""A reconfigure that changes storage mid-run (rotation size, deletion rules, the capture
directory), as the fuzzer's reconfigures do: deletion races uploads, a moved directory keeps
its backlog, and every reading still ends in the cloud once or deleted by a rule the report
names."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.scenario.probe_machine import probe_machine

from dmsim.scenario import loads_scenario, run_scenario
from dmsim.service._datamanager import DataManager

MACHINE = probe_machine(10, sync_interval_mins=0.1, maximum_num_sync_threads=2)


def judged(faults: str) -> dict[str, Any]:
    doc = (
        f"name: storage\nseed: 4\nduration: 6m\nnetwork: {{profile: lan}}\n{MACHINE}"
        f"faults:\n{faults}\nexpectations:\n  drain_within: 1m\n"
    )
    report = run_scenario(loads_scenario(doc, source="storage"), progress=False)
    return report.to_json_dict() | {"summary": report.summary()}


def run(faults: str) -> dict[str, Any]:
    data = judged(faults)
    assert data["verdict"] == "pass", data["summary"]
    readings = data["readings"]
    assert readings["captured"] == readings["delivered"] + readings["deleted_by_policy"]
    return data


def test_a_byte_cap_set_during_an_outage_deletes_the_oldest_backlog_by_name() -> None:
    data = run(
        "  - {at: 30s, kind: link_down, duration: 3m}\n"
        "  - {at: 90s, kind: reconfigure, data_manager: {capture_dir_max_bytes: 8192, "
        "disk_check_interval_secs: 1, maximum_capture_file_size_bytes: 1024}}\n"
        "  - {at: 150s, kind: reconfigure, data_manager: {capture_dir_max_bytes: 0}}"
    )
    # The new size restarts the collector, completing the outage's first minute in one file;
    # the cap takes it and every 1 KiB file after it but the newest 8 KiB (about 60
    # readings): nearly the whole outage at 10 Hz. The rest reaches the cloud.
    assert 1100 < data["readings"]["deleted_by_policy"] < 1260
    assert data["readings"]["delivered"] > 2300
    assert data["files"]["deleted_by_policy"] > 0


FIRE_EVERY_SECOND = (
    "  - {at: 60s, kind: reconfigure, data_manager: {disk_usage_deletion_threshold: 0.000000001, "
    "capture_dir_deletion_threshold: 0.000000001, delete_every_nth_when_disk_full: 1, "
    "disk_check_interval_secs: 1}}\n"
    "  - {at: 200s, kind: reconfigure, data_manager: {disk_usage_deletion_threshold: 0.9}}"
)


def test_the_disk_full_rule_takes_files_waiting_to_retry_and_names_their_readings() -> None:
    """Every completed file not being uploaded goes at each check: those the cloud turned
    away wait for their retry, and the rule takes them whole, naming their readings."""
    data = run(
        "  - {at: 40s, kind: rpc_reject, duration: 1m, code: INTERNAL}\n" + FIRE_EVERY_SECOND
    )
    assert data["files"]["deleted_by_policy"] > 5
    # files of 6 s at 10 Hz, each deleted whole
    assert data["readings"]["deleted_by_policy"] == 60 * data["files"]["deleted_by_policy"]


def test_a_file_the_cloud_stored_without_an_acknowledgement_may_go_by_policy() -> None:
    """The outcome of those uploads is unknown to the machine, so the rule may delete the
    files before the resend: the cloud has every reading once, and the deletion is named."""
    data = run("  - {at: 40s, kind: drop_ack_after_commit, duration: 1m}\n" + FIRE_EVERY_SECOND)
    assert data["files"]["deleted_by_policy"] > 5
    assert data["readings"]["delivered"] == data["readings"]["captured"]
    assert data["uploads"]["unknown"] > 0


def test_a_one_kibibyte_rotation_through_an_outage_delivers_everything() -> None:
    data = run(
        "  - {at: 20s, kind: reconfigure, data_manager: {maximum_capture_file_size_bytes: 1024}}\n"
        "  - {at: 30s, kind: link_down, duration: 2m}"
    )
    assert data["readings"]["deleted_by_policy"] == 0
    # about 140 B a reading: a file every seven readings (a sync pass closes them sooner)
    assert data["files"]["completed"] > 1200 / 8


def test_a_policy_deleting_files_being_uploaded_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The judge's side of the rule: a broken core whose policy ignores uploads in flight
    deletes files while their acknowledgements take 4 s, and the trace shows it."""
    monkeypatch.setattr(DataManager, "_in_use", lambda self, path: False)
    data = judged("  - {at: 40s, kind: slow_ack, duration: 2m, seconds: 4s}\n" + FIRE_EVERY_SECOND)
    assert data["verdict"] == "fail"
    assert "after rule 'disk_full_every_nth' deleted it" in data["summary"]


def test_a_new_capture_dir_still_sends_the_old_ones_backlog() -> None:
    """Regression: sync walked only the new directory, so the outage's backlog captured
    before the change (359 readings) stayed in the old one for good."""
    data = run(
        "  - {at: 30s, kind: link_down, duration: 1m}\n"
        "  - {at: 60s, kind: reconfigure, data_manager: {capture_dir: /data/new-capture}}"
    )
    assert data["readings"]["delivered"] == data["readings"]["captured"]


def test_the_old_capture_dir_is_remembered_across_a_power_cut() -> None:
    """The machine restarts with the new directory in its config: the old one, still holding
    the outage's first minute, is synced because the machine wrote down that it moved."""
    data = judged(
        "  - {at: 30s, kind: link_down, duration: 2m}\n"
        "  - {at: 60s, kind: reconfigure, data_manager: {capture_dir: /data/new-capture}}\n"
        "  - {at: 100s, kind: crash, restart_after: 5s}"
    )
    assert data["verdict"] == "pass", data["summary"]
    readings = data["readings"]
    assert readings["delivered"] + readings["lost_in_window"] == readings["captured"]
    assert readings["lost_in_window"] <= 2 * 10  # the window and the queue at the crash
