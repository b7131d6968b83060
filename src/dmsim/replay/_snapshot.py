"""What a field device's capture directory holds: its streams, its backlog and its damage.

Read-only: the directory is walked and every capture file inspected (the same reader as
``dmsim capture inspect``), nothing is written or moved. The snapshot's moment is the newest
reading's ``time_requested`` (file mtimes do not survive a plain copy off the device), or the
newest mtime when no file has a readable reading (scenarios' default epoch for an empty
directory). A reading dated after 2200 comes from a clock gone wrong and does not set it: a
replay from there would leave the times the cloud stores.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dmsim.errors import Problem, ScenarioError
from dmsim.scenario._model import DEFAULT_EPOCH_NS
from dmsim.scenario._preload import preload_files
from dmsim.storage import FAILED_DIR, FileReport, ReadingId, RealFS
from dmsim.storage._inspect import capture_files, inspect_file, problem_report
from dmsim.storage._quarantine import REASON_SUFFIX

__all__ = ["FieldSnapshot", "QuarantinedFile", "StreamSummary", "read_snapshot"]

_DMSIM_FILES = frozenset({".dmsim/boot", ".dmsim/lock"})  # dmsim's own: not data
_LATEST_NS = 7_258_118_400 * 10**9  # 2200-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """One collector's files: (component type, name, method, additional params)."""

    component_type: str
    component_name: str
    method_name: str
    method_parameters: tuple[tuple[str, str], ...]
    data_type: str
    mime_type: str  # of its first file's header
    tags: tuple[str, ...]
    files: int
    open_files: int  # .prog: left open by a crash or a kill, for start-up recovery
    readings: int
    bytes: int
    torn_tail_bytes: int
    first_time_requested_ns: int | None
    last_time_requested_ns: int | None
    rate_hz: float | None  # readings per second inside files, else across them; None: unknown
    first_file: str | None = None  # its oldest file (walk order), to look at a payload

    @property
    def label(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.method_parameters)
        name = f"{self.component_name}/{self.method_name}"
        return f"{name}[{params}]" if params else name


@dataclass(frozen=True, slots=True)
class QuarantinedFile:
    path: str  # relative to the capture directory
    reason: str


