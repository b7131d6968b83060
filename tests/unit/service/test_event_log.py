"""The machine's event log (`dmsim machine --events`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ConfigError
from dmsim.service._events import (
    ClockSet,
    EventLog,
    iso_time,
    load_events,
    machine_trace,
    read_event_log,
)

T0_NS = 1_781_715_872_123_456_000


def test_it_keeps_the_rare_events_without_reading_ids(tmp_path: Path) -> None:
    trace = machine_trace(lambda: T0_NS)
    log = EventLog(tmp_path / "ev.jsonl", trace=trace, monotonic=lambda: 4.5)
    trace.record("machine.start", boot=3)
    trace.record("reading.captured", stream="s", boot=3, seq=0, digest="d")
    trace.record("recovery.torn", path="/c/a.prog", dropped_bytes=9, ids_kept=[["s", 3, 0]])
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert lines == [
        {"time": "2026-06-17T17:04:32.123456Z", "mono": 4.5, "kind": "machine.start", "boot": 3},
        {"time": "2026-06-17T17:04:32.123456Z", "mono": 4.5, "kind": "recovery.torn",
         "path": "/c/a.prog", "dropped_bytes": 9},
    ]  # fmt: skip


def test_a_full_disk_drops_events_and_never_stops_the_core(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace = machine_trace(lambda: T0_NS)
    log = EventLog(Path("/dev/full"), trace=trace, monotonic=lambda: 0.0)
    with caplog.at_level(logging.WARNING):
        for boot in range(3):
            trace.record("machine.start", boot=boot)  # must not raise
    assert log.dropped == 3
    assert sum("dropping events" in r.message for r in caplog.records) == 1  # said once
    log.close()  # its failing flush is logged, not raised: the machine still stops cleanly


def test_an_unwritable_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--events: cannot write .*missing/ev\.jsonl"):
        EventLog(
            tmp_path / "missing" / "ev.jsonl",
            trace=machine_trace(lambda: T0_NS),
            monotonic=lambda: 0.0,
        )


def test_the_full_trace_keeps_every_event_and_field(tmp_path: Path) -> None:
    trace = machine_trace(lambda: T0_NS)
    full = EventLog(
        tmp_path / "trace.jsonl", trace=trace, full=True, monotonic=lambda: 0.0, option="--trace"
    )
    trace.record("reading.captured", stream="s", boot=3, seq=0, digest="d")
    trace.record("file.completed", path="/c/a.capture", ids=[["s", 3, 0]])
    full.close()
    lines = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["reading.captured", "file.completed"]
    assert lines[1]["ids"] == [["s", 3, 0]]


def test_each_line_carries_the_monotonic_clock_beside_the_wall_clock(tmp_path: Path) -> None:
    trace = machine_trace(lambda: T0_NS)
    log = EventLog(tmp_path / "ev.jsonl", trace=trace, monotonic=lambda: 812.25)
    trace.record("machine.start", boot=3)
    log.close()
    (line,) = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert line["mono"] == 812.25


def write_log(path: Path, *events: tuple[float, float | None, str]) -> Path:
    """Lines (wall time, monotonic time or None, kind), in the order written."""
    lines = [
        {"time": iso_time(wall), "kind": kind} | ({} if mono is None else {"mono": mono})
        for wall, mono, kind in events
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_wall_clock_set_mid_run_leaves_the_events_in_order_and_their_spacing_true(
    tmp_path: Path,
) -> None:
    """A Pi without a real-time clock sets its clock at boot (an RTC read as 1970, NTP a
    minute later): events written meanwhile carry wall times hours off. Read back by time,
    readings came before their own capture and the judge reported anomalies that were not
    there. Each run of the process is put on its monotonic clock, anchored at its last event
    (the clock is set right, not wrong). The log also says where the sets were, which the
    judge of the stale-data warning needs; a slewed clock or a reboot is no set."""
    t0 = T0_NS / 1e9
    path = write_log(
        tmp_path / "trace.jsonl",
        (t0, 100.0, "machine.start"),
        (t0 + 1.0, 101.0, "reading.captured"),
        (86_400.0, 101.5, "reading.captured"),  # the RTC unset for a moment: 1970
        (t0 + 2.0, 102.0, "file.completed"),
        (t0 + 3602.5, 102.5, "upload.attempt"),  # NTP steps an hour forward
        (t0 + 3603.2, 103.0, "machine.stop"),  # (NTP slews the clock 0.2 s)
        (t0 + 3700.0, 7.0, "machine.start"),  # a reboot: the monotonic clock starts again
        (t0 + 3701.0, 8.0, "reading.captured"),
    )
    log = read_event_log(path)
    events = log.events
    assert [e.kind for e in events] == [
        "machine.start", "reading.captured", "reading.captured", "file.completed",
        "upload.attempt", "machine.stop", "machine.start", "reading.captured",
    ]  # fmt: skip
    end_of_first = t0 + 3603.2
    assert [round(e.time - end_of_first, 6) for e in events[:6]] == [
        -3.0, -2.0, -1.5, -1.0, -0.5, 0.0
    ]  # fmt: skip
    assert [e.time - t0 for e in events[6:]] == [3700.0, 3701.0]
    assert all("mono" not in e.fields for e in events)
    assert load_events(path) == events
    times = [e.time for e in events]
    assert log.clock_sets == [
        ClockSet(times[2], pytest.approx(86_400.0 - 101.5 - (t0 - 100.0), abs=1e-5), 86_400.0),
        ClockSet(times[3], pytest.approx(t0 - 100.0 - (86_400.0 - 101.5), abs=1e-5), t0 + 2.0),
        ClockSet(times[4], pytest.approx(3600.0, abs=1e-5), pytest.approx(t0 + 3602.5)),
    ]


def test_a_log_without_monotonic_times_is_read_in_the_order_written(tmp_path: Path) -> None:
    t0 = T0_NS / 1e9
    path = write_log(
        tmp_path / "ev.jsonl",
        (t0 + 5.0, None, "machine.start"),
        (t0 + 1.0, None, "upload.attempt"),
    )
    assert [(e.time - t0, e.kind) for e in load_events(path)] == [
        (5.0, "machine.start"),
        (1.0, "upload.attempt"),
    ]


def test_a_run_whose_clock_never_left_1970_is_put_beside_its_neighbours(tmp_path: Path) -> None:
    """A Pi that started its machine before NTP set the clock, and stopped before it did,
    shows no set in the log; its times before 2020 say the clock was wrong from the start,
    and say nothing of when it ran: it goes right before the next run (leading the log) or
    right after the one before, not 56 years from them."""
    t0 = T0_NS / 1e9
    path = write_log(
        tmp_path / "trace.jsonl",
        (86_400.0, 3.0, "machine.start"),
        (86_410.0, 13.0, "machine.stop"),
        (t0, 3.0, "machine.start"),  # the next boot, after NTP
        (t0 + 1.0, 4.0, "machine.stop"),
        (5.0, 2.0, "machine.start"),  # a boot that never reached NTP
        (7.5, 4.5, "machine.stop"),
    )
    log = read_event_log(path)
    assert [e.time - t0 for e in log.events] == [-10.0, 0.0, 0.0, 1.0, 1.0, 3.5]
    assert log.clock_sets == [
        ClockSet(t0 - 10.0, None, 86_400.0),
        ClockSet(t0 + 1.0, None, 5.0),
    ]


_LINE = st.tuples(
    st.floats(0.0, 100.0),  # monotonic seconds since the line before
    st.floats(-0.4, 0.4),  # the clocks read apart, and slewed
    st.one_of(st.just(0.0), st.floats(2.0, 1e7), st.floats(-1e7, -2.0)),  # a set before it
)


@given(runs=st.lists(st.lists(_LINE, max_size=6), min_size=1, max_size=4))
def test_every_set_within_a_run_is_found_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory,
    runs: list[list[tuple[float, float, float]]],
) -> None:
    path = tmp_path_factory.mktemp("log") / "trace.jsonl"
    lines: list[tuple[float, float | None, str]] = []
    sets: list[tuple[int, float]] = []  # (line, shift)
    for number, run in enumerate(runs):
        mono, offset = 5.0, T0_NS / 1e9 + 86_400.0 * number
        lines.append((offset + mono, mono, "machine.start"))
        for gap, jitter, shift in run:
            mono += gap
            offset += shift
            if shift:
                sets.append((len(lines), shift))
            lines.append((offset + mono + jitter, mono, "upload.attempt"))
    log = read_event_log(write_log(path, *lines))
    assert [c.at for c in log.clock_sets] == [log.events[i].time for i, _ in sets]
    for found, (_, shift) in zip(log.clock_sets, sets, strict=True):
        assert found.by_s == pytest.approx(shift, abs=0.81)  # the two lines' jitter
