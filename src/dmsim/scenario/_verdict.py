"""The verdict of one run: per-class counts, upload outcomes, violations, expectations.

:func:`judge` is pure: a :class:`WorldResult` and the scenario's expectations in, a frozen
:class:`Verdict` out. It passes only when every expectation holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ._expect import (
    ExpectationResult,
    LatencyStats,
    check_allowed,
    check_arbitrary_files,
    check_capture_gap,
    check_count,
    check_disk_high_water,
    check_drain,
    check_p99,
    check_sequences,
    latency_stats,
)
from ._ledger import (
    ArbitraryFileTally,
    FileTally,
    Ledger,
    SequenceTally,
    UploadTally,
    build_ledger,
)
from ._model import (
    ARBITRARY_FILE_COUNTS,
    CLASSES,
    COUNTER_KEYS,
    SEQUENCE_COUNTS,
    CountBound,
    Expectations,
)
from ._oracle import Classified, OracleOptions, classify_all
from ._result import WorldResult
from ._stale import check_stale_warnings

__all__ = ["Verdict", "Violation", "counter_values", "judge"]

DEFAULT_MAX_VIOLATIONS = 20


@dataclass(frozen=True, slots=True)
class Violation:
    """A reading in a class the scenario does not allow."""

    cls: str
    reading: str
    why: str
    kind: str  # safety, liveness, or "unexpected" for a class merely not allowed


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    counts: Mapping[str, int]
    captured: int
    skipped: int
    uploads: UploadTally
    files: FileTally
    latency: LatencyStats
    violations: tuple[Violation, ...]
    violation_total: int
    expectations: tuple[ExpectationResult, ...]
    anomalies: tuple[str, ...] = ()
    last_fault_end: float = 0.0
    # when the backlog could start draining: later than last_fault_end when the cloud's last
    # answer that pauses every upload began a pause that ends later (Ledger.drain_from)
    drain_from: float = 0.0
    # faults that found nothing to act on (e.g. garbage for a file, none complete yet): the
    # run tested less than the scenario says, which a reader should know
    faults_without_target: tuple[str, ...] = ()
    sequences: SequenceTally = field(default_factory=SequenceTally)
    arbitrary_files: ArbitraryFileTally = field(default_factory=ArbitraryFileTally)
    classified: tuple[Classified, ...] = field(default=(), repr=False, compare=False)

    def failed(self) -> tuple[ExpectationResult, ...]:
        return tuple(e for e in self.expectations if not e.ok)

    def with_expectation(self, result: ExpectationResult) -> Verdict:
        """This verdict with one more expectation (e.g. the determinism check)."""
        return replace(
            self, passed=self.passed and result.ok, expectations=(*self.expectations, result)
        )


def counter_values(verdict: Verdict) -> dict[str, int]:
    """Every counter an expectation's ``counts`` may bound (see ``COUNTER_KEYS``)."""
    values = {"readings.captured": verdict.captured, "readings.skipped": verdict.skipped}
    values |= {f"readings.{cls}": verdict.counts.get(cls, 0) for cls in CLASSES}
    uploads = verdict.uploads
    values |= {
        "uploads.ok": uploads.ok,
        "uploads.fail": uploads.fail,
        "uploads.unknown": uploads.unknown,
        "uploads.recovered": uploads.recovered,
    }
    files = verdict.files
    values |= {
        "files.completed": files.completed,
        "files.preloaded": files.preloaded,
        "files.deleted_by_policy": files.deleted_by_policy,
        "files.quarantined": files.quarantined,
        "files.recovered": files.recovered,
        "files.torn_bytes": files.torn_bytes,
    }
    values |= {f"sequences.{name}": getattr(verdict.sequences, name) for name in SEQUENCE_COUNTS}
    files_written = verdict.arbitrary_files
    values |= {f"arbitrary_files.{n}": getattr(files_written, n) for n in ARBITRARY_FILE_COUNTS}
    assert set(values) == set(COUNTER_KEYS)
    return values


