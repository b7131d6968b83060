"""A machine's event log (``dmsim machine --events``) → the faults that explain it.

The log's first event is the replay's time 0: the device's recorded trouble is played again
from the snapshot on, with the same spacing. What becomes a fault:

- a run of failed upload attempts with one error, until the next successful attempt (or the
  log's end): the cloud refusing with that gRPC code is an ``rpc_reject`` window (UNAVAILABLE,
  RESOURCE_EXHAUSTED, UNAUTHENTICATED, PERMISSION_DENIED, INTERNAL, INVALID_ARGUMENT); a
  timeout or a broken connection (DEADLINE_EXCEEDED, ``TimeoutError``, ``Connection…``,
  ECONNREFUSED, …) is a ``link_down`` window. Local errors (a disk's EIO) are not the
  network's and are counted, not replayed.
- a start with no clean stop since the previous start: a ``crash`` at the previous boot's last
  event (its last sign of life), restarting at the start; after a clean stop, a
  ``clean_restart`` at the stop.
- each set of the wall clock the log shows (:func:`~dmsim.service._events.read_event_log`):
  a ``clock_step`` by as much; a run that started with its clock before 2020 (no RTC, no NTP
  yet) an ``rtc_unset`` window from its start until the set that brought the clock to 2020
  or later, or the run's last event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dmsim.faults import KINDS, format_duration
from dmsim.service._events import SET_CLOCKS_SHOW_AFTER_S, ClockSet, MachineEvent

__all__ = ["EventFaults", "faults_from_events"]

_REJECT_CODES = frozenset(next(p.choices for p in KINDS["rpc_reject"].params if p.name == "code"))
_LINK_CODES = frozenset(
    {
        "DEADLINE_EXCEEDED",
        "TimeoutError",
        "ConnectionError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "ConnectionAbortedError",
        "BrokenPipeError",
        "ECONNREFUSED",
        "ECONNRESET",
        "ECONNABORTED",
        "ENETUNREACH",
        "EHOSTUNREACH",
        "ETIMEDOUT",
        "EPIPE",
    }
)
_GRID_S = 0.001  # fault times are written to the millisecond
_MIN_WINDOW_S = 1.0  # a failure that ends the log still lasts long enough to meet an attempt


@dataclass(frozen=True, slots=True)
class EventFaults:
    """The fault documents (scenario ``faults`` items), the log's span, and what was left."""

    faults: tuple[dict[str, Any], ...]
    span_s: float
    events: int
    not_replayed: dict[str, int] = field(default_factory=dict)  # error code → attempts


def faults_from_events(
    events: list[MachineEvent], clock_sets: Sequence[ClockSet] = ()
) -> EventFaults:
    origin = events[0].time
    faults: list[tuple[float, dict[str, Any]]] = []
    not_replayed: Counter[str] = Counter()
    _upload_windows(events, origin, faults, not_replayed)
    _restarts(events, origin, faults)
    _clock_faults(events, clock_sets, origin, faults)
    faults.sort(key=lambda item: item[0])
    return EventFaults(
        faults=tuple(doc for _, doc in faults),
        span_s=events[-1].time - origin,
        events=len(events),
        not_replayed=dict(sorted(not_replayed.items())),
    )


def _fault(at: float, kind: str, **params: Any) -> tuple[float, dict[str, Any]]:
    doc: dict[str, Any] = {"at": format_duration(round(at, 3)), "kind": kind}
    doc.update(params)
    return at, doc


def _upload_windows(
    events: list[MachineEvent],
    origin: float,
    faults: list[tuple[float, dict[str, Any]]],
    not_replayed: Counter[str],
) -> None:
    current: tuple[str, str] | None = None  # (fault kind, code)
    since = 0.0

    def close(at: float, *, end_of_log: bool = False) -> None:
        if current is None:
            return
        kind, code = current
        # both ends on the millisecond grid, so touching windows stay touching
        length = round(round(at - origin, 3) - round(since - origin, 3), 3)
        if length <= 0:
            if not end_of_log:
                return  # ended by a success at the same instant: nothing to replay
            length = _MIN_WINDOW_S
        extra = {"code": code} if kind == "rpc_reject" else {}
        faults.append(_fault(since - origin, kind, duration=format_duration(length), **extra))

    for event in events:
        if event.kind != "upload.attempt":
            continue
        outcome, code = event.fields.get("outcome"), str(event.fields.get("code") or "")
        if outcome == "ok":
            close(event.time)
            current = None
            continue
        if code in _REJECT_CODES:
            wanted: tuple[str, str] | None = ("rpc_reject", code)
        elif code in _LINK_CODES or code.startswith("Connection"):
            wanted = ("link_down", code)
        else:
            not_replayed[code or "no code"] += 1
            continue
        if wanted != current:
            close(event.time)
            current, since = wanted, event.time
    close(events[-1].time, end_of_log=True)


def _restarts(
    events: list[MachineEvent], origin: float, faults: list[tuple[float, dict[str, Any]]]
) -> None:
    last_seen: float | None = None
    booted = 0.0  # when the running boot started: it lived at least that long
    stopped_at: float | None = None
    for event in events:
        if event.kind == "machine.start":
            if last_seen is not None and stopped_at is not None:
                after = format_duration(round(event.time - stopped_at, 3))
                faults.append(_fault(stopped_at - origin, "clean_restart", restart_after=after))
            elif last_seen is not None:
                # A boot killed before logging anything but its start died after starting:
                # the crash goes one grid step later, never onto the restart that began it.
                died = max(last_seen, booted + _GRID_S)
                after = format_duration(round(max(0.0, event.time - died), 3))
                faults.append(_fault(died - origin, "crash", restart_after=after))
            stopped_at = None
            booted = event.time
        elif event.kind == "machine.stop":
            stopped_at = event.time
        last_seen = event.time


def _clock_faults(
    events: list[MachineEvent],
    clock_sets: Sequence[ClockSet],
    origin: float,
    faults: list[tuple[float, dict[str, Any]]],
) -> None:
    runs = _run_spans(events)
    ended_unset: set[int] = set()  # the sets that ended an rtc_unset window (NTP)
    for number, clock_set in enumerate(clock_sets):
        if number in ended_unset:
            continue
        if clock_set.by_s is not None:
            seconds = format_duration(round(clock_set.by_s, 3))
            faults.append(_fault(clock_set.at - origin, "clock_step", seconds=seconds))
            continue
        # the run it started (a run put beside the one before starts where that one ended)
        until = next((end for start, end in reversed(runs) if start <= clock_set.at), clock_set.at)
        for later in range(number + 1, len(clock_sets)):
            ntp = clock_sets[later]
            if ntp.at > until:
                break
            if ntp.by_s is not None and ntp.reads >= SET_CLOCKS_SHOW_AFTER_S:
                until = ntp.at
                ended_unset.add(later)
                break
        length = round(round(until - origin, 3) - round(clock_set.at - origin, 3), 3)
        duration = format_duration(max(_GRID_S, length))
        faults.append(_fault(clock_set.at - origin, "rtc_unset", duration=duration))


def _run_spans(events: list[MachineEvent]) -> list[tuple[float, float]]:
    """Each run's first and last event's times, in the order run."""
    starts = [i for i, event in enumerate(events) if i == 0 or event.kind == "machine.start"]
    ends = [i - 1 for i in starts[1:]] + [len(events) - 1]
    return [(events[a].time, events[b].time) for a, b in zip(starts, ends, strict=True)]