@dataclass(frozen=True, slots=True)
class FieldSnapshot:
    root: Path
    taken_at_ns: int
    streams: tuple[StreamSummary, ...]
    damaged: tuple[FileReport, ...]  # capture files with a problem (torn tail, garbage, ...)
    quarantined: tuple[QuarantinedFile, ...]
    other_files: tuple[str, ...]  # neither capture files nor quarantine: kept, not followed
    files: tuple[tuple[str, int], ...]  # every regular file: (path relative to root, size)
    boot_counter: int | None

    @property
    def total_files(self) -> int:
        return len(self.files)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    @property
    def readings(self) -> int:
        return sum(s.readings for s in self.streams)

    @property
    def oldest_reading_ns(self) -> int | None:
        firsts = [s.first_time_requested_ns for s in self.streams if s.first_time_requested_ns]
        return min(firsts, default=None)

    @property
    def taken_at_iso(self) -> str:
        moment = datetime.fromtimestamp(self.taken_at_ns // 10**9, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_snapshot(root: Path) -> FieldSnapshot:
    """Inspect the capture directory at ``root``; a clear error when it cannot be read."""
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise ScenarioError(Problem("CAPTURE_DIR", f"{root} {what}"))
    fs = RealFS()
    listing = capture_files(fs, str(root))
    if listing.unlisted:  # a replay could not copy what is in them
        raise ScenarioError([Problem("CAPTURE_DIR", str(p)) for p in listing.unlisted])
    seen: dict[ReadingId, str] = {}  # two readings claiming one identity are damage
    reports = [inspect_file(fs, path, seen=seen) for path in listing.files]
    misnamed = [problem_report(p.path, 0, p) for p in listing.misnamed]
    files = tuple(preload_files(root))  # what a replay copies, in the order it copies it
    everything = [relative for relative, _ in files]
    capture_set = {Path(p).relative_to(root).as_posix() for p in listing.files}
    quarantined = _quarantined(root, everything)
    in_quarantine = {f.path for f in quarantined}
    other = tuple(
        p
        for p in everything
        if p not in capture_set
        and p not in in_quarantine
        and not p.startswith(f"{FAILED_DIR}/")
        and p not in _DMSIM_FILES
    )
    taken_at = (
        max((t for r in reports if (t := r.last_time_requested_ns or 0) < _LATEST_NS), default=0)
        or max((os.stat(root / p).st_mtime_ns for p in everything), default=0)
        or DEFAULT_EPOCH_NS
    )
    return FieldSnapshot(
        root=root,
        taken_at_ns=-(-taken_at // 10**9) * 10**9,  # the next whole second: after every reading
        streams=_streams(reports),
        damaged=tuple(r for r in [*reports, *misnamed] if r.problems),
        quarantined=quarantined,
        other_files=other,
        files=files,
        boot_counter=_boot_counter(root),
    )


def _quarantined(root: Path, everything: Iterable[str]) -> tuple[QuarantinedFile, ...]:
    prefix = f"{FAILED_DIR}/"
    names = [p for p in everything if p.startswith(prefix)]
    reasons = set(names)
    out = []
    for name in names:
        if name.endswith(REASON_SUFFIX):
            continue
        reason_file = name + REASON_SUFFIX
        reason = "no reason recorded"
        if reason_file in reasons:
            text = (root / reason_file).read_text(encoding="utf-8", errors="replace").strip()
            reason = text.splitlines()[0] if text else reason
        out.append(QuarantinedFile(name, reason))
    return tuple(out)


def _boot_counter(root: Path) -> int | None:
    try:
        text = (root / ".dmsim" / "boot").read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdecimal() else None


def _streams(reports: Iterable[FileReport]) -> tuple[StreamSummary, ...]:
    groups: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[FileReport]] = {}
    for report in reports:
        if not report.component_type and not report.readings:
            continue  # no readable metadata: listed as damaged only
        key = (
            report.component_type,
            report.component_name,
            report.method_name,
            report.method_parameters,
        )
        groups.setdefault(key, []).append(report)
    return tuple(_summary(key, files) for key, files in sorted(groups.items()))


def _summary(
    key: tuple[str, str, str, tuple[tuple[str, str], ...]], files: list[FileReport]
) -> StreamSummary:
    firsts = [f.first_time_requested_ns for f in files if f.first_time_requested_ns is not None]
    lasts = [f.last_time_requested_ns for f in files if f.last_time_requested_ns is not None]
    intervals = sum(max(0, f.readings - 1) for f in files)
    span_ns = sum(
        f.last_time_requested_ns - f.first_time_requested_ns
        for f in files
        if f.readings > 1
        and f.first_time_requested_ns is not None
        and f.last_time_requested_ns is not None
    )
    readings = sum(f.readings for f in files)
    rate = intervals / (span_ns / 1e9) if intervals and span_ns > 0 else None
    if rate is None and readings > 1 and firsts and max(lasts) > min(firsts):
        # one reading per file (binary payloads): the stream's own span, gaps included
        rate = (readings - 1) / ((max(lasts) - min(firsts)) / 1e9)
    if rate is not None and not math.isfinite(rate):
        rate = None
    return StreamSummary(
        component_type=key[0],
        component_name=key[1],
        method_name=key[2],
        method_parameters=key[3],
        data_type=files[0].data_type,
        mime_type=files[0].mime_type,
        tags=files[0].tags,
        files=len(files),
        open_files=sum(f.is_prog for f in files),
        readings=readings,
        bytes=sum(f.size_bytes for f in files),
        torn_tail_bytes=sum(f.torn_tail_bytes for f in files),
        first_time_requested_ns=min(firsts, default=None),
        last_time_requested_ns=max(lasts, default=None),
        rate_hz=rate,
        first_file=files[0].path,
    )
