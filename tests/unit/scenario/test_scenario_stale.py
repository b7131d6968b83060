"""The stale-data warning judged: truthful (never older than the data waiting) and in time
(stale data never goes unwarned for longer than the warning's period and a look period)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.unit.scenario.scenario_kit import TraceBuilder

from dmsim.scenario._ledger import build_ledger
from dmsim.scenario._stale import check_stale_warnings
from dmsim.sync import STALE_WARN_EVERY_S, backlog_look_every_s

THRESHOLD_S = 180.0
INTERVAL_S = 6.0
LOOK_S = backlog_look_every_s(INTERVAL_S)
LAG_S = 2 * LOOK_S + 1.0 + 10.0  # the look period of a 6 s interval, 1 s window


@dataclass
class Run:
    """A run's facts, written as a time-ordered trace: readings each in its own file, from
    capture until sync deleted the file; warnings; other events."""

    readings: list[tuple[float, float | None]] = field(default_factory=list)  # (captured, gone)
    warnings: list[tuple[float, float]] = field(default_factory=list)  # (t, age)
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    promise: dict[str, Any] = field(
        default_factory=lambda: {
            "durability_window_s": 1.0,
            "offline_wait_s": 60.0,
            "sync_disabled": False,
            "sync_interval_s": INTERVAL_S,
            "stale_warning_s": THRESHOLD_S,
        }
    )

    def judge(self, end: float) -> tuple[bool, str] | None:
        timeline: list[tuple[float, int, str, dict[str, Any]]] = [
            (0.0, 0, "world.promise", self.promise)
        ]
        for seq, (captured, gone) in enumerate(self.readings):
            path = f"/cap/{seq}.capture"
            timeline.append(
                (captured, 1, "reading.captured", {"stream": "s", "boot": 0, "seq": seq})
            )
            timeline.append((captured, 2, "file.completed", {"path": path, "ids": [["s", 0, seq]]}))
            if gone is not None:
                timeline.append((gone, 3, "sync.deleted", {"file": path}))
        for t, age in self.warnings:
            timeline.append((t, 4, "sync.stale", {"oldest_age_s": age, "threshold_s": 180.0}))
        timeline += [(t, 5, kind, fields) for t, kind, fields in self.events]
        tb = TraceBuilder()
        for t, _, kind, fields in sorted(timeline, key=lambda e: (e[0], e[1])):
            tb.at(t).event(kind, **fields)
        ledger = build_ledger(tb.trace)
        assert not ledger.anomalies
        result = check_stale_warnings(ledger, end)
        return None if result is None else (result.ok, result.detail)


def test_a_warning_as_old_as_the_oldest_data_waiting_is_true() -> None:
    run = Run(readings=[(10.0, 600.0), (50.0, 400.0)], warnings=[(200.0, 190.0)])
    assert run.judge(end=1000.0) == (
        True,
        "1 warning(s), each within the age of the oldest data waiting; none missed",
    )


def test_a_warning_older_than_any_data_waiting_is_false() -> None:
    run = Run(readings=[(10.0, 900.0)], warnings=[(200.0, 250.0)])
    ok, detail = run.judge(end=1000.0) or (True, "")
    assert not ok
    assert detail == (
        "the warning at 200.000s said 250.000s old; the oldest data waiting, s@0#0, was "
        "190.000s old"
    )


def test_a_warning_about_data_synced_longer_ago_than_a_look_period_is_false() -> None:
    synced = Run(readings=[(10.0, 100.0)], warnings=[(100.0 + LAG_S + 5, 195.0)])
    ok, detail = synced.judge(end=1000.0) or (True, "")
    assert not ok
    assert detail.endswith("said 195.000s old, but no data was waiting")
    # within a look period of the upload, the engine may not have walked since
    just_synced = Run(readings=[(10.0, 100.0)], warnings=[(100.0 + LAG_S - 5, 195.0)])
    assert (just_synced.judge(end=1000.0) or (False,))[0]


def test_files_other_programs_wrote_and_closed_sequences_wait_like_readings() -> None:
    """Dated from the file's creation (``writing_s`` before it was complete) or the
    sequence's close, until sync deleted them."""
    written = [
        (100.0, "file.written", {"path": "/r/a.bin", "size": 5, "digest": "d", "writing_s": 30}),
        (
            50.0,
            "sequence.closed",
            {"id": "s1", "path": "/cap/sequences/s1.seq", "fingerprint": "f"},
        ),
        (350.0, "sync.deleted", {"file": "/r/a.bin"}),
        (350.0, "sync.deleted", {"file": "/cap/sequences/s1.seq"}),
    ]
    since_created = Run(warnings=[(300.0, 250.0)], events=written)
    assert (since_created.judge(end=400.0) or (False,))[0]
    older = Run(warnings=[(300.0, 251.5)], events=written)
    ok, detail = older.judge(end=400.0) or (True, "")
    assert not ok
    assert detail.endswith("the oldest data waiting, /cap/sequences/s1.seq, was 250.000s old")
    only_the_file = Run(warnings=[(300.0, 231.5)], events=written[:1])
    assert not (only_the_file.judge(end=400.0) or (True,))[0]


