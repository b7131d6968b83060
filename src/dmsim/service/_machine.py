"""Running the core for real: the data manager on the wall clock, the real disk and a real
DataSyncService over gRPC — what a Raspberry Pi runs (``dmsim machine``).

The boot number of a reading's identity (stream, boot, seq) must differ on every start of the
process, or readings captured after a restart would collide with those before it; it is kept
in ``<capture_dir>/.dmsim/boot`` (never synced: sync takes only ``.capture`` files there). A
new counter starts at a random number, not 0: a capture directory wiped to free space, or a
second one syncing as the same part, would otherwise reuse identities the cloud already holds.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from dmsim.config import MachineConfig
from dmsim.errors import ConfigError, DmsimError, Problem
from dmsim.runtime import Event, RngTree, Runtime, Trace
from dmsim.storage import FileSystem
from dmsim.sync import CloudTransport

from ._datamanager import DataManager, DataManagerStatistics
from ._reload import (
    Device,
    DeviceBuild,
    DeviceKey,
    Devices,
    Reload,
    close_devices,
    follow_config,
    record_promise,
)

__all__ = [
    "PROBE_EVERY_S",
    "MachineStatus",
    "ProbedTransport",
    "field_rng",
    "machine_devices",
    "next_boot",
    "probe_while_paused",
    "run_machine",
    "sync_when_asked",
]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MachineStatus:
    """One progress line's worth of state."""

    seconds: float
    captured: int
    skipped: int
    files_uploaded: int
    upload_failures: int
    readings_deleted_by_policy: int
    offline_pauses: int = 0  # the cloud unreachable or refusing the key: every upload waits

    def line(self) -> str:
        deleted = self.readings_deleted_by_policy
        return (
            f"t={self.seconds:7.1f}s  captured {self.captured:,}  skipped {self.skipped:,}  "
            f"uploaded files {self.files_uploaded:,}  failed attempts {self.upload_failures:,}"
            + (f"  offline pauses {self.offline_pauses:,}" if self.offline_pauses else "")
            + (f"  readings deleted by disk policy {deleted:,}" if deleted else "")
        )


_FRESH_BOOTS = 1 << 31  # a new counter starts below this: 2**31 restarts before uint32 runs out
_MAX_BOOT = (1 << 32) - 1


def next_boot(fs: FileSystem, capture_dir: str) -> int:
    """Read, increment and durably store the boot counter (see the module doc)."""
    directory = f"{capture_dir.rstrip('/')}/.dmsim"
    path, temporary = f"{directory}/boot", f"{directory}/boot.new"
    fs.makedirs(directory)
    boot = secrets.randbelow(_FRESH_BOOTS)
    if fs.exists(path):
        handle = fs.open_read(path)
        try:
            text = handle.read().decode("ascii", errors="replace").strip()
        finally:
            handle.close()
        if not text.isdecimal():
            raise ConfigError(Problem(path, f"boot counter is not a number: {text[:40]!r}"))
        if int(text) < _MAX_BOOT:
            boot = int(text) + 1
    with contextlib.suppress(FileNotFoundError):
        fs.unlink(temporary)
    out = fs.open_append(temporary)
    try:
        out.write(f"{boot}\n".encode())
        out.fsync()
    finally:
        out.close()
    fs.rename(temporary, path)
    fs.fsync_dir(directory)
    return boot


def status_of(stats: DataManagerStatistics, seconds: float) -> MachineStatus:
    return MachineStatus(
        seconds=seconds,
        captured=sum(c.captured for c in stats.collectors),
        skipped=sum(c.skipped_total for c in stats.collectors),
        files_uploaded=stats.sync.files_uploaded,
        upload_failures=stats.sync.failures,
        readings_deleted_by_policy=sum(p.readings_deleted for p in stats.disk_policies),
        offline_pauses=stats.sync.offline_pauses,
    )


PROBE_EVERY_S = 5.0


class ProbedTransport(CloudTransport, Protocol):
    """A transport that can also tell whether the cloud is reachable (``GrpcTransport``)."""

    async def reachable(self) -> bool: ...


