"""A reload that changes a resource's hardware settings rebuilds it in place: collectors paused
(queues on disk), the old device closed before the new one opens, and a refused edit leaves
the old device open again."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.config import MachineConfig, load_machine_config
from dmsim.errors import ConfigError, Problem
from dmsim.service._reload import (
    ConfigFile,
    Device,
    DeviceBuild,
    DeviceKey,
    Devices,
    apply_edit,
)

CAMERA: DeviceKey = ("rdk:component:camera", "cam")
BOARD: DeviceKey = ("rdk:component:board", "pins")


@dataclass
class Bench:
    """Records the order of everything the reload does to devices and the data manager."""

    log: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unplugged: set[str] = field(default_factory=set)  # names whose hardware is gone
    taken_dirs: set[str] = field(default_factory=set)
    opened: list[FakeDevice] = field(default_factory=list)  # every device ever built
    last_build_failed: dict[str, bool] = field(default_factory=dict)  # by name


@dataclass
class FakeDevice:
    bench: Bench
    name: str
    attributes: Mapping[str, Any]
    closed: bool = False

    async def capture(self, method: str, params: Mapping[str, str]) -> Any:
        raise AssertionError("a reload never captures")

    async def close(self) -> None:
        assert not self.closed, f"{self.name} closed twice"
        self.closed = True
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
    """A camera, a board and a sensor, each with the given attributes; omitted ones are not
    there."""
    types = {"cam": "camera", "pins": "board", "probe": "sensor"}
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
        build = await self.build(config, self.devices)
        assert not build.failed
        self.devices.update(build.devices)

    async def build(self, config: MachineConfig, live: Devices) -> DeviceBuild:
        build = DeviceBuild({}, {})
        for component in config.components:
            key = (component.api, component.name)
            if key in live:
                continue
            unbuildable = component.name in self.bench.unplugged or "broken" in component.attributes
            self.bench.last_build_failed[component.name] = unbuildable
            if unbuildable:
                build.failed[key] = ConfigError(
                    Problem(f"{component.name}.attributes", "no such device")
                )
                continue
            # hardware cannot be opened twice: the old device must be closed by now
            assert all(d.closed for d in self.bench.opened if d.name == component.name)
            self.bench.log.append(f"open {component.name} {dict(component.attributes)}")
            device = FakeDevice(self.bench, component.name, component.attributes)
            self.bench.opened.append(device)
            build.devices[key] = device
        return build

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


def with_dependents(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` plus a vision service reading camera 'cam' (CaptureAllFromCamera's
    camera_name) and a sensor 'thermo' that depends_on board 'pins'."""
    vision = {
        "name": "eyes",
        "type": "vision",
        "model": "fake",
        "service_configs": [
            {
                "type": "data_manager",
                "attributes": {
                    "capture_methods": [
                        {
                            "method": "CaptureAllFromCamera",
                            "capture_frequency_hz": 1,
                            "additional_params": {"camera_name": "cam"},
                        }
                    ]
                },
            }
        ],
    }
    thermo = {"name": "thermo", "type": "sensor", "model": "fake", "depends_on": ["pins"]}
    return config | {
        "components": [*config["components"], thermo],
        "services": [*config["services"], vision],
    }


