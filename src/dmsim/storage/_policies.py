"""Disk policies: which completed capture files to delete when space runs out.

Decisions are pure: :func:`plan_disk_full` and :func:`plan_byte_cap` over a
:class:`CaptureDirScan` and a :class:`~dmsim.storage.DiskUsage`. ``_policy_runner.DiskPolicy``
wires one rule to the runtime and filesystem ports.

**Disk-full rule** (the documented Viam rule). When ``used_fraction >=
disk_usage_deletion_threshold`` and the capture directory holds at least
``capture_dir_deletion_threshold`` of the *used* bytes, delete every Nth completed ``.capture``
file (N = ``delete_every_nth_when_disk_full``) in sorted walk order, which within each directory
is oldest first (names are timestamps): the 1st, (N+1)th, (2N+1)th... When only the disk is full,
warn (trace + log) and delete nothing. Where this deliberately differs from rdk (reference §3):

- *Denominator*: the capture directory's share is of the used bytes, as the docs say ("at least
  50% of the current local disk usage"); rdk divides by the filesystem size, so captures must
  fill half the whole disk: with 92 of 100 GB used, 47 GB of it captures, the docs promise
  deletion (51 % of usage) but rdk only warns (47 % of the disk).
- *failed/*: never deleted (rdk deletes ``.capture`` files there): it holds quarantined data kept
  for an operator; it still counts in the capture directory's size, as ``.prog`` files do.
- *Index*: one running index over the whole walk, as rdk. Restarting it per directory would
  delete every directory's oldest file each pass, i.e. *all* files of directories holding one
  (a low-rate binary stream); one index keeps each pass at about 1/N of the files. A file in use
  (being uploaded) is skipped but still advances the index (as rdk), so an upload in flight never
  shifts the deletion onto another file.
- *Matching*: a name *ending* in ``.capture`` (rdk: containing it); ``.prog`` files never match.
- *No tracker leak*: rdk marks each deleted file in progress and never unmarks it. Here the
  policy marks nothing: it asks ``in_use(path)`` (see ``DiskPolicy`` for why that is race-free).
- *Durable*: each directory it deleted from is fsynced, so a power cut cannot resurrect files.
- Thresholds are validated to [0, 1] (rdk accepts > 1, which silently disables deletion).

Both rules treat the capture directories of earlier configs that are on the same disk (dmsim
goes on syncing their backlog after ``capture_dir`` moves) as part of the capture directory,
walked first (their files are older): counting the new directory alone, a move on a nearly
full disk left the rule warning while the disk filled, and a byte cap held twice its bytes.

**Byte cap** (an on-robot data buffer, e.g. Spot's): when every file under the capture
directory together exceeds ``cap_bytes``, delete completed ``.capture`` files oldest first by the
timestamp in their name (mtime when a name has none), across the whole directory, until the total
is at most the cap. ``.prog`` and ``failed/`` count but are never deleted; if the cap cannot be
met, the plan deletes what it can and warns.

A deletion is recorded as a frozen :class:`DeletionRecord` (path, size, rule, time).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dmsim.errors import ConfigError, Problem

from ._fs import DiskUsage, FileSystem
from ._naming import FAILED_DIR

__all__ = [
    "RULE_BYTE_CAP",
    "RULE_DISK_FULL",
    "ByteCapRule",
    "CaptureDirScan",
    "CaptureFile",
    "DeletionPlan",
    "DeletionRecord",
    "DeletionRule",
    "DiskFullRule",
    "capture_time_ns",
    "is_deletable",
    "name_timestamp_ns",
    "plan_byte_cap",
    "plan_disk_full",
    "scan_capture_dirs",
]

RULE_DISK_FULL = "disk_full_every_nth"
RULE_BYTE_CAP = "byte_cap"


@dataclass(frozen=True, slots=True)
class CaptureFile:
    path: str
    size_bytes: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class CaptureDirScan:
    """Every file under the capture directories (the current one last, after those of earlier
    configs whose backlog is still synced), each in sorted walk order, and the directories
    that could not be listed (their files are neither counted nor deleted)."""

    capture_dirs: tuple[str, ...]
    files: tuple[CaptureFile, ...]
    unlisted: tuple[tuple[str, str], ...] = ()  # (directory, why)

    @property
    def total_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    def deletable(self, path: str) -> bool:
        return any(is_deletable(directory, path) for directory in self.capture_dirs)


def scan_capture_dirs(fs: FileSystem, capture_dirs: Sequence[str]) -> CaptureDirScan:
    files: dict[str, CaptureFile] = {}  # by path: a directory inside another is walked once
    unlisted: list[tuple[str, str]] = []

    def note(error: OSError) -> None:
        unlisted.append((str(error.filename), error.strerror or str(error)))

    for capture_dir in capture_dirs:
        for dirpath, _dirnames, filenames in fs.walk(capture_dir, note):
            for name in filenames:
                path = f"{dirpath}/{name}"
                try:
                    st = fs.stat(path)
                except FileNotFoundError:  # uploaded and deleted since the listing
                    continue
                files.setdefault(path, CaptureFile(path, st.size, st.mtime_ns))
    return CaptureDirScan(tuple(capture_dirs), tuple(files.values()), tuple(unlisted))


def is_deletable(capture_dir: str, path: str) -> bool:
    """A completed capture file inside ``capture_dir`` and not in its ``failed/`` (deeper, a
    directory named "failed" is a component or method of that name)."""
    if not path.startswith(capture_dir.rstrip("/") + "/"):
        return False
    parts = path[len(capture_dir.rstrip("/")) + 1 :].split("/")
    return parts[-1].endswith(".capture") and not (len(parts) > 1 and parts[0] == FAILED_DIR)


_STAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2})[_:](\d{2})[_:](\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}[_:]\d{2})"
)
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def name_timestamp_ns(name: str) -> int | None:
    """UTC ns of the rdk-style timestamp a capture file name starts with, else ``None``.

    ``2026-06-17T13_04_32.032650-04_00.capture`` (``:`` written as ``_``), any suffix after it.
    """
    match = _STAMP.match(name)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        days = datetime.date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        return None
    seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 10**9 + int((fraction or "").ljust(9, "0"))


def capture_time_ns(file: CaptureFile) -> int:
    """When a file was captured: its name's timestamp, or its mtime if the name has none."""
    stamp = name_timestamp_ns(file.path.rsplit("/", 1)[-1])
    return file.mtime_ns if stamp is None else stamp


