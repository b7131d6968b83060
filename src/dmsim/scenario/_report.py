"""The report of one run: a readable summary table and a JSON document.

JSON fields: ``verdict`` ("pass"/"fail"), ``scenario``, ``scenario_path``, ``seed``,
``sim_seconds``, ``wall_seconds``, ``speedup``, ``readings`` (captured, skipped and one count per
class), ``uploads`` (ok, fail, unknown, recovered, by_code), ``files``, ``time_to_cloud``,
``expectations``, ``violations`` (first few, with reading ids and why), ``violation_total``,
``anomalies``, ``faults_without_target`` (ids of faults that found nothing to act on),
``faults`` (the schedule as run), ``options`` (everything the seed expanded to),
``statistics`` (component counters), ``trace_digest``, ``determinism`` and ``reproduce`` (the
one-line command).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmsim.faults import FaultSchedule, format_duration

from ._model import ARBITRARY_FILE_COUNTS, CLASSES, SEQUENCE_COUNTS
from ._result import Sample
from ._verdict import Verdict

__all__ = ["DeterminismCheck", "Report", "write_report_json"]

_SUMMARY_VIOLATIONS = 10


@dataclass(frozen=True, slots=True)
class DeterminismCheck:
    """Two runs of the same scenario and seed: where their traces first differ, if anywhere."""

    identical: bool
    events: int
    divergence: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    scenario: str
    scenario_path: str | None
    seed: int
    verdict: Verdict
    sim_seconds: float
    wall_seconds: float
    options: Mapping[str, Any]
    statistics: Mapping[str, Any]
    faults: FaultSchedule
    samples: tuple[Sample, ...]
    trace_digest: str
    reproduce: str
    determinism: DeterminismCheck | None = None

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def verdict_text(self) -> str:
        return "pass" if self.passed else "fail"

    def to_json_dict(self) -> dict[str, Any]:
        v = self.verdict
        readings = {"captured": v.captured, "skipped": v.skipped, **dict(v.counts)}
        return {
            "verdict": self.verdict_text,
            "scenario": self.scenario,
            "scenario_path": self.scenario_path,
            "seed": self.seed,
            "sim_seconds": self.sim_seconds,
            "wall_seconds": round(self.wall_seconds, 3),
            "speedup": round(self.sim_seconds / self.wall_seconds, 1)
            if self.wall_seconds
            else None,
            "readings": readings,
            "uploads": dataclasses.asdict(v.uploads) | {"by_code": dict(v.uploads.by_code)},
            "files": dataclasses.asdict(v.files),
            "sequences": dataclasses.asdict(v.sequences),
            "arbitrary_files": dataclasses.asdict(v.arbitrary_files),
            "time_to_cloud": dataclasses.asdict(v.latency),
            "expectations": [dataclasses.asdict(e) for e in v.expectations],
            "violations": [
                {"class": x.cls, "reading": x.reading, "why": x.why, "kind": x.kind}
                for x in v.violations
            ],
            "violation_total": v.violation_total,
            "anomalies": list(v.anomalies),
            "last_fault_end": v.last_fault_end,
            "drain_from": v.drain_from,
            "faults_without_target": list(v.faults_without_target),
            "faults": self.faults.to_document(),
            "options": _jsonable(self.options),
            "statistics": _jsonable(self.statistics),
            "trace_digest": self.trace_digest,
            "determinism": dataclasses.asdict(self.determinism) if self.determinism else None,
            "reproduce": self.reproduce,
        }

    def summary(self) -> str:
        """A plain-text table for terminals and test failures."""
        v = self.verdict
        speed = f" ({self.sim_seconds / self.wall_seconds:,.0f}x)" if self.wall_seconds else ""
        lines = [
            f"dmsim run: {self.scenario}  seed={self.seed}  verdict={self.verdict_text.upper()}",
            f"simulated {format_duration(round(self.sim_seconds, 3))} in "
            f"{self.wall_seconds:.2f}s wall{speed}; {len(self.faults)} fault(s)" + _untargeted(v),
            "",
            _row("readings", [("captured", v.captured), ("skipped", v.skipped)]),
            _row("", [(cls, v.counts.get(cls, 0)) for cls in CLASSES[:5]]),
            _row("", [(cls, v.counts.get(cls, 0)) for cls in CLASSES[5:]]),
            _row(
                "uploads",
                [
                    ("ok", v.uploads.ok),
                    ("fail", v.uploads.fail),
                    ("unknown", v.uploads.unknown),
                    ("recovered", v.uploads.recovered),
                ],
            ),
            _row(
                "files",
                [
                    ("completed", v.files.completed),
                    *([("preloaded", v.files.preloaded)] if v.files.preloaded else []),
                    ("recovered", v.files.recovered),
                    ("torn bytes", v.files.torn_bytes),
                    ("policy-deleted", v.files.deleted_by_policy),
                    ("quarantined", v.files.quarantined),
                ],
            ),
            *_sequence_rows(v),
            *_arbitrary_file_rows(v),
            f"{'time to cloud':<14}{_latency(v)}",
            "",
            "expectations",
        ]
        width = max((len(e.name) for e in v.expectations), default=0)
        lines += [
            f"  {'PASS' if e.ok else 'FAIL'}  {e.name:<{width}}  {e.detail}" for e in v.expectations
        ]
        if v.violations:
            shown = v.violations[:_SUMMARY_VIOLATIONS]
            lines += ["", f"violations (first {len(shown)} of {v.violation_total})"]
            lines += [f"  {x.cls:<12} {x.reading}: {x.why}" for x in shown]
        lines += ["", f"reproduce: {self.reproduce}"]
        return "\n".join(lines)


def _untargeted(v: Verdict) -> str:
    if not v.faults_without_target:
        return ""
    return f", of which {', '.join(v.faults_without_target)} found nothing to act on"


def _sequence_rows(v: Verdict) -> list[str]:
    if not v.sequences.opened:
        return []
    return [_row("sequences", [(name, getattr(v.sequences, name)) for name in SEQUENCE_COUNTS])]


def _arbitrary_file_rows(v: Verdict) -> list[str]:
    """The files other programs wrote into additional_sync_paths."""
    tally = v.arbitrary_files
    if not tally.followed:
        return []
    return [_row("sync paths", [(n, getattr(tally, n)) for n in ARBITRARY_FILE_COUNTS])]


def _row(title: str, cells: list[tuple[str, int]]) -> str:
    return f"{title:<14}" + "  ".join(f"{name} {count:,}" for name, count in cells)


def _latency(v: Verdict) -> str:
    stats = v.latency
    if stats.p50 is None or stats.p99 is None or stats.max is None:
        return "no reading stored once"
    return f"p50 {stats.p50:.3f}s  p99 {stats.p99:.3f}s  max {stats.max:.3f}s  (n={stats.count:,})"


def _jsonable(value: Any) -> Any:
    """JSON-friendly data from whatever the world put into options and statistics."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=str)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_report_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_json_dict(), indent=2) + "\n", encoding="utf-8")
