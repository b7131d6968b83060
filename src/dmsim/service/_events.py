"""The machine's event log: what a real machine did, as JSON lines, for the on-call engineer.

``dmsim machine --events FILE`` appends one line per event (never truncates: one file across
restarts): ``{"time": "<ISO-8601 UTC>", "kind": ..., ...fields}``, flushed line by line, so a
killed process loses at most the line it was writing. The kinds are the rare ones that explain
a backlog: starts and clean stops, each upload attempt with its outcome and error code, sync
pauses (and the probe that found the cloud again), backoffs and quarantines, start-up
recovery, policy deletions (and unlinks that failed), capture errors, skipped ticks, what a
capture control sensor switched and the sequences it recorded.
Per-reading events are left out (reading identities stay in the files).
``dmsim replay --events`` turns a log back into a fault schedule. ``dmsim machine --trace``
writes every event in the same form, per-reading ones included, for ``dmsim judge``.

Each line also carries ``mono``, the process's monotonic clock (seconds since it started): the
wall clock of a Pi without a real-time clock is set at boot (an RTC read as 1970, then NTP),
and events written before the set carry times hours off. Read back, lines keep the order
written, and each run of a process (a ``machine.start`` to the next, or a monotonic clock
that starts again) is put on its monotonic clock, anchored at the run's last event, since a
set makes the clock right, not wrong. :func:`read_event_log` also says where the clock was set
(:class:`ClockSet`): within a run, where the wall clock moves more than a second against the
monotonic one between two lines; and where a run starts with a wall clock before 2020, which
no clock that was set shows. A set while no process ran, from one right time to another, is
invisible in the log (as it is to the machine, which ages the files of that time by their own
clock, as the judge dates their readings).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dmsim.errors import ConfigError, Problem, ScenarioError
from dmsim.runtime import Trace, TraceEvent

__all__ = [
    "EVENT_KINDS",
    "SET_CLOCKS_SHOW_AFTER_S",
    "ClockSet",
    "EventLog",
    "EventLogContents",
    "MachineEvent",
    "iso_time",
    "load_events",
    "machine_trace",
    "read_event_log",
]

EVENT_KINDS = frozenset(
    {
        "machine.start",
        "machine.stop",
        "upload.attempt",
        "sync.paused",
        "sync.cloud_reachable",
        "sync.backoff",
        "sync.failed",
        "sync.stale",
        "sync.look_spacing",
        "sync.walk_error",
        "file.quarantined",
        "file.deleted_by_policy",
        "disk_policy.delete_failed",  # the deletion just recorded did not happen
        "recovery.torn",
        "capture.error",
        "capture.skipped",
        "capture.control",
        "sequence.opened",
        "sequence.closed",
        "sequence.orphaned",
        "sequence.lost",
    }
)
_log = logging.getLogger(__name__)
_LEFT_OUT = frozenset({"ids", "ids_kept"})  # reading identities: a file's worth per event
# Two lines of one run whose wall clock moved this much more than the monotonic one (the two
# are read microseconds apart; NTP slews far slower) had the clock set between them.
_SET_OVER_S = 1.0
SET_CLOCKS_SHOW_AFTER_S = 1_577_836_800.0  # 2020-01-01T00:00:00Z: no clock that was set shows less


def iso_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventLog:
    """Appends the :data:`EVENT_KINDS` events of ``trace`` to ``path``; with ``full``, every
    event with every field, per-reading ones included (``dmsim machine --trace``, what
    ``dmsim judge`` follows reading by reading). Each line gets ``monotonic()`` beside the
    trace's wall time. ``option`` names the log in errors."""

    def __init__(
        self,
        path: Path,
        *,
        trace: Trace,
        full: bool = False,
        monotonic: Callable[[], float],
        option: str = "--events",
    ) -> None:
        try:
            self._out: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        except OSError as error:
            reason = error.strerror or str(error)
            raise ConfigError(Problem(option, f"cannot write {path}: {reason}")) from None
        self.path = path
        self.full = full
        self._monotonic = monotonic
        self.dropped = 0  # events a failing write lost (a full disk must not stop the core)
        trace.subscribe(self._write)

    def _write(self, event: TraceEvent) -> None:
        if self.full:
            fields = event.fields
        elif event.kind in EVENT_KINDS:
            fields = {k: v for k, v in event.fields.items() if k not in _LEFT_OUT}
        else:
            return
        line: dict[str, Any] = {
            "time": iso_time(event.time),
            "mono": round(self._monotonic(), 6),
            "kind": event.kind,
            **fields,
        }
        try:
            self._out.write(json.dumps(line, default=str, separators=(",", ":")) + "\n")
        except OSError as error:
            if not self.dropped:
                _log.warning(
                    "event log %s: %s; dropping events until it writes again",
                    self.path,
                    error.strerror or error,
                )
            self.dropped += 1
            return
        if self.dropped:
            _log.warning(
                "event log %s writes again; %d event(s) were dropped", self.path, self.dropped
            )
            self.dropped = 0

    def close(self) -> None:
        try:
            self._out.close()
        except OSError as error:  # at shutdown on a full disk: say so, never fail the stop
            _log.warning("event log %s: %s at close", self.path, error.strerror or error)


def machine_trace(wall_ns: Callable[[], int]) -> Trace:
    """A trace on the wall clock (seconds since the epoch) that keeps nothing in memory: its
    events only go to the logs subscribed to it."""
    return Trace(lambda: wall_ns() / 1e9, keep=_keep_nothing)


