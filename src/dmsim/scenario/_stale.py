"""Whether the machine's stale-data warning told the truth, and told it in time.

The sync engine looks at its backlog at least once every ``backlog_look_every_s(sync
interval)`` while it runs (a minute, or an interval when longer; longer still on a machine
whose walks are slow, which a simulated walk never is: the engine tells such a spacing,
``sync.look_spacing``, and the longest it told, with :data:`LOOK_SPACING_TOLD_OVER`'s margin,
stands instead), and warns, at most once every
``STALE_WARN_EVERY_S``, when the oldest unsynced data it found is older than the threshold
(``dmsim.sync``). A *look period* here is twice that (a tick judges the backlog the pass
before it walked), plus the durability window and some slack. Judged from the ledger:

- **Truthful.** A warning at ``c`` that the oldest data is ``A`` old claims data from
  ``c − A`` still waited. Some reading, closed sequence or file another program wrote that
  may have been on the disk unsynced during the look period before ``c`` must date from
  ``c − A`` or earlier (a second's slack for rounding). On the disk means: from its capture
  until its files were deleted after upload, a policy deleted it or sync quarantined it; one
  that never reached a completed file until the next crash; a preloaded one (captured before
  the run) since any time. A process dates a file no clock of its own showed at its start
  (``ClockSteps``), so after a clock fault a claim back to the process's start is true
  enough; a process cannot date files an earlier boot stamped across a clock fault at all,
  so a warning then is not judged.
- **In time.** At every moment a reading sure to be on the disk unsynced has been so for the
  threshold and a look period, while the process has run for a look period, a warning came in
  the last ``STALE_WARN_EVERY_S`` and look period. Sure to be on the disk: captured in this
  run, outside the disk faults that may hold it in the writer's queue, and it reached a
  completed file; until the cloud stored it (a file may be sent and deleted before the
  directory fsync that completes it succeeds), the first of its files was deleted, a policy
  deleted it or sync quarantined it; not past a restart after a clock fault. Not judged when
  scheduled sync or the warning was off at any time of the run.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dmsim.sync import LOOK_SPACING_TOLD_OVER, STALE_WARN_EVERY_S, backlog_look_every_s

from ._expect import ExpectationResult
from ._ledger import Ledger, ReadingRecord, format_id

__all__ = ["CLOCK_FAULT_KINDS", "check_stale_warnings"]

#: Faults that set the machine's wall clock, by which capture files are named and dated.
CLOCK_FAULT_KINDS = frozenset({"rtc_unset", "clock_step"})
_ROUNDING_S = 1.0
_LOOK_SLACK_S = 10.0

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class _Waiting:
    """Data that may have been on the disk unsynced from ``since`` until ``until``."""

    since: float
    until: float
    what: str


def check_stale_warnings(ledger: Ledger, run_end: float) -> ExpectationResult | None:
    """The ``stale_warning`` expectation, or ``None`` for a trace whose promises do not say
    the warning's threshold (older traces)."""
    promises = ledger.promises
    if not promises or any(p.stale_warning_s is None for p in promises):
        return None
    interval = max(p.sync_interval_s or 0.0 for p in promises)
    window = max(p.durability_window_s for p in promises)
    told = LOOK_SPACING_TOLD_OVER * ledger.longest_look_spacing_s
    lag = 2 * max(backlog_look_every_s(interval), told) + window + _LOOK_SLACK_S
    starts = _process_starts(ledger)
    clock_faults = sorted(w.start for w in ledger.faults if w.kind in CLOCK_FAULT_KINDS)
    untrue, unjudged = _untruthful(ledger, lag, starts, clock_faults)
    warned = len(ledger.stale_warnings)
    if untrue is not None:
        return ExpectationResult("stale_warning", False, untrue)
    note = f" ({unjudged} not judged: files of an earlier boot, across a clock fault)"
    truth = f"{warned} warning(s), each within the age of the oldest data waiting"
    truth += note if unjudged else ""
    if any(p.sync_disabled or p.stale_warning_s == 0 for p in promises):
        return ExpectationResult(
            "stale_warning", True, f"{truth}; not judged for silence: sync or the warning off"
        )
    threshold = max(p.stale_warning_s or 0.0 for p in promises)
    missed = _unwarned(
        ledger, run_end, threshold=threshold, lag=lag, starts=starts, clock_faults=clock_faults
    )
    if missed is not None:
        return ExpectationResult("stale_warning", False, f"{truth}; but {missed}")
    return ExpectationResult("stale_warning", True, f"{truth}; none missed")


def _process_starts(ledger: Ledger) -> list[float]:
    return [0.0, *sorted(ledger.restarts)]


def _started_before(starts: Sequence[float], t: float) -> float:
    """When the process running at ``t`` started."""
    return max(s for s in starts if s <= t)


def _may_wait(ledger: Ledger) -> list[_Waiting]:
    crashes = sorted(ledger.crashes)
    items = [_reading_may_wait(r, crashes) for r in ledger.readings]
    items += [
        _Waiting(f.since, math.inf if f.until is None else f.until, f.path)
        for f in ledger.file_spans
    ]
    return sorted(items, key=lambda w: w.since)


