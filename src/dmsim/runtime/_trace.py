"""The trace recorder: ordered, timestamped events; same seed, same trace."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Divergence", "Trace", "TraceEvent"]


@dataclass(frozen=True, slots=True)
class TraceEvent:
    index: int
    time: float
    kind: str
    fields: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {"i": self.index, "t": round(self.time, 9), "kind": self.kind, **self.fields},
            sort_keys=True,
            separators=(",", ":"),
            default=_jsonable,
        )


def _jsonable(value: object) -> object:
    """Frozen mappings and sets as plain JSON, deterministically; anything else by repr."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two traces first differ (``None`` on the side that ended early)."""

    index: int
    left: TraceEvent | None
    right: TraceEvent | None

    def __str__(self) -> str:
        left = self.left.to_json() if self.left else "<end of trace>"
        right = self.right.to_json() if self.right else "<end of trace>"
        return f"traces diverge at event #{self.index}:\n  run 1: {left}\n  run 2: {right}"


class Trace:
    """Append-only event log; ``clock`` gives the time stamped on each event.

    ``keep(kind)`` decides which events are stored (all by default). Every event is numbered,
    counted and handed to listeners whether it is kept or not, so a long run that only needs
    listeners and counts (``dmsim simulate``) does not hold every event in memory. ``len`` and
    :meth:`count` cover every event recorded; iteration, :meth:`of_kind`, :meth:`digest` and
    :meth:`first_divergence` see only the kept ones."""

    def __init__(
        self, clock: Callable[[], float], *, keep: Callable[[str], bool] | None = None
    ) -> None:
        self._clock = clock
        self._keep = keep
        self._events: list[TraceEvent] = []
        self._counts: Counter[str] = Counter()
        self._recorded = 0
        self._listeners: list[Callable[[TraceEvent], None]] = []

    def record(self, kind: str, /, **fields: Any) -> TraceEvent:
        event = TraceEvent(self._recorded, self._clock(), kind, fields)
        self._recorded += 1
        self._counts[kind] += 1
        if self._keep is None or self._keep(kind):
            self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def count(self, kind: str) -> int:
        """How many events of ``kind`` were recorded, kept or not."""
        return self._counts[kind]

    def subscribe(self, listener: Callable[[TraceEvent], None]) -> None:
        """Call ``listener`` for every event recorded from now on (progress, oracle)."""
        self._listeners.append(listener)

    def __len__(self) -> int:
        """Events recorded, kept or not."""
        return self._recorded

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self._events)

    def of_kind(self, *kinds: str) -> list[TraceEvent]:
        return [e for e in self._events if e.kind in kinds]

    def digest(self) -> str:
        h = hashlib.sha256()
        for event in self._events:
            h.update(event.to_json().encode())
            h.update(b"\n")
        return h.hexdigest()

    def first_divergence(self, other: Trace) -> Divergence | None:
        for i in range(max(len(self._events), len(other._events))):
            left = self._events[i] if i < len(self._events) else None
            right = other._events[i] if i < len(other._events) else None
            if left is None or right is None or left.to_json() != right.to_json():
                return Divergence(i, left, right)
        return None

    def write_jsonl(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            for event in self._events:
                out.write(event.to_json() + "\n")
