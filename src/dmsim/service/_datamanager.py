"""The data manager service: recovery, capture, sync and disk policies of one process.

Its API is Viam's: :meth:`DataManager.sync` (manual Sync), :meth:`DataManager.reconfigure`,
:meth:`DataManager.do_command` and :meth:`DataManager.close`. Start-up order matters: orphaned
``.prog`` files are recovered *before* any collector starts, so recovery never touches a live
file (rdk#5996 renamed live files on reconfigure and broke capture; it was reverted).

With ``capture_control_sensor`` set (and capture not disabled) the sensor is read every 100 ms,
as rdk does, and its overrides applied (:mod:`dmsim.config._control`). Two choices differ from
rdk: the sensor is read once *before* the collectors start (at start-up and when a reconfigure
names a new sensor), so a machine whose sensor says "0 Hz until recording" does not capture
for the first 100 ms; and a failing sensor is logged when its state changes, not ten times a
second. A read that fails, times out (1 s) or does not parse reverts every collector to the
machine config until the sensor answers again. The sequences the sensor lists are recorded
under ``sequences/`` (:mod:`._sequences`) and uploaded by sync with ``CreateSequence``; a
failing sensor closes them, as in rdk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from viam.proto.app.datasync import DataType

from dmsim.capture import (
    SHUTDOWN_DRAIN_S,
    CaptureEngine,
    CaptureSource,
    CollectorStatistics,
    ReadingSink,
)
from dmsim.capture._mongo import MirroredSink, MongoMirror, pymongo_client
from dmsim.config import (
    CollectorSpec,
    ControlReadingError,
    DataManagerConfig,
    MachineConfig,
    Overrides,
    SequenceReading,
    controlled_specs,
    parse_control_overrides,
    parse_control_sequences,
)
from dmsim.errors import ConfigError, DeviceError, DmsimError, Problem, StorageError
from dmsim.runtime import RngTree, Runtime, Task, Trace
from dmsim.storage._capture_dirs import (
    CaptureDirs,
    capture_dirs_path,
    read_capture_dirs,
    set_aside,
    write_capture_dirs,
)
from dmsim.storage._fs import FileSystem
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import PROG_EXT, CollectorKey
from dmsim.storage._policies import ByteCapRule, DiskFullRule
from dmsim.storage._policy_runner import DiskPolicy
from dmsim.storage._recovery import RecoveryReport, recover_capture_dir, recover_progs
from dmsim.storage._writer import CaptureWriter
from dmsim.sync import (
    BackoffPolicy,
    CloudTransport,
    InUseTracker,
    SyncEngine,
    SyncReport,
    SyncSettings,
    SyncStatistics,
)

from ._retry import retry_within
from ._sequences import SequenceRecorder
from ._sink import WriterSink, record_closed_file

__all__ = ["DataManager", "DataManagerStatistics"]

_log = logging.getLogger("dmsim.datamanager")

CONTROL_POLL_S = 0.1  # rdk's capturePollFrequency
# what the disk refused is tried again after 1 s, then at doubling intervals up to this
REFUSED_RETRY_MAX_S = 30.0
CONTROL_READ_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class DataManagerStatistics:
    boot: int
    collectors: tuple[CollectorStatistics, ...]
    sync: SyncStatistics
    disk_policies: tuple[Any, ...]  # every policy since start: reconfigure and close end them
    recovery: RecoveryReport | None


class DataManager:
    def __init__(
        self,
        *,
        rt: Runtime,
        fs: FileSystem,
        machine: MachineConfig,
        resolve: Callable[[str, str], CaptureSource | None],
        transport: CloudTransport,
        is_online: Callable[[], bool],
        rng: RngTree,
        trace: Trace | None,
        boot: int,
        part_id: str,
        state_dir: str,
        claim_dir: Callable[[str], None] | None = None,
        log: Callable[[str], None] | None = None,
        mongo_client: Callable[[str], Any] = pymongo_client,
    ) -> None:
        self._rt = rt
        self._fs = fs
        self._resolve = resolve
        self._transport = transport
        self._is_online = is_online
        self._rng = rng
        self._trace = trace
        self._boot = boot
        self._part_id = part_id
        self._state_dir = state_dir
        # locks a directory for this process, or raises: another may capture there now
        self._claim_dir = claim_dir
        self._log = log or _log.warning
        self._machine = machine
        self._config = _data_manager(machine)
        # capture directories of earlier configs: their backlog is synced too (see start)
        self._former_dirs: tuple[str, ...] = ()
        self._held_elsewhere: set[str] = set()  # former ones another process captures in
        self._unrecorded: CaptureDirs | None = None  # the disk refused to record this
        self._damaged_record = False  # the record on disk could not be read: not to overwrite
        self._retrier: Task[None] | None = None  # writes what the disk refused (see below)
        self._tracker = InUseTracker()
        self._mongo = MongoMirror(rt=rt, client_factory=mongo_client, log=self._log)
        self._configure_mongo(self._config)
        self._capture = CaptureEngine(
            rt=rt,
            boot=boot,
            resolve=resolve,
            make_sink=self._make_sink,
            durability_window_s=self._config.durability_window_s,
            trace=trace,
            log=self._log,
        )
        self._sync = SyncEngine(
            rt=rt,
            fs=fs,
            transport=transport,
            settings=self._sync_settings(self._config),
            rng=rng.child("sync"),
            trace=trace,
            tracker=self._tracker,
            flush_capture=self._before_pass,
            is_online=is_online,
            selective_sync=self._selective_sync_allows,
            backoff=_backoff(self._config),
        )
        self._policies: list[DiskPolicy] = []
        self._ended_policies: list[DiskPolicy] = []  # their deletions still count
        self._policy_tasks: list[Task[None]] = []
        self._recovery: RecoveryReport | None = None
        # .prog files recovery had to leave (an I/O error), by the capture dir they are in
        self._unsettled: dict[str, tuple[str, ...]] = {}
        self._started = False
        self._overrides: Overrides = {}
        self._control_error: str | None = None
        self._control_notes: tuple[str, ...] = ()
        self._control_task: Task[None] | None = None
        self._control_stop = rt.event()  # asks the poller to end (see _stop_control)
        self._sequences = SequenceRecorder(
            fs=fs,
            capture_dir=self._config.capture_dir,
            wall_ns=rt.wall_ns,
            rng=rng.child("sequences").child(str(boot)),
            trace=trace,
            log=self._log,
        )

    # lifecycle --------------------------------------------------------------------------

    async def start(self) -> RecoveryReport:
        """Recover orphaned files (in the capture directories of earlier configs too), record
        the directory in use, then start capture, sync and the disk policies."""
        capture_dir = self._config.capture_dir
        self._fs.makedirs(capture_dir)
        self._recovery = self._recover(capture_dir, "start-up recovery")
        self._start_capture_dirs(capture_dir)
        for former in self._former_dirs:
            if self._fs.is_dir(former) and self._claimed(former):
                self._recover(former, f"start-up recovery of former capture dir {former}")
        self._log_former_dirs()
        await self._sync.reconfigure(self._sync_settings(self._config))
        self._sequences.recover()
        self._mongo.start()
        if self._control_enabled():
            await self._poll_control()
        await self._capture.apply(self._specs())
        self._sync.start()
        self._start_policies()
        self._start_control()
        self._keep_retrying()
        self._started = True
        return self._recovery

    async def reconfigure(self, machine: MachineConfig) -> None:
        """Apply a new machine config in place: unchanged collectors keep running."""
        config = _data_manager(machine)
        await self._stop_control()
        new_dir = config.capture_dir != self._config.capture_dir
        if new_dir:
            # A new capture dir is a new store: only new data goes there (as the docs say).
            # The old one's backlog is still synced, across restarts too (_capture_dirs): it
            # is recorded first, as the close may wait for a failing disk, and a stop or
            # crash meanwhile leaves the next boot only the new config.
            self._move_capture_dir(self._config.capture_dir, config.capture_dir)
            await self._capture.close()
        new_sensor = config.capture_control_sensor != self._config.capture_control_sensor
        if new_sensor or new_dir or config.capture_disabled:
            self._sequences.end_all()  # the old sensor's sequences end with it
        if new_dir:
            self._sequences.retarget(config.capture_dir)
        # The writers keep the rotation size they were made with: a new one takes new writers.
        new_rotation = (
            config.maximum_capture_file_size_bytes != self._config.maximum_capture_file_size_bytes
        )
        # Restarted policies check one interval later: restarting them at every reconfigure
        # would starve them on a machine reconfigured more often than that.
        new_policies = _policy_settings(config) != _policy_settings(self._config)
        self._machine, self._config = machine, config
        self._configure_mongo(config)
        if new_sensor or not self._control_enabled():
            self._set_control({}, None)  # the old sensor's overrides end with it
            if self._control_enabled():
                await self._poll_control()
        await self._capture.apply(
            self._specs(), durability_window_s=config.durability_window_s, restart_all=new_rotation
        )
        await self._sync.reconfigure(self._sync_settings(config), backoff=_backoff(config))
        if new_policies:
            await self._stop_policies()
            self._start_policies()
        self._start_control()
        self._keep_retrying()

    async def pause_devices(self, resources: Collection[tuple[str, str]]) -> None:
        """Stop reading these (api, name) resources until :meth:`resume_devices` (queues
        drained, files completed first), whatever a reconfigure or the capture control sensor
        asks meanwhile: their devices are being closed and rebuilt."""
        await self._capture.pause(resources)

    async def resume_devices(self) -> None:
        """Read the paused resources again, as the config in force asks."""
        await self._capture.resume()

    def notify_online(self) -> None:
        """The machine is online again: the offline pause ends, and a sync tick missed while
        offline (or a pass an outage cut short) runs now."""
        self._sync.notify_online()

    def paused_unreachable(self) -> bool:
        """Whether sync waits out an offline pause only because the cloud could not be
        reached (a pause the cloud asked for is over or never began): what a machine probing
        the cloud asks before it probes."""
        return self._sync.paused_unreachable()

    async def sync(self) -> SyncReport:
        """Viam's ``Sync()``: upload what is on disk now, even when scheduled sync is off."""
        return await self._sync.sync_now()

    async def do_command(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """``{"command": "status" | "flush" | "sync"}``."""
        name = command.get("command")
        if name == "status":
            return self.status()
        if name == "flush":
            await self._capture.flush()
            return {"flushed": len(self._capture.specs())}
        if name == "sync":
            report = await self.sync()
            return {"sync": asdict(report)}
        raise ConfigError(
            Problem("command", f"unknown command {name!r}; expected status, flush or sync")
        )

    async def stop_capture(self) -> None:
        """Stop every collector (queues drained, files completed) and close every open
        sequence; sync keeps running."""
        await self._stop_control()
        await self._stop_recording()

    async def close(self) -> None:
        """Clean shutdown: drain capture to disk, close files and sequences, stop sync workers
        and policies."""
        await self._stop_control()
        await self._stop_policies()
        await self._stop_recording()
        if self._retrier is not None:  # the stop waited for the disk as long as it could
            await self._retrier.stop()
        await self._mongo.close()
        await self._sync.close()

    async def _stop_recording(self) -> None:
        """End every sequence now and stop every collector; the sequences' files and the
        record of the capture directories wait for a refusing disk as long as the queues do."""
        self._sequences.end_all()
        settles = [
            self._rt.spawn(
                self._sequences.settle(self._rt, within_s=SHUTDOWN_DRAIN_S), name="sequences"
            ),
            self._rt.spawn(self._settle_capture_dirs(), name="capture-dirs"),
        ]
        await self._capture.close()
        for settle in settles:
            await settle.join()

    # state ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the machine does now; ``unwritten`` names the files a refusing disk keeps
        waiting (they are retried until written)."""
        return {
            "boot": self._boot,
            "capture_dir": self._config.capture_dir,
            "capture_dirs": {
                "in_use": self._config.capture_dir,
                "former": [
                    {"path": d, "synced": d not in self._held_elsewhere} for d in self._former_dirs
                ],
                "record": capture_dirs_path(self._state_dir, self._part_id),
                "record_written": self._unrecorded is None,
            },
            "unwritten": [
                *self._sequences.unwritten,
                *(
                    [capture_dirs_path(self._state_dir, self._part_id)]
                    if self._unrecorded is not None
                    else []
                ),
                *(prog for progs in self._unsettled.values() for prog in progs),
            ],
            "collectors": [asdict(s) for s in self._capture.statistics()],
            "sync": asdict(self._sync.statistics()),
            "disk_policies": [asdict(p.statistics()) for p in self._policies],
            "mongo": asdict(self._mongo.statistics()),
            "capture_control": self._control_status(),
        }

    def statistics(self) -> DataManagerStatistics:
        return DataManagerStatistics(
            boot=self._boot,
            collectors=tuple(self._capture.statistics()),
            sync=self._sync.statistics(),
            disk_policies=tuple(p.statistics() for p in [*self._ended_policies, *self._policies]),
            recovery=self._recovery,
        )

    # wiring -----------------------------------------------------------------------------

    def _make_sink(self, spec: CollectorSpec) -> ReadingSink:
        ref = spec.resource
        binary = spec.capture_type == "binary"
        writer = CaptureWriter(
            self._fs,
            capture_dir=self._config.capture_dir,
            key=CollectorKey.of(ref.api, ref.short_name, spec.method, spec.additional_params),
            data_type=DataType.DATA_TYPE_BINARY_SENSOR
            if binary
            else DataType.DATA_TYPE_TABULAR_SENSOR,
            now=self._rt.monotonic,
            clock_id=self._rt.monotonic_clock_id(),
            wall_ns=self._rt.wall_ns,
            tags=spec.tags,
            file_extension=spec.file_extension,
            mime_type=spec.mime_type,
            durability_window_s=self._config.durability_window_s,
            max_file_size_bytes=self._config.maximum_capture_file_size_bytes,
            on_file_closed=lambda closed: record_closed_file(self._trace, closed),
        )
        if binary:
            return WriterSink(writer)
        metadata = {
            "part_id": self._part_id,
            "component_type": ref.api,
            "component_name": ref.short_name,
            "method_name": spec.method,
            "additional_params": dict(spec.additional_params),
            "tags": list(spec.tags),
        }
        return MirroredSink(WriterSink(writer), self._mongo, metadata)

    def _configure_mongo(self, config: DataManagerConfig) -> None:
        mongo = config.mongo_capture_config
        self._mongo.configure(uri=mongo.uri, database=mongo.database, collection=mongo.collection)

    def _sync_settings(self, config: DataManagerConfig) -> SyncSettings:
        return SyncSettings(
            capture_dir=config.capture_dir,
            part_id=self._part_id,
            additional_sync_paths=config.additional_sync_paths,
            former_capture_dirs=tuple(
                d for d in self._synced_former_dirs() if d != config.capture_dir
            ),
            sync_interval_s=config.sync_interval_s,
            file_last_modified_millis=config.file_last_modified_millis,
            maximum_num_sync_threads=config.maximum_num_sync_threads,
            sync_disabled=config.sync_disabled,
            tags=config.tags,
            max_request_bytes=config.max_upload_message_bytes,
            stale_data_warning_s=config.stale_data_warning_secs,
        )

    async def _selective_sync_allows(self) -> bool:
        """rdk's selective sync, under the config of the moment (reconfigure can add, change
        or drop the syncer): with ``selective_syncer_name`` set, a scheduled pass runs only
        when that sensor's readings say ``should_sync: true``; a missing or failing sensor
        means no scheduled sync."""
        name = self._config.selective_syncer_name
        if not name:
            return True
        sensor = self._resolve("rdk:component:sensor", name)
        if sensor is None:
            return False
        try:
            result = await sensor.capture("Readings", {})
        except DeviceError:
            return False
        readings = _sensor_readings(result.readings)
        return readings is not None and readings.get("should_sync") is True

    # capture control ----------------------------------------------------------------------

    def _control_enabled(self) -> bool:
        return self._config.capture_control_sensor.enabled and not self._config.capture_disabled

    def _specs(self) -> tuple[CollectorSpec, ...]:
        specs, notes = controlled_specs(self._machine, self._overrides)
        if notes != self._control_notes:
            for note in notes:
                if note not in self._control_notes:
                    self._log(f"capture control sensor: {note}")
            self._control_notes = notes
        return specs

    def _start_control(self) -> None:
        if self._control_enabled() and self._control_task is None:
            self._control_stop.clear()  # the previous poller, if any, has ended
            self._control_task = self._rt.spawn(self._run_control(), name="capture-control")

    async def _stop_control(self) -> None:
        # Asked, not cancelled: a cancel landing while an override retires a collector would
        # cut its drain short and lose the stream's next sequence number (identities reused).
        task, self._control_task = self._control_task, None
        if task is not None:
            self._control_stop.set()
            await task.join()

    async def _run_control(self) -> None:
        stop = self._control_stop
        deadline = self._rt.monotonic()
        while True:
            # a slow read skips polls rather than bunching them (a Go ticker drops ticks too)
            deadline = max(deadline + CONTROL_POLL_S, self._rt.monotonic())
            try:
                await self._rt.with_timeout(deadline - self._rt.monotonic(), stop.wait())
            except TimeoutError:
                pass
            else:
                return
            if await self._poll_control():
                await self._capture.apply(self._specs())

    async def _poll_control(self) -> bool:
        """Read the control sensor, record its sequences; return whether the overrides
        changed. As in rdk, overrides and sequences are parsed apart: one that does not parse
        reverts (overrides) or closes (sequences) without touching the other."""
        overrides: Overrides = {}
        sequences: tuple[SequenceReading, ...] = ()
        error = None
        try:
            readings = await self._read_control()
        except (ControlReadingError, DeviceError, TimeoutError) as failure:
            error = str(failure) or "no answer"
        else:
            try:
                overrides = parse_control_overrides(
                    readings, self._config.capture_control_sensor.key
                )
            except ControlReadingError as failure:
                error = str(failure)
            try:
                sequences = parse_control_sequences(readings)
            except ControlReadingError as failure:
                error = error or str(failure)
        self._sequences.set_active(sequences)
        self._keep_retrying()
        return self._set_control(overrides, error)

    async def _read_control(self) -> Mapping[str, Any]:
        control = self._config.capture_control_sensor
        sensor = self._resolve("rdk:component:sensor", control.name)
        if sensor is None:
            raise ControlReadingError(f"no sensor named {control.name!r}")
        try:
            result = await self._rt.with_timeout(
                CONTROL_READ_TIMEOUT_S, sensor.capture("Readings", {})
            )
        except TimeoutError:
            raise TimeoutError(f"no answer within {CONTROL_READ_TIMEOUT_S:g} s") from None
        readings = _sensor_readings(result.readings)
        if readings is None:
            raise ControlReadingError("its Readings returned no map of readings")
        return readings

    def _set_control(self, overrides: Overrides, error: str | None) -> bool:
        """Take the sensor's latest answer; return whether the overrides changed. Each change
        of overrides or of the sensor's health is logged or traced once, not at every poll."""
        name = self._config.capture_control_sensor.name
        error_changed = error != self._control_error
        if error_changed:
            if error is not None:
                self._log(
                    f"capture control sensor {name!r}: {error}; every collector runs as the "
                    "machine config says until it answers"
                )
            elif self._control_error is not None:
                self._log(f"capture control sensor {name!r} answers again")
            self._control_error = error
        changed = overrides != self._overrides
        self._overrides = overrides
        if self._trace is not None and (changed or error_changed):
            self._trace.record(
                "capture.control",
                sensor=name,
                overrides=[o.to_json() for o in overrides.values()],
                error=error,
            )
        return changed

    def _control_status(self) -> dict[str, Any] | None:
        control = self._config.capture_control_sensor
        if not control.enabled:
            return None
        return {
            "sensor": control.name,
            "key": control.key,
            "polling": self._control_task is not None,
            "overrides": [o.to_json() for o in self._overrides.values()],
            "error": self._control_error,
            "skipped": list(self._control_notes),
            "open_sequences": self._sequences.open_count,
            "sequences_closed": self._sequences.closed,
        }

    def _start_policies(self) -> None:
        if self._config.capture_disabled:
            return  # as rdk: no disk-full deleter without capture
        rules: list[Any] = [
            DiskFullRule(
                disk_usage_deletion_threshold=self._config.disk_usage_deletion_threshold,
                capture_dir_deletion_threshold=self._config.capture_dir_deletion_threshold,
                delete_every_nth_when_disk_full=self._config.delete_every_nth_when_disk_full,
            )
        ]
        if self._config.capture_dir_max_bytes:
            rules.append(ByteCapRule(cap_bytes=self._config.capture_dir_max_bytes))
        for rule in rules:
            policy = DiskPolicy(
                rt=self._rt,
                fs=self._fs,
                capture_dir=self._config.capture_dir,
                rule=rule,
                in_use=self._in_use,
                before_delete=self._before_delete,
                former_dirs=self._synced_former_dirs,
                trace=self._trace,
                interval_s=self._config.disk_check_interval_secs,
            )
            self._policies.append(policy)
            self._policy_tasks.append(self._rt.spawn(policy.run(), name=f"policy:{rule.name}"))

    async def _stop_policies(self) -> None:
        for task in self._policy_tasks:
            await task.stop()
        self._policy_tasks = []
        self._ended_policies += self._policies
        self._policies = []

    def _in_use(self, path: str) -> bool:
        # A file being written (a collector's .prog) or uploaded is never deleted by policy.
        return path in self._tracker

    def _before_delete(self, path: str, rule: str, ids: Sequence[ReadingId | None]) -> None:
        if self._trace is not None:
            self._trace.record(
                "file.deleted_by_policy",
                path=path,
                rule=rule,
                ids=[[i.stream, i.boot, i.seq] for i in ids if i is not None],
                unnamed=sum(1 for i in ids if i is None),  # readings rdk wrote carry none
            )

    async def _before_pass(self) -> None:
        """Each sync pass: write what the disk refused so far, then complete the open capture
        files."""
        self._retry_refused()
        await self._capture.flush()

    def _keep_retrying(self) -> None:
        """Retry what the disk refused until it is written, sync passes or not: a machine
        with sync disabled has none, and a crash meanwhile would lose a sequence's end or the
        record of a moved capture directory."""
        if self._refused() and (self._retrier is None or self._retrier.done()):
            retrying = retry_within(
                self._rt,
                self._refused,
                self._retry_refused,
                first_s=1.0,
                last_s=REFUSED_RETRY_MAX_S,
            )
            self._retrier = self._rt.spawn(retrying, name="retry-refused")

    def _refused(self) -> bool:
        return bool(self._sequences.unwritten or self._unsettled) or self._unrecorded is not None

    def _retry_refused(self) -> None:
        """Settle what recovery had to leave for later (its readings would otherwise wait for
        the next process start), write the sequence files and the record of the capture
        directories the disk refused."""
        self._sequences.retry()
        self._write_capture_dirs()
        for capture_dir, progs in list(self._unsettled.items()):
            report = recover_progs(self._fs, capture_dir, progs)
            left = _unsettled(report)
            if left != progs:  # said once when something settles, not at every failing pass
                self._record_recovery(report, "recovery retried")
            self._unsettled[capture_dir] = left
            if not left:
                del self._unsettled[capture_dir]

    def _recover(self, capture_dir: str, what: str) -> RecoveryReport:
        report = recover_capture_dir(self._fs, capture_dir, live=())
        self._record_recovery(report, what)
        if _unsettled(report):
            self._unsettled[capture_dir] = _unsettled(report)
        return report

    def _start_capture_dirs(self, capture_dir: str) -> None:
        """Learn the former capture directories from the part's record, and record
        ``capture_dir`` as the one in use before anything is written there."""
        try:
            recorded = read_capture_dirs(self._fs, self._state_dir, self._part_id)
        except StorageError as error:  # the machine still runs; that backlog waits for a fix
            self._log(f"capture directories of earlier configs not synced: {error}")
            self._damaged_record, recorded = True, None  # set aside when the new one is written
        if recorded is not None:  # the config may name a directory the part never used
            self._former_dirs = recorded.formers_of(capture_dir)
        wanted = CaptureDirs(self._part_id, capture_dir, self._former_dirs)
        if recorded != wanted:
            self._unrecorded = wanted
            self._write_capture_dirs(say=True)

    def _move_capture_dir(self, old: str, new: str) -> None:
        """Record ``new`` as the directory in use, ``old`` (and the directories it remembered)
        as former ones, and recover what an earlier life left in ``new`` (no collector writes
        there yet)."""
        self._former_dirs = tuple(dict.fromkeys(d for d in (old, *self._former_dirs) if d != new))
        self._held_elsewhere.discard(new)  # the machine claims a directory before moving there
        self._unrecorded = CaptureDirs(self._part_id, new, self._former_dirs)
        self._write_capture_dirs(say=True)
        self._keep_retrying()  # the close after the move may wait long for a failing disk
        if self._fs.is_dir(new):
            try:
                self._recover(new, "recovery of the new capture dir")
            except (OSError, StorageError) as error:  # start-up recovery tries again
                self._log(f"cannot recover {new}: {error}")
        self._log_former_dirs()

    def _write_capture_dirs(self, *, say: bool = False) -> None:
        """Write the record of the capture directories if the disk refused it; until it is
        written, a restart under another capture_dir would not know them. Only a failing first
        try is said (sync passes retry it quietly), then that it is written."""
        record = self._unrecorded
        if record is None:
            return
        path = capture_dirs_path(self._state_dir, self._part_id)
        try:
            if self._damaged_record:
                aside = set_aside(self._fs, path)
                self._damaged_record = False
                self._log(
                    f"{path}: kept as {aside} for a person to mend (add the directories it "
                    f"names to {path} to sync them); the capture directories are recorded anew"
                )
            write_capture_dirs(self._fs, self._state_dir, record)
        except OSError as error:
            if say:
                self._log(f"cannot record the capture directories in {path} yet: {error}")
            return
        self._unrecorded = None
        if not say:
            _log.info("recorded the capture directories in %s", path)

    async def _settle_capture_dirs(self) -> None:
        """At a stop, retry the record as long as the queues may wait for the disk."""
        await retry_within(
            self._rt,
            lambda: self._unrecorded is not None,
            self._write_capture_dirs,
            within_s=SHUTDOWN_DRAIN_S,
        )
        if (record := self._unrecorded) is not None:
            self._log(
                f"gave up recording the capture directories in "
                f"{capture_dirs_path(self._state_dir, self._part_id)}: a restart under another "
                f"capture_dir will not sync {', '.join((record.current, *record.former))}"
            )

    def _claimed(self, former: str) -> bool:
        """Lock ``former`` for this process; one another process captures in is neither
        recovered (its open files are live) nor synced, until a start finds it free."""
        if self._claim_dir is None:
            return True
        try:
            self._claim_dir(former)
        except (DmsimError, OSError) as error:
            self._held_elsewhere.add(former)
            self._log(f"former capture directory not synced: {error}")
            return False
        return True

    def _synced_former_dirs(self) -> tuple[str, ...]:
        return tuple(d for d in self._former_dirs if d not in self._held_elsewhere)

    def _log_former_dirs(self) -> None:
        if synced := self._synced_former_dirs():
            _log.info("also syncing former capture directories: %s", ", ".join(synced))

    def _record_recovery(self, report: RecoveryReport, what: str) -> None:
        if report.scanned or report.errors or report.stale_temp_removed:
            # On a real machine the log is the only record of what a crash left behind.
            for line in report.lines():
                _log.warning("%s: %s", what, line.strip())
        if self._trace is None:
            return
        for item in report.recovered:
            self._trace.record(
                "recovery.torn",
                path=item.source,
                recovered_as=item.path,
                dropped_bytes=item.torn_bytes,
                ids_kept=[[r.stream, r.boot, r.seq] for r in item.reading_ids if r is not None],
            )
        for failed in report.failed:
            self._trace.record("file.quarantined", path=failed.source, reason=failed.reason, ids=[])


