"""The machine's event log: what a real machine did, as JSON lines, for the on-call engineer.

``dmsim machine --events FILE`` appends one line per event (never truncates: one file across
restarts): ``{"time": "<ISO-8601 UTC>", "kind": ..., ...fields}``, flushed line by line, so a
killed process loses at most the line it was writing. The kinds are the rare ones that explain
a backlog: starts and clean stops, each upload attempt with its outcome and error code, sync
pauses, backoffs and quarantines, start-up recovery, policy deletions, capture errors and
skipped ticks. Per-reading events are left out (reading identities stay in the files).
``dmsim replay --events`` turns a log back into a fault schedule.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import Trace, TraceEvent

__all__ = ["EVENT_KINDS", "EventLog", "iso_time"]

EVENT_KINDS = frozenset(
    {
        "machine.start",
        "machine.stop",
        "upload.attempt",
        "sync.paused",
        "sync.backoff",
        "sync.failed",
        "sync.stale",
        "sync.walk_error",
        "file.quarantined",
        "file.deleted_by_policy",
        "recovery.torn",
        "capture.error",
        "capture.skipped",
    }
)
_log = logging.getLogger(__name__)
_LEFT_OUT = frozenset({"ids", "ids_kept"})  # reading identities: a file's worth per event


def iso_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventLog:
    """Appends the machine's :data:`EVENT_KINDS` events to ``path``."""

    def __init__(self, path: Path, *, wall_ns: Callable[[], int]) -> None:
        try:
            self._out: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        except OSError as error:
            reason = error.strerror or str(error)
            raise ConfigError(Problem("--events", f"cannot write {path}: {reason}")) from None
        self.path = path
        self.dropped = 0  # events a failing write lost (a full disk must not stop the core)
        self.trace = Trace(lambda: wall_ns() / 1e9, keep=_keep_nothing)
        self.trace.subscribe(self._write)

    def _write(self, event: TraceEvent) -> None:
        if event.kind not in EVENT_KINDS:
            return
        fields = {k: v for k, v in event.fields.items() if k not in _LEFT_OUT}
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


def _keep_nothing(_kind: str) -> bool:
    return False
