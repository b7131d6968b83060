"""The delivery oracle: every captured reading ends in exactly one class.

Rules, applied in this order to each reading's ledger record (pure; Jepsen's per-element
checkers with files, crashes and policies added):

1. ``corrupted``: the cloud stored it with a digest other than the one captured.
2. ``duplicated``: stored as new under two or more keys (the cloud showed it twice).
3. ``late`` / ``delivered``: stored exactly once; ``late`` when its time to cloud exceeds the
   ``late_after`` expectation.
4. ``deleted_by_policy``: never stored, and a named disk policy rule deleted its file.
5. ``quarantined``: never stored, its file moved to ``failed/`` (kept on disk, with a reason).
6. ``dropped``: never stored; the core gave it up and said so, which it may do only at a close
   that waited out a disk refusing writes (within two windows of the refusal's end, as for a
   crash below); a reading given up with no such fault is ``lost``.
7. Not durable when the process next went down (no completed or recovered file held it):
   after a crash, ``lost_in_window`` when captured at most the durability window (the one
   promised when it was captured) plus one queue drain before it, or when a disk fault
   refused writes while it waited and the crash came within two such windows of the fault's
   end (the writer retries within a window, then fsyncs within the next), else ``lost``;
   after a clean shutdown, ``lost`` (a clean shutdown must keep every reading).
8. ``lost``: its file was deleted after an upload although the cloud never stored it.
9. Still on the machine at the end: ``pending`` while the run ended within ``drain_within``
   of the later of its capture and the last fault's end (or when no drain bound is set), else
   ``lost`` (a liveness violation: it should have been delivered by then).

Violations are classed *safety* (corrupted, duplicated, lost by a crash or a bad delete) or
*liveness* (late, not delivered after faults stopped).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._ledger import Ledger, Promise, ReadingId, ReadingRecord, format_id

__all__ = ["Classified", "OracleOptions", "classify", "classify_all"]


@dataclass(frozen=True, slots=True)
class OracleOptions:
    """What the classification depends on besides the ledger (times in seconds).
    ``durability_window_s`` is the window before the first of ``promises`` (all of the run
    when there are none)."""

    durability_window_s: float
    run_end: float
    queue_drain_s: float = 0.0
    late_after_s: float | None = None
    drain_within_s: float | None = None
    drain_from: float = 0.0  # when the faults' backlog can start draining (Ledger.drain_from)
    promises: tuple[Promise, ...] = ()  # in time order (Ledger.promises)

    def crash_window_at(self, t: float) -> float:
        """What a crash may take of a reading captured at ``t``: the durability window
        promised then, plus one queue drain."""
        i = bisect.bisect_right(self.promises, t, key=lambda promise: promise.since)
        window = self.promises[i - 1].durability_window_s if i else self.durability_window_s
        return window + self.queue_drain_s


@dataclass(frozen=True, slots=True)
class Classified:
    """One reading's class, why, its time to cloud (if stored once), and the violation kind
    (``safety``/``liveness``) for violation classes."""

    rid: ReadingId
    cls: str
    why: str
    latency: float | None = None
    violation: str | None = None

    @property
    def reading(self) -> str:
        return format_id(self.rid)


def classify_all(ledger: Ledger, options: OracleOptions) -> tuple[Classified, ...]:
    refusals = ledger.disk_refusals()
    return tuple(
        classify(record, ledger.crashes, options, stops=ledger.stops, disk_refusals=refusals)
        for record in ledger.readings
    )


def classify(
    record: ReadingRecord,
    crashes: Sequence[float],
    options: OracleOptions,
    *,
    stops: Sequence[float] = (),
    disk_refusals: Sequence[tuple[float, float]] = (),
) -> Classified:
    """The one class of ``record``; ``crashes`` and ``stops`` are the times the process
    crashed and shut down cleanly, ``disk_refusals`` when a disk fault may have refused
    writes (:meth:`Ledger.disk_refusals`)."""
    stored = _stored(record, options)
    if stored is not None:
        return stored
    rid = record.rid
    if record.policy_deleted is not None:
        rule, t = record.policy_deleted
        return Classified(rid, "deleted_by_policy", f"rule {rule!r} deleted its file at {t:.3f}s")
    if record.quarantined is not None:
        reason, t = record.quarantined
        return Classified(rid, "quarantined", f"its file moved to failed/ at {t:.3f}s: {reason}")
    if record.dropped is not None:
        return _given_up(record, *record.dropped, options, disk_refusals)
    down = _down_before_durable(record, crashes, stops)
    if down is not None:
        how, t = down
        if how == "crash":
            return _lost_at_crash(record, t, options, disk_refusals)
        why = f"not in any file when the process shut down cleanly at {t:.3f}s"
        return Classified(rid, "lost", why, violation="safety")
    if record.removed_files:
        path, t = record.removed_files[0]
        why = f"{path} was deleted at {t:.3f}s after an upload, but the cloud never stored it"
        return Classified(rid, "lost", why, violation="safety")
    return _still_local(record, options)


def _stored(record: ReadingRecord, options: OracleOptions) -> Classified | None:
    if not record.stores:
        return None
    rid = record.rid
    bad = next((s for s in record.stores if record.digest and s.digest != record.digest), None)
    if bad is not None:
        why = (
            f"stored under key {bad.key} with digest {bad.digest[:12]}, "
            f"captured with {record.digest[:12]}"
        )
        return Classified(rid, "corrupted", why, violation="safety")
    new = [s for s in record.stores if not s.duplicate_key] or [record.stores[0]]
    if len(new) > 1:
        shown = ", ".join(f"key {s.key} at {s.t:.3f}s" for s in new[:3])
        return Classified(
            rid, "duplicated", f"stored {len(new)} times: {shown}", violation="safety"
        )
    latency = new[0].t - record.captured_at
    if options.late_after_s is not None and latency > options.late_after_s:
        why = f"reached the cloud after {latency:.3f}s (late after {options.late_after_s:g}s)"
        return Classified(rid, "late", why, latency=latency, violation="liveness")
    return Classified(rid, "delivered", f"stored under key {new[0].key}", latency=latency)


def _down_before_durable(
    record: ReadingRecord, crashes: Sequence[float], stops: Sequence[float]
) -> tuple[str, float] | None:
    """The first crash or clean stop after capture, if no file ever held the reading."""
    if record.durable_at is not None:  # in a file before going down, or kept by recovery
        return None
    crash = next((c for c in crashes if c >= record.captured_at), None)
    stop = next((t for t in stops if t >= record.captured_at), None)
    if stop is not None and (crash is None or stop < crash):
        return ("stop", stop)
    return None if crash is None else ("crash", crash)


def _lost_at_crash(
    record: ReadingRecord,
    crash: float,
    options: OracleOptions,
    disk_refusals: Sequence[tuple[float, float]],
) -> Classified:
    age = crash - record.captured_at
    window = options.crash_window_at(record.captured_at)
    deadline, refused_until = record.captured_at + window, None
    for start, end in disk_refusals:
        # the disk refused while the reading waited (or its writer was still backing off)
        if start <= deadline and end + window >= record.captured_at:
            deadline, refused_until = max(deadline, end + 2 * window), end
    if crash <= deadline:
        why = f"captured {age:.3f}s before the crash at {crash:.3f}s (window {window:g}s"
        refused = (
            "" if refused_until is None else f"; the disk refused writes to {refused_until:.3f}s"
        )
        return Classified(record.rid, "lost_in_window", why + refused + ")")
    why = (
        f"captured {age:.3f}s before the crash at {crash:.3f}s, beyond the "
        f"{window:g}s durability window, and never in a file"
    )
    return Classified(record.rid, "lost", why, violation="safety")


def _given_up(
    record: ReadingRecord,
    reason: str,
    t: float,
    options: OracleOptions,
    disk_refusals: Sequence[tuple[float, float]],
) -> Classified:
    window = options.crash_window_at(record.captured_at)
    refused = [end for start, end in disk_refusals if start <= t <= end + 2 * window]
    if not refused:
        why = f"given up at {t:.3f}s ({reason}) while no disk fault refused writes"
        return Classified(record.rid, "lost", why, violation="safety")
    why = f"given up at {t:.3f}s: {reason} (the disk refused writes to {max(refused):.3f}s)"
    return Classified(record.rid, "dropped", why)


def _still_local(record: ReadingRecord, options: OracleOptions) -> Classified:
    where = f"in {record.files[-1]}" if record.files else "never in a completed file"
    since = max(record.captured_at, options.drain_from)
    within = options.drain_within_s
    if within is None or not math.isfinite(since) or since + within >= options.run_end:
        return Classified(record.rid, "pending", f"on the machine at the end ({where})")
    after = "the faults' backlog could drain" if since > record.captured_at else "capture"
    why = (
        f"still on the machine at the end ({where}), {options.run_end - since:.3f}s after "
        f"{after} (drain_within {within:g}s)"
    )
    return Classified(record.rid, "lost", why, violation="liveness")
