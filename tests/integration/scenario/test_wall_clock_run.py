"""`dmsim run --wall-clock`: a scenario run for real (dmsim machine, the gRPC cloud, the fault
proxy, SIGKILL) on loopback, judged reading by reading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.scenario.probe_machine import probe_machine

DMSIM = [sys.executable, "-m", "dmsim.cli"]
MACHINE = probe_machine(20, sync_interval_mins=0.01)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DMSIM, "run", *map(str, args)], capture_output=True, text=True, timeout=240,
        check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_a_scenario_runs_for_real_and_is_judged(tmp_path: Path) -> None:
    scenario = tmp_path / "real.scenario.yaml"
    scenario.write_text(
        "name: real\nseed: 3\nduration: 14s\n"
        + MACHINE
        + """
faults:
  - {at: 3s, kind: link_down, duration: 3s}
  - {at: 7s, kind: crash, restart_after: 1s}
  - {at: 8.5s, kind: manual_sync}
  - {at: 10s, kind: rpc_reject, duration: 2s, code: UNAVAILABLE}
expectations:
  drain_within: 30s
  min_delivered: 50
  counts:
    readings.duplicated: {max: 0}
"""
    )
    report = tmp_path / "report.json"
    result = run(scenario, "--wall-clock", "--workdir", tmp_path / "run", "--json", report)
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(report.read_text())
    assert verdict["passed"]
    assert verdict["crashes"] == 1
    assert verdict["boots"] == 3  # the start, the restart after the crash, the final read
    assert verdict["counts"]["delivered"] >= 50
    assert verdict["not_judged"] == ["counts[readings.duplicated]"]
    # the machine says its warning's threshold (world.promise): the warning is judged too
    assert "stale_warning" in [e["name"] for e in verdict["expectations"] if e["ok"]]
    assert "fault f1: link_down" in result.stderr
    assert "fault f2: crash" in result.stderr
    # SIGUSR1 as the restarted machine boots waits for its start (it would kill it before)
    assert "fault f3: manual_sync" in result.stderr
    said = (tmp_path / "run" / "machine.log").read_text()
    assert said.count("sync now: uploaded") == 1, said
    assert (tmp_path / "run" / "trace.jsonl").exists()
    # the machine's own state is the run's too: a later run never syncs this one's leftovers
    assert (tmp_path / "run" / "viam-home" / "dmsim" / "capture-dirs" / "local-part.json").exists()


def test_what_has_no_real_means_is_refused_up_front(tmp_path: Path) -> None:
    scenario = tmp_path / "sim-only.scenario.yaml"
    scenario.write_text(
        "name: sim-only\nduration: 1m\n"
        + MACHINE
        + """
disk: {capacity: 1GiB}
network: {profile: lte}
faults:
  - {at: 10s, kind: disk_fill, bytes: 1MiB, duration: 5s}
  - {at: 20s, kind: loss, probability: 0.1, duration: 5s}
"""
    )
    result = run(scenario, "--wall-clock")
    assert result.returncode == 2, result.stdout + result.stderr
    for expected in (
        "faults[f1]: disk_fill has no real means on the wall clock",
        "faults[f2]: loss has no real means on the wall clock",
        "network: only the lan profile",
        "disk: the real disk is used as it is",
    ):
        assert expected in result.stderr
    assert "Traceback" not in result.stderr


def with_sync_path(path: Path, quiet_ms: int) -> str:
    return probe_machine(
        20,
        sync_interval_mins=0.01,
        additional_sync_paths=[str(path)],
        file_last_modified_millis=quiet_ms,
    )


def reports_scenario(name: str, duration: str, faults: str = "") -> str:
    """A scenario whose machine syncs /home/dmsim/reports, where a report generator writes a
    48 KiB file over 3 s every 4 s (quiet after 2.5 s)."""
    return (
        f"name: {name}\nseed: 3\nduration: {duration}\n"
        + with_sync_path(Path("/home/dmsim/reports"), 2500)
        + """
file_writers:
  - {dir: /home/dmsim/reports, every: 4s, size: 48KiB, write_for: 3s, extension: .csv}
expectations:
  drain_within: 30s
"""
        + faults
    )


@pytest.mark.slow
def test_a_real_run_never_touches_the_hosts_own_directories(tmp_path: Path) -> None:
    """Sync deletes what it uploads: a scenario naming a directory of the host in
    additional_sync_paths (one written for the simulated disk) must not send it away. The run
    gets its own copy of each path, under its working directory, as it does of capture_dir."""
    host_dir = tmp_path / "home" / "reports"
    host_dir.mkdir(parents=True)
    (host_dir / "q3.csv").write_text("quarter,revenue\n3,1000\n", encoding="utf-8")
    scenario = tmp_path / "paths.scenario.yaml"
    scenario.write_text(
        "name: paths\nseed: 3\nduration: 3s\n" + with_sync_path(host_dir, 1000),
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    result = run(scenario, "--wall-clock", "--workdir", tmp_path / "run", "--json", report)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (host_dir / "q3.csv").read_text(encoding="utf-8") == "quarter,revenue\n3,1000\n"
    machine = json.loads((tmp_path / "run" / "machine.json").read_text(encoding="utf-8"))
    (manager,) = [s for s in machine["services"] if s["type"] == "data_manager"]
    (own,) = manager["attributes"]["additional_sync_paths"]
    assert Path(own).is_relative_to((tmp_path / "run").resolve())


@pytest.mark.slow
def test_files_other_programs_write_are_followed_on_the_wall_clock(tmp_path: Path) -> None:
    scenario = tmp_path / "files.scenario.yaml"
    scenario.write_text(
        reports_scenario("files", "12s", "faults:\n  - {at: 5s, kind: link_down, duration: 3s}\n")
    )
    report = tmp_path / "report.json"
    result = run(scenario, "--wall-clock", "--workdir", tmp_path / "run", "--json", report)
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(report.read_text())
    assert verdict["passed"], result.stdout
    files = verdict["arbitrary_files"]
    assert files["written"] == files["stored"] == 3, files
    assert files["corrupted"] == files["duplicated"] == files["lost"] == 0
    assert "arbitrary_files" in [e["name"] for e in verdict["expectations"]]
    assert "sync paths" in result.stdout
