"""The disk policies' runner: one deletion rule on the runtime and filesystem ports.

A check runs one interval after start and then every interval (30 s, as rdk), on a fixed grid so
slow passes do not drift. The walk, and reading which readings each chosen file holds, run
through ``run_blocking``: they are the slow parts on a real disk (tens of milliseconds to parse
a 256 KiB file), and on the event loop they would stall capture just when the disk is full.
From the in-use checks to the last unlink nothing awaits, so under either runtime no other task
can start uploading a file the pass is about to delete. Every deletion calls
``before_delete(path, rule, ids)`` first (the core records the readings the file held, so an
oracle can tell deletion by policy from loss), then yields a :class:`DeletionRecord`, a
``disk_policy.delete`` trace event and a warning in the log (on a real machine the log is the
record); the directories it deleted from are fsynced afterwards. A file an I/O error keeps
from being read is not deleted: its readings could not be named, and a deletion no one can
tell from loss is the failure this recording exists to prevent; it waits for a later pass.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dmsim.errors import ConfigError, InternalError, Problem, StorageError
from dmsim.runtime import Runtime, Trace

from ._fs import FileSystem
from ._identity import ReadingId
from ._policies import (
    CaptureDirScan,
    CaptureFile,
    DeletionRecord,
    DeletionRule,
    scan_capture_dirs,
)
from ._reader import CaptureReader

__all__ = ["CHECK_INTERVAL_S", "DiskPolicy", "DiskPolicyStatistics", "readable_ids"]

CHECK_INTERVAL_S = 30.0

_log = logging.getLogger(__name__)

ReadingIds = Sequence[ReadingId | None]


def readable_ids(fs: FileSystem, path: str) -> ReadingIds | None:
    """The identities of the readings in ``path`` up to any damage: the readings its
    deletion takes with it (an identity of ``None``: a reading written by rdk carries none).
    ``None`` when an I/O error hides them: a deletion would take readings no one could name."""
    ids: list[ReadingId | None] = []
    try:
        with CaptureReader(fs, path) as reader:
            ids.extend(record.reading_id for record in reader.records())
    except FileNotFoundError:
        pass  # gone already: there is nothing to delete
    except OSError:
        return None
    except StorageError as error:
        cause = error.__cause__
        if isinstance(cause, OSError) and not isinstance(cause, FileNotFoundError):
            return None  # it could not be opened
        # damaged (or gone before it was opened): what came before the damage is deleted
    return tuple(ids)


@dataclass(frozen=True, slots=True)
class DiskPolicyStatistics:
    checks: int
    scans: int
    warnings: int
    files_deleted: int
    bytes_deleted: int
    readings_deleted: int
    skipped_in_use: int
    vanished: int  # gone (uploaded) between the scan and the deletion
    delete_failures: int
    check_failures: int
    unreadable: int  # left for a later pass: an I/O error hid the readings they hold


@dataclass(slots=True)
class _Counters:
    checks: int = 0
    scans: int = 0
    warnings: int = 0
    files_deleted: int = 0
    bytes_deleted: int = 0
    readings_deleted: int = 0
    skipped_in_use: int = 0
    vanished: int = 0
    delete_failures: int = 0
    check_failures: int = 0
    unreadable: int = 0


class DiskPolicy:
    """Runs one :class:`DeletionRule` over ``capture_dir`` (and the ``former_dirs()`` on its
    disk, whose backlog is still synced) on the runtime port.

    ``in_use(path)`` says a file is being uploaded; ``read_ids(path)`` gives the readings a
    file holds (run off the event loop; ``None`` when it cannot be read, and then the file is
    left for a later pass); ``before_delete(path, rule, ids)`` is called just
    before each unlink. A failed unlink is traced, logged and counted, and the pass goes on (a
    stuck file must not stop the policy from freeing space).
    """

    def __init__(
        self,
        *,
        rt: Runtime,
        fs: FileSystem,
        capture_dir: str,
        rule: DeletionRule,
        in_use: Callable[[str], bool],
        before_delete: Callable[[str, str, ReadingIds], None],
        read_ids: Callable[[str], ReadingIds | None] | None = None,
        former_dirs: Callable[[], Sequence[str]] = tuple,
        trace: Trace | None = None,
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        if interval_s <= 0:
            raise ConfigError(Problem("interval_s", f"must be positive, got {interval_s}"))
        self._rt = rt
        self._fs = fs
        self._dir = capture_dir.rstrip("/") or "/"
        self._rule = rule
        self._in_use = in_use
        self._before_delete = before_delete
        self._read_ids = read_ids or (lambda path: readable_ids(fs, path))
        self._former_dirs = former_dirs
        self._trace = trace
        self._interval = interval_s
        self._c = _Counters()

    async def run(self) -> None:
        """Check one interval after start, then every interval, until cancelled."""
        start = self._rt.monotonic()
        tick = 1
        while True:
            await self._rt.sleep_until(start + tick * self._interval)
            tick += 1
            try:
                await self.check()
            except OSError as error:  # e.g. EIO on the walk: count it and try next time
                self._c.check_failures += 1
                self._event("disk_policy.check_failed", error=str(error))
                _log.error("disk policy %s: check failed: %s", self._rule.name, error)

    async def check(self) -> tuple[DeletionRecord, ...]:
        """One pass: measure, scan if the rule wants it, plan, delete, fsync the directories."""
        self._c.checks += 1
        if not self._fs.is_dir(self._dir):
            return ()
        usage = self._fs.disk_usage(self._dir)
        if not self._rule.wants_scan(usage):
            return ()
        self._c.scans += 1
        scan = await self._rt.run_blocking(scan_capture_dirs, self._fs, self._scanned_dirs())
        for directory, why in scan.unlisted:
            # Not a failed check: the rule still runs on what could be seen.
            self._event("disk_policy.unlisted_dir", path=directory, error=why)
            _log.warning("disk policy %s: cannot list %s: %s", self._rule.name, directory, why)
        # Measured again: a long walk on a real disk may have seen uploads free space.
        plan = self._rule.plan(scan, self._fs.disk_usage(self._dir), in_use=self._in_use)
        self._c.skipped_in_use += len(plan.skipped_in_use)
        if plan.warning is not None:
            self._c.warnings += 1
            self._event("disk_policy.warn", rule=plan.rule, message=plan.warning)
            _log.warning("disk policy %s: %s", plan.rule, plan.warning)
        held = await self._rt.run_blocking(self._held_by, scan, plan.victims)
        # No await from here to the last unlink (see the module docstring). While the files
        # were read, sync may have claimed some: they are left to it.
        records = tuple(
            record
            for victim in plan.victims
            if (record := self._delete(victim, held[victim.path])) is not None
        )
        for directory in sorted({r.path.rsplit("/", 1)[0] for r in records}):
            await self._sync_dir(directory)
        return records

    def _scanned_dirs(self) -> list[str]:
        """The former capture directories on this disk, oldest first, then the current one."""
        here = self._fs.stat(self._dir).device
        former = []
        for listed in reversed(self._former_dirs()):  # they are listed newest first
            directory = listed.rstrip("/") or "/"
            with contextlib.suppress(OSError):  # gone, or unreadable: nothing to count
                if (
                    directory != self._dir
                    and self._fs.is_dir(directory)
                    and self._fs.stat(directory).device == here
                ):
                    former.append(directory)
        return [*former, self._dir]

    def _held_by(
        self, scan: CaptureDirScan, victims: Sequence[CaptureFile]
    ) -> dict[str, ReadingIds | None]:
        for victim in victims:  # before any file is opened
            if not scan.deletable(victim.path):
                where = ", ".join(map(repr, scan.capture_dirs))
                raise InternalError(
                    f"disk policy {self._rule.name} chose {victim.path!r}, outside {where}"
                )
        return {victim.path: self._read_ids(victim.path) for victim in victims}

    def _delete(self, victim: CaptureFile, ids: ReadingIds | None) -> DeletionRecord | None:
        rule, path = self._rule.name, victim.path
        if self._in_use(path):
            self._c.skipped_in_use += 1
            return None
        if not self._fs.exists(path):
            self._c.vanished += 1
            return None
        if ids is None:
            self._c.unreadable += 1
            self._event("disk_policy.unreadable", path=path, rule=rule)
            _log.error("disk policy %s: cannot read %s: left for a later pass", rule, path)
            return None
        self._before_delete(path, rule, ids)
        readings = len(ids)
        try:
            self._fs.unlink(path)
        except FileNotFoundError:
            self._c.vanished += 1
            return None
        except OSError as error:
            self._c.delete_failures += 1
            self._event("disk_policy.delete_failed", path=path, rule=rule, error=str(error))
            _log.error("disk policy %s: cannot delete %s: %s", rule, path, error)
            return None
        self._c.files_deleted += 1
        self._c.bytes_deleted += victim.size_bytes
        self._c.readings_deleted += readings
        self._event(
            "disk_policy.delete",
            path=path,
            size_bytes=victim.size_bytes,
            readings=readings,
            rule=rule,
        )
        _log.warning(
            "disk policy %s: deleted %s (%d bytes, %d readings)",
            rule,
            path,
            victim.size_bytes,
            readings,
        )
        return DeletionRecord(path, victim.size_bytes, rule, readings, self._rt.monotonic())

    async def _sync_dir(self, directory: str) -> None:
        try:
            await self._rt.run_blocking(self._fs.fsync_dir, directory)
        except OSError as error:
            self._c.delete_failures += 1
            self._event("disk_policy.fsync_failed", path=directory, error=str(error))
            _log.error("disk policy: cannot fsync %s: %s", directory, error)

    def _event(self, kind: str, **fields: object) -> None:
        if self._trace is not None:
            self._trace.record(kind, **fields)

    def statistics(self) -> DiskPolicyStatistics:
        c = self._c
        return DiskPolicyStatistics(
            checks=c.checks,
            scans=c.scans,
            warnings=c.warnings,
            files_deleted=c.files_deleted,
            bytes_deleted=c.bytes_deleted,
            readings_deleted=c.readings_deleted,
            skipped_in_use=c.skipped_in_use,
            vanished=c.vanished,
            delete_failures=c.delete_failures,
            check_failures=c.check_failures,
            unreadable=c.unreadable,
        )
