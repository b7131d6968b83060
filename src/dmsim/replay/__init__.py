"""Field replay: a device's capture directory (+ its logs) → a runnable scenario.

An on-call engineer copies the capture directory off a device whose data is not reaching the
cloud, and ``dmsim replay DIR --out CASE`` turns it into a scenario: the directory preloaded
byte for byte into the simulated disk, the device's machine config (or one inferred from the
files), the link driven by the device's connectivity log, and the failures of its event log
(``dmsim machine --events``) as faults. ``dmsim run`` then reproduces what the device's sync
does with that backlog, reading by reading, and ``dmsim fuzz`` searches the fault schedules
around it.
"""

from __future__ import annotations

from dmsim.service._events import MachineEvent, load_events

from ._build import ReplayOptions, ReplayPlan, build_replay, describe, infer_machine
from ._events import EventFaults, faults_from_events
from ._snapshot import FieldSnapshot, QuarantinedFile, StreamSummary, read_snapshot

__all__ = [
    "EventFaults",
    "FieldSnapshot",
    "MachineEvent",
    "QuarantinedFile",
    "ReplayOptions",
    "ReplayPlan",
    "StreamSummary",
    "build_replay",
    "describe",
    "faults_from_events",
    "infer_machine",
    "load_events",
    "read_snapshot",
]
