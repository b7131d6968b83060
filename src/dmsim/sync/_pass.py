"""Bookkeeping of one sync pass: what it dispatched, how each file ended, when it is done."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dmsim.runtime import Runtime

from ._clock_steps import ClockSteps
from ._select import Candidate
from ._stats import SyncReport

__all__ = ["Backlog", "Job", "Pass", "PassKind"]


class PassKind(StrEnum):
    """Why a pass runs, which decides whether it closes open capture files first (only the
    interval's ticks and manual passes do) and whether it walks the roots."""

    SCHEDULED = "scheduled"  # the interval's tick: close capture files, walk
    LATE = "late"  # a tick missed while offline, run once back online: close, walk
    RESUME = "resume"  # walks on after a pass an offline error cut short; closes nothing
    RETRY = "retry"  # failed files whose wait is over; no walk, closes nothing
    MANUAL = "manual"  # Sync(): close, walk, whatever the schedule, pause and backoff

    @property
    def closes_capture_files(self) -> bool:
        return self in (PassKind.SCHEDULED, PassKind.LATE, PassKind.MANUAL)


class Backlog:
    """The unsynced files a walk found: how many, their bytes, and since when the oldest
    holds data, on the monotonic clock (``dating`` dates a file's times)."""

    def __init__(self, dating: ClockSteps) -> None:
        self._dating = dating
        self.files = 0
        self.bytes = 0
        self.oldest_at: float | None = None

    def add(self, candidate: Candidate) -> None:
        self.files += 1
        self.bytes += candidate.size
        written_at = self._dating.written_at(candidate.mtime_ns)
        # its first reading is as old as the file: when begun, on this clock if it says so
        created_at = self._dating.created_at(candidate.creation)
        if created_at is None and candidate.created_ns is not None:
            created_at = self._dating.written_at(candidate.created_ns)
        if created_at is not None:
            written_at = min(written_at, created_at)
        if self.oldest_at is None or written_at < self.oldest_at:
            self.oldest_at = written_at

    def joined(self, earlier: Backlog) -> Backlog:
        """This part of a walk, with what an earlier walk knew of the rest: the older oldest,
        the larger counts."""
        if self.oldest_at is None:
            return earlier
        both = Backlog(self._dating)
        both.files, both.bytes = max(self.files, earlier.files), max(self.bytes, earlier.bytes)
        both.oldest_at = self.oldest_at
        if earlier.oldest_at is not None:
            both.oldest_at = min(self.oldest_at, earlier.oldest_at)
        return both


class Pass:
    """One walk and the uploads it dispatched. Done when the walk ended and every dispatched
    file has finished (uploaded, failed, deferred...)."""

    def __init__(self, rt: Runtime, kind: PassKind, *, dating: ClockSteps) -> None:
        self.kind = kind
        self.dispatched = 0
        self.finished = 0
        self.uploaded = 0
        self.failed = 0
        self.terminal = 0
        self.deferred = 0
        self.gone = 0
        self.skipped_in_use = 0
        self.bytes_uploaded = 0
        self.waiting = 0  # found, not ready yet
        self.hold_left_s = 0.0  # how long the quiet clock's hold kept one back
        self.complete = False  # the walk reached its end
        self.offline_hit = False  # an upload of this pass found the link down
        self.unsynced = Backlog(dating)  # files found and still on disk after it
        self._walk_done = False
        self._done = rt.event()

    @property
    def manual(self) -> bool:
        """Sync(): runs whatever the pause and per-file backoff say."""
        return self.kind is PassKind.MANUAL

    def note_unsynced(self, candidate: Candidate) -> None:
        """A file this pass found is still on disk, unsynced, after it."""
        self.unsynced.add(candidate)

    def end_walk(self) -> None:
        self._walk_done = True
        self._check()

    def finish_one(self) -> None:
        self.finished += 1
        self._check()

    def _check(self) -> None:
        if self._walk_done and self.finished == self.dispatched:
            self._done.set()

    async def wait(self) -> None:
        await self._done.wait()

    def report(self) -> SyncReport:
        return SyncReport(
            dispatched=self.dispatched,
            uploaded=self.uploaded,
            failed=self.failed,
            terminal=self.terminal,
            deferred=self.deferred,
            gone=self.gone,
            skipped_in_use=self.skipped_in_use,
            bytes_uploaded=self.bytes_uploaded,
            complete=self.complete,
            waiting=self.waiting,
            hold_left_s=round(self.hold_left_s, 3),
        )

    def trace_fields(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "complete": self.complete,
            "dispatched": self.dispatched,
            "uploaded": self.uploaded,
            "failed": self.failed,
            "terminal": self.terminal,
            "deferred": self.deferred,
        }


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed file handed to a worker."""

    candidate: Candidate
    owner: Pass
