"""The promised fault envelope: what generated fault schedules stay inside.

The :class:`Envelope` is what dmsim's core promises to survive with nothing worse than
explained loss (lost inside the durability window at a crash, deleted by a named policy rule).
Faults beyond it (INVALID_ARGUMENT rejections that quarantine files, garbage appended to
capture files, a disk that shrinks) are left out by default so a fuzzer finding them is not
reporting a broken promise; a scenario can widen its envelope explicitly.

Generated schedules keep a quiet tail: no fault acts during the last ``quiet_tail_s`` seconds,
so the backlog can drain and liveness can be checked. A rejection whose code makes the machine
pause every upload (``pausing_codes``, for ``pause_s``: its offline interval) ends that much
earlier still, since the backlog cannot start draining before the pause is over; so does a
clean restart, by ``stop_s`` (the longest its stop may wait for a refusing disk before the
restart delay begins).

A reconfigure changes capture rates or data manager attributes. Some changes are rare
(``ServiceSetting.rare``, and turning one capture method off or on): a capture switched off
captures nothing for the faults after it to act on, so a campaign where it came often would
find less. A rare change rides along with another, in about one reconfigure in eight.

RPC faults apply to every RPC or to a few of them; ``rpcs`` narrows them to the RPCs named
(``[CreateSequence]`` aims every generated RPC fault at sequence creation while uploads flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._kinds import KINDS, RPC_CODES, RPC_NAMES

__all__ = ["DEFAULT_ENVELOPE_KINDS", "CaptureMethodRef", "Envelope", "ServiceSetting"]

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
class ServiceSetting:
    """A data manager attribute a ``reconfigure`` fault may set, and the values it may take;
    a ``rare`` one only rides along with another change, now and then, and its last value is
    the configured one (a later reconfigure alone may restore it)."""

    attribute: str
    values: tuple[float | int | str, ...]
    rare: bool = False


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
    rpcs: tuple[str, ...] = RPC_NAMES  # the RPCs a generated RPC fault may name
    quiet_tail_s: float = 0.0
    pausing_codes: frozenset[str] = frozenset()
    pause_s: float = 0.0
    stop_s: float = 0.0
    components: tuple[str, ...] = ()
    capture_methods: tuple[CaptureMethodRef, ...] = field(default=())
    data_manager_settings: tuple[ServiceSetting, ...] = field(default=())

    def __post_init__(self) -> None:
        for name, allowed, given in (
            ("kinds", tuple(KINDS), tuple(sorted(self.kinds))),
            ("rpc_codes", RPC_CODES, self.rpc_codes),
            ("rpcs", RPC_NAMES, self.rpcs),
            ("pausing_codes", RPC_CODES, tuple(sorted(self.pausing_codes))),
        ):
            unknown = [value for value in given if value not in allowed]
            if unknown:
                raise ValueError(f"envelope {name}: unknown {', '.join(map(repr, unknown))}")
        for name, values in (("rpc_codes", self.rpc_codes), ("rpcs", self.rpcs)):
            if not values or len(set(values)) != len(values):
                raise ValueError(f"envelope {name}: expected a non-empty list without repeats")
        for name, seconds in (("pause_s", self.pause_s), ("stop_s", self.stop_s)):
            if seconds < 0:
                raise ValueError(f"envelope {name}: must be >= 0, got {seconds!r}")

    def usable_kinds(self) -> tuple[str, ...]:
        """The kinds this envelope can actually generate (some need components or methods)."""
        usable = []
        for kind in sorted(self.kinds):
            group = KINDS[kind].group
            if group == "device" and not self.components:
                continue
            if group == "reconfigure" and not (
                self.capture_methods or any(not s.rare for s in self.data_manager_settings)
            ):
                continue
            if kind == "disk_fill" and self.max_disk_fill_bytes < _MIB:
                continue
            usable.append(kind)
        return tuple(usable)