async def probe_while_paused(
    dm: DataManager,
    reachable: Callable[[], Awaitable[bool]],
    *,
    rt: Runtime,
    rng: RngTree,
    every_s: float = PROBE_EVERY_S,
    trace: Trace | None = None,
) -> None:
    """While sync waits out an offline pause for an unreachable cloud, ask every ``every_s``
    (jittered ×0.5–1.5) whether it can be reached, and end the pause when it can; runs until
    cancelled. A pause the cloud asked for (UNAVAILABLE, a refused key) is not probed.

    The 60 s pause is rdk's guess at when the cloud is back: a machine that cannot see its
    link learns only from failed uploads, so a cloud back in seconds (a restart, a router
    reboot) left every reading waiting out the minute. A simulated machine is told by its
    link instead (``SimLink.on_up``). The jitter keeps a fleet that lost the same cloud from
    coming back in step; nothing is probed while uploads work.
    """
    jitter = rng.random()
    while True:
        await rt.sleep(every_s * jitter.uniform(0.5, 1.5))
        if dm.paused_unreachable() and await reachable():
            # a warning, as the failure it answers was: uploads resume before the wait it gave
            _LOG.warning("the cloud is reachable again: retrying now, not after the pause")
            if trace is not None:
                trace.record("sync.cloud_reachable")
            dm.notify_online()


async def sync_when_asked(dm: DataManager, asked: Event, say: Callable[[str], None]) -> None:
    """A manual Sync() each time ``asked`` is set, and what it did, said when it ends; asks
    while one runs make one more. Runs from after ``dm.start()`` until cancelled, before
    ``dm.close()`` (a stop does not wait for a sync over a slow link: what it has not sent
    waits on disk)."""
    while True:
        await asked.wait()
        asked.clear()
        report = await dm.sync()
        say(f"sync now: {report.line()}")


def field_rng() -> RngTree:
    """Randomness for a machine in the field, from the OS: a fixed seed would give every
    machine of a fleet the same backoff jitter, so after a shared outage they would all retry
    in step, the stampede the jitter is there to prevent."""
    return RngTree(secrets.randbits(64))


async def run_machine(
    machine: MachineConfig,
    *,
    rt: Runtime,
    fs: FileSystem,
    devices: dict[DeviceKey, Device],
    transport: ProbedTransport,
    part_id: str,
    state_dir: str,
    claim_dir: Callable[[str], None],
    stop: Event,
    status_every_s: float,
    report: Callable[[MachineStatus], None],
    trace: Trace | None = None,
    reload: Reload | None = None,
    publish: Callable[[dict[str, Any]], None] | None = None,
    sync_asked: Event | None = None,
    say: Callable[[str], None] = _LOG.info,
) -> MachineStatus:
    """Run until ``stop`` is set, reporting status now and then; then shut down cleanly and
    close ``devices`` (kept current by ``reload``, which applies edits of the config file
    while running). ``publish`` gets the data manager's whole status (DoCommand ``status``)
    with ``state``, ``written_at`` and ``uptime_s``: at start, with each report, and once
    stopped. ``state_dir`` keeps dmsim's own state, such as which capture directories
    the part used; ``claim_dir`` locks a former one before it is recovered and synced.
    ``trace`` (the event log) also gets ``machine.start`` {boot}, the config's promise (and
    each reloaded config's) and ``machine.stop``. Each set of ``sync_asked`` runs a manual
    Sync() (:func:`sync_when_asked`), its outcome told to ``say``."""
    manager = machine.data_manager
    if manager is None:
        raise ConfigError(Problem("services", "no data_manager service: nothing to run"))
    try:
        boot = next_boot(fs, manager.capture_dir)
    except OSError as error:
        where = manager.capture_dir
        reason = "permission denied" if error.errno == errno.EACCES else error.strerror
        raise ConfigError(Problem("capture_dir", f"{where}: {reason}")) from None
    rng = field_rng()
    dm = DataManager(
        rt=rt,
        fs=fs,
        machine=machine,
        resolve=lambda api, name: devices.get((api, name)),
        transport=transport,
        is_online=lambda: True,  # outages show up as failed uploads; sync pauses on them
        rng=rng,
        trace=trace,
        boot=boot,
        part_id=part_id,
        state_dir=state_dir,
        claim_dir=claim_dir,
    )
    start = rt.monotonic()
    if trace is not None:
        trace.record("machine.start", boot=boot, part_id=part_id)
    record_promise(trace, machine.promise())
    await dm.start()

    async def published(state: str) -> None:
        if publish is not None:
            wall = datetime.fromtimestamp(rt.wall_ns() / 1e9, tz=UTC)
            uptime = round(rt.monotonic() - start, 3)
            status = {"state": state, "written_at": wall.isoformat(), "uptime_s": uptime}
            await rt.run_blocking(publish, status | dm.status())

    await published("running")
    helpers = [
        rt.spawn(
            probe_while_paused(dm, transport.reachable, rt=rt, rng=rng.child("probe"), trace=trace),
            name="machine.probe",
        )
    ]
    if sync_asked is not None:
        helpers.append(rt.spawn(sync_when_asked(dm, sync_asked, say), name="machine.sync_now"))
    if reload is not None:
        helpers.append(
            rt.spawn(
                follow_config(reload, dm, rt=rt, devices=devices, trace=trace),
                name="machine.reload",
            )
        )
    try:
        while not stop.is_set():
            try:
                await rt.with_timeout(status_every_s, stop.wait())
            except TimeoutError:
                report(status_of(dm.statistics(), rt.monotonic() - start))
                await published("running")
    finally:
        for helper in helpers:
            await helper.stop()
        await dm.close()
        await close_devices(devices, _LOG.warning)
        await transport.close()
    final = status_of(dm.statistics(), rt.monotonic() - start)
    await published("stopped")
    if trace is not None:
        trace.record("machine.stop", boot=boot, uploaded=final.files_uploaded)
    return final


