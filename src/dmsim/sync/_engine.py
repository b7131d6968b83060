"""The sync engine: scheduled and manual passes feeding a pool of upload workers.

Theory of operation. A *pass* closes open capture files (``flush_capture``), walks the sync
roots lazily in sorted order (64 candidates per trip to the blocking-I/O thread) and hands each
ready file to a worker. Hand-off is gated by
*slot tokens*: a pool of N workers owns N tokens, the walker takes one before claiming a file
and the worker returns it when the file is done, so at most N files are claimed at any time and
memory depends on the pool, never on the backlog (rdk's unbuffered channel, made exact). A
claimed file is in the shared :class:`~._tracker.InUseTracker`, so a disk policy leaves it
alone; a file a policy is deleting is skipped.

A worker makes one attempt and moves on: the outcome (``_steps.next_step``) deletes the file,
quarantines it, or writes a :class:`~._retry.RetryBook` entry that later passes respect, so a
failing file never holds a worker. When a failed file's wait ends before the next scheduled
pass, the scheduler runs a *retry pass* then (as rdk retries 200 ms later, doubling, whatever
the interval): it stats and uploads the failed files whose wait is over, without a walk, and
leaves open capture files alone. An offline error pauses everything for the offline interval
and stops the pass (the link is down for everyone); files already dispatched are *deferred*.

Scheduled passes run every ``sync_interval_mins`` while sync is enabled, the machine is online,
the offline pause is over and the selective-sync sensor (if any) says ``should_sync``; a
*start-up* pass (a resume: it closes nothing) sends at once what a previous process left, where
rdk waits one interval. When the machine is offline nothing is flushed and nothing is walked
(rdk DATA-2652: no flood of tiny files). rdk then waits for the next tick, so a 20 s outage over
a tick held data back a whole interval; here a tick that found the machine offline runs *late*,
once the link is up and the pause over, and the interval restarts from it. A pass an offline
error cut short *resumes* its walk when the pause ends, without closing capture files (only
ticks and manual passes do), so an unreachable cloud floods nothing. ``notify_online()`` (the
link is up again) ends the pause and runs an owed pass at once. Ticks that fall inside a long
pass collapse into one. ``sync_now()`` (manual Sync) runs a pass regardless of
``sync_disabled``, connectivity, the pause and per-file backoff, and returns when every file it
dispatched has finished. Passes never overlap: one waits for the other.

Deletions after upload are group-committed (``_disk.DirSyncer``): one directory fsync per
directory every 256 deletions and at the end of each pass.

Every RPC attempt is traced as ``upload.attempt`` {file, key, rpc, outcome, code}; a deletion
after sync as ``sync.deleted`` {file}; a quarantine as ``sync.failed`` {file, reason}; plus
``sync.backoff``, ``sync.paused``, ``sync.stale`` and ``sync.pass`` summaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from dmsim.errors import DmsimError
from dmsim.runtime import Event, QueueEmpty, RngTree, Runtime, Task, Trace
from dmsim.storage._fs import FileSystem

from ._backoff import DEFAULT_BACKOFF, BackoffPolicy
from ._clock_steps import ClockSteps
from ._disk import DirSyncer
from ._pass import Backlog, Job, Pass, PassKind
from ._retry import RetryBook
from ._select import Candidate, FileKind, QuietClock, sync_roots, walk_candidates
from ._settings import SyncSettings
from ._stats import (
    LOOK_SPACING_TOLD_OVER,
    SyncReport,
    SyncStatistics,
    backlog_look_every_s,
    stale_threshold_s,
    stale_warning_due,
)
from ._tracker import InUseTracker
from ._transport import CloudTransport
from ._upload import FileUploader
from ._worker import FileHandler

__all__ = ["SyncEngine"]

_LOG = logging.getLogger("dmsim.sync")
_TOKEN = object()
_T = TypeVar("_T")
_OFFLINE_LOG_EVERY_S = 60.0
# Candidates fetched per trip to the blocking-I/O thread: few trips, bounded memory.
_WALK_BATCH = 64
_COUNTERS = tuple(
    name
    for name in SyncStatistics.__dataclass_fields__
    if name not in ("backing_off", "in_flight_high_water", "offline_pauses")
)


def _restat(fs: FileSystem, candidates: list[Candidate]) -> list[Candidate]:
    """Each file's size and mtime now. A file that is gone, or cannot be stat'ed, is left out
    of this retry: the next scheduled pass's walk finds it, or forgets it."""
    fresh = []
    for candidate in candidates:
        try:
            stat = fs.stat(candidate.path)
        except OSError:
            continue
        fresh.append(replace(candidate, size=stat.size, mtime_ns=stat.mtime_ns))
    return fresh


