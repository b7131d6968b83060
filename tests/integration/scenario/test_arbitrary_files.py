"""Files other programs write into the machine's additional_sync_paths (the scenario's
``file_writers``) are followed like readings: each complete file must reach the cloud once,
with the bytes written, and never half written; the oracle catches a sync that breaks that."""

from __future__ import annotations

import pytest
from tests.integration.scenario.probe_machine import probe_machine

import dmsim.sync._select as select
from dmsim.scenario import loads_scenario, run_scenario
from dmsim.sync import Candidate

SCENARIO = (
    "name: reports\nseed: 5\nduration: 20m"
    + probe_machine(1, sync_interval_mins=0.5, additional_sync_paths=["/home/dmsim/reports"])
    + """file_writers:
  - {dir: /home/dmsim/reports, every: 1m, size: 300KiB, write_for: 45s, extension: .csv}
  - {dir: /home/dmsim/reports/tag=night, every: 3m, size: 2MiB}
expectations:
  drain_within: 4m
faults:
"""
)
STORM = """
  - {at: 2m10s, kind: crash, restart_after: 30s}
  - {at: 5m, kind: link_down, duration: 2m}
  - {at: 9m, kind: drop_ack_after_commit, duration: 2m}
  - {at: 12m, kind: restart_mid_stream, duration: 2m, count: 2, commit: true}
"""


def run(faults: str) -> dict:
    report = run_scenario(loads_scenario(SCENARIO + faults, source="reports"), progress=False)
    return report.to_json_dict() | {"summary": report.summary()}


def test_every_file_written_reaches_the_cloud_once_through_a_storm() -> None:
    data = run(STORM)
    assert data["verdict"] == "pass", data["summary"]
    files = data["arbitrary_files"]
    assert files["written"] == files["stored"] == 20 + 7  # every minute, and every 3 minutes
    assert "sync paths    written 27  stored 27" in data["summary"]


def test_a_sync_that_does_not_wait_for_the_quiet_period_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def ready_at_once(candidate: Candidate, **_: object) -> bool:
        return candidate.size > 0

    monkeypatch.setattr(select, "is_ready", ready_at_once)
    data = run(STORM)
    assert data["verdict"] == "fail"
    assert data["arbitrary_files"]["corrupted"] > 0
    (result,) = [e for e in data["expectations"] if e["name"] == "arbitrary_files"]
    assert not result["ok"]


def test_a_clock_step_forward_does_not_send_a_file_half_written() -> None:
    """Regression: a file's quiet period is judged by its mtime, a wall-clock time. The clock
    stepped an hour forward (NTP on a Pi without an RTC) between two appends, so a file being
    written looked an hour old, and the pass at 90 s sent it half written; the complete file
    went later as a second one."""
    data = run("  - {at: 89.5s, kind: clock_step, seconds: 1h}")
    assert data["arbitrary_files"]["corrupted"] == 0
    assert data["verdict"] == "pass", data["summary"]


def test_a_clock_wrong_only_between_two_looks_does_not_send_a_file_half_written() -> None:
    """Found by dmsim fuzz (files scenario, seed 7575): the RTC unset for the first second
    (the wall clock at 1970) while a writer began a file, and set again just before the
    resume pass looked. The clock was the same at both looks, so comparing it with the
    monotonic one saw no step, and the file's first append, stamped 1970, made it look 56
    years quiet: sent half written. The kernel's count of clock sets sees both."""
    data = run("  - {at: 0s, kind: rtc_unset, duration: 1s}\n"
               "  - {at: 0s, kind: link_down, duration: 1s}")  # fmt: skip
    assert data["arbitrary_files"]["corrupted"] == 0
    assert data["verdict"] == "pass", data["summary"]


def test_a_clock_wrong_just_before_the_process_starts_does_not_send_a_file_half_written() -> None:
    """Found by dmsim fuzz (files scenario, seed 7878): the RTC unset for the first second
    while a writer began a file and the machine restarted; the new process's first look came
    after the clock was set right, so no set was ever seen by it, and the file's first append,
    stamped 1970, looked 56 years quiet. The kernel tells sets only from the moment one asks:
    a set just before the start is invisible, so the start itself holds arbitrary files one
    quiet period."""
    data = run("  - {at: 0s, kind: clean_restart, restart_after: 1s}\n"
               "  - {at: 0s, kind: rtc_unset, duration: 1s}")  # fmt: skip
    assert data["arbitrary_files"]["corrupted"] == 0
    assert data["verdict"] == "pass", data["summary"]