def _set_aside_at(record: ReadingRecord) -> list[float]:
    """When a policy deleted the reading, sync quarantined it or the core dropped it."""
    return [m[1] for m in (record.policy_deleted, record.quarantined, record.dropped) if m]


def _reading_may_wait(record: ReadingRecord, crashes: Sequence[float]) -> _Waiting:
    since = -math.inf if record.preloaded else record.captured_at
    marks = _set_aside_at(record)
    if record.durable_at is None:  # still in the writer or an open file: gone at a crash
        marks += [t for t in crashes if t >= record.captured_at][:1]
        until = min(marks, default=math.inf)
    else:
        removed: dict[str, float] = {}
        for path, t in record.removed_files:
            removed[path] = max(t, removed.get(path, t))
        held = (
            max(removed.values())
            if record.files and all(p in removed for p in record.files)
            else math.inf
        )
        until = min([held, *marks])
    return _Waiting(since, until, format_id(record.rid))


def _untruthful(
    ledger: Ledger, lag: float, starts: Sequence[float], clock_faults: Sequence[float]
) -> tuple[str | None, int]:
    """The first warning that claimed older data than any waiting, and how many warnings were
    not judged."""
    items = _may_wait(ledger)
    heap: list[tuple[float, float, str]] = []  # (since, until, what) of data since ≤ now
    following = 0
    unjudged = 0
    for warning in sorted(ledger.stale_warnings, key=lambda w: w.t):
        c, claimed = warning.t, warning.t - warning.age_s
        while following < len(items) and items[following].since <= c:
            item = items[following]
            heapq.heappush(heap, (item.since, item.until, item.what))
            following += 1
        while heap and heap[0][1] < c - lag:  # gone before this look period: gone for good
            heapq.heappop(heap)
        started = _started_before(starts, c)
        clock_fault = any(f <= c for f in clock_faults)
        if clock_fault and heap and heap[0][0] < started and started > 0:
            unjudged += 1
            continue
        oldest = heap[0][0] if heap else None
        allowed = oldest if oldest is not None else math.inf
        if clock_fault:
            allowed = min(allowed, started)
        if claimed < allowed - _ROUNDING_S:
            said = f"the warning at {c:.3f}s said {warning.age_s:.3f}s old"
            if oldest is None:
                return f"{said}, but no data was waiting", unjudged
            first = heap[0][2]
            return f"{said}; the oldest data waiting, {first}, was {c - oldest:.3f}s old", unjudged
    return None, unjudged


def _unwarned(
    ledger: Ledger,
    run_end: float,
    *,
    threshold: float,
    lag: float,
    starts: Sequence[float],
    clock_faults: Sequence[float],
) -> str | None:
    """The first moment stale data went unwarned, said for a person; ``None``: never."""
    refusals = ledger.disk_refusals()
    due: list[tuple[float, float, str]] = []
    for record in ledger.readings:
        if record.preloaded or record.durable_at is None:
            continue
        a = record.captured_at
        if any(start <= a <= end for start, end in refusals):
            continue
        stored = [store.t for store in record.stores[:1]]
        ends = [*_set_aside_at(record), *stored, *(t for _, t in record.removed_files), run_end]
        ends += [s for s in starts if s > a and any(f < s for f in clock_faults)][:1]
        until = min(ends)
        if a + threshold + lag < until:
            due.append((a + threshold + lag, until, format_id(record.rid)))
    up = _up_for_a_look(ledger, run_end, lag, starts)
    covered = sorted((w.t, w.t + STALE_WARN_EVERY_S + lag) for w in ledger.stale_warnings)
    for start, end in _merged((start, end) for start, end, _ in due):
        for a, b in _intersect([(start, end)], up):
            moment = _first_uncovered(a, b, covered)
            if moment is not None:
                what = next(w for s, e, w in due if s <= moment < e)
                return (
                    f"no warning came between {max(0.0, moment - STALE_WARN_EVERY_S - lag):.3f}s"
                    f" and {moment:.3f}s, while {what} had waited since "
                    f"{moment - threshold - lag:.3f}s or earlier (threshold {threshold:g}s, "
                    f"look period {lag:g}s)"
                )
    return None


def _merged(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _up_for_a_look(
    ledger: Ledger, run_end: float, lag: float, starts: Sequence[float]
) -> list[Span]:
    """When the process had been running for a look period."""
    downs = ledger.down_intervals(run_end)
    spans = []
    for start in starts:
        end = min([d for d, _ in downs if d >= start], default=run_end)
        if start + lag < end:
            spans.append((start + lag, end))
    return spans


def _intersect(spans: Sequence[Span], others: Sequence[Span]) -> list[Span]:
    return [(max(a, c), min(b, d)) for a, b in spans for c, d in others if max(a, c) < min(b, d)]


def _first_uncovered(a: float, b: float, covered: Sequence[Span]) -> float | None:
    """The first moment in ``[a, b)`` outside every covered span (sorted)."""
    t = a
    for start, end in covered:
        if start > t:
            break
        t = max(t, end)
    return t if t < b else None