def _take(walker: Iterator[Candidate], count: int) -> list[Candidate]:
    return list(itertools.islice(walker, count))


class SyncEngine:
    """Uploads what capture leaves on disk. ``start()`` it, ``close()`` it."""

    def __init__(
        self,
        *,
        rt: Runtime,
        fs: FileSystem,
        transport: CloudTransport,
        settings: SyncSettings,
        rng: RngTree,
        trace: Trace | None,
        tracker: InUseTracker,
        flush_capture: Callable[[], Awaitable[None]],
        is_online: Callable[[], bool],
        selective_sync: Callable[[], Awaitable[bool]] | None = None,
        backoff: BackoffPolicy = DEFAULT_BACKOFF,
    ) -> None:
        self._rt = rt
        self._fs = fs
        self._transport = transport
        self._trace = trace
        self._tracker = tracker
        self._flush_capture = flush_capture
        self._is_online = is_online
        self._selective = selective_sync
        self._book = RetryBook(rng=rng.child("sync-backoff").random(), policy=backoff)
        self._n = dict.fromkeys(_COUNTERS, 0)
        self._slots = rt.queue()  # free worker slots (tokens)
        self._jobs = rt.queue()  # claimed files, at most pool-size of them
        self._workers: list[Task[None]] = []
        self._helpers: list[Task[None]] = []
        self._pool = 0
        self._claimed = 0
        self._claimed_high = 0
        self._scheduler: Task[None] | None = None
        self._backlog_watch: Task[None] | None = None
        self._owed: PassKind | None = None  # a pass to run once online (see _owe)
        self._wake = rt.event()
        self._idle = rt.event()
        self._idle.set()
        self._closed = False
        self._backlog: Backlog | None = None  # what the last walk left unsynced
        self._walked_at: float | None = None  # when the last whole walk ended
        self._pass_began = 0.0  # when the last pass began
        self._last_stale_warning: float | None = None
        self._last_offline_log: float | None = None
        self._spawned = 0
        self._quiet_clock = QuietClock(rt)  # arbitrary files' quiet period, guarded
        self._clock_steps = ClockSteps(rt)  # unsynced data's age, across clock sets
        self._apply(settings)
        self._handler = FileHandler(
            rt=rt,
            fs=fs,
            book=self._book,
            counters=self._n,
            record=self._record,
            settings=lambda: self._settings,
            uploader=lambda: self._uploader,
            syncer=DirSyncer(),
        )

    # lifecycle -------------------------------------------------------------------------------

    @property
    def settings(self) -> SyncSettings:
        return self._settings

    def start(self) -> None:
        """Spawn the workers and the scheduler (once). The backlog a previous process left
        goes at once (a walk that closes nothing), not one interval later."""
        if self._scheduler is not None or self._closed:
            raise DmsimError("the sync engine can be started once, before close()")
        self._owed = PassKind.RESUME
        self._resize(self._settings.maximum_num_sync_threads)
        self._scheduler = self._rt.spawn(self._schedule(), name="sync.scheduler")
        self._backlog_watch = self._rt.spawn(self._watch_backlog(), name="sync.backlog")

    async def reconfigure(
        self, settings: SyncSettings, *, backoff: BackoffPolicy | None = None
    ) -> None:
        """New settings (and backoff, if given) from now on; uploads in flight finish under
        the old ones, and a file already waiting keeps the wait it was given."""
        self._apply(settings)
        if backoff is not None:
            self._book.policy = backoff
        if self._scheduler is not None and not self._closed:
            self._resize(settings.maximum_num_sync_threads)
            self._wake.set()  # the scheduler recomputes its next tick with the new interval

    async def close(self) -> None:
        """Stop the scheduler and the workers; a file mid-upload stays on disk, unclaimed."""
        if self._closed:
            return
        self._closed = True
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._backlog_watch is not None:
            await self._backlog_watch.stop()
        for task in [*self._workers, *self._helpers]:
            await task.stop()
        while True:
            try:
                job = self._jobs.get_nowait()
            except QueueEmpty:
                break
            if job is not None:
                job.owner.deferred += 1
                self._n["deferred"] += 1
                self._release(job)
        for _ in range(max(self._pool, 1)):  # wake a manual pass waiting for a slot
            self._slots.put_nowait(_TOKEN)
        await self._handler.commit_deletions()

    async def sync_now(self) -> SyncReport:
        """Manual Sync: one pass now, whatever the schedule; returns when it has finished."""
        if self._scheduler is None or self._closed:
            raise DmsimError("sync_now() needs a started, open sync engine")
        done = await self._exclusive_pass(PassKind.MANUAL)
        return done.report()

    def notify_online(self) -> None:
        """The machine is online again: an offline pause for an unreachable cloud ends, and a
        tick it missed or a pass an outage cut short runs now. Without this hint a missed
        tick waits for the next one, and a cut-short pass for the pause's end. A pause the
        cloud asked for (it answered UNAVAILABLE or refused the key) runs its course."""
        self._book.end_pause(self._rt.monotonic())
        if self._owed:
            self._wake.set()

    def paused_unreachable(self) -> bool:
        """Whether uploads wait only because the cloud could not be reached: the pause that
        :meth:`notify_online` ends (a machine that cannot see its link probes the cloud)."""
        return self._book.paused_unreachable(self._rt.monotonic())

    def statistics(self) -> SyncStatistics:
        return SyncStatistics(
            **self._n,
            backing_off=len(self._book),
            in_flight_high_water=self._claimed_high,
            offline_pauses=self._book.offline_pauses,
        )

    def _apply(self, settings: SyncSettings) -> None:
        self._settings = settings
        self._roots = sync_roots(
            settings.capture_dir, settings.additional_sync_paths, settings.former_capture_dirs
        )
        self._uploader = FileUploader(
            rt=self._rt,
            fs=self._fs,
            transport=self._transport,
            part_id=settings.part_id,
            service_tags=settings.tags,
            max_request_bytes=settings.max_request_bytes,
            file_last_modified_millis=settings.file_last_modified_millis,
            quiet_clock=self._quiet_clock,
        )

    def _resize(self, size: int) -> None:
        self._workers = [w for w in self._workers if not w.done()]
        self._helpers = [h for h in self._helpers if not h.done()]
        for _ in range(size - self._pool):
            self._spawned += 1
            name = f"sync.worker{self._spawned}"
            self._workers.append(self._rt.spawn(self._work(), name=name))
            self._slots.put_nowait(_TOKEN)
        if size < self._pool:
            surplus = self._pool - size
            for _ in range(surplus):
                self._jobs.put_nowait(None)  # a worker that takes this exits
            self._helpers.append(self._rt.spawn(self._retire(surplus), name="sync.retire"))
        self._pool = size

    async def _retire(self, tokens: int) -> None:
        for _ in range(tokens):
            await self._slots.get()

    # scheduling ------------------------------------------------------------------------------

    async def _schedule(self) -> None:
        last_tick = self._rt.monotonic()
        retried_upto = last_tick  # failed files whose wait ended by then have had their retry
        while True:
            now = self._rt.monotonic()
            due = last_tick + self._settings.sync_interval_s
            owed = self._owed
            if owed and now < due and self._is_online() and not self._book.paused(now):
                if owed is PassKind.LATE:
                    # the interval restarts from a late tick: no tick follows at once to close
                    # capture files early
                    last_tick = now
                retried_upto = now  # the walk takes every failed file whose wait is over
                await self._tick(owed)
                continue
            retry = self._book.next_retry_after(retried_upto)
            wake = due if retry is None else min(due, retry)
            if owed and self._book.paused(now):
                wake = min(wake, self._book.offline_until)
            if now < wake and await self._sleep_or_wake(wake):
                continue  # reconfigured, a manual pass ran, or online again: recompute
            now = self._rt.monotonic()
            if wake < due and (retry is None or wake < retry):
                continue  # the offline pause is over: an owed pass runs above if online
            retried_upto = max(now, wake)  # a timer a hair early must not wake us again
            if wake >= due:  # the interval's tick (a retry due with it rides along)
                last_tick = now
                await self._tick(PassKind.SCHEDULED)
            else:
                await self._tick(PassKind.RETRY)

    async def _sleep_or_wake(self, deadline: float) -> bool:
        self._wake.clear()
        return await self._set_within(self._wake, deadline - self._rt.monotonic())

    async def _set_within(self, event: Event, seconds: float) -> bool:
        """Wait at most ``seconds`` for ``event``; whether it was set."""
        try:
            await self._rt.with_timeout(max(0.0, seconds), event.wait())
        except TimeoutError:
            return False
        return True

    async def _tick(self, kind: PassKind) -> None:
        now = self._rt.monotonic()
        tick = kind is PassKind.SCHEDULED  # the counters count the interval's ticks
        if kind is not PassKind.RETRY:
            self._owed = None  # this pass walks: it is the one that was owed
        if self._settings.sync_disabled:
            self._n["ticks_skipped_disabled"] += tick
            return
        self._check_stale(now)
        if not self._is_online() or self._book.paused(now):
            self._n["ticks_skipped_offline"] += tick
            self._owe(PassKind.LATE if kind.closes_capture_files else PassKind.RESUME)
            self._log_offline(now)
            return
        if self._selective is not None and not await self._selective_allows():
            self._n["ticks_skipped_selective"] += tick
            return
        await self._exclusive_pass(kind)

    def _owe(self, kind: PassKind) -> None:
        """Run a ``kind`` pass once the link is up and the pause over (a late tick, which
        closes capture files, covers a resume)."""
        if self._owed is not PassKind.LATE:
            self._owed = kind

    async def _selective_allows(self) -> bool:
        assert self._selective is not None
        try:
            return bool(await self._selective())
        except Exception as error:  # rdk: a failing selective-sync sensor means no sync
            _LOG.warning("selective sync sensor failed, not syncing: %s", error)
            return False

    def _log_offline(self, now: float) -> None:
        last = self._last_offline_log
        if last is None or now - last >= _OFFLINE_LOG_EVERY_S:
            self._last_offline_log = now
            _LOG.info("sync skipped: not connected to the cloud")

    def _check_stale(self, now: float) -> None:
        self._clock_steps.look()
        backlog = self._backlog
        oldest = None if backlog is None else backlog.oldest_at
        age = None if oldest is None else now - oldest
        configured = self._settings.stale_data_warning_s
        if configured == 0:
            return
        threshold = (
            stale_threshold_s(self._settings.sync_interval_s) if configured is None else configured
        )
        last = self._last_stale_warning
        if stale_warning_due(oldest_age_s=age, threshold_s=threshold, last_warned_at=last, now=now):
            self._last_stale_warning = now
            self._n["stale_warnings"] += 1
            assert backlog is not None
            self._record(
                "sync.stale",
                oldest_age_s=round(age or 0.0, 3),
                threshold_s=threshold,
                files=backlog.files,
                bytes=backlog.bytes,
            )
            _LOG.warning(
                "oldest unsynced data is %.0f s old (threshold %.0f s): %d files, %d bytes wait",
                age,
                threshold,
                backlog.files,
                backlog.bytes,
            )

    # passes ----------------------------------------------------------------------------------

    async def _exclusive_pass(self, kind: PassKind) -> Pass:
        try:
            return await self._exclusively(lambda: self._run_pass(kind))
        finally:
            if kind is PassKind.MANUAL:
                self._wake.set()  # its failures may be due before the scheduler's next wake

    async def _exclusively(self, walk: Callable[[], Awaitable[_T]]) -> _T:
        """Walks never overlap: one waits for the other."""
        while not self._idle.is_set():
            await self._idle.wait()
        self._idle.clear()
        try:
            return await walk()
        finally:
            self._idle.set()

    async def _run_pass(self, kind: PassKind) -> Pass:
        self._pass_began = self._rt.monotonic()
        self._clock_steps.look()
        this = Pass(self._rt, kind, dating=self._clock_steps)
        self._n["passes"] += 1
        self._n["manual_passes"] += this.manual
        if kind is PassKind.RETRY:
            await self._retry_due(this)
        else:
            await self._walk_all(this)
        await this.wait()
        await self._handler.commit_deletions()
        self._after_pass(this)
        if this.offline_hit:
            self._owe(PassKind.RESUME)  # what it did not reach goes once the pause is over
        return this

    async def _retry_due(self, this: Pass) -> None:
        due = self._book.due_retries(self._rt.monotonic())
        for candidate in await self._rt.run_blocking(_restat, self._fs, due):
            if self._closed or this.offline_hit:
                break
            if not await self._dispatch(this, candidate) and candidate.size:
                this.note_unsynced(candidate)
        this.end_walk()

    async def _walk_all(self, this: Pass) -> None:
        # Only ticks and manual passes close open files: retries and resumes of a failing
        # upload must not flood the disk with small files (rdk DATA-2652).
        if this.kind.closes_capture_files:
            try:
                await self._flush_capture()
            except Exception as error:  # a capture problem must not stop uploads of the rest
                _LOG.warning("closing capture files before sync failed: %s", error)
        self._book.begin_walk()
        # the walk yields capture files still being written too: never sent, but their data
        # waits (a disk that refuses renames completes no file for as long as it refuses)
        walker = walk_candidates(
            self._fs,
            self._roots,
            on_error=self._walk_error,
            read_creation_if_named=self._clock_steps.repeated_times() or None,
        )
        try:
            while not self._closed and not this.offline_hit:
                batch = await self._rt.run_blocking(_take, walker, _WALK_BATCH)
                if not batch:
                    this.complete = True
                    break
                for candidate in batch:
                    if self._closed or this.offline_hit:
                        break
                    # an empty file is never synced and holds no data to warn about
                    if not await self._dispatch(this, candidate) and candidate.size:
                        this.note_unsynced(candidate)
        finally:
            # On the real runtime a cancelled read may still run the walker in its thread;
            # then it cannot be closed here and is left to the garbage collector.
            with contextlib.suppress(ValueError):
                walker.close()
            this.end_walk()
        if this.complete:
            self._book.end_walk()

    async def _dispatch(self, this: Pass, candidate: Candidate) -> bool:
        """Hand ``candidate`` to a worker if it should go now; ``False`` if it stays."""
        settings, book, path = self._settings, self._book, candidate.path
        book.saw(path)
        quiet_ms = settings.file_last_modified_millis
        if not self._quiet_clock.ready(candidate, file_last_modified_millis=quiet_ms):
            this.waiting += 1
            if candidate.kind is FileKind.ARBITRARY:
                held = self._quiet_clock.hold_left_s(quiet_ms)
                this.hold_left_s = max(this.hold_left_s, held)
            return False
        now = self._rt.monotonic()
        if this.offline_hit or (not this.manual and book.paused(now)):
            this.offline_hit = True
            return False
        if not this.manual and not book.due(path, now):
            return False
        if path in self._tracker:
            this.skipped_in_use += 1
            return False
        await self._slots.get()
        if self._closed or this.offline_hit or not self._tracker.try_claim(path):
            self._slots.put_nowait(_TOKEN)
            this.skipped_in_use += not (self._closed or this.offline_hit)
            return False
        this.dispatched += 1
        self._claimed += 1
        self._claimed_high = max(self._claimed_high, self._claimed)
        self._jobs.put_nowait(Job(candidate, this))
        return True

    def _after_pass(self, this: Pass) -> None:
        if this.complete or self._backlog is None:
            self._backlog = this.unsynced
        else:  # files past where the walk stopped are still unknown: keep the older estimate
            self._backlog = this.unsynced.joined(self._backlog)
        if this.complete:
            self._walked_at = self._rt.monotonic()
        self._record("sync.pass", **this.trace_fields())

    async def _watch_backlog(self) -> None:
        """rdk's disk summary: while no pass walks (offline, paused, held back by the
        selective-sync sensor, a sync interval over a minute, or one pass draining a backlog
        over a slow link for hours), walk the roots once a minute (or an interval, or ten
        times what the last walk took) to learn the backlog, so data waiting is warned about
        while it waits. Never while sync is disabled or the warning off (nothing to warn
        about)."""
        looked = self._rt.monotonic()  # the start-up pass walks at once
        walk_took = told = 0.0
        while True:
            interval = self._settings.sync_interval_s
            every = backlog_look_every_s(interval, walk_took)
            if every > LOOK_SPACING_TOLD_OVER * max(told, backlog_look_every_s(interval)):
                told = every
                self._record(
                    "sync.look_spacing", every_s=round(every, 3), walk_s=round(walk_took, 3)
                )
            await self._rt.sleep(looked + every - self._rt.monotonic())
            walked, settings = self._walked_at, self._settings
            if walked is not None and walked > looked:
                looked = walked  # a pass walked meanwhile
                continue
            if settings.sync_disabled or settings.stale_data_warning_s == 0:
                looked = self._rt.monotonic()
                continue
            if self._idle.is_set():  # a pass due meanwhile waits for the walk
                walk_took = await self._exclusively(self._walk_backlog)
            elif await self._set_within(
                self._idle, self._pass_began + every - self._rt.monotonic()
            ):
                continue  # it walked (or stopped short: look now)
            else:  # beside a pass that has run a look period: one upload may take an hour
                walk_took = await self._walk_backlog()
            looked = self._rt.monotonic()
            self._check_stale(looked)

    async def _walk_backlog(self) -> float:
        """Learn the backlog; how long that took."""
        began = self._rt.monotonic()
        self._clock_steps.look()
        found = Backlog(self._clock_steps)
        # walk errors are a pass's to report; offline, files are not closed (rdk DATA-2652),
        # so a slow sensor's data sits in a file still being written for most of an hour
        walker = walk_candidates(
            self._fs, self._roots, read_creation_if_named=self._clock_steps.repeated_times() or None
        )
        try:
            while batch := await self._rt.run_blocking(_take, walker, _WALK_BATCH):
                for candidate in batch:
                    if candidate.size:  # an empty file is never synced
                        found.add(candidate)
        finally:
            with contextlib.suppress(ValueError):  # see _walk_all
                walker.close()
        self._backlog, self._walked_at = found, self._rt.monotonic()
        return self._walked_at - began

    def _walk_error(self, path: str, error: OSError) -> None:
        _LOG.warning("cannot walk %s (files under it are not synced): %s", path, error)
        self._record("sync.walk_error", path=path, error=str(error))

    # workers ---------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                return
            try:
                await self._handler.handle(job)
            except asyncio.CancelledError:  # close() stopped it mid-file: a later pass sends it
                job.owner.deferred += 1
                self._n["deferred"] += 1
                raise
            finally:
                self._release(job)
                self._slots.put_nowait(_TOKEN)
            await self._handler.commit_if_due()

    def _release(self, job: Job) -> None:
        self._tracker.release(job.candidate.path)
        self._claimed -= 1
        job.owner.finish_one()

    def _record(self, kind: str, /, **fields: Any) -> None:
        if self._trace is not None:
            self._trace.record(kind, **fields)