def _keep_nothing(_kind: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class MachineEvent:
    time: float  # seconds since the epoch (read back: without the clock's sets, see above)
    kind: str
    fields: dict[str, Any]
    mono: float | None = None  # the process's monotonic clock when it was written


def load_events(path: Path, *, option: str = "--events") -> list[MachineEvent]:
    """Parse a JSON-lines event log (or full trace); every bad line is named with its number;
    ``option`` names the log when it cannot be read."""
    return read_event_log(path, option=option).events


@dataclass(frozen=True, slots=True)
class ClockSet:
    """Where the log shows the machine's wall clock set: ``at`` is the time (read back, as
    the events') of the first line written after the set; ``by_s`` how far it moved the
    clock, or ``None`` for a run that started with a clock before 2020 (set then or later);
    ``reads`` what the clock read then (seconds since the epoch)."""

    at: float
    by_s: float | None
    reads: float


@dataclass(frozen=True, slots=True)
class EventLogContents:
    events: list[MachineEvent]  # in the order written, each run on its monotonic clock
    clock_sets: list[ClockSet]  # in the same order


def read_event_log(path: Path, *, option: str = "--events") -> EventLogContents:
    """:func:`load_events`, and where the log shows the wall clock set."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ScenarioError(Problem(option, f"cannot read {path}: {reason}")) from None
    events: list[MachineEvent] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(Problem("", f"invalid JSON: {error.msg}", number))
            continue
        event = _event(item, number, problems)
        if event is not None:
            events.append(event)
    if not events and not problems:
        problems.append(Problem("", "the event log has no events"))
    if problems:
        raise ScenarioError(problems, source=str(path))
    return _without_clock_sets(events)


@dataclass(frozen=True, slots=True)
class _Run:
    events: list[MachineEvent]  # on the run's monotonic clock
    clock_sets: list[ClockSet]
    unset: bool  # its clock never read a time a set clock shows: when it ran is unknown

    def shifted(self, by_s: float) -> _Run:
        return _Run(
            [replace(e, time=e.time + by_s) for e in self.events],
            [replace(c, at=c.at + by_s) for c in self.clock_sets],
            self.unset,
        )


def _without_clock_sets(events: list[MachineEvent]) -> EventLogContents:
    """Each run's events on its monotonic clock, anchored at the run's last event (a line
    without ``mono``, from a log dmsim wrote before it had the field, keeps its wall time),
    and the sets each run's lines show. A run whose clock never left 1970 (a Pi that never
    reached NTP) is put right after the run before it, or, when such runs lead the log, right
    before the first run whose clock was set: not 56 years from the rest."""
    runs: list[_Run] = []
    start = 0
    for end in range(1, len(events) + 1):
        if end < len(events) and not _new_run(events[end - 1], events[end]):
            continue
        runs.append(_steady_run(events[start:end]))
        start = end
    placed = [i for i, run in enumerate(runs) if not run.unset]
    if placed:
        for i in range(placed[0] - 1, -1, -1):
            runs[i] = runs[i].shifted(runs[i + 1].events[0].time - runs[i].events[-1].time)
        for i in range(placed[0] + 1, len(runs)):
            if runs[i].unset:
                runs[i] = runs[i].shifted(runs[i - 1].events[-1].time - runs[i].events[0].time)
    return EventLogContents(
        [e for run in runs for e in run.events], [c for run in runs for c in run.clock_sets]
    )


def _steady_run(run: list[MachineEvent]) -> _Run:
    anchor, last = run[-1], run[-1].mono
    if last is None:  # a line of a log without mono: its wall time is all there is
        return _Run(run, [], unset=False)
    # (every line of a longer run has mono)
    on_mono = [replace(e, time=anchor.time + e.mono - last) for e in run if e.mono is not None]
    sets = []
    if run[0].time < SET_CLOCKS_SHOW_AFTER_S:
        sets.append(ClockSet(on_mono[0].time, None, run[0].time))
    offsets = [e.time - e.mono for e in run if e.mono is not None]
    sets += [
        ClockSet(steady.time, after - before, event.time)
        for steady, event, before, after in zip(
            on_mono[1:], run[1:], offsets, offsets[1:], strict=False
        )
        if abs(after - before) > _SET_OVER_S
    ]
    return _Run(on_mono, sets, unset=all(e.time < SET_CLOCKS_SHOW_AFTER_S for e in run))


def _new_run(before: MachineEvent, event: MachineEvent) -> bool:
    if event.kind == "machine.start" or event.mono is None or before.mono is None:
        return True
    return event.mono < before.mono  # a new process: its clock starts again at 0


def _event(item: Any, number: int, problems: list[Problem]) -> MachineEvent | None:
    where = ""  # the line number says where
    if not isinstance(item, dict):
        problems.append(Problem(where, "expected a JSON object", number))
        return None
    kind, stamp = item.get("kind"), item.get("time")
    if not isinstance(kind, str) or not isinstance(stamp, str):
        problems.append(Problem(where, "expected string fields 'time' and 'kind'", number))
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(where, f"'time' is not an ISO-8601 time: {stamp!r}", number))
        return None
    if moment.tzinfo is None:
        problems.append(Problem(where, f"'time' needs a zone (Z): {stamp!r}", number))
        return None
    mono = item.get("mono")
    if mono is not None and (isinstance(mono, bool) or not isinstance(mono, int | float)):
        problems.append(Problem(where, f"'mono' is not a number: {mono!r}", number))
        return None
    fields = {k: v for k, v in item.items() if k not in ("time", "kind", "mono")}
    return MachineEvent(moment.timestamp(), kind, fields, None if mono is None else float(mono))
