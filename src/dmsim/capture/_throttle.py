"""Error-log throttling per (collector, message): the same error at most once per interval,
with a count of what was suppressed, so a failing device cannot flood the log."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LogThrottle"]


@dataclass(slots=True)
class LogThrottle:
    interval_s: float = 2.0
    _last: dict[tuple[str, str], float] = field(default_factory=dict)
    _suppressed: dict[tuple[str, str], int] = field(default_factory=dict)

    def admit(self, source: str, message: str, now: float) -> int | None:
        """``None`` if this message must be suppressed now; otherwise how many identical
        messages were suppressed since the last one admitted (to mention in the log line)."""
        key = (source, message)
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)
