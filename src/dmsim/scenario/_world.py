"""The world: one simulated machine running a scenario on simulated time.

Everything is built from the scenario and the seed (sub-RNGs by name): a :class:`SimFS` disk, a
:class:`SimLink` to an in-process :class:`CloudCore` through :class:`SimCloudTransport`, the
machine's simulated devices, and the dmsim process itself (a :class:`DataManager` in its own
:class:`SimRuntime`). Faults are applied at their absolute times (:mod:`._world_faults`). A crash
kills the process (RAM lost; its ports refuse it), drops what the disk had not made durable,
and boots a new process after the restart delay; start-up recovery then settles its files.

When the scenario's duration is over the world *heals* (every fault lifted), stops capture
(queues drained, files completed) and lets sync drain the backlog for up to ``final_drain_s``
— the Jepsen "final read": a reading still on disk after that is undelivered, not in flight.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from viam.proto.app.datasync import SensorData

from dmsim.capture import sensor_data_digest
from dmsim.cloud import CloudCore, RpcFaultPlan, StagedBlob
from dmsim.config import MachineConfig, Promise, state_dir
from dmsim.errors import InternalError
from dmsim.net import SimCloudTransport, SimLink
from dmsim.runtime import (
    ProcessKilled,
    RngTree,
    SimKernel,
    SimRuntime,
    Task,
    Trace,
    TraceEvent,
)
from dmsim.service import DataManager
from dmsim.storage._identity import identity_from_bytes, identity_of
from dmsim.storage._sequences import sequence_fingerprint
from dmsim.storage._simfs import SimFS

from ._ledger import FilesOnDisk
from ._model import FINAL_DRAIN_S, SIM_ENV, Scenario
from ._preload import PreloadedDisk, preload_disk
from ._result import Sample, WorldResult
from ._world_devices import build_world_devices
from ._world_faults import FaultDriver, link_setup
from ._world_files import FileWriters

__all__ = ["PART_ID", "World", "run_world"]

PART_ID = "sim-part-1"
_PROGRESS_STEPS = 50


def run_world(
    scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None = None
) -> WorldResult:
    return World(scenario, seed=seed).run(progress)


class _RecordingCloud(CloudCore):
    """The cloud core, emitting ``cloud.stored`` per reading of every newly committed key, and
    ``cloud.recognised`` once for a resend of one: a file resent through lost acknowledgements
    would otherwise grow the trace by its readings at every resend."""

    def __init__(self, *, trace: Trace, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._trace = trace
        self.preloaded: PreloadedDisk | None = None
        self._stored_under: dict[str, bytes] = {}  # key → digest of the readings stored first

    def ingest_data_capture(self, request: Any, *, key: str | None, **kw: Any) -> Any:
        result = super().ingest_data_capture(request, key=key, **kw)
        readings = [(identity_of(r), sensor_data_digest(r)) for r in request.sensor_contents]
        self._readings_stored(readings, key, result.duplicate)
        return result

    def ingest_file(
        self, metadata: Any, data: bytes | StagedBlob, *, key: str | None, **kw: Any
    ) -> Any:
        if not isinstance(data, bytes):  # only the gRPC server stages files on disk
            raise InternalError("the simulated cloud is handed files as bytes")
        result = super().ingest_file(metadata, data, key=key, **kw)
        self._trace.record(
            "cloud.file_stored",
            path=metadata.file_name,
            digest=hashlib.sha256(data).hexdigest(),
            key=key or "",
            duplicate_key=result.duplicate,
        )
        return result

    def ingest_streaming(
        self, metadata: Any, data: bytes | StagedBlob, *, key: str | None, **kw: Any
    ) -> Any:
        if not isinstance(data, bytes):  # only the gRPC server stages payloads on disk
            raise InternalError("the simulated cloud is handed streamed payloads as bytes")
        result = super().ingest_streaming(metadata, data, key=key, **kw)
        reading = SensorData(metadata=metadata.sensor_metadata, binary=data)
        rid = identity_from_bytes(metadata.sensor_metadata.SerializeToString())
        self._readings_stored([(rid, sensor_data_digest(reading))], key, result.duplicate)
        return result

    def create_sequence(self, request: Any, *, key: str | None, **kw: Any) -> Any:
        result = super().create_sequence(request, key=key, **kw)
        resources = [(r.resource_name, r.method_name) for r in request.resources]
        self._trace.record(
            "cloud.sequence_stored",
            fingerprint=sequence_fingerprint(
                request.start_time.ToNanoseconds(),
                request.end_time.ToNanoseconds(),
                resources,
                list(request.sequence_tags),
            ),
            key=key or "",
            duplicate_key=result.duplicate,
        )
        return result

    def _readings_stored(
        self, readings: list[tuple[Any, str]], key: str | None, duplicate: bool
    ) -> None:
        """A resend of the readings first stored under ``key`` is one event; anything else
        (new, keyless, or other readings under a known key) is traced reading by reading, so
        the oracle judges each."""
        signature = hashlib.sha256(repr(readings).encode()).digest()
        if key and duplicate and self._stored_under.get(key) == signature:
            self._trace.record("cloud.recognised", key=key, readings=len(readings))
            return
        if key and not duplicate:
            self._stored_under[key] = signature
        for rid, digest in readings:
            self._stored(rid, digest, key, duplicate)

    def _stored(self, rid: Any, digest: str, key: str | None, duplicate: bool) -> None:
        if rid is not None:
            stream, boot, seq = rid.stream, rid.boot, rid.seq
        elif self.preloaded is not None and (found := self.preloaded.identity_of(digest)):
            stream, boot, seq = found  # a preloaded reading written without an identity
        else:
            return
        self._trace.record(
            "cloud.stored",
            stream=stream,
            boot=boot,
            seq=seq,
            key=key or "",
            digest=digest,
            duplicate_key=duplicate,
        )


class World:
    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int,
        final_drain: bool = True,
        keep_events: bool = True,
    ) -> None:
        """``final_drain=False`` ends with a clean shutdown instead of draining the backlog;
        ``keep_events=False`` keeps no trace event in memory (listeners and counts still see
        every one): for long runs that need no oracle."""
        self.scenario = scenario
        self.final_drain = final_drain
        self.seed = seed
        self.kernel = SimKernel(
            epoch_ns=scenario.epoch_ns, clock_id=f"sim {scenario.name!r} seed {seed}"
        )
        self.trace = Trace(self.kernel.now, keep=None if keep_events else _keep_none)
        self.rng = RngTree(seed)
        disk = scenario.disk
        self.fs = SimFS(
            capacity_bytes=disk.capacity_bytes,
            block_size=disk.block_size,
            initial_fill_bytes=disk.initial_fill_bytes,
            rng=self.rng.child("disk"),
            wall_clock=self.kernel.wall_ns,
            trace=self.trace,
        )
        self.infra: SimRuntime = self.kernel.process("world")
        self.cloud = _RecordingCloud(
            trace=self.trace,
            clock=lambda: self.kernel.wall_ns() / 1e9,
            capacity_bytes=scenario.cloud.capacity_bytes,
            keep_blob_contents=False,  # a simulated week of images would not fit in RAM
        )
        self.plan = RpcFaultPlan()
        self.link = SimLink(
            self.infra, rng=self.rng.child("link"), trace=self.trace, **link_setup(scenario)
        )
        self.devices = build_world_devices(
            scenario.machine,
            rt=self.infra,
            rng=self.rng.child("devices"),
            trace=self.trace,
            payload=scenario.payload,
        )
        self.file_writers = FileWriters(
            scenario.file_writers,
            rt=self.infra,
            fs=self.fs,
            rng=self.rng.child("file-writers"),
            trace=self.trace,
        )
        self.machine: MachineConfig = scenario.machine
        # every capture directory a config has named: a moved one's backlog is still backlog
        self.capture_dirs = [self.capture_dir]
        self.document: Any = scenario.machine_document
        self.boot = self.first_boot = 0
        self.rt: SimRuntime | None = None
        self.dm: DataManager | None = None
        # The running process: the config it runs, the edit it is applying (a task of its
        # own, as `dmsim machine`'s reload is), and whether it has been asked to stop.
        self._applied: MachineConfig = self.machine
        self._applying: MachineConfig | None = None
        self._reconfiguring: Task[None] | None = None
        self._edits: Task[None] | None = None
        self._start: Task[Any] | None = None  # the running process's dm.start()
        self._stopping = False
        self._promise: Promise | None = None  # the last one recorded
        self.samples: list[Sample] = []
        self._files = FilesOnDisk()  # for the readings of a file sync quarantines
        self.final_collectors: tuple[Any, ...] = ()
        self.faults = FaultDriver(self)

    # running ------------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None) -> WorldResult:
        """The whole scenario: start, run to the end of its duration, heal, drain, judge-ready."""
        with _quiet_core_logs():
            self.start()
            duration = self.scenario.duration_s
            for step in range(1, _PROGRESS_STEPS + 1):
                self.advance(until=duration * step / _PROGRESS_STEPS)
                if progress is not None:
                    progress(step / _PROGRESS_STEPS * 0.95)
            result = self.finish()
        if progress is not None:
            progress(1.0)
        return result

    def start(self) -> None:
        """Boot the machine and arm the fault schedule (simulated time 0)."""
        self.trace.subscribe(self._follow)
        self.trace.record("world.start", seed=self.seed, scenario=self.scenario.name)
        self._record_promise()
        try:
            self._preload()
            self.link.on_up(self._link_up)
            self.link.start()
            self.start_process()  # the data manager may refuse the config here
            self.faults.start()
            self.file_writers.start()
            self.infra.spawn(self._sample_loop(), name="sampler")
        except BaseException:
            # Tasks spawned so far never ran: close them, or each is a coroutine "never
            # awaited" warning when the abandoned world is collected.
            self.kernel.close()
            raise

    def _preload(self) -> None:
        """Put the preloaded capture directory on the disk; boot numbers go on from it."""
        source, manager = self.scenario.disk.preload, self.machine.data_manager
        if source is None or manager is None:  # the loader refuses a preload without one
            return
        preloaded = preload_disk(
            source, fs=self.fs, capture_dir=manager.capture_dir, trace=self.trace
        )
        self.cloud.preloaded = preloaded
        self.boot = self.first_boot = preloaded.max_boot + 1
        self.trace.record(
            "world.preloaded",
            files=preloaded.files,
            bytes=preloaded.bytes,
            readings=preloaded.readings,
            unreadable=preloaded.unreadable,
            first_boot=self.boot,
        )

    def advance(self, *, until: float) -> None:
        """Run simulated time up to ``until`` seconds."""
        self.kernel.run(until=until)

    def finish(self) -> WorldResult:
        """Run to the end of the scenario's duration if not there yet (its expectations are
        about the whole run), then heal every fault, stop capture, let sync drain and shut
        down; the run's result."""
        if self.kernel.now() < self.scenario.duration_s:
            self.advance(until=self.scenario.duration_s)
        self.kernel.run_main(self._finish(), name="final-drain")
        self._sample()
        return WorldResult(
            trace=self.trace,
            sim_seconds=self.kernel.now(),
            options=self.options(),
            statistics=self.statistics(),
            samples=self.samples,
            durability_window_s=self.window,
            queue_drain_s=1.0,
            disk_peak_fraction=self.fs.statistics().high_water_bytes
            / self.scenario.disk.capacity_bytes,
        )

    def _record_promise(self) -> None:
        """The promise in force from now on, for the judge, when it changes: the harness says
        it (from the configs it gives the machine), not the machine under test. While the
        process may still run an older config (applying an edit part by part, or stopping
        before it could), the looser of each holds."""
        configs = [self.machine]
        if self.alive():
            configs += [self._applied, *([self._applying] if self._applying else [])]
        promise = functools.reduce(Promise.looser, (config.promise() for config in configs))
        if promise != self._promise:
            self._promise = promise
            self.trace.record("world.promise", **promise._asdict())

    @property
    def window(self) -> float:
        return self.machine.promise().durability_window_s

    def options(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "seed": self.seed,
            "epoch_ns": s.epoch_ns,
            "duration_s": s.duration_s,
            "disk": {
                "capacity_bytes": s.disk.capacity_bytes,
                "block_size": s.disk.block_size,
                "initial_fill_bytes": s.disk.initial_fill_bytes,
            },
            "network_profile": s.network.profile,
            "durability_window_s": self.window,
            "faults": len(s.faults.steps),
            "part_id": PART_ID,
            "cpu_count": s.host.cpu_count,
        }

    # the dmsim process ------------------------------------------------------------------

    def start_process(self) -> None:
        rt = self.kernel.process(f"dmsim/boot-{self.boot}")
        transport = SimCloudTransport(rt, self.link, self.cloud, plan=self.plan, trace=self.trace)
        dm = DataManager(
            rt=rt,
            fs=self.fs.for_process(rt),
            machine=self.machine,
            resolve=lambda api, name: self.devices.get((api, name)),
            transport=transport,
            is_online=self.link.is_up,
            rng=self.rng.child(f"boot-{self.boot}"),
            trace=self.trace,
            boot=self.boot,
            part_id=PART_ID,
            state_dir=state_dir(SIM_ENV),
            mongo_client=_no_mongo_in_simulation,
        )
        self.rt, self.dm = rt, dm
        self._applied, self._stopping = self.machine, False
        self._record_promise()
        self._start = rt.spawn(dm.start(), name="start")

    def _link_up(self) -> None:
        if self.dm is not None and self.alive():
            self.dm.notify_online()

    def alive(self) -> bool:
        return self.rt is not None and self.rt.alive

    def crash(self) -> bool:
        """Crash the running process; ``False`` (nothing happens) when it is already down."""
        if self.rt is None or not self.rt.alive:
            return False
        self._record_skips()
        self.rt.kill()
        report = self.fs.crash()
        self.trace.record("process.crash", boot=self.boot, disk=repr(report)[:500])
        self.dm = None
        return True

    async def clean_stop(self) -> bool:
        """Shut the running process down cleanly, as SIGTERM stops `dmsim machine`: an edit
        it is applying is abandoned, then it drains and exits. ``False`` when there is no
        process to stop (down, or stopping already) or a crash cut the stop short."""
        if self.dm is None or self.rt is None or not self.rt.alive or self._stopping:
            return False
        dm, rt = self.dm, self.rt
        self._stopping = True
        self.trace.record("process.stopping", boot=self.boot)
        if self._reconfiguring is not None:
            await self._reconfiguring.stop()
        if rt.alive:  # a crash may come while the edit lets go
            await rt.spawn(dm.close(), name="shutdown").join()
        if not rt.alive:  # killed meanwhile: the crash is what happened
            return False
        self._record_skips()
        rt.kill()  # the process exits; nothing of it runs any more
        self.trace.record("process.stop", boot=self.boot)
        self.dm = None
        return True

    def manual_sync(self, fault_id: str) -> None:
        """An operator's Sync() on the running process, its report recorded when it returns
        (``sync.manual``); nothing but a ``fault.no_target`` while the process is down or
        stopping. It dies with a crash, as `dmsim machine`'s does."""
        dm, rt, start = self.dm, self.rt, self._start
        if dm is None or rt is None or start is None or not rt.alive or self._stopping:
            self.trace.record("fault.no_target", fault_id=fault_id)
            return

        async def sync() -> None:
            await start.join()  # a Sync() arriving while the process boots waits for it
            if self._stopping:  # a stop began meanwhile: nobody to ask (a crash kills this)
                self.trace.record("fault.no_target", fault_id=fault_id)
                return
            report = await dm.sync()
            self.trace.record("sync.manual", fault_id=fault_id, **asdict(report))

        rt.spawn(sync(), name=f"manual-sync:{fault_id}")

    def restart(self) -> None:
        if self.alive():
            return  # one dmsim process at a time
        self.boot += 1
        self.trace.record("process.restart", boot=self.boot)
        self.start_process()

    def edit_config(self, machine: MachineConfig, document: Any) -> None:
        """The machine's config file changes now. A later boot starts with it; a running
        process applies it as `dmsim machine` applies an edit: after the one it is applying,
        and not once it has been asked to stop."""
        self.machine, self.document = machine, document
        if self.capture_dir not in self.capture_dirs:
            self.capture_dirs.append(self.capture_dir)
        self._record_promise()
        if self.alive() and not self._stopping and (self._edits is None or self._edits.done()):
            self._edits = self.infra.spawn(self._apply_edits(), name="reconfigure")

    async def _apply_edits(self) -> None:
        """Apply the newest config until the running process runs it (edits made meanwhile
        skip the ones before them, as a reload reads the file as it is then)."""
        while (dm := self.dm) is not None and (rt := self.rt) is not None:
            if not rt.alive or self._stopping or self._applied is self.machine:
                return
            target = self._applying = self.machine
            self._reconfiguring = rt.spawn(dm.reconfigure(target), name="reconfigure")
            try:
                await self._reconfiguring.join()
            except (ProcessKilled, asyncio.CancelledError):
                if rt.alive and not self._stopping:
                    raise  # this task was cancelled, not the edit
                continue  # a crash or a clean stop abandoned the edit
            finally:
                self._applying = self._reconfiguring = None
            if rt.alive:  # else a crash ended the edit midway
                self._applied = target
                self._record_promise()

    async def settle(self) -> None:
        """Wait until the process has applied the edits asked of it (the end of the run)."""
        if self._edits is not None:
            await self._edits.join()

    def _record_skips(self) -> None:
        if self.dm is None:
            return
        for stats in self.dm.statistics().collectors:
            for reason, count in stats.skipped.items():
                self.trace.record(
                    "capture.skipped", stream=stats.stream, count=count, reason=reason
                )

    # the end ----------------------------------------------------------------------------

    async def _finish(self) -> None:
        await self.file_writers.stop()
        await self.faults.heal()
        self.trace.record("world.heal")
        if self.dm is None:
            self.restart()
            await self.infra.sleep(1.0)
        assert self.dm is not None
        assert self.rt is not None
        dm, rt = self.dm, self.rt
        await rt.spawn(dm.stop_capture(), name="stop-capture").join()
        self.final_collectors = dm.statistics().collectors
        deadline = self.kernel.now() + (FINAL_DRAIN_S if self.final_drain else 0.0)
        while self.kernel.now() < deadline and self._backlog()[0]:
            await rt.spawn(dm.sync(), name="final-sync").join()
            if self._backlog()[0]:
                await self.infra.sleep(60.0)
        self._record_skips()
        await rt.spawn(dm.close(), name="shutdown").join()
        self.trace.record("world.end", backlog_files=self._backlog()[0])

    # observation ------------------------------------------------------------------------

    def _follow(self, event: TraceEvent) -> None:
        quarantine = self._files.follow(event.kind, event.fields)
        if quarantine is not None:
            self.trace.record("file.quarantined", **quarantine)

    async def _sample_loop(self) -> None:
        while True:
            self._sample()
            await self.infra.sleep(self.scenario.sample_every_s)

    def _sample(self) -> None:
        files, size = self._backlog()
        usage = self.fs.disk_usage("/")
        self.samples.append(
            Sample(
                t=self.kernel.now(),
                backlog_files=files,
                backlog_bytes=size,
                disk_used_bytes=usage.total_bytes - usage.avail_bytes,
                disk_total_bytes=usage.total_bytes,
                uploaded_files_total=self.cloud.statistics().uploads,
            )
        )

    @property
    def capture_dir(self) -> str:
        """The capture directory of the config the machine has now."""
        return self.machine.data_manager.capture_dir if self.machine.data_manager else "/"

    def _backlog(self) -> tuple[int, int]:
        files = size = 0
        for capture_dir in self.capture_dirs:
            inside_another = any(
                capture_dir.startswith(d.rstrip("/") + "/") for d in self.capture_dirs
            )
            if inside_another or not self.fs.exists(capture_dir):
                continue  # (one inside another is walked with it)
            for dirpath, dirnames, filenames in self.fs.walk(capture_dir):
                dirnames[:] = [d for d in dirnames if d != "failed"]
                for name in filenames:
                    if name.endswith(".capture"):
                        files += 1
                        size += self.fs.stat(f"{dirpath}/{name}").size
        other_files, other_size = self.file_writers.backlog()
        return files + other_files, size + other_size

    def statistics(self) -> dict[str, Any]:
        cloud = self.cloud.statistics()
        fs = self.fs.statistics()
        link = self.link.statistics()
        return {
            "boots": self.boot - self.first_boot + 1,
            "cloud": asdict(cloud),
            "disk": asdict(fs),
            "link": asdict(link),
            "backlog_files_at_end": self._backlog()[0],
            "upload_attempts": self.trace.count("upload.attempt"),
            "trace_events": len(self.trace),
        }


def _keep_none(_kind: str) -> bool:
    return False


@contextmanager
def _quiet_core_logs() -> Iterator[None]:
    """The simulated machine's log lines (a week of stale-data warnings) stay out of the
    console: everything they say is in the trace. Restored when the world ends."""
    core = logging.getLogger("dmsim")
    saved = (core.propagate, core.handlers[:])
    core.propagate, core.handlers[:] = False, [logging.NullHandler()]
    try:
        yield
    finally:
        core.propagate, core.handlers[:] = saved


def _no_mongo_in_simulation(uri: str) -> Any:
    # The simulated machine has no MongoDB server: capture must carry on regardless (logged).
    raise ConnectionError(f"no MongoDB server in the simulated world ({uri})")
