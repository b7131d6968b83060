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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dmsim.errors import ConfigError, Problem, ScenarioError
from dmsim.runtime import Trace, TraceEvent

__all__ = ["EVENT_KINDS", "EventLog", "MachineEvent", "iso_time", "load_events", "machine_trace"]

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


def iso_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventLog:
    """Appends the :data:`EVENT_KINDS` events of ``trace`` to ``path``; with ``full``, every
    event with every field, per-reading ones included (``dmsim machine --trace``, what
    ``dmsim judge`` follows reading by reading). ``option`` names the log in errors."""

    def __init__(
        self, path: Path, *, trace: Trace, full: bool = False, option: str = "--events"
    ) -> None:
        try:
            self._out: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        except OSError as error:
            reason = error.strerror or str(error)
            raise ConfigError(Problem(option, f"cannot write {path}: {reason}")) from None
        self.path = path
        self.full = full
        self.dropped = 0  # events a failing write lost (a full disk must not stop the core)
        trace.subscribe(self._write)

    def _write(self, event: TraceEvent) -> None:
        if self.full:
            fields = event.fields
        elif event.kind in EVENT_KINDS:
            fields = {k: v for k, v in event.fields.items() if k not in _LEFT_OUT}
        else:
            return
        line: dict[str, Any] = {"time": iso_time(event.time), "kind": event.kind, **fields}
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
    time: float  # seconds since the epoch
    kind: str
    fields: dict[str, Any]


def load_events(path: Path, *, option: str = "--events") -> list[MachineEvent]:
    """Parse a JSON-lines event log (or full trace); every bad line is named with its number;
    ``option`` names the log when it cannot be read."""
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
    return sorted(events, key=lambda e: e.time)


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
    fields = {k: v for k, v in item.items() if k not in ("time", "kind")}
    return MachineEvent(moment.timestamp(), kind, fields)
