"""The kernel tells a clock set: what lets sync hold files in additional_sync_paths after the
wall clock was wrong, even for a moment, and the judge read a run through it (run as root:
these tests set the system clock, and set it right again)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.integration.scenario.test_wall_clock_run import reports_scenario

from dmsim.runtime import RealRuntime

pytestmark = [pytest.mark.hil, pytest.mark.timeout(30)]


@pytest.mark.usefixtures("settable_clock")
def test_a_set_of_the_wall_clock_is_counted_once() -> None:
    rt = RealRuntime()
    before = rt.wall_clock_sets()
    time.sleep(0.1)
    assert rt.wall_clock_sets() == before  # running is not a set
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))
    assert rt.wall_clock_sets() == before + 1
    assert rt.wall_clock_sets() == before + 1


SCENARIO = reports_scenario("clock-blips", "20s")


def blip_to_1970(seconds: float) -> None:
    """The RTC read as unset (1970; the kernel refuses a time before boot), then set right."""
    wall, mono = time.clock_gettime(time.CLOCK_REALTIME), time.monotonic()
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_BOOTTIME) + 86400)
    try:
        time.sleep(seconds)
    finally:
        time.clock_settime(time.CLOCK_REALTIME, wall + time.monotonic() - mono)


@pytest.mark.usefixtures("settable_clock")
@pytest.mark.timeout(180)
def test_files_written_while_the_clock_is_wrong_for_moments_arrive_whole(tmp_path: Path) -> None:
    """A wall-clock run with a writer in an additional sync path, the wall clock at 1970 for
    half a second three times: no file is sent half written, and the judge, reading each
    run on its monotonic clock, finds nothing amiss."""
    scenario = tmp_path / "blips.scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    report = tmp_path / "report.json"
    started = time.monotonic()
    run = subprocess.Popen(
        [sys.executable, "-m", "dmsim.cli", "run", str(scenario), "--wall-clock",
         "--workdir", str(tmp_path / "run"), "--json", str(report), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    for at in (4.3, 9.7, 14.1):
        time.sleep(max(0.0, started + at - time.monotonic()))
        blip_to_1970(0.5)
    out, _ = run.communicate(timeout=150)
    assert run.returncode == 0, out
    verdict = json.loads(report.read_text(encoding="utf-8"))
    assert verdict["anomalies"] == []
    files = verdict["arbitrary_files"]
    assert files["written"] == files["stored"] >= 4, files
    assert "1970" in (tmp_path / "run" / "trace.jsonl").read_text(encoding="utf-8")