async def machine_devices(
    machine: MachineConfig, *, rt: Runtime, real: bool, seed: int, live: Devices
) -> DeviceBuild:
    """The devices of the machine's resources that ``live`` (the machine's running devices)
    lacks: simulated ones on this runtime's clock, or hardware drivers, and why each of the
    others could not be built. Simulated resources find each other (a vision service its
    camera) in ``live`` when they capture, so a device a reload rebuilds is the one the
    others read."""
    if not real:
        from dmsim.devices import SimResourceSpec, build_sim_resources

        def running(name: str) -> Any:
            for (_, running_name), device in live.items():
                if running_name == name:
                    return device
            raise KeyError(name)

        specs = [
            SimResourceSpec(f"{c.namespace}:component:{c.type}", c.name, c.model, c.attributes)
            for c in machine.components
        ] + [
            SimResourceSpec(f"{s.namespace}:service:{s.type}", s.name, s.model, s.attributes)
            for s in machine.services
            if s.capture_methods
        ]
        # built together, as encoders are wired to their motors by the motors' attributes
        try:
            built = build_sim_resources(
                specs, rt=rt, rng=RngTree(seed).child("devices"), lookup=running
            )
        except DmsimError as error:  # bad attributes: the error names the resource
            wanted = [(spec.api_type, spec.name) for spec in specs]
            return DeviceBuild({}, {key: error for key in wanted if key not in live})
        return DeviceBuild(
            {(d.api, d.name): d for d in built.values() if (d.api, d.name) not in live}, {}
        )
    from dmsim.devices import build_real_resource

    build = DeviceBuild({}, {})
    try:
        for c in machine.components:
            key = (c.api, c.name)
            if key in live:
                continue
            try:
                build.devices[key] = build_real_resource(
                    api_type=f"{c.namespace}:component:{c.type}",
                    name=c.name,
                    model=c.model,
                    attributes=c.attributes,
                    rt=rt,
                )
            except (DmsimError, OSError) as error:
                build.failed[key] = error
    except BaseException:  # a bug or a cancel: let go of what was opened
        await close_devices(build.devices, _LOG.warning)
        raise
    return build
