"""Live reload of a real machine's config file (``dmsim machine``), as rdk applies edits to a
local config file without a restart.

The file is checked every :data:`CONFIG_POLL_S` (and at once on SIGHUP): a changed, valid config
is applied in place by :meth:`DataManager.reconfigure` (unchanged collectors keep running and
their queues; a new ``capture_dir`` is claimed first, the old one's backlog still synced). A
resource whose model, attributes or dependencies changed is rebuilt, as rdk rebuilds it: its
collectors stop (queues drained to disk), its device is closed *before* the new one is built
(a GPIO pin or serial port cannot be opened twice), and its collectors start again on the new
device; a removed resource's device is closed. An edit that cannot be applied changes nothing
and is reported once, with what is wrong and where: a file that does not parse or validate, a
config without a data manager, a new ``capture_dir`` another process holds, or a device that
cannot be built. Devices closed for it are then reopened as they were; one that cannot be is
reported, and tried again at the next edit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from dmsim.capture import CaptureSource
from dmsim.config import (
    ComponentConfig,
    MachineConfig,
    Promise,
    ServiceConfig,
    load_machine_config,
)
from dmsim.errors import DmsimError
from dmsim.runtime import Event, Runtime, Trace

__all__ = [
    "CONFIG_POLL_S",
    "ConfigFile",
    "Device",
    "DeviceBuild",
    "DeviceKey",
    "Devices",
    "Manager",
    "Reload",
    "apply_edit",
    "close_devices",
    "follow_config",
    "record_promise",
    "replaced_resources",
]

CONFIG_POLL_S = 1.0

DeviceKey = tuple[str, str]  # (api, name)


class Device(CaptureSource, Protocol):
    """A simulated device or a hardware driver, as the machine holds it."""

    async def close(self) -> None: ...


Devices = Mapping[DeviceKey, Device]


class DeviceBuild(NamedTuple):
    """The devices built for the resources a machine lacks, and why each of the others could
    not be (one unplugged device does not keep the rest closed)."""

    devices: dict[DeviceKey, Device]
    failed: dict[DeviceKey, DmsimError | OSError]

    def why(self) -> str:
        return "; ".join(dict.fromkeys(str(error) for error in self.failed.values()))


# builds the config's resources that the running devices lack
BuildDevices = Callable[[MachineConfig, Devices], Awaitable[DeviceBuild]]


class Manager(Protocol):
    """What a reload needs of the data manager."""

    async def pause_devices(self, resources: Collection[DeviceKey]) -> None: ...

    async def resume_devices(self) -> None: ...

    async def reconfigure(self, machine: MachineConfig) -> None: ...


class ConfigFile:
    """The machine config file and the config running from it."""

    def __init__(self, path: Path, running: MachineConfig) -> None:
        self.path = path
        self.running = running
        self._seen = _signature(path)

    def edited(self) -> MachineConfig | None:
        """The file's config if the file changed since the last look, else ``None``; raises
        :class:`~dmsim.errors.ConfigError` (or ``OSError``) for an edit that does not load."""
        signature = _signature(self.path)
        if signature == self._seen:
            return None
        self._seen = signature
        return load_machine_config(self.path)


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is edited or replaced (an editor's rename included)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


@dataclass(frozen=True, slots=True)
class _Resource:
    model: str
    attributes: Mapping[str, Any]
    depends_on: tuple[str, ...]


def _owners(machine: MachineConfig) -> list[ComponentConfig | ServiceConfig]:
    """The machine's devices' configs: components, and services other than the data manager
    (a vision service is built like a component)."""
    return [*machine.components, *(s for s in machine.services if s.type != "data_manager")]


def _resources(machine: MachineConfig) -> dict[DeviceKey, _Resource]:
    return {
        (owner.api, owner.name): _Resource(owner.model, owner.attributes, owner.depends_on)
        for owner in _owners(machine)
    }


def dependents(machine: MachineConfig, keys: Collection[DeviceKey]) -> list[DeviceKey]:
    """The resources that read one of ``keys``' devices, directly or through another: by
    ``depends_on`` or by a capture method's ``camera_name`` (a vision service's camera)."""
    reads = {
        (owner.api, owner.name): {
            *owner.depends_on,
            *(m.additional_params.get("camera_name", "") for m in owner.capture_methods),
        }
        for owner in _owners(machine)
    }
    found: list[DeviceKey] = []
    names = {name for _, name in keys}
    while True:
        more = [k for k, read in reads.items() if read & names and k not in {*keys, *found}]
        if not more:
            return found
        found += more
        names |= {name for _, name in more}


def replaced_resources(running: MachineConfig, edited: MachineConfig) -> list[DeviceKey]:
    """Resources of the running config that the edit removes or whose model, attributes or
    dependencies it changes: their devices are closed."""
    before, after = _resources(running), _resources(edited)
    return [key for key, was in before.items() if after.get(key) != was]


def _named(keys: Collection[DeviceKey]) -> str:
    return ", ".join(f"{api} {name!r}" for api, name in keys)


async def close_devices(devices: Devices, report: Callable[[str], None]) -> None:
    """Close each device; one that fails to close is reported, and the others still closed."""
    for key, device in devices.items():
        try:
            await device.close()
        except Exception as error:  # a driver's close may fail any way: it is let go anyway
            report(f"closing {_named([key])} failed: {type(error).__name__}: {error}")


def record_promise(trace: Trace | None, promise: Promise) -> None:
    """Tell the judge what the config in force promises (the simulated world records the same
    event for the configs it gives the machine)."""
    if trace is not None:
        trace.record("world.promise", **promise._asdict())


async def apply_edit(
    config: ConfigFile,
    dm: Manager,
    *,
    devices: dict[DeviceKey, Device],
    build_devices: BuildDevices,
    claim_dir: Callable[[str], None],
    notify: Callable[[str], None],
    trace: Trace | None,
) -> None:
    """Apply the config file's edit, if any; ``devices`` (the machine's) is kept current."""

    def refuse(why: object) -> None:
        notify(f"{config.path} changed; still running the previous config: {why}")

    try:
        edited = config.edited()
    except (DmsimError, OSError) as error:
        refuse(error)
        return
    if edited is None or edited == config.running:
        return
    manager, running = edited.data_manager, config.running.data_manager
    if manager is None:
        refuse("it has no data_manager service")
        return
    replaced = replaced_resources(config.running, edited)
    if replaced:
        # a dependent finds the new device by name: paused, its captures do not fail meanwhile
        await dm.pause_devices([*replaced, *dependents(config.running, replaced)])
    try:
        closed = {key: devices.pop(key) for key in replaced if key in devices}
        await close_devices(closed, notify)
        build = await build_devices(edited, devices)
        problem: object = build.why() if build.failed else None
        if problem is None and (running is None or manager.capture_dir != running.capture_dir):
            try:
                claim_dir(manager.capture_dir)  # last: nothing after it can fail
            except (DmsimError, OSError) as error:
                problem = error
        if problem is not None:
            await close_devices(build.devices, notify)
            await _reopen(config.running, devices, build_devices, notify)
            refuse(problem)
            return
        devices.update(build.devices)
        for warning in edited.warnings:
            notify(f"warning: {warning}")
        before, after = config.running.promise(), edited.promise()
        config.running = edited
        # Files opened under the old promise are completed while the new config is applied:
        # until it is, the looser of the two holds.
        record_promise(trace, before.looser(after))
        await dm.reconfigure(edited)
        record_promise(trace, after)
    finally:
        if replaced:
            await dm.resume_devices()
    rebuilt = [key for key in replaced if key in build.devices]
    kept = _resources(edited)
    removed = [key for key in replaced if key not in kept]
    notify(
        f"reconfigured from {config.path}"
        + (f"; rebuilt {_named(rebuilt)}" if rebuilt else "")
        + (f"; closed {_named(removed)} (removed)" if removed else "")
    )


async def _reopen(
    running: MachineConfig,
    devices: dict[DeviceKey, Device],
    build_devices: BuildDevices,
    notify: Callable[[str], None],
) -> None:
    """Build the running config's devices that ``devices`` lacks again (a refused edit closed
    them, or an earlier one could not reopen them); say which stay closed."""
    build = await build_devices(running, devices)
    devices.update(build.devices)
    if build.failed:
        notify(
            f"{_named(build.failed)} could not be reopened ({build.why()}): not captured until "
            "the next edit or a restart of dmsim machine opens it"
        )


@dataclass(frozen=True, slots=True)
class Reload:
    """What live reload needs from the command: the file, how to build new resources'
    devices, how to claim a new capture directory (its lock), where to say what happened,
    and an event that asks for a check at once (SIGHUP)."""

    config: ConfigFile
    build_devices: BuildDevices
    claim_dir: Callable[[str], None]
    notify: Callable[[str], None]
    check_now: Event


async def follow_config(
    reload: Reload,
    dm: Manager,
    *,
    rt: Runtime,
    devices: dict[DeviceKey, Device],
    trace: Trace | None,
) -> None:
    """Check the file every :data:`CONFIG_POLL_S`, or when ``check_now`` is set."""
    while True:
        with contextlib.suppress(TimeoutError):
            await rt.with_timeout(CONFIG_POLL_S, reload.check_now.wait())
        reload.check_now.clear()
        await apply_edit(
            reload.config,
            dm,
            devices=devices,
            build_devices=reload.build_devices,
            claim_dir=reload.claim_dir,
            notify=reload.notify,
            trace=trace,
        )