@dataclass(frozen=True, slots=True)
class DeletionPlan:
    """What one rule decided: files to delete, files it skipped as in use, and any warning."""

    rule: str
    victims: tuple[CaptureFile, ...] = ()
    skipped_in_use: tuple[str, ...] = ()
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class DeletionRecord:
    """One file a policy deleted; ``time`` is the runtime's monotonic seconds."""

    path: str
    size_bytes: int
    rule: str
    readings: int
    time: float


class DeletionRule(Protocol):
    @property
    def name(self) -> str: ...

    def wants_scan(self, usage: DiskUsage) -> bool:
        """Whether a pass must walk the capture directory (walks cost; skip when idle)."""

    def plan(
        self, scan: CaptureDirScan, usage: DiskUsage, *, in_use: Callable[[str], bool]
    ) -> DeletionPlan: ...


@dataclass(frozen=True, slots=True)
class DiskFullRule:
    """The ``data_manager`` attributes of the disk-full rule (defaults as Viam)."""

    disk_usage_deletion_threshold: float = 0.9
    capture_dir_deletion_threshold: float = 0.5
    delete_every_nth_when_disk_full: int = 5

    def __post_init__(self) -> None:
        problems = [
            Problem(attr, f"must be between 0 and 1, got {value}")
            for attr, value in (
                ("disk_usage_deletion_threshold", self.disk_usage_deletion_threshold),
                ("capture_dir_deletion_threshold", self.capture_dir_deletion_threshold),
            )
            if not 0.0 <= value <= 1.0
        ]
        if self.delete_every_nth_when_disk_full < 1:
            problems.append(
                Problem(
                    "delete_every_nth_when_disk_full",
                    f"must be at least 1, got {self.delete_every_nth_when_disk_full}",
                )
            )
        if problems:
            raise ConfigError(problems, source="disk-full rule")

    @property
    def name(self) -> str:
        return RULE_DISK_FULL

    def wants_scan(self, usage: DiskUsage) -> bool:
        return usage.used_fraction >= self.disk_usage_deletion_threshold

    def plan(
        self, scan: CaptureDirScan, usage: DiskUsage, *, in_use: Callable[[str], bool]
    ) -> DeletionPlan:
        return plan_disk_full(scan, usage, self, in_use=in_use)


