"""One claimed file, one attempt: upload it, then enact the outcome (``_steps.next_step``).

The engine's workers call :meth:`FileHandler.handle`; all effects of an attempt are here:
the ``upload.attempt`` trace per RPC, deletion or quarantine, and the retry-book entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dmsim.runtime import Runtime
from dmsim.storage._fs import FileSystem
from dmsim.storage._quarantine import move_to_failed

from ._classify import ErrorClass, Outcome
from ._disk import DirSyncer, fsync_dirs
from ._pass import Job, Pass
from ._retry import RetryBook
from ._select import Candidate, FileKind
from ._settings import SyncSettings
from ._steps import Step, StepKind, next_step
from ._upload import FileUploader, UploadResult, UploadStatus

__all__ = ["FileHandler"]

_LOG = logging.getLogger("dmsim.sync")
_SAY_WHY_EVERY_S = 300.0
_REQUEST_COUNTER = {
    Outcome.OK: "requests_ok",
    Outcome.FAIL: "requests_failed",
    Outcome.UNKNOWN: "requests_unknown",
}


class FileHandler:
    """Shared by every worker of one engine; ``counters`` and ``record`` are the engine's."""

    def __init__(
        self,
        *,
        rt: Runtime,
        fs: FileSystem,
        book: RetryBook,
        counters: dict[str, int],
        record: Callable[..., None],
        settings: Callable[[], SyncSettings],
        uploader: Callable[[], FileUploader],
        syncer: DirSyncer,
    ) -> None:
        self._rt = rt
        self._fs = fs
        self._book = book
        self._n = counters
        self._record = record
        self._settings = settings
        self._uploader = uploader
        self._syncer = syncer
        self._said: dict[str, float] = {}  # failure code → when it was last logged
        self._commit_due = False  # enough deletions piled up to commit them

    async def handle(self, job: Job) -> None:
        candidate, this = job.candidate, job.owner
        if this.offline_hit or (not this.manual and self._book.paused(self._rt.monotonic())):
            this.deferred += 1
            self._n["deferred"] += 1
            this.note_unsynced(candidate)
            return
        state = self._book.get(candidate.path)
        self._n["retries"] += state is not None
        unknown_before = state.unknown_keys if state is not None else frozenset()
        unknown_now: set[str] = set()

        def on_attempt(key: str, rpc: str, outcome: Outcome, code: str, nbytes: int) -> None:
            self._n["requests"] += 1
            self._n[_REQUEST_COUNTER[outcome]] += 1
            self._n["resends_acknowledged"] += outcome is Outcome.OK and key in unknown_before
            if outcome is Outcome.UNKNOWN:
                unknown_now.add(key)
            self._record(
                "upload.attempt",
                file=candidate.path,
                key=key,
                rpc=rpc,
                outcome=str(outcome),
                code=code,
                bytes=nbytes,
            )

        result = await self._uploader().upload(
            candidate,
            skip_keys=state.acked_keys if state is not None else frozenset(),
            on_attempt=on_attempt,
        )
        await self._enact(next_step(result), result, job, frozenset(unknown_now))

    async def _enact(
        self, step: Step, result: UploadResult, job: Job, unknown: frozenset[str]
    ) -> None:
        candidate, this, path = job.candidate, job.owner, job.candidate.path
        kind = step.kind
        if kind is StepKind.DELETE:
            await self._delete(candidate, result, this)
        elif kind is StepKind.QUARANTINE:
            await self._quarantine(candidate, result, step, this)
        elif kind is StepKind.FORGET:
            self._book.forget(path)
            self._n["gone"] += 1
            this.gone += 1
        elif kind is StepKind.WAIT:
            self._book.forget(path)  # its content is new: any earlier progress is for old keys
            self._n["not_ready"] += 1
            this.deferred += 1
            this.note_unsynced(candidate)
        elif kind is StepKind.KEEP:
            self._book.forget(path)
            self._n["changed_during_upload"] += 1
            this.failed += 1
            this.note_unsynced(candidate)
        else:
            self._failed(candidate, result, step, this, unknown)

    def _failed(
        self,
        candidate: Candidate,
        result: UploadResult,
        step: Step,
        this: Pass,
        unknown: frozenset[str],
    ) -> None:
        assert step.verdict is not None
        offline = step.kind is StepKind.PAUSE
        wait = self._book.record_failure(
            candidate,
            ErrorClass.OFFLINE if offline else ErrorClass.RETRYABLE,
            code=step.verdict.code,
            acked=result.acked_keys,
            unknown=unknown,
            now=self._rt.monotonic(),
            cloud_answered=step.verdict.outcome is Outcome.FAIL,
        )
        this.failed += 1
        this.note_unsynced(candidate)
        if offline:
            this.offline_hit = True
            self._record("sync.paused", seconds=round(wait, 6), code=step.verdict.code)
            self._say_why(step.reason, step.verdict.code, wait)
            return
        self._n["failures"] += 1
        self._record(
            "sync.backoff",
            file=candidate.path,
            wait_s=round(wait, 6),
            code=step.verdict.code,
        )
        self._say_why(step.reason, step.verdict.code, wait)

    def _say_why(self, reason: str, code: str, wait: float) -> None:
        """Log why uploads fail, once per code every few minutes: on a real machine the status
        line only counts failures, and a wrong API key must not look like a slow link."""
        now = self._rt.monotonic()
        last = self._said.get(code)
        if last is not None and now - last < _SAY_WHY_EVERY_S:
            return
        self._said[code] = now
        _LOG.warning("uploads are failing: %s (retrying, next in %.0fs)", reason, wait)

    async def _delete(self, candidate: Candidate, result: UploadResult, this: Pass) -> None:
        path = candidate.path
        try:
            await self._rt.run_blocking(self._fs.unlink, path)
        except FileNotFoundError:
            pass  # removed by someone else after its upload: nothing left to do
        except OSError as error:
            _LOG.warning("uploaded %s but could not delete it: %s", path, error)
            self._n["delete_errors"] += 1
            self._book.record_progress(path, acked=result.acked_keys)
            this.failed += 1
            this.note_unsynced(candidate)
            return
        self._book.forget(path)
        self._record("sync.deleted", file=path)
        # the worker commits the group once this file is accounted for (commit_if_due)
        self._commit_due |= self._syncer.note(path)
        this.uploaded += 1
        if candidate.kind is FileKind.SEQUENCE:
            self._n["sequences_uploaded"] += 1
            return
        if result.status is UploadStatus.HEADER_ONLY:
            self._n["header_only_deleted"] += 1
            return
        # An arbitrary file may have grown since the walk: count what was sent.
        size = result.payload_bytes if candidate.kind is FileKind.ARBITRARY else candidate.size
        this.bytes_uploaded += size
        self._n["files_uploaded"] += 1
        self._n["bytes_uploaded"] += size
        self._n["readings_uploaded"] += result.readings

    async def commit_if_due(self) -> None:
        """Commit the deletions if enough piled up (after a file's outcome is counted: a close
        that stops the worker in the commit must not find the file unaccounted for)."""
        if self._commit_due:
            self._commit_due = False
            await self.commit_deletions()

    async def commit_deletions(self) -> None:
        """Make the deletions so far durable: one fsync per directory touched."""
        dirty = self._syncer.take()
        if not dirty:
            return
        for directory, error in await self._rt.run_blocking(fsync_dirs, self._fs, dirty):
            _LOG.warning("deletions in %s may not be durable: %s", directory, error)
            self._n["delete_errors"] += 1

    async def _quarantine(
        self, candidate: Candidate, result: UploadResult, step: Step, this: Pass
    ) -> None:
        path = candidate.path
        # A capture file goes to its own capture directory's failed/ (a former one's, too).
        root = candidate.root
        capture_dir = root.path if root.is_capture_dir else self._settings().capture_dir
        try:
            await self._rt.run_blocking(move_to_failed, self._fs, path, capture_dir, step.reason)
        except FileNotFoundError:
            self._book.forget(path)
            self._n["gone"] += 1
            this.gone += 1
            return
        except OSError as error:
            _LOG.warning("could not move %s to failed/: %s", path, error)
            self._n["quarantine_errors"] += 1
            self._book.record_failure(
                candidate,
                ErrorClass.RETRYABLE,
                code="QUARANTINE_FAILED",
                acked=result.acked_keys,
                unknown=frozenset(),
                now=self._rt.monotonic(),
            )
            this.failed += 1
            this.note_unsynced(candidate)
            return
        self._book.forget(path)
        self._record("sync.failed", file=path, reason=step.reason)
        _LOG.warning("moved %s to failed/: %s", path, step.reason)
        this.terminal += 1
        if result.status in (UploadStatus.TORN, UploadStatus.DAMAGED):
            self._n[f"{result.status}_quarantined"] += 1
            self._n["readings_uploaded"] += result.readings
        else:
            self._n["terminal"] += 1
