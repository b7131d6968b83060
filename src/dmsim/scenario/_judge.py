"""The oracle on a real run: a machine's full trace + the cloud's store → every reading's class.

``dmsim machine --trace FILE`` records what the machine did (each reading captured with its
digest, each file completed, recovered, deleted or quarantined, each upload attempt), across
restarts, in one file; the fake cloud's data directory holds what it stored, with each
reading's identity. :func:`judge_real_run` turns both into the simulation's trace vocabulary
and applies the same ledger and oracle (:mod:`._ledger`, :mod:`._oracle`):

- a ``machine.start`` after another is a ``process.restart``; with no ``machine.stop`` since
  the previous start, the process died: a ``process.crash`` at its last event (its last sign
  of life; readings captured within the durability window before it may be lost);
  ``machine.stop`` is a clean ``process.stop``;
- a file sync gave up on (``sync.failed``, moved to ``failed/``) quarantines the readings its
  completion or recovery listed, as in simulation;
- each reading the cloud stored is a ``cloud.stored`` at its receive time, with the digest of
  the ``SensorData`` as stored (payload included);
- each set of the machine's wall clock the trace shows (:func:`read_event_log`) is an instant
  ``clock_step`` fault, as a simulated NTP step is: the stale-data warning is judged with the
  leniency a clock fault earns (:mod:`._stale`), and a drain bound counts from the last set.

The machine's events are fed to the ledger before the cloud's, so a cloud clock running behind
the machine's cannot make a stored reading look uncaptured (its time to cloud then reads low).
Times are seconds from the trace's earliest event, each run of the machine on its monotonic
clock (see :mod:`dmsim.service._events`): a wall clock set during the run (a Pi's RTC read as
1970, then NTP) neither reorders its events nor stretches the time between them.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmsim.capture import sensor_data_digest
from dmsim.errors import Problem, ScenarioError
from dmsim.runtime import TraceEvent
from dmsim.service._events import (
    ClockSet,
    MachineEvent,
    iso_time,
    load_events,
    read_event_log,
)
from dmsim.storage._sequences import sequence_fingerprint

from ._expect import ExpectationResult, check_arbitrary_files, check_sequences
from ._ledger import FilesOnDisk, Ledger, build_ledger
from ._model import VIOLATION_CLASSES
from ._oracle import Classified, OracleOptions, classify_all
from ._stale import check_stale_warnings

if TYPE_CHECKING:
    from dmsim.cloud import CloudCore

__all__ = ["RealRunVerdict", "judge_real_run"]


@dataclass(frozen=True, slots=True)
class RealRunVerdict:
    ledger: Ledger
    classified: tuple[Classified, ...]
    boots: int
    crashes: int
    span_s: float
    clock_sets: tuple[ClockSet, ...]  # on the trace's time (seconds from its first event)
    stale_warning: ExpectationResult | None  # None: the trace does not say the threshold

    @property
    def counts(self) -> Counter[str]:
        return Counter(c.cls for c in self.classified)

    @property
    def violations(self) -> tuple[Classified, ...]:
        return tuple(c for c in self.classified if c.cls in VIOLATION_CLASSES)

    @property
    def passed(self) -> bool:
        sequences_ok = check_sequences(self.ledger.sequences).ok
        files_ok = check_arbitrary_files(self.ledger.arbitrary_files).ok
        stale_ok = self.stale_warning is None or self.stale_warning.ok
        return (
            not self.violations
            and not self.ledger.anomalies
            and sequences_ok
            and files_ok
            and stale_ok
        )

    def to_json(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "readings": len(self.classified),
            "counts": dict(sorted(self.counts.items())),
            "boots": self.boots,
            "crashes": self.crashes,
            "span_s": round(self.span_s, 3),
            "violations": [
                {"reading": c.reading, "class": c.cls, "why": c.why, "kind": c.violation}
                for c in self.violations
            ],
            "anomalies": list(self.ledger.anomalies),
            "sequences": asdict(self.ledger.sequences),
            "arbitrary_files": asdict(self.ledger.arbitrary_files),
            "clock_sets": [
                {
                    "at_s": round(c.at, 3),
                    "by_s": None if c.by_s is None else round(c.by_s, 3),
                    "reads": iso_time(c.reads),
                }
                for c in self.clock_sets
            ],
            "stale_warning": None if (stale := self.stale_warning) is None else asdict(stale),
        }

    def summary(self, *, shown: int = 10) -> str:
        counts = self.counts
        lines = [
            f"dmsim judge: {len(self.classified):,} reading(s) captured over "
            f"{self.span_s:,.1f}s by {self.boots} boot(s) ({self.crashes} crash(es)); "
            f"{sum(len(r.stores) for r in self.ledger.readings):,} store(s) in the cloud",
            "  " + "  ".join(f"{cls} {n:,}" for cls, n in sorted(counts.items())),
        ]
        for item in self.violations[:shown]:
            lines.append(f"  VIOLATION {item.cls}: {item.reading}: {item.why}")
        if len(self.violations) > shown:
            lines.append(f"  … and {len(self.violations) - shown:,} more violation(s)")
        lines += [f"  ANOMALY {a}" for a in self.ledger.anomalies[:shown]]
        if self.ledger.sequences.opened:
            result = check_sequences(self.ledger.sequences)
            lines.append(f"  sequences: {result.detail}" + ("" if result.ok else "  FAIL"))
        if self.ledger.arbitrary_files.followed:
            result = check_arbitrary_files(self.ledger.arbitrary_files)
            lines.append(f"  sync paths: {result.detail}" + ("" if result.ok else "  FAIL"))
        if self.clock_sets:
            lines.append(f"  wall clock: {_said_sets(self.clock_sets)}")
        if (stale := self.stale_warning) is not None:
            lines.append(f"  stale warning: {stale.detail}" + ("" if stale.ok else "  FAIL"))
        lines.append(f"verdict: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(lines)


def judge_real_run(
    trace_path: Path,
    cloud_data: Path,
    *,
    durability_window_s: float,
    drain_within_s: float | None = None,
    written_files: Path | None = None,
) -> RealRunVerdict:
    """Judge a real run; a clear error when the trace or the cloud cannot be read.
    ``written_files`` holds the ``file.written`` events of programs that wrote into the
    machine's additional sync paths (the wall-clock run's writers): each such file is then
    followed to the cloud's ``FileUpload`` store as well."""
    from dmsim.cloud import CloudCore  # the cloud stack: only for this command

    log = read_event_log(trace_path, option="--trace")
    events = log.events
    # (a clock stepped back while the machine was off puts a later run before an earlier one)
    origin = min(event.time for event in events)
    clock_sets = tuple(replace(c, at=c.at - origin) for c in log.clock_sets)
    writers = read_written_files(written_files) if written_files is not None else []
    machine = list(
        heapq.merge(
            _machine_events(events, origin),
            ((e.time - origin, e.kind, dict(e.fields)) for e in writers),
            _clock_faults(clock_sets),
            key=lambda event: event[0],
        )
    )
    core = CloudCore(clock=lambda: 0.0, data_dir=str(cloud_data.resolve()), read_only=True)
    try:
        cloud = sorted(
            _cloud_events(core, origin, files=written_files is not None),
            key=lambda event: event[0],
        )
    finally:
        core.close()
    ledger = build_ledger(
        TraceEvent(index, t, kind, fields)
        for index, (t, kind, fields) in enumerate([*machine, *cloud])
    )
    end = max([max(event.time for event in events) - origin, *(t for t, _, _ in cloud)])
    options = OracleOptions(
        durability_window_s=durability_window_s,
        run_end=end,
        queue_drain_s=1.0,
        drain_within_s=drain_within_s,
    )
    return RealRunVerdict(
        ledger=ledger,
        classified=classify_all(ledger, options),
        boots=sum(e.kind == "machine.start" for e in events),
        crashes=len(ledger.crashes),
        span_s=end,
        clock_sets=clock_sets,
        stale_warning=check_stale_warnings(ledger, end),
    )


