"""The promised fault envelope: what generated fault schedules stay inside.

The :class:`Envelope` is what dmsim's core promises to survive with nothing worse than
explained loss (lost inside the durability window at a crash, deleted by a named policy rule).
Faults beyond it (INVALID_ARGUMENT rejections that quarantine files, garbage appended to
capture files, a disk that shrinks) are left out by default so a fuzzer finding them is not
reporting a broken promise; a scenario can widen its envelope explicitly.

Generated schedules keep a quiet tail: no fault acts during the last ``quiet_tail_s`` seconds,
so the backlog can drain and liveness can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._kinds import KINDS

__all__ = ["DEFAULT_ENVELOPE_KINDS", "CaptureMethodRef", "Envelope"]

DEFAULT_ENVELOPE_KINDS: frozenset[str] = frozenset(KINDS) - {
    "disk_append_garbage",
    "disk_capacity",
}
_SURVIVABLE_CODES = ("UNAVAILABLE", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED", "INTERNAL")
_MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class CaptureMethodRef:
    """A capture method a ``reconfigure`` fault may retune: its resource, method and rate."""

    resource: str
    method: str
    capture_frequency_hz: float


@dataclass(frozen=True, slots=True)
class Envelope:
    """Bounds for generated schedules (times in seconds, sizes in bytes)."""

    kinds: frozenset[str] = DEFAULT_ENVELOPE_KINDS
    max_faults: int = 5
    min_window_s: float = 1.0
    max_window_s: float = 600.0
    max_restart_after_s: float = 60.0
    max_clock_step_s: float = 3600.0
    max_latency_s: float = 2.0  # one latency fault's extra delay, jitter included
    max_loss: float = 0.5
    max_disk_fill_bytes: int = 0
    rpc_codes: tuple[str, ...] = _SURVIVABLE_CODES
    quiet_tail_s: float = 0.0
    components: tuple[str, ...] = ()
    capture_methods: tuple[CaptureMethodRef, ...] = field(default=())

    def usable_kinds(self) -> tuple[str, ...]:
        """The kinds this envelope can actually generate (some need components or methods)."""
        usable = []
        for kind in sorted(self.kinds):
            group = KINDS[kind].group
            if group == "device" and not self.components:
                continue
            if group == "reconfigure" and not self.capture_methods:
                continue
            if kind == "disk_fill" and self.max_disk_fill_bytes < _MIB:
                continue
            usable.append(kind)
        return tuple(usable)
