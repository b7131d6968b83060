"""Expectation checks: each a pure function returning an :class:`ExpectationResult`.

Safety (which classes may occur) is judged over the whole run from the oracle's classes.
Liveness: after the last fault ends, the backlog must drain within ``drain_within``: every
reading captured before the faults ended reaches the cloud by then (from the ledger), and,
when ``drain_to_files`` is set, some sample in that window shows at most that many files
waiting (a backlog that never empties to zero, such as one file per image at a high rate,
needs its steady-state level here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._ledger import ArbitraryFileTally, Ledger, ReadingRecord, SequenceTally
from ._model import CountBound
from ._oracle import Classified
from ._result import Sample

__all__ = [
    "ExpectationResult",
    "LatencyStats",
    "check_allowed",
    "check_arbitrary_files",
    "check_capture_gap",
    "check_count",
    "check_disk_high_water",
    "check_drain",
    "check_p99",
    "check_sequences",
    "latency_stats",
    "percentile",
]


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Time to cloud (capture → stored) of readings stored exactly once, in seconds."""

    count: int = 0
    p50: float | None = None
    p99: float | None = None
    max: float | None = None


def _s(seconds: float) -> str:
    """Seconds for messages: millisecond precision, no float noise (``1.1255e-11`` → ``0s``)."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (``q`` in (0, 1])."""
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


def latency_stats(classified: Sequence[Classified]) -> LatencyStats:
    values = sorted(c.latency for c in classified if c.latency is not None)
    if not values:
        return LatencyStats()
    return LatencyStats(len(values), percentile(values, 0.5), percentile(values, 0.99), values[-1])


def check_allowed(counts: Mapping[str, int], allowed: frozenset[str]) -> ExpectationResult:
    bad = {cls: n for cls, n in counts.items() if n and cls not in allowed and cls != "delivered"}
    if bad:
        shown = ", ".join(f"{cls} {n}" for cls, n in bad.items())
        return ExpectationResult(
            "allowed_classes", False, f"{shown} (allowed: {', '.join(sorted(allowed))})"
        )
    present = ", ".join(f"{cls} {n}" for cls, n in counts.items() if n) or "no readings"
    return ExpectationResult("allowed_classes", True, present)


def check_p99(stats: LatencyStats, bound: float, captured: int) -> ExpectationResult:
    if stats.p99 is None:
        ok = captured == 0
        return ExpectationResult("time_to_cloud_p99", ok, "no reading reached the cloud")
    ok = stats.p99 <= bound
    return ExpectationResult(
        "time_to_cloud_p99", ok, f"p99 {stats.p99:.3f}s {'<=' if ok else '>'} {_s(bound)}"
    )


def check_drain(
    samples: Sequence[Sample],
    records: Sequence[ReadingRecord],
    classified: Sequence[Classified],
    *,
    start: float,
    within: float,
    max_files: int | None,
    run_end: float,
    since: str = "the last fault ended",
) -> ExpectationResult:
    """The backlog of the faults (readings captured before ``start``, when ``since``) reached
    the cloud by ``start + within``; with ``max_files``, some sample then also shows at most
    that many."""
    if not math.isfinite(start):
        return ExpectationResult("drain_within", False, "a fault was still active at the end")
    deadline = start + within
    if deadline > run_end:
        return ExpectationResult(
            "drain_within",
            False,
            f"the run ends at {_s(run_end)}, before the drain deadline {_s(deadline)} "
            f"({since} at {_s(start)}); lengthen the scenario",
        )
    late = [
        verdict
        for record, verdict in zip(records, classified, strict=True)
        if record.captured_at <= start and _after(record, verdict, deadline)
    ]
    if late:
        return ExpectationResult(
            "drain_within",
            False,
            f"{len(late)} reading(s) captured before {since} ({_s(start)}) were "
            f"not in the cloud by {_s(deadline)}; first: {late[0].reading} ({late[0].cls})",
        )
    detail = f"the faults' backlog reached the cloud by {_s(deadline)}"
    if max_files is None:
        return ExpectationResult("drain_within", True, detail)
    return _drain_samples(
        samples, start=start, deadline=deadline, max_files=max_files, detail=detail, since=since
    )


def _after(record: ReadingRecord, verdict: Classified, deadline: float) -> bool:
    """Stored after ``deadline``, or never and not explained (still waiting, or lost)."""
    if verdict.latency is not None:
        return record.captured_at + verdict.latency > deadline
    return verdict.cls in ("pending", "lost") and verdict.violation != "safety"


