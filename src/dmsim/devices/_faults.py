"""Device fault bookkeeping as a small pure state machine (no I/O, no clock of its own).

Kinds, and what a capture does while one is active (the first active kind in this order wins):

- ``disconnect``: raise :class:`DeviceDisconnected` until the fault ends or ``reconnect()``.
- ``read_error``: raise :class:`DeviceReadError`.
- ``timeout``: hang until the capture is cancelled or the fault ends, then read normally
  (the collector bounds the wait with its own timeout).
- ``stuck``: return the previous value again (new timestamps, same payload).

A fault with ``until`` (simulated seconds, the runtime's monotonic clock) ends by itself;
one without lasts until ``clear_fault``. A fault with a ``method`` touches that capture method
only (a camera's GetImages failing while ReadImage works); without one, every method.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmsim.errors import Problem, ScenarioError

__all__ = ["FAULT_KINDS", "ActiveFault", "FaultBook"]

FAULT_KINDS: tuple[str, ...] = ("disconnect", "read_error", "timeout", "stuck")


@dataclass(frozen=True, slots=True)
class ActiveFault:
    fault_id: str
    kind: str
    since: float
    until: float | None
    method: str | None = None

    def expired(self, now: float) -> bool:
        return self.until is not None and now >= self.until


class FaultBook:
    """The faults active on one device. Every change returns what changed, for the trace."""

    __slots__ = ("_active", "injected")

    def __init__(self) -> None:
        self._active: dict[str, ActiveFault] = {}  # insertion-ordered: deterministic
        self.injected = 0

    def inject(
        self,
        kind: str,
        *,
        fault_id: str,
        now: float,
        until: float | None,
        method: str | None = None,
    ) -> ActiveFault:
        if kind not in FAULT_KINDS:
            raise ScenarioError(
                Problem("kind", f"unknown device fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
            )
        if not fault_id:
            raise ScenarioError(Problem("fault_id", "a device fault needs a non-empty fault_id"))
        if fault_id in self._active:
            raise ScenarioError(Problem("fault_id", f"fault {fault_id!r} is already active"))
        if until is not None and until <= now:
            raise ScenarioError(
                Problem("until", f"fault {fault_id!r} ends at {until:g}s, not after now ({now:g}s)")
            )
        fault = ActiveFault(fault_id, kind, now, until, method)
        self._active[fault_id] = fault
        self.injected += 1
        return fault

    def clear(self, fault_id: str) -> ActiveFault | None:
        return self._active.pop(fault_id, None)

    def clear_kind(self, kind: str) -> list[ActiveFault]:
        gone = [f for f in self._active.values() if f.kind == kind]
        for fault in gone:
            del self._active[fault.fault_id]
        return gone

    def expire(self, now: float) -> list[ActiveFault]:
        if not self._active:
            return []
        gone = [f for f in self._active.values() if f.expired(now)]
        for fault in gone:
            del self._active[fault.fault_id]
        return gone

    def effective(self, method: str) -> ActiveFault | None:
        """The fault that decides what a capture of ``method`` does now (module docstring)."""
        if not self._active:
            return None
        for kind in FAULT_KINDS:
            for fault in self._active.values():
                if fault.kind == kind and fault.method in (None, method):
                    return fault
        return None

    def earliest_end(self) -> float | None:
        """When the first active fault with an end ends (``None``: none has one)."""
        ends = [f.until for f in self._active.values() if f.until is not None]
        return min(ends) if ends else None

    def __len__(self) -> int:
        return len(self._active)
