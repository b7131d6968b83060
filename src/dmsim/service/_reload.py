"""Live reload of a real machine's config file (``dmsim machine``), as rdk applies edits to a
local config file without a restart.

The file is checked every :data:`CONFIG_POLL_S` (and at once on SIGHUP): a changed, valid config
is applied in place by :meth:`DataManager.reconfigure` (unchanged collectors keep running and
their queues; a new ``capture_dir`` is claimed first, the old one's backlog still synced). An
edit that cannot be applied changes nothing and is reported once, with what is wrong and where:
a file that does not parse or validate, a config without a data manager, a new ``capture_dir``
another process holds, a new resource whose driver cannot be built, or a resource whose model,
attributes or dependencies changed (hardware is opened once, at start: a restart applies such
a change).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmsim.capture import CaptureSource
from dmsim.config import ComponentConfig, MachineConfig, ServiceConfig, load_machine_config
from dmsim.errors import DmsimError
from dmsim.runtime import Event, Runtime, Trace

from ._datamanager import DataManager

__all__ = [
    "CONFIG_POLL_S",
    "ConfigFile",
    "Reload",
    "apply_edit",
    "follow_config",
    "promise_of",
    "record_promise",
]

CONFIG_POLL_S = 1.0

DeviceKey = tuple[str, str]  # (api, name)
BuildDevices = Callable[[MachineConfig, Collection[DeviceKey]], Mapping[DeviceKey, CaptureSource]]


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


def _resources(machine: MachineConfig) -> dict[DeviceKey, _Resource]:
    """The machine's devices as built at start: components, and services other than the data
    manager (a vision service is built like a component)."""
    owners: list[ComponentConfig | ServiceConfig] = [
        *machine.components,
        *(s for s in machine.services if s.type != "data_manager"),
    ]
    return {
        (owner.api, owner.name): _Resource(owner.model, owner.attributes, owner.depends_on)
        for owner in owners
    }


def hardware_changes(running: MachineConfig, edited: MachineConfig) -> list[str]:
    """Resources in both configs whose model, attributes or dependencies differ."""
    before, after = _resources(running), _resources(edited)
    return [
        f"{api} {name!r}"
        for (api, name), was in before.items()
        if after.get((api, name), was) != was
    ]


def promise_of(machine: MachineConfig) -> tuple[float, float]:
    """What a config promises: its durability window and offline interval, in seconds."""
    manager = machine.data_manager
    if manager is None:
        return 0.0, 0.0
    return manager.durability_window_s, manager.sync_offline_wait_secs


def record_promise(trace: Trace | None, promise: tuple[float, float]) -> None:
    """Tell the judge what the config in force promises (the simulated world records the same
    event for the configs it gives the machine)."""
    if trace is not None:
        window, offline_wait = promise
        trace.record("world.promise", durability_window_s=window, offline_wait_s=offline_wait)


async def apply_edit(
    config: ConfigFile,
    dm: DataManager,
    *,
    devices: dict[DeviceKey, CaptureSource],
    build_devices: BuildDevices,
    claim_dir: Callable[[str], None],
    notify: Callable[[str], None],
    trace: Trace | None,
) -> None:
    """Apply the config file's edit, if any."""

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
    changed = hardware_changes(config.running, edited)
    if changed:
        refuse(
            f"{', '.join(changed)} changed model, attributes or dependencies; hardware is "
            "opened at start: restart dmsim machine to apply that"
        )
        return
    try:
        devices.update(build_devices(edited, devices.keys()))  # unused until the config runs
        if running is None or manager.capture_dir != running.capture_dir:
            claim_dir(manager.capture_dir)  # last: nothing after it can fail
    except (DmsimError, OSError) as error:
        refuse(error)
        return
    for warning in edited.warnings:
        notify(f"warning: {warning}")
    before, after = promise_of(config.running), promise_of(edited)
    config.running = edited
    # Files opened under the old promise are completed while the new config is applied:
    # until it is, the looser of the two holds.
    record_promise(trace, (max(before[0], after[0]), max(before[1], after[1])))
    await dm.reconfigure(edited)
    record_promise(trace, after)
    notify(f"reconfigured from {config.path}")


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
    dm: DataManager,
    *,
    rt: Runtime,
    devices: dict[DeviceKey, CaptureSource],
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