def _drain_samples(
    samples: Sequence[Sample],
    *,
    start: float,
    deadline: float,
    max_files: int,
    detail: str,
    since: str,
) -> ExpectationResult:
    window = [s for s in samples if start <= s.t <= deadline]
    if not window:
        return ExpectationResult(
            "drain_within", False, f"no sample between {_s(start)} and {_s(deadline)}"
        )
    hit = next((s for s in window if s.backlog_files <= max_files), None)
    if hit is None:
        low = min(s.backlog_files for s in window)
        return ExpectationResult(
            "drain_within",
            False,
            f"backlog stayed above {max_files} file(s) until {_s(deadline)} "
            f"(lowest {low}; {since} at {_s(start)})",
        )
    return ExpectationResult(
        "drain_within",
        True,
        f"{detail}; backlog {hit.backlog_files} file(s) at {_s(hit.t)}, "
        f"{_s(hit.t - start)} after {since}",
    )


def check_disk_high_water(
    samples: Sequence[Sample], bound: float, *, peak_fraction: float | None
) -> ExpectationResult:
    """``peak_fraction`` is the disk's own high water (samples can miss a short peak);
    ``None`` judges the samples alone."""
    sampled = max(samples, key=lambda s: s.disk_used_fraction, default=None)
    if peak_fraction is None:
        if sampled is None:
            return ExpectationResult("disk_high_water", False, "no samples")
        peak_fraction = sampled.disk_used_fraction
    ok = peak_fraction <= bound
    # as printed: a sample within the last digit of the peak saw it
    if sampled is not None and round(sampled.disk_used_fraction, 3) >= round(peak_fraction, 3):
        when = f"at {_s(sampled.t)}"
    else:
        highest = "" if sampled is None else f"; highest sample {sampled.disk_used_fraction:.3f}"
        when = f"between samples{highest}"
    return ExpectationResult(
        "disk_high_water", ok, f"peak {peak_fraction:.3f} {when} {'<=' if ok else '>'} {bound:g}"
    )


def check_count(name: str, value: int, bound: CountBound) -> ExpectationResult:
    low_ok = bound.minimum is None or value >= bound.minimum
    high_ok = bound.maximum is None or value <= bound.maximum
    limits = []
    if bound.minimum is not None:
        limits.append(f">= {bound.minimum}")
    if bound.maximum is not None:
        limits.append(f"<= {bound.maximum}")
    return ExpectationResult(name, low_ok and high_ok, f"{value} (expected {' and '.join(limits)})")


def check_sequences(tally: SequenceTally) -> ExpectationResult:
    """Every sequence a capture control sensor closed reaches the cloud once, or is still on
    disk; one open at a crash is quarantined (its end is unknown, as in rdk) and explained."""
    ok = not tally.duplicated and not tally.lost
    detail = (
        f"{tally.closed} closed: {tally.stored} stored, {tally.pending} pending; "
        f"{tally.orphaned} open at a crash (quarantined), {tally.lost} lost, "
        f"{tally.duplicated} duplicated"
    )
    return ExpectationResult("sequences", ok, detail)


def check_arbitrary_files(tally: ArbitraryFileTally) -> ExpectationResult:
    """Every file another program completed in an additional sync path reaches the cloud once
    and whole, or is still on the machine."""
    ok = not (tally.lost or tally.duplicated or tally.corrupted)
    detail = (
        f"{tally.written} written: {tally.stored} stored, {tally.pending} pending; "
        f"{tally.lost} lost, {tally.duplicated} duplicated, {tally.corrupted} corrupted"
    )
    return ExpectationResult("arbitrary_files", ok, detail)


def _overlap(a: float, b: float, intervals: Sequence[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for start, end in intervals)


def check_capture_gap(ledger: Ledger, bound: float, run_end: float) -> ExpectationResult:
    """The longest stretch without a capture, per stream, not counting time the process was
    down; the stretch from a stream's last capture to the end of the run counts too."""
    down = ledger.down_intervals(run_end)
    times: dict[str, list[float]] = {}
    for record in ledger.readings:
        times.setdefault(record.rid[0], []).append(record.captured_at)
    worst = (0.0, "", 0.0, 0.0)
    for stream, stamps in sorted(times.items()):
        stamps.sort()
        for a, b in zip(stamps, [*stamps[1:], run_end], strict=True):
            gap = (b - a) - _overlap(a, b, down)
            if gap > worst[0]:
                worst = (gap, stream, a, b)
    gap, stream, a, b = worst
    if not stream:
        return ExpectationResult("max_capture_gap", False, "no reading was captured")
    ok = gap <= bound
    return ExpectationResult(
        "max_capture_gap",
        ok,
        f"longest {gap:.3f}s on {stream} ({_s(a)} to {_s(b)}) {'<=' if ok else '>'} {_s(bound)}",
    )