def test_data_preloaded_before_the_run_may_be_any_age() -> None:
    run = Run(warnings=[(60.0, 3 * 86_400.0)])
    run.events = [
        (0.0, "reading.captured", {"stream": "old", "boot": 0, "seq": 0}),
        (0.0, "file.preloaded", {"path": "/cap/old.capture", "ids": [["old", 0, 0]]}),
    ]
    assert (run.judge(end=1000.0) or (False,))[0]


def test_after_a_clock_fault_a_claim_back_to_the_process_start_is_true_enough() -> None:
    """A file stamped by a clock no look saw is dated at the engine's start (ClockSteps)."""
    faults = [
        (150.0, "process.crash", {}),
        (160.0, "process.restart", {"boot": 1}),
        (200.0, "fault.start", {"fault_id": "f1", "fault_kind": "rtc_unset"}),
        (205.0, "fault.end", {"fault_id": "f1", "fault_kind": "rtc_unset"}),
    ]
    back_to_start = Run(readings=[(170.0, None)], warnings=[(400.0, 240.0)], events=faults)
    assert (back_to_start.judge(end=700.0) or (False,))[0]
    before_start = Run(readings=[(170.0, None)], warnings=[(400.0, 250.0)], events=faults)
    assert not (before_start.judge(end=700.0) or (True,))[0]


def test_a_later_boot_is_not_owed_a_warning_for_files_stamped_across_a_clock_fault() -> None:
    """A file an earlier boot stamped while the RTC was unset (1970) is dated at the new
    process's start: it cannot know how old the file is."""
    crash = [(100.0, "process.crash", {}), (110.0, "process.restart", {"boot": 1})]
    unset = [
        (5.0, "fault.start", {"fault_id": "f1", "fault_kind": "rtc_unset"}),
        (20.0, "fault.end", {"fault_id": "f1", "fault_kind": "rtc_unset"}),
    ]
    assert (Run(readings=[(10.0, None)], events=crash + unset).judge(end=3000.0) or (0,))[0]
    assert not (Run(readings=[(10.0, None)], events=crash).judge(end=3000.0) or (1,))[0]
    # nor can its warning about them be held to their age: any age is let pass, and counted
    misdated = Run(readings=[(10.0, None)], warnings=[(400.0, 86_400.0)], events=crash + unset)
    assert misdated.judge(end=3000.0) == (
        True,
        "1 warning(s), each within the age of the oldest data waiting (1 not judged: files of "
        "an earlier boot, across a clock fault); none missed",
    )


def test_stale_data_unwarned_past_a_look_period_is_missed() -> None:
    run = Run(readings=[(10.0, 2000.0)], warnings=[(200.0, 190.0)])
    ok, detail = run.judge(end=3000.0) or (True, "")
    assert not ok
    moment = 200.0 + STALE_WARN_EVERY_S + LAG_S
    assert detail.endswith(
        f"no warning came between 200.000s and {moment:.3f}s, while s@0#0 had waited since "
        f"{moment - THRESHOLD_S - LAG_S:.3f}s or earlier (threshold 180s, look period {LAG_S:g}s)"
    )
    every_five_minutes = [(t, t - 10.0) for t in range(200, 2000, 300)]
    assert (Run(readings=run.readings, warnings=every_five_minutes).judge(end=3000.0) or (0,))[0]


def test_slow_walks_that_space_the_looks_further_earn_the_longer_look_period() -> None:
    """A Pi walking a large backlog looks at it less often (at most a tenth of its time
    walking) and says so (``sync.look_spacing``): its warnings may come that much later."""
    late = [(200.0, 190.0), (200.0 + STALE_WARN_EVERY_S + 2 * 200.0, 790.0)]
    run = Run(readings=[(10.0, 1000.0)], warnings=late)
    ok, detail = run.judge(end=1100.0) or (True, "")
    assert not ok
    assert "no warning came between 200.000s and " in detail
    run.events.append((100.0, "sync.look_spacing", {"every_s": 200.0, "walk_s": 20.0}))
    assert run.judge(end=1100.0) == (
        True,
        "2 warning(s), each within the age of the oldest data waiting; none missed",
    )