def plan_disk_full(
    scan: CaptureDirScan,
    usage: DiskUsage,
    rule: DiskFullRule,
    *,
    in_use: Callable[[str], bool],
) -> DeletionPlan:
    if usage.used_fraction < rule.disk_usage_deletion_threshold:
        return DeletionPlan(rule.name)
    used_bytes = usage.total_bytes - usage.avail_bytes
    share = scan.total_bytes / used_bytes if used_bytes > 0 else 0.0
    if share < rule.capture_dir_deletion_threshold:
        return DeletionPlan(
            rule.name,
            warning=(
                f"disk {usage.used_fraction:.1%} full (threshold "
                f"{rule.disk_usage_deletion_threshold:.1%}) but the capture directory holds "
                f"{share:.1%} of the used space (threshold "
                f"{rule.capture_dir_deletion_threshold:.1%}): deleting nothing"
            ),
        )
    victims, skipped = [], []
    index = 0
    for file in scan.files:
        if not scan.deletable(file.path):
            continue
        if index % rule.delete_every_nth_when_disk_full == 0:
            if in_use(file.path):
                skipped.append(file.path)
            else:
                victims.append(file)
        index += 1
    return DeletionPlan(rule.name, tuple(victims), tuple(skipped))


@dataclass(frozen=True, slots=True)
class ByteCapRule:
    """Keep everything under the capture directory at most ``cap_bytes``."""

    cap_bytes: int

    def __post_init__(self) -> None:
        if self.cap_bytes <= 0:
            raise ConfigError(
                Problem("cap_bytes", f"must be positive, got {self.cap_bytes}"),
                source="byte-cap rule",
            )

    @property
    def name(self) -> str:
        return RULE_BYTE_CAP

    def wants_scan(self, usage: DiskUsage) -> bool:  # noqa: ARG002 - the cap ignores the disk
        return True

    def plan(
        self,
        scan: CaptureDirScan,
        usage: DiskUsage,  # noqa: ARG002 - the cap ignores the disk
        *,
        in_use: Callable[[str], bool],
    ) -> DeletionPlan:
        return plan_byte_cap(scan, self, in_use=in_use)


def plan_byte_cap(
    scan: CaptureDirScan, rule: ByteCapRule, *, in_use: Callable[[str], bool]
) -> DeletionPlan:
    total = scan.total_bytes
    if total <= rule.cap_bytes:
        return DeletionPlan(rule.name)
    candidates = sorted(
        (f for f in scan.files if scan.deletable(f.path)),
        key=lambda f: (capture_time_ns(f), f.path),
    )
    victims, skipped = [], []
    for file in candidates:
        if total <= rule.cap_bytes:
            break
        if in_use(file.path):
            skipped.append(file.path)
            continue
        victims.append(file)
        total -= file.size_bytes
    warning = None
    if total > rule.cap_bytes:
        warning = (
            f"capture directory stays at {total} bytes, over its cap of {rule.cap_bytes}: "
            f"the rest is in-progress, in-use or failed/ files, which are never deleted"
        )
    return DeletionPlan(rule.name, tuple(victims), tuple(skipped), warning)
