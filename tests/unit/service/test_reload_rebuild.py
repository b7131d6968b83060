"""A reload that changes a resource's hardware settings rebuilds it in place: collectors paused
(queues on disk), the old device closed before the new one opens, and a refused edit leaves
the old device open again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dmsim.config import MachineConfig, load_machine_config
from dmsim.errors import ConfigError, Problem
from dmsim.service._reload import ConfigFile, Device, DeviceKey, Devices, apply_edit

CAMERA: DeviceKey = ("rdk:component:camera", "cam")
BOARD: DeviceKey = ("rdk:component:board", "pins")


@dataclass
class Bench:
    """Records the order of everything the reload does to devices and the data manager."""

    log: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unplugged: set[str] = field(default_factory=set)  # names whose hardware is gone
    taken_dirs: set[str] = field(default_factory=set)


@dataclass
class FakeDevice:
    bench: Bench
    name: str
    attributes: Mapping[str, Any]

    async def capture(self, method: str, params: Mapping[str, str]) -> Any:
        raise AssertionError("a reload never captures")

    async def close(self) -> None:
        self.bench.log.append(f"close {self.name} {dict(self.attributes)}")


@dataclass
class FakeManager:
    bench: Bench

    async def pause_devices(self, resources: Collection[DeviceKey]) -> None:
        self.bench.log.append(f"pause {sorted(name for _, name in resources)}")

    async def resume_devices(self) -> None:
        self.bench.log.append("resume")

    async def reconfigure(self, machine: MachineConfig) -> None:
        self.bench.log.append("reconfigure")


def machine(capture_dir: Path, **attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A camera and a board, each with the given attributes; omitted ones are not there."""
    types = {"cam": "camera", "pins": "board"}
    return {
        "components": [
            {"name": name, "type": types[name], "model": "fake", "attributes": attrs}
            for name, attrs in attributes.items()
        ],
        "services": [
            {"name": "dm", "type": "data_manager", "attributes": {"capture_dir": str(capture_dir)}}
        ],
    }


class Reloader:
    def __init__(self, tmp_path: Path, bench: Bench, first: dict[str, Any]) -> None:
        self.path, self.bench = tmp_path / "machine.json", bench
        self.path.write_text(json.dumps(first), encoding="utf-8")
        self.config = ConfigFile(self.path, load_machine_config(self.path))
        self.devices: dict[DeviceKey, Device] = {}
        asyncio.run(self._build_into(self.config.running))
        bench.log.clear()

    async def _build_into(self, config: MachineConfig) -> None:
        self.devices.update(await self.build(config, self.devices))

    async def build(self, config: MachineConfig, live: Devices) -> Devices:
        built: dict[DeviceKey, Device] = {}
        for component in config.components:
            if (component.api, component.name) in live:
                continue
            if component.name in self.bench.unplugged or component.attributes.get("broken"):
                raise ConfigError(Problem(f"{component.name}.attributes", "no such device"))
            self.bench.log.append(f"open {component.name} {dict(component.attributes)}")
            built[(component.api, component.name)] = FakeDevice(
                self.bench, component.name, component.attributes
            )
        return built

    def claim(self, directory: str) -> None:
        if directory in self.bench.taken_dirs:
            raise ConfigError(Problem("capture_dir", f"{directory}: in use by a running dmsim"))

    def edit(self, config: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(config), encoding="utf-8")
        asyncio.run(
            apply_edit(
                self.config,
                FakeManager(self.bench),
                devices=self.devices,
                build_devices=self.build,
                claim_dir=self.claim,
                notify=self.bench.notes.append,
                trace=None,
            )
        )

    def attributes(self, key: DeviceKey) -> Mapping[str, Any]:
        device = self.devices[key]
        assert isinstance(device, FakeDevice)
        return device.attributes


@pytest.fixture
def bench() -> Bench:
    return Bench()


