"""Dating unsynced files across wall-clock sets (the stale-data warning's age)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.sync.sync_fakes import EPOCH_NS, SteppingClock

from dmsim.storage._creation import CreationStamp
from dmsim.sync._clock_steps import ClockSteps

ERA_NS = 10**8 * 10**9  # eras this far apart never show the same times in one test
# what happens while one clock holds: time passes, a file is written, the engine looks
MOVES = st.lists(st.one_of(st.floats(0.0, 600.0), st.just("write"), st.just("look")), max_size=8)


def live(
    clock: SteppingClock, periods: list[tuple[int, list[float | str]]], *, look_last: bool = True
) -> tuple[ClockSteps, list[tuple[float, int]]]:
    """Run ``periods`` (the wall clock set to a time, then moves), looking at least once
    under each clock, as the engine does at every pass, but the last unless ``look_last``
    (a pass dates the files it found long after its look); the files written, (when,
    mtime)."""
    steps = ClockSteps(clock)
    files: list[tuple[float, int]] = []
    for number, (wall_ns, moves) in enumerate(periods, 1):
        clock.set_wall(wall_ns)
        clock.mono += 0.5
        if look_last or number < len(periods):
            steps.look()
        for move in moves:
            if move == "write":
                files.append((clock.mono, clock.wall_ns()))
            elif move == "look":
                steps.look()
            else:
                assert isinstance(move, float)
                clock.mono += move
    if look_last:
        steps.look()
    return steps, files


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 40), unique=True, min_size=1, max_size=12).flatmap(
        lambda eras: st.lists(MOVES, min_size=len(eras), max_size=len(eras)).map(
            lambda moves: list(zip(eras, moves, strict=True))
        )
    )
)
def test_files_written_under_clocks_that_show_distinct_times_are_dated_exactly(
    eras_and_moves: list[tuple[int, list[float | str]]],
) -> None:
    """With one set between two looks, and clocks that never show the same time (1970, the
    last shutdown, the right time...), every file is dated when it was written."""
    clock = SteppingClock()
    periods = [(era * ERA_NS, moves) for era, moves in eras_and_moves]
    steps, files = live(clock, periods)
    for written_at, mtime_ns in files:
        assert steps.written_at(mtime_ns) == pytest.approx(written_at, abs=1e-6)


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, EPOCH_NS, EPOCH_NS - 2 * 86_400 * 10**9])
            | st.integers(0, 2 * EPOCH_NS),
            MOVES,
        ),
        max_size=20,
    ),
    st.booleans(),
)
def test_a_file_this_process_wrote_is_never_dated_before_its_start_or_after_now(
    periods: list[tuple[int, list[float | str]]], look_last: bool
) -> None:
    """Clocks may show the same times (the RTC unset twice reads 1970 twice): a file may then
    be dated under the later clock, but never older than the engine, however far the sets
    moved the clock (rdk: 56 years), even when a set came after the last look."""
    clock = SteppingClock()
    started = clock.mono
    steps, files = live(clock, periods, look_last=look_last)
    for _written_at, mtime_ns in files:
        assert started - 1e-6 <= steps.written_at(mtime_ns) <= clock.mono + 1e-6


def test_a_file_older_than_the_engine_keeps_its_time() -> None:
    clock = SteppingClock()
    backlog_ns = clock.wall_ns() - 86_400 * 10**9
    steps = ClockSteps(clock)
    clock.mono += 60
    clock.set_wall(clock.wall_ns() + 3600 * 10**9)  # NTP: an hour behind
    steps.look()
    age_s = (clock.wall_ns() - backlog_ns) / 1e9  # a day and an hour, on today's clock
    assert steps.written_at(backlog_ns) == pytest.approx(clock.mono - age_s)


def test_a_1970_time_from_between_two_looks_is_dated_at_the_engines_creation() -> None:
    """The RTC read 1970 only between two looks (or an earlier boot wrote the file without
    a clock): no clock this process saw showed that time, and no set clock shows one."""
    clock = SteppingClock()
    steps = ClockSteps(clock)
    clock.mono += 10
    clock.set_wall(5 * 10**9)
    mtime_ns = clock.wall_ns()
    clock.set_wall(EPOCH_NS + round(clock.mono * 1e9))
    clock.mono += 10
    steps.look()
    assert steps.written_at(mtime_ns) == 100.0
    assert steps.written_at(EPOCH_NS + 200 * 10**9) == 200.0  # the current clock: as it is


def test_a_file_the_clock_of_the_last_look_dates_is_taken_as_it_is_even_if_written_later() -> None:
    clock = SteppingClock()
    steps = ClockSteps(clock)
    clock.mono += 30  # the pass walks on after its look; a file is written meanwhile
    assert steps.written_at(clock.wall_ns()) == pytest.approx(clock.mono)


def test_a_file_written_after_a_set_the_last_look_missed_is_dated_when_it_was_written() -> None:
    """Fuzz seed 254212579: NTP stepped the clock back 268.6 s while a pass was walking, a
    camera file was written under the new clock, and the pass dated it with what its look
    had seen, before the set: a time no clock had shown, taken as it was, 268.6 s before it
    was written (before the engine started). The warning said 269.5 s old, of data 132 s
    old."""
    clock = SteppingClock()
    steps = ClockSteps(clock)
    clock.mono += 143.2
    steps.look()
    clock.step(-268.625)
    clock.mono += 0.4
    written = clock.mono
    assert steps.written_at(clock.wall_ns()) == pytest.approx(written)


def test_times_two_clocks_show_after_a_step_back_are_doubted_with_names_pushed_past_them() -> None:
    """Fuzz --machines seed 29: after a step back, the old clock's last times come round
    again, and a collector names its next files just past its previous one (names only
    increase), so a name there says little of when its data was captured."""
    clock = SteppingClock()
    steps = ClockSteps(clock)
    assert not steps.repeated_times()
    clock.mono += 20
    clock.step(3600.0)  # forward: no clock shows a time twice
    clock.mono += 1
    steps.look()
    assert not steps.repeated_times()
    clock.mono += 20
    old_clock_last_ns = clock.wall_ns()
    clock.step(-87.0)
    clock.mono += 1
    steps.look()
    repeated = steps.repeated_times()
    assert old_clock_last_ns in repeated
    assert old_clock_last_ns + 1_000 in repeated  # a name pushed past the old clock
    assert old_clock_last_ns - 85 * 10**9 in repeated
    assert old_clock_last_ns - 88 * 10**9 not in repeated  # only the old clock showed it
    assert old_clock_last_ns + 5 * 10**9 not in repeated  # only the current clock will


def test_a_creation_stamp_dates_a_file_only_on_this_processs_clock() -> None:
    steps = ClockSteps(SteppingClock())
    assert steps.created_at(CreationStamp("stepping", 42_500_000_000)) == 42.5
    assert steps.created_at(CreationStamp("process of an earlier start", 42 * 10**9)) is None
    assert steps.created_at(None) is None
