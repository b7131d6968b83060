"""The machine's event log (`dmsim machine --events`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from dmsim.errors import ConfigError
from dmsim.service._events import EventLog, machine_trace

T0_NS = 1_781_715_872_123_456_000


def test_it_keeps_the_rare_events_without_reading_ids(tmp_path: Path) -> None:
    trace = machine_trace(lambda: T0_NS)
    log = EventLog(tmp_path / "ev.jsonl", trace=trace)
    trace.record("machine.start", boot=3)
    trace.record("reading.captured", stream="s", boot=3, seq=0, digest="d")
    trace.record("recovery.torn", path="/c/a.prog", dropped_bytes=9, ids_kept=[["s", 3, 0]])
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert lines == [
        {"time": "2026-06-17T17:04:32.123456Z", "kind": "machine.start", "boot": 3},
        {"time": "2026-06-17T17:04:32.123456Z", "kind": "recovery.torn", "path": "/c/a.prog",
         "dropped_bytes": 9},
    ]  # fmt: skip


def test_a_full_disk_drops_events_and_never_stops_the_core(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace = machine_trace(lambda: T0_NS)
    log = EventLog(Path("/dev/full"), trace=trace)
    with caplog.at_level(logging.WARNING):
        for boot in range(3):
            trace.record("machine.start", boot=boot)  # must not raise
    assert log.dropped == 3
    assert sum("dropping events" in r.message for r in caplog.records) == 1  # said once
    log.close()  # its failing flush is logged, not raised: the machine still stops cleanly


def test_an_unwritable_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--events: cannot write .*missing/ev\.jsonl"):
        EventLog(tmp_path / "missing" / "ev.jsonl", trace=machine_trace(lambda: T0_NS))


def test_the_full_trace_keeps_every_event_and_field(tmp_path: Path) -> None:
    trace = machine_trace(lambda: T0_NS)
    full = EventLog(tmp_path / "trace.jsonl", trace=trace, full=True, option="--trace")
    trace.record("reading.captured", stream="s", boot=3, seq=0, digest="d")
    trace.record("file.completed", path="/c/a.capture", ids=[["s", 3, 0]])
    full.close()
    lines = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["reading.captured", "file.completed"]
    assert lines[1]["ids"] == [["s", 3, 0]]
