"""Drift-free capture deadlines, as a pure state machine.

Tick ``k`` of a collector is due at ``origin + k * period``. The first capture happens one
period after the collector starts (tick 1), as rdk's ticker does; nothing is captured at start.
Deadlines never drift: a slow capture does not push later ticks back. When a capture overruns
so that whole ticks have passed, those ticks are *skipped* and counted (rdk's Go ticker drops them
silently; its sub-2 ms timer mode fires them back to back). dmsim never bursts to catch up:
a burst of stale readings is worse than a counted gap.

A rate change keeps the phase of the old schedule: the next deadline is the old schedule's next
deadline, after which the new period applies. That way a reconfigure never produces an early
extra capture or a gap longer than the longer of the two periods.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["Schedule", "interval_for_hz"]

# rdk treats |hz| < 1e-6 as disabled (rdk#5977: 1e-7 Hz busy-looped).
_MIN_HZ = 1e-6


def interval_for_hz(hz: float) -> float | None:
    """Seconds between captures, or ``None`` when the frequency disables capture."""
    if not math.isfinite(hz) or hz < _MIN_HZ:
        return None
    return 1.0 / hz


class Schedule(NamedTuple):  # a NamedTuple, not a dataclass: built on every tick (hot path)
    """``origin + tick * period`` is the next deadline to serve."""

    origin: float
    period: float
    tick: int = 1

    @classmethod
    def starting_at(cls, now: float, period: float) -> Schedule:
        return cls(origin=now, period=period, tick=1)

    @property
    def deadline(self) -> float:
        return self.origin + self.tick * self.period

    def after_serving(self, now: float) -> tuple[Schedule, int]:
        """The schedule after serving the current tick at wall time ``now``, and how many
        ticks were skipped because ``now`` is already past their deadlines."""
        next_tick = self.tick + 1
        if now <= self.origin + next_tick * self.period:  # on time: the common case
            return Schedule(self.origin, self.period, next_tick), 0
        # Ticks whose deadline is already strictly in the past cannot be served on time.
        due = math.floor((now - self.origin) / self.period + 1e-9)
        skipped = max(0, due - next_tick + 1)
        return Schedule(self.origin, self.period, next_tick + skipped), skipped

    def skip_current(self, now: float) -> tuple[Schedule, int]:
        """Skip the current tick without serving it (e.g. the queue is full); same accounting
        as :meth:`after_serving` plus one for the current tick."""
        schedule, skipped = self.after_serving(now)
        return schedule, skipped + 1

    def with_period(self, period: float) -> Schedule:
        """Change rate keeping phase: the pending deadline stays, later ones use ``period``."""
        deadline = self.deadline
        return Schedule(origin=deadline - period, period=period, tick=1)
