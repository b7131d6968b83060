"""Counters of the sync engine, the report of one manual sync, and the stale-data rule.

Stale-data warning (rdk ``disk_summary_tracker.go``): warn when the oldest unsynced file is
older than ``max(10 × sync interval, 3 min)`` (or ``stale_data_warning_secs`` when set; 0 turns
the warning off), at most once every 5 minutes, with the files and bytes waiting. Each pass's
walk tells the backlog; while none walks (offline, paused, a long interval), a walk once a
minute does, as rdk's disk summary, counting capture files still being written too (offline
none is closed: a slow sensor's data waits in one for most of an hour). The age runs on the
monotonic clock from when the file's data began: a capture file's creation, as its name says
(as rdk), or another file's last write (rdk: its creation time, which Linux's ``stat`` does
not give). Both are wall-clock times,
which :class:`~._clock_steps.ClockSteps` dates across clock sets; rdk takes them as they
are, so after NTP sets a Pi's clock it says "56 years".
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from dmsim.config import stale_threshold_s

__all__ = [
    "LOOK_SPACING_TOLD_OVER",
    "STALE_WARN_EVERY_S",
    "SyncReport",
    "SyncStatistics",
    "backlog_look_every_s",
    "stale_threshold_s",
    "stale_warning_due",
]

STALE_WARN_EVERY_S = 300.0
_BACKLOG_LOOK_EVERY_S = 60.0  # rdk's disk summary: once a minute
_WALK_TIME_SHARE = 0.1
#: The engine tells (``sync.look_spacing``) a look spacing this many times the longest it told
#: before, or than a minute and an interval: the judge of the warning then knows how late a
#: look on a machine with slow walks may come, within this factor.
LOOK_SPACING_TOLD_OVER = 1.1


def backlog_look_every_s(sync_interval_s: float, last_walk_s: float = 0.0) -> float:
    """How long after one look at the backlog, while no pass walks, the next is due: a
    minute (rdk's disk summary), a sync interval when longer, or longer still when the last
    walk was slow, so that walking takes at most a tenth of the time (a million-file backlog
    takes about 9 s to walk on a desktop, a Pi several times that)."""
    return max(_BACKLOG_LOOK_EVERY_S, sync_interval_s, last_walk_s / _WALK_TIME_SHARE)


def stale_warning_due(
    *, oldest_age_s: float | None, threshold_s: float, last_warned_at: float | None, now: float
) -> bool:
    """Whether to warn now: unsynced data older than the threshold, not warned for 5 min."""
    if oldest_age_s is None or oldest_age_s <= threshold_s:
        return False
    return last_warned_at is None or now - last_warned_at >= STALE_WARN_EVERY_S


@dataclass(frozen=True, slots=True)
class SyncStatistics:
    """Counters since the engine was created (``statistics()``)."""

    passes: int = 0  # walks, scheduled or manual
    manual_passes: int = 0
    ticks_skipped_disabled: int = 0
    ticks_skipped_offline: int = 0  # not online, or inside the global offline pause
    ticks_skipped_selective: int = 0
    files_uploaded: int = 0
    bytes_uploaded: int = 0  # sizes of the files uploaded (and deleted), as sent
    readings_uploaded: int = 0
    sequences_uploaded: int = 0  # closed sequences created in the cloud (CreateSequence)
    requests: int = 0  # RPC attempts
    requests_ok: int = 0
    requests_failed: int = 0
    requests_unknown: int = 0
    retries: int = 0  # attempts of a file that had failed before
    failures: int = 0  # file attempts that failed and will be retried
    terminal: int = 0  # files moved to failed/
    header_only_deleted: int = 0
    torn_quarantined: int = 0  # readings uploaded, file kept in failed/ for its torn tail
    damaged_quarantined: int = 0  # readings before the damage uploaded, file kept in failed/
    gone: int = 0  # vanished before or during their upload
    changed_during_upload: int = 0
    not_ready: int = 0  # arbitrary files written to between the walk and their turn
    resends_acknowledged: int = 0  # acks of keys sent before with an unknown outcome
    offline_pauses: int = 0
    deferred: int = 0  # dispatched but not attempted: the link went down
    delete_errors: int = 0
    quarantine_errors: int = 0
    stale_warnings: int = 0
    backing_off: int = 0  # files now waiting for their next attempt
    in_flight_high_water: int = 0  # most files claimed by workers at once

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one manual ``sync_now()`` did with the files it found ready.

    Every dispatched file ends in exactly one of uploaded, failed, terminal, deferred, gone.
    """

    dispatched: int  # files handed to workers
    uploaded: int  # acknowledged and deleted (including header-only files)
    failed: int  # attempt failed; retried by later passes with backoff
    terminal: int  # moved to failed/
    # not attempted, or cut short: the link went down, the file is being written to, or a
    # close stopped its upload
    deferred: int
    gone: int  # vanished before its upload (deleted by someone else)
    skipped_in_use: int  # claimed by someone else (a policy deleting it)
    bytes_uploaded: int
    complete: bool  # the walk reached the end (not stopped by an outage or close())
    # found but not ready to send: an arbitrary file written to within
    # file_last_modified_millis or held after a start or a clock set (below), a capture file
    # still being written (one a refusing disk could not complete)
    waiting: int
    # how long a start or a wall-clock set still holds every arbitrary file (0: no hold kept
    # one back); a Sync() after that sends them
    hold_left_s: float

    @property
    def all_uploaded(self) -> bool:
        return self.complete and self.uploaded == self.dispatched and not self.skipped_in_use

    def line(self) -> str:
        """One line for a person: what went, what did not and why."""
        uploaded = f"{self.uploaded:,} of {self.dispatched:,} file(s) sent"
        parts = [f"uploaded {uploaded}, {self.bytes_uploaded / 1e6:.1f} MB"]
        for count, what in (
            (self.failed, "failed (retried with backoff)"),
            (self.terminal, "moved to failed/"),
            (self.deferred, "deferred (the link went down, written to meanwhile, or a stop)"),
            (self.gone, "gone before their upload"),
            (self.skipped_in_use, "skipped (a disk policy was deleting them)"),
        ):
            if count:
                parts.append(f"{count:,} {what}")
        if self.waiting:
            waiting = f"{self.waiting:,} file{'s' if self.waiting > 1 else ''} waiting"
            if self.hold_left_s > 0:
                waiting += (
                    f" (a start or a clock set holds arbitrary files {self.hold_left_s:.1f} s more)"
                )
            else:
                waiting += " (written to too recently, or still being written)"
            parts.append(waiting)
        if not self.complete:
            parts.append("the walk stopped short (the link went down, or a stop)")
        return "; ".join(parts)