_Event = tuple[float, str, dict[str, Any]]  # (seconds from the first event, kind, fields)


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def read_written_files(path: Path) -> list[MachineEvent]:
    """The ``--files`` log: a JSON line ``{"time", "kind": "file.written", "path", "size",
    "digest"}`` (optionally ``writing_s``, ``mono``) per file another program completed in
    the machine's additional sync paths; every line that is not one is named."""
    events = load_events(path, option="--files")
    numbers = [n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if line.strip()]
    problems: list[Problem] = []
    first_line: dict[object, int] = {}
    for number, event in zip(numbers, events, strict=True):
        fields = event.fields
        name, size, digest = fields.get("path"), fields.get("size"), fields.get("digest")
        wrong = []
        if event.kind != "file.written":
            wrong.append(f"expected kind 'file.written', got {event.kind!r}")
        elif not (isinstance(name, str) and name.startswith("/")):
            wrong.append(f"'path' must be the absolute path the machine syncs, got {name!r}")
        elif name in first_line:
            wrong.append(f"{name} is logged twice (first on line {first_line[name]})")
        else:
            first_line[name] = number
        if event.kind == "file.written":
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                wrong.append(f"'size' must be a positive integer (bytes), got {size!r}")
            if not (isinstance(digest, str) and _SHA256_HEX.fullmatch(digest)):
                wrong.append(
                    f"'digest' must be the SHA-256 of the file's bytes in hex, got {digest!r}"
                )
        problems += [Problem("", message, number) for message in wrong]
    if problems:
        raise ScenarioError(problems, source=str(path))
    return events


