"""The disk policies' runner: one deletion rule on the runtime and filesystem ports.

A check runs one interval after start and then every interval (30 s, as rdk), on a fixed grid so
slow passes do not drift. The walk runs through ``run_blocking`` (it is the slow part on a real
disk); from the in-use checks to the last unlink nothing awaits, so under either runtime no other
task can start uploading a file the pass is about to delete. Every deletion calls
``before_delete(path, rule)`` first (the core records which readings the file held, so an oracle
can tell deletion by policy from loss, and returns how many), then yields a
:class:`DeletionRecord`, a ``disk_policy.delete`` trace event and a warning in the log (on a
real machine the log is the record); the directories it deleted from are fsynced afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from dmsim.errors import ConfigError, InternalError, Problem
from dmsim.runtime import Runtime, Trace

from ._fs import FileSystem
from ._policies import CaptureFile, DeletionRecord, DeletionRule, is_deletable, scan_capture_dir

__all__ = ["CHECK_INTERVAL_S", "DiskPolicy", "DiskPolicyStatistics"]

CHECK_INTERVAL_S = 30.0

_log = logging.getLogger(__name__)


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


class DiskPolicy:
    """Runs one :class:`DeletionRule` over ``capture_dir`` on the runtime port.

    ``in_use(path)`` says a file is being uploaded; ``before_delete(path, rule)`` is called just
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
        before_delete: Callable[[str, str], int],
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
        scan = await self._rt.run_blocking(scan_capture_dir, self._fs, self._dir)
        for directory, why in scan.unlisted:
            # Not a failed check: the rule still runs on what could be seen.
            self._event("disk_policy.unlisted_dir", path=directory, error=why)
            _log.warning("disk policy %s: cannot list %s: %s", self._rule.name, directory, why)
        # No await from here to the last unlink (see the module docstring).
        # Measured again: a long walk on a real disk may have seen uploads free space.
        plan = self._rule.plan(scan, self._fs.disk_usage(self._dir), in_use=self._in_use)
        self._c.skipped_in_use += len(plan.skipped_in_use)
        if plan.warning is not None:
            self._c.warnings += 1
            self._event("disk_policy.warn", rule=plan.rule, message=plan.warning)
            _log.warning("disk policy %s: %s", plan.rule, plan.warning)
        records = tuple(r for r in map(self._delete, plan.victims) if r is not None)
        for directory in sorted({r.path.rsplit("/", 1)[0] for r in records}):
            await self._sync_dir(directory)
        return records

    def _delete(self, victim: CaptureFile) -> DeletionRecord | None:
        rule, path = self._rule.name, victim.path
        if not is_deletable(self._dir, path):
            raise InternalError(f"disk policy {rule} chose {path!r}, outside {self._dir!r}")
        if not self._fs.exists(path):
            self._c.vanished += 1
            return None
        readings = self._before_delete(path, rule)
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
        )
