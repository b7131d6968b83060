"""When unsynced data was written, on the monotonic clock, across wall-clock sets (the age
the stale-data warning reports).

A file's mtime is the wall-clock time it was last written. After the clock is set (NTP
stepping a Pi that booted at 1970 without a real-time clock, or at the time fake-hwclock
saved at its last shutdown), files written before the set carry times of the old clock, and
so do the names of capture files created then, by which rdk (``disk_summary_tracker.go``)
ages them: it warns that the oldest unsynced data is 56 years, or the days the machine was
off, old.

:class:`ClockSteps` looks at the clock at each stale check and each pass, and again when
it dates a time the clock of its last look has not shown after a set since (a pass dates
the files it found long after its look). For each set it saw
(:meth:`Clocks.wall_clock_sets`) it keeps the times the old clock showed (from the set before,
or its creation, to its last possible moment) and how far the set moved the clock; an mtime
among those times moved the same way, and by each later set, is the time the file was written
on today's clock. An mtime among the current clock's times is taken as it is, the latest
clock first, since clocks of two periods can show the same times (the RTC unset twice).
The account is exact when one set falls between two looks (an RTC unset for seconds, between
two passes, is not). What no clock of this process was seen to show is taken as it is, unless
it is before 2020, which no clock that was set shows (the RTC unset and set right between two
looks, or a file of an earlier boot without a clock): then the file is dated at this clock's
creation, as old as the engine at most. A step back leaves the files of the clock that was
ahead in the future: young, never stale, as a future mtime counts for the quiet period.

A step back also makes the name of a capture file a poor date: the clock shows the old
clock's last times again, so a file named at one of them before the step is dated by today's
clock once it shows the name, a step's size after its data; and a collector names its next
file just past its previous one (names only increase, ``dmsim.storage._naming``), so a file
begun after the step is named by the old clock, dated after its data too.
:meth:`ClockSteps.repeated_times` says which names to doubt; the walk reads those files'
creation stamps (:meth:`ClockSteps.created_at`), the monotonic time this process began
them, instead.

Memory: one entry for each of the last 64 sets.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dmsim.runtime import Clocks
from dmsim.storage._creation import CreationStamp

__all__ = ["ClockSteps", "RepeatedTimes"]

_SET_CLOCKS_SHOW_AFTER_NS = 1_577_836_800 * 10**9  # 2020-01-01T00:00:00Z
_KEEP_STEPS = 64
# how far past a clock's last time names pushed 1 µs at a time may run: a million files
_PUSHED_NAMES_NS = 10**9


@dataclass(frozen=True, slots=True)
class _Step:
    """One set: the times the clock before it showed, and how far it moved the clock."""

    first_ns: int
    last_ns: int
    by_ns: int


@dataclass(frozen=True, slots=True)
class RepeatedTimes:
    """Wall-clock times a clock before a step back showed and a later clock shows again, and
    the names a writer pushed just past them: a capture file named at one of them may hold
    data captured long before or after its name says. A snapshot: safe to read from the
    thread that walks."""

    spans: tuple[tuple[int, int], ...]

    def __contains__(self, time_ns: object) -> bool:
        return isinstance(time_ns, int) and any(
            first <= time_ns <= last for first, last in self.spans
        )

    def __bool__(self) -> bool:
        return bool(self.spans)


class ClockSteps:
    """The wall-clock sets one process saw, to date mtimes written before them."""

    def __init__(self, clocks: Clocks) -> None:
        self._clocks = clocks
        self._steps: deque[_Step] = deque(maxlen=_KEEP_STEPS)
        self._sets = clocks.wall_clock_sets()
        self._monotonic_ns, self._wall_ns = self._read()
        self._created_monotonic_ns = self._monotonic_ns
        self._clock_first_ns = self._wall_ns  # the first time the current clock was seen to show

    def _read(self) -> tuple[int, int]:
        return round(self._clocks.monotonic() * 1e9), self._clocks.wall_ns()

    def look(self) -> None:
        """Note a set since the last look (call before dating the files a pass finds)."""
        sets = self._clocks.wall_clock_sets()
        monotonic_ns, wall_ns = self._read()
        if sets != self._sets:
            since_ns = monotonic_ns - self._monotonic_ns
            by_ns = (wall_ns - monotonic_ns) - (self._wall_ns - self._monotonic_ns)
            self._steps.append(_Step(self._clock_first_ns, self._wall_ns + since_ns, by_ns))
            self._clock_first_ns = wall_ns - since_ns
            self._sets = sets
        self._monotonic_ns, self._wall_ns = monotonic_ns, wall_ns

    def repeated_times(self) -> RepeatedTimes:
        """The times of the kept steps back that two clocks show (as of the last look)."""
        return RepeatedTimes(
            tuple(
                (step.last_ns + step.by_ns, step.last_ns + _PUSHED_NAMES_NS)
                for step in self._steps
                if step.by_ns < 0
            )
        )

    def created_at(self, creation: CreationStamp | None) -> float | None:
        """When a capture file was begun, on the monotonic clock, if its creation stamp is on
        this process's clock (``None`` otherwise: an earlier process's, rdk's, unread)."""
        if creation is None or creation.clock != self._clocks.monotonic_clock_id():
            return None
        return creation.monotonic_ns / 1e9

    def written_at(self, stamped_ns: int) -> float:
        """When a wall-clock time was stamped (a file's mtime, a capture file's name), in
        seconds of the monotonic clock (before this process started when negative), as the
        sets seen so far tell. A time the clock of the last look has not shown may be one a
        set since made the clock show (a pass dates what it found long after its look, and a
        set is counted at once): such a set is looked at first."""
        shown = self._shown_by_current_clock(stamped_ns)
        # (the set count costs a syscall: asked only of a time the clock has not shown)
        if not shown and self._clocks.wall_clock_sets() != self._sets:
            self.look()
            shown = self._shown_by_current_clock(stamped_ns)
        dated_ns = stamped_ns if shown else self._on_earlier_clock(stamped_ns)
        if dated_ns is None:
            return self._created_monotonic_ns / 1e9
        return (dated_ns - self._wall_ns + self._monotonic_ns) / 1e9

    def _shown_by_current_clock(self, stamped_ns: int) -> bool:
        shown_since_ns = round(self._clocks.monotonic() * 1e9) - self._monotonic_ns
        return self._clock_first_ns <= stamped_ns <= self._wall_ns + shown_since_ns

    def _on_earlier_clock(self, stamped_ns: int) -> int | None:
        """A time the current clock did not show, on it (``None``: a time no set clock
        shows)."""
        by_ns = 0
        for step in reversed(self._steps):
            by_ns += step.by_ns
            if step.first_ns <= stamped_ns <= step.last_ns:
                return stamped_ns + by_ns
        return None if stamped_ns < _SET_CLOCKS_SHOW_AFTER_NS else stamped_ns