def _policy_settings(config: DataManagerConfig) -> tuple[Any, ...]:
    """What the disk policies are made from (see ``_start_policies``)."""
    return (
        config.capture_disabled,
        config.capture_dir,
        config.disk_usage_deletion_threshold,
        config.capture_dir_deletion_threshold,
        config.delete_every_nth_when_disk_full,
        config.capture_dir_max_bytes,
        config.disk_check_interval_secs,
    )


def _unsettled(report: RecoveryReport) -> tuple[str, ...]:
    return tuple(issue.path for issue in report.errors if issue.path.endswith(PROG_EXT))


def _data_manager(machine: MachineConfig) -> DataManagerConfig:
    config = machine.data_manager
    if config is None:
        raise ConfigError(
            Problem("services", "no data_manager service: nothing to capture or sync")
        )
    return config


def _sensor_readings(readings: Sequence[object]) -> Mapping[str, Any] | None:
    """A sensor's ``Readings`` map. Captured sensor readings are ``{"readings": {...}}``: the
    map rdk's syncer and capture control read is inside."""
    for reading in readings:
        data = getattr(reading, "data", None)
        inner = data.get("readings") if isinstance(data, Mapping) else None
        if isinstance(inner, Mapping):
            return inner
    return None


def _backoff(config: DataManagerConfig) -> BackoffPolicy:
    return BackoffPolicy(
        initial_s=config.sync_backoff_initial_ms / 1000.0,
        cap_s=config.sync_backoff_max_ms / 1000.0,
        offline_s=config.sync_offline_wait_secs,
        jitter=config.sync_backoff_jitter,
    )
