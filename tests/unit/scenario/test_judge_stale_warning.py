"""``dmsim judge`` holds a real machine's stale-data warning to the truth (``._stale``), with
the leniency a clock fault earns wherever the trace shows the wall clock set."""

from __future__ import annotations

import json
from pathlib import Path

from dmsim.cloud import CloudCore
from dmsim.scenario._judge import judge_real_run
from dmsim.service._events import iso_time

T0 = 1_781_715_872.0  # 2026-06-17
PROMISE = {
    "durability_window_s": 1.0,
    "offline_wait_s": 60.0,
    "sync_disabled": False,
    "sync_interval_s": 60.0,
    "stale_warning_s": 120.0,
}
READING = {"stream": "sensor-1/Readings", "boot": 1, "seq": 0}
FILE = {"path": "/c/a.capture", "ids": [list(READING.values())]}
Line = tuple[float, float, str, dict[str, object]]


def trace(path: Path, *lines: Line) -> Path:
    """Lines (wall time, monotonic time, kind, fields), in the order written."""
    path.write_text(
        "".join(
            json.dumps({"time": iso_time(wall), "mono": mono, "kind": kind, **fields}) + "\n"
            for wall, mono, kind, fields in lines
        ),
        encoding="utf-8",
    )
    return path


def a_run(wall_at: dict[str, float], warned_age_s: float | None) -> list[Line]:
    """A machine that captures a reading 10 s in, never syncs it, and warns (or not) at
    200 s; ``wall_at`` gives the wall clock's offset to the monotonic one before and from
    the warning on."""
    before, after = wall_at["before"], wall_at["after"]
    lines: list[Line] = [
        (before, 0.0, "machine.start", {"boot": 1, "part_id": "p"}),
        (before, 0.0, "world.promise", PROMISE),
        (before + 10.0, 10.0, "reading.captured", {**READING, "digest": "d0"}),
        (before + 11.0, 11.0, "file.completed", FILE),
    ]
    if warned_age_s is not None:
        warning = {"oldest_age_s": warned_age_s, "threshold_s": 120.0}
        lines.append((after + 200.0, 200.0, "sync.stale", warning))
    lines.append((after + 400.0, 400.0, "machine.stop", {"boot": 1}))
    return lines


def judged(tmp_path: Path, lines: list[Line]) -> dict[str, object]:
    CloudCore(clock=lambda: T0, data_dir=str(tmp_path / "cloud")).close()  # stored nothing
    path = trace(tmp_path / "trace.jsonl", *lines)
    verdict = judge_real_run(path, tmp_path / "cloud", durability_window_s=1.0)
    report = verdict.to_json()
    report["summary"] = verdict.summary()
    return report


def test_a_warning_that_dates_data_at_the_start_after_ntp_set_a_1970_clock_passes(
    tmp_path: Path,
) -> None:
    """A Pi without a real-time clock starts its machine at 1970; NTP sets the clock before
    the warning. A machine that did not see the set dates the 1970-named file at its own
    start (200 s, where the reading waited 190 s): as true as it can know. Before the judge
    read the sets from the trace, it failed this run as a lie."""
    report = judged(tmp_path, a_run({"before": 86_400.0, "after": T0}, warned_age_s=200.0))
    stale = report["stale_warning"]
    assert isinstance(stale, dict)
    assert stale["ok"], stale
    assert report["passed"]
    sets = report["clock_sets"]
    assert isinstance(sets, list)
    assert [s["by_s"] is None for s in sets] == [True, False]  # started wrong, then set
    assert sets[1]["at_s"] == 200.0
    summary = str(report["summary"])
    assert "wall clock: read before 2020 at 0.0s; set +" in summary
    assert "stale warning: 1 warning(s), each within the age of the oldest data" in summary


def test_the_same_claim_without_a_clock_set_is_a_lie(tmp_path: Path) -> None:
    report = judged(tmp_path, a_run({"before": T0, "after": T0}, warned_age_s=200.0))
    assert report["clock_sets"] == []
    assert not report["passed"]
    assert "the warning at 200.000s said 200.000s old; the oldest data waiting" in str(
        report["summary"]
    )
    assert "  FAIL" in str(report["summary"])


def test_a_machine_that_never_warned_about_stale_data_fails(tmp_path: Path) -> None:
    """The reading waited from 10 s to the stop at 400 s, past the 120 s threshold and a
    look period (131 s), and no warning came."""
    report = judged(tmp_path, a_run({"before": T0, "after": T0}, warned_age_s=None))
    stale = report["stale_warning"]
    assert isinstance(stale, dict)
    assert not stale["ok"]
    assert "no warning came between" in stale["detail"]
    assert "sensor-1/Readings@1#0 had waited" in stale["detail"]
    assert not report["passed"]


def test_a_true_warning_in_time_passes(tmp_path: Path) -> None:
    report = judged(tmp_path, a_run({"before": T0, "after": T0}, warned_age_s=190.0))
    assert report["passed"], report["summary"]
    assert report["stale_warning"] == {
        "name": "stale_warning",
        "ok": True,
        "detail": "1 warning(s), each within the age of the oldest data waiting; none missed",
    }