def _cloud_events(core: CloudCore, origin: float, *, files: bool) -> Iterator[_Event]:
    """A ``cloud.stored`` per stored reading, one payload in memory at a time (its digest is
    kept, not its bytes), then, with ``files``, a ``cloud.file_stored`` per file, and a
    ``cloud.sequence_stored`` per sequence."""
    for stored in core.stored_readings():
        fields = {
            "stream": stored.stream,
            "boot": stored.boot,
            "seq": stored.seq,
            "key": stored.upload_key,
            "digest": sensor_data_digest(stored.reading),
            "duplicate_key": False,  # the cloud stores each key once: every row is new
        }
        yield (stored.received_ns / 1e9 - origin, "cloud.stored", fields)
    for stored_file in core.stored_files() if files else ():
        fields = {
            "path": stored_file.file_name,
            "digest": stored_file.sha256,
            "key": stored_file.upload_key,
            "duplicate_key": False,
        }
        yield (stored_file.received_ns / 1e9 - origin, "cloud.file_stored", fields)
    for sequence in core.sequences():
        fingerprint = sequence_fingerprint(
            sequence.start_ns, sequence.end_ns, sequence.resources, sequence.tags
        )
        fields = {"fingerprint": fingerprint, "key": sequence.upload_key, "duplicate_key": False}
        yield (sequence.received_ns / 1e9 - origin, "cloud.sequence_stored", fields)


def _clock_faults(clock_sets: tuple[ClockSet, ...]) -> Iterator[_Event]:
    """Each set as the instant fault a simulated NTP step is (its trace's vocabulary)."""
    for number, clock_set in enumerate(clock_sets, 1):
        fields: dict[str, Any] = {"fault_id": f"clock-set-{number}", "kind": "clock_step"}
        yield (clock_set.at, "fault.start", fields)
        yield (clock_set.at, "fault.end", dict(fields))


def _said_sets(clock_sets: tuple[ClockSet, ...], *, shown: int = 3) -> str:
    said = [
        f"read before 2020 at {c.at:,.1f}s"
        if c.by_s is None
        else f"set {c.by_s:+,.1f}s at {c.at:,.1f}s"
        for c in clock_sets[:shown]
    ]
    more = len(clock_sets) - shown
    return "; ".join(said) + (f"; and {more:,} more set(s)" if more > 0 else "")


def _machine_events(events: list[MachineEvent], origin: float) -> Iterator[_Event]:
    started = stopped = False
    last_seen = 0.0
    files = FilesOnDisk()
    for event in events:
        t = event.time - origin
        quarantine = files.follow(event.kind, event.fields)
        if quarantine is not None:  # as the simulated world does: its readings stay
            yield (t, "file.quarantined", quarantine)
        if event.kind == "machine.start":
            if started and not stopped:
                yield (last_seen, "process.crash", {"boot": event.fields.get("boot")})
            if started:
                yield (t, "process.restart", {"boot": event.fields.get("boot")})
            started, stopped = True, False
        elif event.kind == "machine.stop":
            stopped = True
            yield (t, "process.stop", dict(event.fields))
        else:
            yield (t, event.kind, dict(event.fields))
        last_seen = t