def test_a_changed_resource_is_closed_before_its_new_device_opens(
    tmp_path: Path, bench: Bench
) -> None:
    reloader = Reloader(tmp_path, bench, machine(tmp_path, cam={"width_px": 64}, pins={}))
    reloader.edit(machine(tmp_path, cam={"width_px": 32}, pins={}))
    assert bench.log == [
        "pause ['cam']",
        "close cam {'width_px': 64}",
        "open cam {'width_px': 32}",
        "reconfigure",
        "resume",
    ]
    assert reloader.attributes(CAMERA) == {"width_px": 32}
    assert bench.notes == [f"reconfigured from {reloader.path}; rebuilt rdk:component:camera 'cam'"]


def test_a_removed_resource_is_closed_and_a_new_one_opened(tmp_path: Path, bench: Bench) -> None:
    reloader = Reloader(tmp_path, bench, machine(tmp_path, cam={}))
    reloader.edit(machine(tmp_path, pins={"pins": [17]}))
    assert bench.log == [
        "pause ['cam']",
        "close cam {}",
        "open pins {'pins': [17]}",
        "reconfigure",
        "resume",
    ]
    assert set(reloader.devices) == {BOARD}
    assert bench.notes == [f"reconfigured from {reloader.path}"]


def test_a_new_device_that_cannot_be_built_leaves_the_old_one_open_again(
    tmp_path: Path, bench: Bench
) -> None:
    reloader = Reloader(tmp_path, bench, machine(tmp_path, cam={"width_px": 64}))
    reloader.edit(machine(tmp_path, cam={"width_px": 64, "broken": True}))
    assert bench.log == [
        "pause ['cam']",
        "close cam {'width_px': 64}",
        "open cam {'width_px': 64}",
        "resume",
    ]
    assert reloader.attributes(CAMERA) == {"width_px": 64}
    assert reloader.config.running.components[0].attributes == {"width_px": 64}
    [note] = bench.notes
    assert note.startswith(f"{reloader.path} changed; still running the previous config:")
    assert "cam.attributes: no such device" in note


def test_a_refused_capture_dir_closes_the_new_devices_and_reopens_the_old(
    tmp_path: Path, bench: Bench
) -> None:
    reloader = Reloader(tmp_path, bench, machine(tmp_path, cam={"width_px": 64}))
    bench.taken_dirs.add(str(tmp_path / "taken"))
    reloader.edit(machine(tmp_path / "taken", cam={"width_px": 32}, pins={}))
    assert bench.log == [
        "pause ['cam']",
        "close cam {'width_px': 64}",
        "open cam {'width_px': 32}",
        "open pins {}",
        "close cam {'width_px': 32}",
        "close pins {}",
        "open cam {'width_px': 64}",
        "resume",
    ]
    assert set(reloader.devices) == {CAMERA}
    assert "in use by a running dmsim" in bench.notes[0]


def test_a_device_that_cannot_be_reopened_is_named_and_built_by_the_next_edit(
    tmp_path: Path, bench: Bench
) -> None:
    reloader = Reloader(tmp_path, bench, machine(tmp_path, cam={"width_px": 64}, pins={}))
    bench.unplugged.add("cam")  # the camera's cable came out while the edit was applied
    reloader.edit(machine(tmp_path, cam={"width_px": 32}, pins={}))
    assert set(reloader.devices) == {BOARD}
    lost, refused = bench.notes
    assert lost.startswith("rdk:component:camera 'cam' could not be reopened (")
    assert lost.endswith("not captured until an edit applies or dmsim machine restarts")
    assert "still running the previous config" in refused
    assert bench.log == ["pause ['cam']", "close cam {'width_px': 64}", "resume"]
    bench.unplugged.clear()  # plugged back in; any edit that applies builds it again
    bench.log.clear()
    reloader.edit(machine(tmp_path, cam={"width_px": 64}, pins={"pins": [4]}))
    assert bench.log == [
        "pause ['pins']",
        "close pins {}",
        "open cam {'width_px': 64}",
        "open pins {'pins': [4]}",
        "reconfigure",
        "resume",
    ]
    assert set(reloader.devices) == {CAMERA, BOARD}