@pytest.mark.parametrize(
    ("edited", "swap"),
    [
        (
            {"cam": {"width_px": 32}, "pins": {}},
            ["pause ['cam', 'eyes']", "close cam {'width_px': 64}", "open cam {'width_px': 32}"],
        ),
        (
            {"cam": {"width_px": 64}, "pins": {"pins": [4]}},
            ["pause ['pins', 'thermo']", "close pins {}", "open pins {'pins': [4]}"],
        ),
    ],
)
def test_a_rebuilt_resource_pauses_the_resources_that_read_it_without_rebuilding_them(
    tmp_path: Path, bench: Bench, edited: dict[str, Any], swap: list[str]
) -> None:
    """rdk rebuilds a resource's dependents with it; here a dependent finds the new device by
    name, so it is only paused: its captures do not fail while the device is missing."""
    reloader = Reloader(
        tmp_path, bench, with_dependents(machine(tmp_path, cam={"width_px": 64}, pins={}))
    )
    reloader.edit(with_dependents(machine(tmp_path, **edited)))
    assert bench.log == [*swap, "reconfigure", "resume"]


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
    assert bench.notes == [
        f"reconfigured from {reloader.path}; closed rdk:component:camera 'cam' (removed)"
    ]


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
    reloader.edit(machine(tmp_path, cam={"width_px": 32}, pins={"pins": [4]}))
    assert set(reloader.devices) == {BOARD}  # one unplugged device keeps no other closed
    lost, refused = bench.notes
    assert lost.startswith("rdk:component:camera 'cam' could not be reopened (")
    assert lost.endswith("not captured until the next edit or a restart of dmsim machine opens it")
    assert "still running the previous config" in refused
    assert bench.log == [
        "pause ['cam', 'pins']",
        "close cam {'width_px': 64}",
        "close pins {}",
        "open pins {'pins': [4]}",
        "close pins {'pins': [4]}",
        "open pins {}",
        "resume",
    ]
    bench.unplugged.clear()  # plugged back in; the next edit builds it again
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


NAMES = ("cam", "pins", "probe")
# a resource absent, or present with some settings, some of which cannot be built
SETTINGS = st.one_of(
    st.none(),
    st.fixed_dictionaries({"v": st.integers(0, 2)}, optional={"broken": st.just(True)}),
)
EDITS = st.lists(
    st.tuples(
        st.fixed_dictionaries(dict.fromkeys(NAMES, SETTINGS)),
        st.sampled_from(["a", "b", "taken"]),  # the capture directory; another dmsim has taken
        st.sets(st.sampled_from(NAMES)),  # unplugged while the edit is applied
    ),
    max_size=8,
)


@given(EDITS)
def test_any_edits_keep_one_open_device_per_resource_as_the_running_config_says(
    edits: list[tuple[dict[str, dict[str, Any] | None], str, set[str]]],
) -> None:
    """Whatever is edited, refused or unplugged: at most one device per resource is ever
    open; the running devices are the running config's, each with its settings (a resource
    is missing only after being reported as not reopened, and while it cannot be built);
    every other device built is closed; capture is paused and resumed in pairs."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        bench = Bench(taken_dirs={str(root / "taken")})
        reloader = Reloader(root, bench, machine(root / "a", **{name: {"v": 0} for name in NAMES}))
        for settings, capture_dir, unplugged in edits:
            bench.unplugged = unplugged
            edit = machine(
                root / capture_dir,
                **{name: attrs for name, attrs in settings.items() if attrs is not None},
            )
            before, notes = reloader.config.running, len(bench.notes)
            reloader.edit(edit)
            refused = any("still running the previous config" in n for n in bench.notes[notes:])
            running = reloader.config.running
            assert (
                (running == before) if refused else (running == load_machine_config(reloader.path))
            )
            for component in running.components:
                key = (component.api, component.name)
                if key in reloader.devices:
                    assert reloader.attributes(key) == component.attributes
                else:
                    assert any(
                        f"'{component.name}'" in n and "could not be reopened" in n
                        for n in bench.notes
                    )
                    assert bench.last_build_failed[component.name]
            assert set(reloader.devices) <= {(c.api, c.name) for c in running.components}
    live = [id(device) for device in reloader.devices.values()]
    assert all(device.closed != (id(device) in live) for device in bench.opened)
    pauses = [entry for entry in bench.log if entry.startswith("pause") or entry == "resume"]
    assert pauses == [p for pair in zip(pauses[::2], pauses[1::2], strict=True) for p in pair]
    assert all(p.startswith("pause") for p in pauses[::2])
    assert all(p == "resume" for p in pauses[1::2])