def test_a_reading_stored_before_its_file_was_recorded_complete_is_not_owed_a_warning() -> None:
    """A directory fsync refused at the close: sync found the renamed file, sent and deleted
    it, and the writer's retry recorded it complete afterwards (fuzz seed 4791)."""
    path = "/cap/0.capture"
    run = Run()
    run.events = [
        (10.0, "reading.captured", {"stream": "s", "boot": 0, "seq": 0}),
        (16.0, "cloud.stored", {"stream": "s", "boot": 0, "seq": 0, "key": "k", "digest": ""}),
        (16.0, "sync.deleted", {"file": path}),
        (16.5, "file.completed", {"path": path, "ids": [["s", 0, 0]]}),
    ]
    assert run.judge(end=3000.0) == (
        True,
        "0 warning(s), each within the age of the oldest data waiting; none missed",
    )


def test_the_reading_named_as_unwarned_is_one_still_waiting_then() -> None:
    run = Run(readings=[(10.0, 600.0), (250.0, 3000.0)], warnings=[(200.0, 190.0)])
    ok, detail = run.judge(end=3000.0) or (True, "")
    assert not ok
    assert "while s@0#1 had waited" in detail  # s@0#0 was synced at 600 s


def test_no_warning_is_owed_while_the_process_is_down_or_sync_is_off() -> None:
    down = Run(
        readings=[(10.0, None)],
        events=[(100.0, "process.crash", {}), (5000.0, "process.restart", {"boot": 1})],
    )
    assert (down.judge(end=5000.0 + LAG_S) or (False,))[0]
    # back up: a look period later a warning is owed
    assert not (down.judge(end=5000.0 + LAG_S + 1) or (True,))[0]
    off = Run(readings=[(10.0, None)])
    off.promise = {**off.promise, "sync_disabled": True}
    assert off.judge(end=5000.0) == (
        True,
        "0 warning(s), each within the age of the oldest data waiting; not judged for "
        "silence: sync or the warning off",
    )


def test_a_trace_that_does_not_say_the_threshold_is_not_judged() -> None:
    run = Run(readings=[(10.0, None)])
    run.promise = {"durability_window_s": 1.0, "offline_wait_s": 60.0}
    assert run.judge(end=5000.0) is None


# A model engine: looks every minute at what truly waits and warns by the rule. The judge must
# pass it, and must catch it when it lies or stays silent.

spans = st.lists(
    st.tuples(
        st.floats(0, 3000, allow_nan=False).map(round),
        st.one_of(st.none(), st.floats(1, 3000, allow_nan=False).map(round)),
    ),
    max_size=12,
).map(lambda items: [(a, None if d is None else a + d) for a, d in items])


def model_warnings(
    readings: list[tuple[float, float | None]], end: float
) -> list[tuple[float, float]]:
    warned: list[tuple[float, float]] = []
    look = LOOK_S
    while look < end:
        waiting = [a for a, gone in readings if a <= look and (gone is None or gone > look)]
        age = look - min(waiting) if waiting else None
        quiet = not warned or look - warned[-1][0] >= STALE_WARN_EVERY_S
        if age is not None and age > THRESHOLD_S and quiet:
            warned.append((look, age))
        look += LOOK_S
    return warned


@given(spans)
def test_an_engine_that_looks_every_minute_and_warns_by_the_rule_passes(
    readings: list[tuple[float, float | None]],
) -> None:
    end = 7000.0
    run = Run(readings=readings, warnings=model_warnings(readings, end))
    assert (run.judge(end) or (False, ""))[0], run.judge(end)


@given(spans, st.data())
def test_a_warning_claiming_older_data_than_ever_waited_is_caught(
    readings: list[tuple[float, float | None]], data: st.DataObject
) -> None:
    end = 7000.0
    warnings = model_warnings(readings, end)
    if not warnings:
        warnings = [(3500.0, 1.0)]
    index = data.draw(st.integers(0, len(warnings) - 1))
    t, _ = warnings[index]
    warnings[index] = (t, t + 2.0)  # older than the run itself
    assert not (Run(readings=readings, warnings=warnings).judge(end) or (True,))[0]


@given(spans)
def test_silence_over_stale_data_is_caught(readings: list[tuple[float, float | None]]) -> None:
    end = 7000.0
    stale = any((end if gone is None else gone) - a > THRESHOLD_S + LAG_S for a, gone in readings)
    silent = Run(readings=readings)
    assert (silent.judge(end) or (True,))[0] is not stale
