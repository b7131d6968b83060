"""Capture on demand through the real CLI: ``dmsim simulate`` on simulated time and
``dmsim machine`` on the wall clock, each with a capture control sensor (Viam's
capture-control module model) that records a camera and an arm the config never captures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

DMSIM = [sys.executable, "-m", "dmsim.cli"]


def machine(capture_dir: Path, recordings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "components": [
            {"name": "cam", "type": "camera", "model": "webcam",
             "attributes": {"width_px": 32, "height_px": 24},
             "service_configs": [{"type": "data_manager", "attributes": {
                 "capture_methods": [{"method": "GetImages", "capture_frequency_hz": 0.5}]}}]},
            {"name": "arm", "type": "arm", "model": "ur5e"},
            {"name": "recorder", "type": "sensor",
             "model": "viam:capture-control:capture-control-sensor",
             "attributes": {"resources": [{"resource_name": "cam", "method": "GetImages"},
                                          {"resource_name": "arm", "method": "JointPositions"}],
                            "recordings": recordings}},
        ],
        "services": [{"name": "dm", "type": "data_manager", "attributes": {
            "capture_dir": str(capture_dir), "sync_disabled": True,
            "capture_control_sensor": {"name": "recorder", "key": "overrides"}}}],
    }  # fmt: skip


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DMSIM, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def inspect(directory: Path) -> list[dict[str, Any]]:
    done = run("capture", "inspect", directory, "--json")
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_simulate_lists_the_collector_the_sensor_enabled_and_files_carry_its_tags(
    tmp_path: Path,
) -> None:
    config = tmp_path / "machine.json"
    recordings = [
        {"start_s": 10, "stop_s": 20, "frequency_hz": 2, "tags": ["cycle-1"]},
        {"start_s": 40, "stop_s": 50, "frequency_hz": 1, "tags": ["cycle-2"]},
    ]
    config.write_text(json.dumps(machine(Path("/capture"), recordings)), encoding="utf-8")
    done = run("simulate", config, "--duration", "60s", "--seed", "3", "--out", tmp_path / "out",
               "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {row["component"]: row for row in json.loads(done.stdout)["collectors"]}
    assert set(rows) == {"cam", "arm"}
    arm = rows["arm"]
    assert (arm["api"], arm["method"], arm["skipped"]) == ("rdk:component:arm", "JointPositions", 0)
    assert 28 <= arm["captured"] <= 31  # 2 Hz × 10 s + 1 Hz × 10 s, within a poll per edge
    assert 2 * 28 <= rows["cam"]["captured"] <= 2 * 31  # two images per GetImages
    tags = {(f["component_name"], tuple(f["tags"])) for f in inspect(tmp_path / "out")}
    assert tags == {(name, (cycle,)) for name in ("cam", "arm") for cycle in ("cycle-1", "cycle-2")}


def test_a_real_machine_follows_the_sensor_on_the_wall_clock(tmp_path: Path) -> None:
    capture_dir = tmp_path / "capture"
    config = tmp_path / "machine.json"
    recordings = [{"start_s": 0.5, "stop_s": 2.5, "frequency_hz": 10, "tags": ["bench"]}]
    config.write_text(json.dumps(machine(capture_dir, recordings)), encoding="utf-8")
    events = tmp_path / "events.jsonl"
    done = run("machine", config, "--cloud", "127.0.0.1:9", "--duration", "4s",
               "--events", events, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = inspect(capture_dir)
    arm = [f for f in files if f["component_name"] == "arm"]
    assert arm
    assert {tuple(f["tags"]) for f in arm} == {("bench",)}
    # 10 Hz for 2 s; a slow start-up on a loaded machine may miss the window's first part
    assert 8 <= sum(f["readings"] for f in arm) <= 22
    switched = [json.loads(line) for line in events.read_text().splitlines()
                if json.loads(line)["kind"] == "capture.control"]  # fmt: skip
    rates = [[o["capture_frequency_hz"] for o in e["overrides"]] for e in switched]
    assert [10.0, 10.0] in rates
    assert rates[-1] == [0.0, 0.0]
