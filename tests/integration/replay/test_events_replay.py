"""`dmsim machine --events` on a real machine, then `dmsim replay --events`: the machine's
own trouble (a cloud it cannot reach, a clean restart, a SIGKILL, a clock without an RTC)
becomes the case's faults."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from dmsim.scenario import run_scenario
from dmsim.service._events import iso_time

DMSIM = [sys.executable, "-m", "dmsim.cli"]
NOWHERE = "127.0.0.1:9"  # nothing listens on the discard port here: every upload fails


def machine(config: Path, events: Path, *more: str) -> list[str]:
    return [*DMSIM, "machine", str(config), "--cloud", NOWHERE, "--events", str(events), *more]


def test_a_real_machine_s_events_replay_as_faults(tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    config = tmp_path / "machine.json"
    config.write_text(
        json.dumps(
            {
                "components": [
                    {"name": "probe", "type": "sensor", "model": "fake",
                     "service_configs": [{"type": "data_manager", "attributes": {
                         "capture_methods": [{"method": "Readings", "capture_frequency_hz": 20}]}}]}
                ],
                "services": [{"name": "dm", "type": "data_manager", "attributes": {
                    "capture_dir": str(capture), "sync_interval_mins": 0.02}}],
            }
        )
    )  # fmt: skip
    events = tmp_path / "events.jsonl"
    first = subprocess.run(
        machine(config, events, "--duration", "3s"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    killed = subprocess.Popen(
        machine(config, events), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60  # a loaded CI machine starts slowly
    while events.read_text().count('"machine.start"') < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    killed.send_signal(signal.SIGKILL)  # the power cut: no stop line
    killed.wait(timeout=30)
    last = subprocess.run(
        machine(config, events, "--duration", "2s"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert last.returncode == 0, last.stderr

    logged = [json.loads(line) for line in events.read_text().splitlines()]
    kinds = [item["kind"] for item in logged]
    assert kinds.count("machine.start") == 3
    assert kinds.count("machine.stop") == 2  # the killed run never said goodbye
    assert any(item["kind"] == "upload.attempt" and item["outcome"] != "ok" for item in logged)
    assert all("ids" not in item for item in logged)
    # The first boot ran before NTP set a clock without an RTC: its lines read 1970.
    second_start = [i for i, kind in enumerate(kinds) if kind == "machine.start"][1]
    unset_by = datetime.fromisoformat(logged[0]["time"]).timestamp() - 30.0
    for item in logged[:second_start]:
        item["time"] = iso_time(datetime.fromisoformat(item["time"]).timestamp() - unset_by)
    events.write_text("".join(json.dumps(item) + "\n" for item in logged))

    case = tmp_path / "case"
    built = subprocess.run(
        [*DMSIM, "replay", str(capture), "--config", str(config), "--events", str(events),
         "--out", str(case), "--no-capture"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert "event log:" in built.stdout
    (scenario_path,) = case.glob("*.scenario.yaml")
    faults = yaml.safe_load(scenario_path.read_text())["faults"]
    assert {f["kind"] for f in faults} == {"link_down", "clean_restart", "crash", "rtc_unset"}
    assert faults[0]["kind"] == "rtc_unset"  # from the start, not 56 years before the rest
    assert (case / "events.jsonl").read_bytes() == events.read_bytes()
    report = run_scenario(scenario_path, progress=False)
    assert report.passed, report.summary()
    assert report.verdict.counts.get("delivered") == report.verdict.captured > 0