def judge(
    world: WorldResult, expectations: Expectations, *, max_violations: int = DEFAULT_MAX_VIOLATIONS
) -> Verdict:
    """Classify every reading of ``world`` and check every expectation."""
    ledger = build_ledger(world.trace)
    last_fault_end = ledger.last_fault_end()
    drain_from = ledger.drain_from()
    options = OracleOptions(
        durability_window_s=world.durability_window_s,
        queue_drain_s=world.queue_drain_s,
        run_end=world.sim_seconds,
        late_after_s=expectations.late_after_s,
        drain_within_s=expectations.drain_within_s,
        drain_from=drain_from,
        promises=ledger.promises,
    )
    classified = classify_all(ledger, options)
    counts = dict.fromkeys(CLASSES, 0)
    for item in classified:
        counts[item.cls] += 1
    allowed = expectations.allowed | {"delivered"}
    bad = [c for c in classified if c.cls not in allowed]
    violations = tuple(
        Violation(c.cls, c.reading, c.why, c.violation or "unexpected")
        for c in bad[:max_violations]
    )
    stats = latency_stats(classified)
    partial = Verdict(
        passed=False,
        counts=counts,
        captured=len(ledger.readings),
        skipped=ledger.skipped,
        uploads=ledger.uploads,
        files=ledger.files,
        latency=stats,
        violations=violations,
        violation_total=len(bad),
        expectations=(),
        anomalies=ledger.anomalies,
        last_fault_end=last_fault_end,
        drain_from=drain_from,
        faults_without_target=tuple(
            str(e.fields["fault_id"]) for e in world.trace.of_kind("fault.no_target")
        ),
        sequences=ledger.sequences,
        arbitrary_files=ledger.arbitrary_files,
        classified=classified,
    )
    results = _expectations(partial, ledger, world, expectations)
    return replace(partial, passed=all(r.ok for r in results), expectations=results)


def _expectations(
    verdict: Verdict, ledger: Ledger, world: WorldResult, expect: Expectations
) -> tuple[ExpectationResult, ...]:
    results = [check_allowed(verdict.counts, expect.allowed)]
    anomalies = ledger.anomalies
    results.append(
        ExpectationResult(
            "trace_consistent",
            not anomalies,
            f"{len(anomalies)} anomalies, first: {anomalies[0]}" if anomalies else "no anomalies",
        )
    )
    if expect.time_to_cloud_p99_s is not None:
        results.append(check_p99(verdict.latency, expect.time_to_cloud_p99_s, verdict.captured))
    if expect.drain_within_s is not None and (off := ledger.sync_off_since()) is not None:
        results.append(
            ExpectationResult(
                "drain_within", True, f"not judged: scheduled sync is off from {off:g}s on"
            )
        )
    elif expect.drain_within_s is not None:
        results.append(
            check_drain(
                world.samples,
                ledger.readings,
                verdict.classified,
                start=verdict.drain_from,
                since=(
                    "the last fault ended"
                    if verdict.drain_from == verdict.last_fault_end
                    else "the offline pause after the cloud's last pausing answer ended"
                ),
                within=expect.drain_within_s,
                max_files=expect.drain_to_files,
                run_end=world.sim_seconds,
            )
        )
    if expect.disk_high_water is not None:
        results.append(
            check_disk_high_water(
                world.samples, expect.disk_high_water, peak_fraction=world.disk_peak_fraction
            )
        )
    if expect.min_delivered is not None:
        results.append(
            check_count(
                "min_delivered",
                verdict.counts["delivered"],
                CountBound(minimum=expect.min_delivered),
            )
        )
    if expect.max_skipped is not None:
        results.append(
            check_count("max_skipped", verdict.skipped, CountBound(maximum=expect.max_skipped))
        )
    if expect.max_capture_gap_s is not None:
        results.append(check_capture_gap(ledger, expect.max_capture_gap_s, world.sim_seconds))
    if ledger.sequences.opened:
        results.append(check_sequences(ledger.sequences))
    if ledger.arbitrary_files.followed:
        results.append(check_arbitrary_files(ledger.arbitrary_files))
    if (stale := check_stale_warnings(ledger, world.sim_seconds)) is not None:
        results.append(stale)
    values = counter_values(verdict)
    for key, bound in sorted(expect.counts.items()):
        results.append(check_count(f"counts[{key}]", values[key], bound))
    return tuple(results)
