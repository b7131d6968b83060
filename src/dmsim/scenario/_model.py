"""A scenario as frozen values: the machine, its world, its faults and what must hold.

Times are seconds (floats) and sizes bytes (ints) here; the scenario file may spell them
``'90s'`` or ``'64MiB'``. ``machine_document`` is the machine config as JSON-like data (what a
``reconfigure`` fault patches and what a minimised scenario inlines); ``machine`` is the same,
parsed and validated by :mod:`dmsim.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dmsim.config import MachineConfig
from dmsim.faults import Envelope, FaultSchedule

__all__ = [
    "CLASSES",
    "CLOCK_RANGE_NS",
    "COUNTER_KEYS",
    "DEFAULT_ALLOWED",
    "DEFAULT_EPOCH",
    "DEFAULT_EPOCH_NS",
    "FINAL_DRAIN_S",
    "SIM_ENV",
    "VIOLATION_CLASSES",
    "CloudSpec",
    "CountBound",
    "DiskSpec",
    "Expectations",
    "FileWriterSpec",
    "HostSpec",
    "NetworkSpec",
    "Scenario",
]

# Where a reading can end up (see dmsim.scenario._oracle for the exact rules).
CLASSES: tuple[str, ...] = (
    "delivered",
    "pending",
    "lost_in_window",
    "deleted_by_policy",
    "quarantined",
    "dropped",
    "lost",
    "duplicated",
    "corrupted",
    "late",
)
VIOLATION_CLASSES: frozenset[str] = frozenset({"lost", "duplicated", "corrupted", "late"})
DEFAULT_ALLOWED: frozenset[str] = frozenset(
    {"delivered", "pending", "lost_in_window", "deleted_by_policy"}
)
# Counters an expectation's ``counts`` may bound (the report's readings/uploads/files tables).
#: What happens to the sequences a capture control sensor records (``counts[sequences.*]``).
SEQUENCE_COUNTS: tuple[str, ...] = (
    "opened", "closed", "stored", "pending", "orphaned", "lost", "duplicated",
)  # fmt: skip
# What became of the files other programs wrote into additional_sync_paths (file_writers).
ARBITRARY_FILE_COUNTS: tuple[str, ...] = (
    "written", "stored", "pending", "lost", "duplicated", "corrupted",
)  # fmt: skip
COUNTER_KEYS: tuple[str, ...] = (
    *(f"readings.{name}" for name in ("captured", "skipped", *CLASSES)),
    *(f"uploads.{name}" for name in ("ok", "fail", "unknown", "recovered")),
    *(
        f"files.{name}"
        for name in (
            "completed",
            "preloaded",
            "deleted_by_policy",
            "quarantined",
            "recovered",
            "torn_bytes",
        )
    ),
    *(f"sequences.{name}" for name in SEQUENCE_COUNTS),
    *(f"arbitrary_files.{name}" for name in ARBITRARY_FILE_COUNTS),
)
DEFAULT_EPOCH = "2026-01-01T00:00:00Z"
DEFAULT_EPOCH_NS = 1_767_225_600 * 10**9  # DEFAULT_EPOCH
# How long a run may go on after its duration to drain what is left to sync.
FINAL_DRAIN_S = 6 * 3600.0
# The times the cloud stores (signed 64-bit nanoseconds): a run's clock must stay inside.
CLOCK_RANGE_NS = (-(2**63), 2**63 - 1)
# The environment a scenario's machine config is parsed with: the default capture directory
# must not depend on the host that runs the simulation.
SIM_ENV: Mapping[str, str] = MappingProxyType({"HOME": "/home/dmsim"})


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """The simulated disk. ``preload`` (an absolute path) is a capture directory copied into
    the machine's capture directory before it boots, byte for byte: a field device's disk as
    it was found (``dmsim replay``)."""

    capacity_bytes: int = 32 * 1024**3
    initial_fill_bytes: int = 0
    block_size: int = 4096
    preload: Path | None = None


APPEND_EVERY_S = 1.0  # how often a file writer appends to the file it is writing


@dataclass(frozen=True, slots=True)
class FileWriterSpec:
    """Another program on the machine writing files into one of its ``additional_sync_paths``
    (a report generator, a bag recorder): a new file in ``directory`` every ``every_s``, of
    ``size_bytes`` seeded bytes appended in equal parts once a second for ``write_for_s``
    (at once when 0), then fsynced and closed. Sync must upload each file once, whole, and
    only once it is complete."""

    directory: str
    every_s: float
    size_bytes: int
    write_for_s: float = 0.0
    extension: str = ".bin"


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """A named link profile (``dmsim.net.PROFILES``), optionally driven by a recorded
    connectivity trace (an absolute path; rows' empty fields keep the profile's values)."""

    profile: str = "lan"
    trace: Path | None = None


@dataclass(frozen=True, slots=True)
class CloudSpec:
    """The fake cloud: storage capacity and per-request size limit (``None``: unlimited)."""

    capacity_bytes: int | None = None
    max_request_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class HostSpec:
    """The computer the machine runs on (``cpu_count`` sets default sync threads)."""

    cpu_count: int = 4


@dataclass(frozen=True, slots=True)
class CountBound:
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Expectations:
    """What must hold for the run to pass (``None``: not checked)."""

    allowed: frozenset[str] = DEFAULT_ALLOWED
    time_to_cloud_p99_s: float | None = None
    late_after_s: float | None = None
    drain_within_s: float | None = None
    drain_to_files: int | None = None
    disk_high_water: float | None = None
    min_delivered: int | None = None
    max_skipped: int | None = None
    max_capture_gap_s: float | None = None
    counts: Mapping[str, CountBound] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything one run needs. ``source`` is the file it came from (for messages and the
    reproduction line); ``envelope`` bounds ``dmsim fuzz``'s generated schedules."""

    name: str
    machine: MachineConfig
    machine_document: Mapping[str, Any]
    duration_s: float
    seed: int = 0
    epoch: str = DEFAULT_EPOCH
    epoch_ns: int = DEFAULT_EPOCH_NS
    description: str = ""
    sample_every_s: float = 10.0
    host: HostSpec = field(default_factory=HostSpec)
    disk: DiskSpec = field(default_factory=DiskSpec)
    network: NetworkSpec = field(default_factory=NetworkSpec)
    cloud: CloudSpec = field(default_factory=CloudSpec)
    payload: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    file_writers: tuple[FileWriterSpec, ...] = ()
    faults: FaultSchedule = field(default_factory=FaultSchedule)
    expectations: Expectations = field(default_factory=Expectations)
    envelope: Envelope = field(default_factory=Envelope)
    source: Path | None = None

    def with_faults(self, faults: FaultSchedule) -> Scenario:
        return replace(self, faults=faults)

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)
