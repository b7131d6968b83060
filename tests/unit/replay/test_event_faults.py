"""A machine's event log → faults (``dmsim replay --events``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmsim.errors import ScenarioError
from dmsim.faults import parse_duration
from dmsim.replay._events import faults_from_events
from dmsim.scenario import loads_scenario
from dmsim.service._events import MachineEvent, iso_time, load_events, read_event_log

T0 = 1_781_715_872.0
CODES = ["UNAUTHENTICATED", "UNAVAILABLE", "ConnectionError", "DEADLINE_EXCEEDED", "EIO"]
KIND_OF = {
    "UNAUTHENTICATED": "rpc_reject",
    "UNAVAILABLE": "rpc_reject",
    "ConnectionError": "link_down",
    "DEADLINE_EXCEEDED": "link_down",
}


def event(t: float, kind: str, **fields: Any) -> MachineEvent:
    return MachineEvent(T0 + t, kind, fields)


def attempt(t: float, code: str | None) -> MachineEvent:
    outcome = "ok" if code is None else "fail"
    return event(t, "upload.attempt", outcome=outcome, code=code or "")


def windows(docs: tuple[dict[str, Any], ...]) -> list[tuple[str, str, float, float]]:
    out = []
    for doc in docs:
        if "duration" in doc:
            start = parse_duration(doc["at"]) or 0.0
            length = parse_duration(doc["duration"]) or 0.0
            out.append((doc["kind"], doc.get("code", ""), start, start + length))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.5, 60.0), st.sampled_from([None, *CODES])), min_size=1, max_size=30
    )
)
def test_failure_windows_cover_each_failure_and_no_success(
    steps: list[tuple[float, str | None]],
) -> None:
    t, events = 0.0, [event(0.0, "machine.start", boot=1)]
    for gap, code in steps:
        t += gap
        events.append(attempt(t, code))
    found = windows(faults_from_events(events).faults)
    for e in events[1:]:
        rel, code = e.time - T0, str(e.fields["code"])
        inside = [w for w in found if w[2] - 1e-3 <= rel <= w[3] + 1e-3]
        if e.fields["outcome"] == "ok":
            # a success ends a window: it may touch its end, never sit inside one
            assert all(abs(rel - w[3]) < 1e-3 for w in inside), (rel, found)
        elif code in KIND_OF:
            assert any(w[0] == KIND_OF[code] for w in inside), (rel, code, found)
    starts = sorted(w[2] for w in found)
    ends = sorted(w[3] for w in found)
    assert all(s >= e - 1e-3 for s, e in zip(starts[1:], ends, strict=False))  # no overlap


def test_local_errors_are_counted_not_replayed() -> None:
    events = [event(0, "machine.start", boot=1), attempt(1, "EIO"), attempt(2, "EIO")]
    found = faults_from_events(events)
    assert found.faults == ()
    assert found.not_replayed == {"EIO": 2}


def test_a_start_without_a_stop_is_a_crash_at_the_last_sign_of_life() -> None:
    events = [
        event(0, "machine.start", boot=1),
        attempt(5, None),
        event(40, "machine.start", boot=2),
        event(50, "machine.stop", boot=2),
        event(62, "machine.start", boot=3),
    ]
    docs = faults_from_events(events).faults
    assert [d for d in docs if d["kind"] in ("crash", "clean_restart")] == [
        {"at": "5s", "kind": "crash", "restart_after": "35s"},
        {"at": "50s", "kind": "clean_restart", "restart_after": "12s"},
    ]


def test_a_log_written_by_the_event_log_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    lines = [
        {"time": iso_time(T0), "kind": "machine.start", "boot": 7},
        {"time": iso_time(T0 + 2.5), "kind": "upload.attempt", "outcome": "fail", "code": "X"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    events = load_events(path)
    assert [(e.time - T0, e.kind) for e in events] == [
        (0.0, "machine.start"),
        (2.5, "upload.attempt"),
    ]


def test_every_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text(
        '{"time": "2026-01-01T00:00:00Z", "kind": "machine.start"}\n'
        "not json\n"
        '{"kind": "x"}\n'
        '{"time": "yesterday", "kind": "x"}\n'
        '{"time": "2026-01-01T00:00:00", "kind": "x"}\n'
        '{"time": "2026-01-01T00:00:00Z", "mono": "soon", "kind": "x"}\n'
    )
    with pytest.raises(ScenarioError) as caught:
        load_events(path)
    text = str(caught.value)
    assert "(line 2): invalid JSON" in text
    assert "(line 3): expected string fields 'time' and 'kind'" in text
    assert "(line 4): 'time' is not an ISO-8601 time: 'yesterday'" in text
    assert "(line 6): 'mono' is not a number: 'soon'" in text
    assert "(line 5): 'time' needs a zone (Z)" in text


def test_a_boot_killed_before_it_logged_anything_crashes_after_its_start(
    tmp_path: Path,
) -> None:
    """Regression: the crash went at the killed boot's only event, its start, the very moment
    the clean restart before it ended, and the scenario was refused ("the process is down
    then")."""
    events = [
        event(0, "machine.start", boot=1),
        event(3, "machine.stop", boot=1),
        event(4.145, "machine.start", boot=2),  # killed with nothing else logged
        event(9, "machine.start", boot=3),
        event(11, "machine.stop", boot=3),
    ]
    docs = faults_from_events(events).faults
    assert [d for d in docs if d["kind"] in ("crash", "clean_restart")] == [
        {"at": "3s", "kind": "clean_restart", "restart_after": "1.145s"},
        {"at": "4.146s", "kind": "crash", "restart_after": "4.854s"},
    ]
    machine = {
        "services": [{"name": "dm", "type": "data_manager", "attributes": {}}],
    }
    (tmp_path / "m.json").write_text(json.dumps(machine))
    text = "name: x\nduration: 20s\nmachine: {path: m.json}\nfaults:\n" + "".join(
        f"  - {json.dumps(doc)}\n" for doc in docs
    )
    loads_scenario(text, base_dir=tmp_path)  # refused before the fix


def test_the_clock_sets_a_log_shows_are_replayed(tmp_path: Path) -> None:
    """The field's clock trouble (rdk warned of 56-year-old data after NTP set a Pi that
    booted at 1970) is replayed: a run that started at 1970 is an ``rtc_unset`` until NTP
    set the clock (that set is the window's end, not a step of its own), any other set a
    ``clock_step`` by as much; a boot that never reached NTP is unset to its last event."""
    lines = [
        (86_400.0, 5.0, "machine.start"),  # no RTC: 1970
        (86_460.0, 65.0, "upload.attempt"),
        (T0 + 70.0, 70.0, "upload.attempt"),  # NTP
        (T0 + 70.0, 100.0, "upload.attempt"),  # stepped back 30 s
        (T0 + 90.0, 120.0, "machine.stop"),
        (50.0, 3.0, "machine.start"),  # the next boot never reaches NTP
        (60.0, 13.0, "machine.stop"),
    ]
    path = tmp_path / "ev.jsonl"
    path.write_text(
        "".join(
            json.dumps({"time": iso_time(wall), "mono": mono, "kind": kind, "outcome": "ok"}) + "\n"
            for wall, mono, kind in lines
        )
    )
    log = read_event_log(path)
    docs = faults_from_events(log.events, log.clock_sets).faults
    assert [d for d in docs if d["kind"] in ("rtc_unset", "clock_step")] == [
        {"at": "0s", "kind": "rtc_unset", "duration": "65s"},
        {"at": "95s", "kind": "clock_step", "seconds": "-30s"},
        {"at": "115s", "kind": "rtc_unset", "duration": "10s"},
    ]
    machine = {"services": [{"name": "dm", "type": "data_manager", "attributes": {}}]}
    (tmp_path / "m.json").write_text(json.dumps(machine))
    text = "name: x\nduration: 3m\nmachine: {path: m.json}\nfaults:\n" + "".join(
        f"  - {json.dumps(doc)}\n" for doc in docs
    )
    loads_scenario(text, base_dir=tmp_path)
