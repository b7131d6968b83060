"""Building simulated resources from config entries; the public surface."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.devices.devsim import MACHINE, Sim

from dmsim import devices
from dmsim.devices import (
    API_BY_TYPE,
    DeviceParamError,
    PayloadOptions,
    Resource,
    SimCamera,
    SimEncoder,
    SimResourceSpec,
    SimSensor,
    build_sim_resource,
    build_sim_resources,
    resolve_api,
)
from dmsim.errors import ConfigError
from dmsim.runtime import RngTree, SimKernel


def build(api_type: str, attributes: dict[str, Any], model: str = "sim") -> Any:
    rt = SimKernel(epoch_ns=0).process("p")
    return build_sim_resource(
        api_type=api_type, name="x", model=model, attributes=attributes, rt=rt, rng=RngTree(0)
    )


def test_api_names() -> None:
    assert resolve_api("movement_sensor") == ("movement_sensor", "rdk:component:movement_sensor")
    assert resolve_api("rdk:service:vision") == ("vision", "rdk:service:vision")
    assert API_BY_TYPE["camera"] == "rdk:component:camera"
    for bad in ("gripper", "rdk:service:camera", "acme:component:arm"):
        with pytest.raises(ConfigError, match="no simulated model for resource API"):
            resolve_api(bad)


def test_every_built_resource_satisfies_the_protocol() -> None:
    sim = Sim()
    for spec in MACHINE:
        resource = sim[spec.name]
        assert isinstance(resource, Resource)
        assert isinstance(resource, devices.FaultInjectable)
        assert resource.api == resolve_api(spec.api_type)[1]
        assert resource.name == spec.name


@pytest.mark.parametrize(
    ("api_type", "attributes", "path"),
    [
        ("camera", {"width_px": "big"}, "attributes.width_px"),
        ("camera", {"height_px": 4}, "attributes.height_px"),
        ("camera", {"scene": "moon"}, "attributes.scene"),
        ("camera", {"fps": 0}, "attributes.fps"),
        ("board", {"analogs": {"A1": 34}}, "attributes.analogs"),
        ("board", {"analogs": [{"pin": 34}]}, r"attributes.analogs\[0\]"),
        ("board", {"pins": [True]}, "attributes.pins"),
        ("board", {"digital_interrupts": {"pin": 4}}, "attributes.digital_interrupts"),
        ("board", {"digital_interrupts": [{"pin": 4.5}]}, r"attributes.digital_interrupts\[0\]"),
        ("gantry", {"lengths_mm": []}, "attributes.lengths_mm"),
        ("gantry", {"lengths_mm": [100, -1]}, "attributes.lengths_mm"),
        ("motor", {"ticks_per_rotation": 0}, "attributes.ticks_per_rotation"),
        ("encoder", {"motor": 3}, "attributes.motor"),
        ("movement_sensor", {"motion": "flying"}, "attributes.motion"),
        ("movement_sensor", {"latitude": 95}, "attributes.latitude"),
        ("arm", {"sim_latency_ms": -1}, "attributes.sim_latency_ms"),
    ],
)
def test_bad_attributes_are_config_errors_with_a_path(
    api_type: str, attributes: dict[str, Any], path: str
) -> None:
    with pytest.raises(ConfigError, match=path):
        build(api_type, attributes)


def test_payload_options_are_validated() -> None:
    with pytest.raises(ConfigError) as info:
        PayloadOptions(image_width=0, pcd_format="zip", jpeg_quality=200)
    assert [p.path for p in info.value.problems] == ["image_width", "jpeg_quality", "pcd_format"]


def test_camera_attributes_override_payload_options() -> None:
    camera = build("camera", {"width_px": 320, "height_px": 200})
    assert isinstance(camera, SimCamera)
    assert (camera.width, camera.height) == (320, 200)


def test_unknown_sensor_models_are_generic_fake_sensors() -> None:
    sensor = build("sensor", {}, model="ultrasonic")
    assert isinstance(sensor, SimSensor)
    assert sensor.model == "ultrasonic"


def test_remote_style_names_and_any_reader_names_work() -> None:
    specs = (SimResourceSpec("board", "rdk:component:board/my-esp32", "esp32"),)
    sim = Sim(specs=specs)
    results = sim.capture_at(specs[0].name, "Analogs", [1.0], {"reader_name": "bank/2%"})
    assert 0 <= results[0].readings[0].data["value"] <= 4095


def test_duplicate_names_are_rejected() -> None:
    rt = SimKernel(epoch_ns=0).process("p")
    with pytest.raises(ConfigError, match="duplicate resource names: a"):
        build_sim_resources(
            [SimResourceSpec("arm", "a"), SimResourceSpec("servo", "a")], rt=rt, rng=RngTree(0)
        )


def test_a_motor_names_its_encoder() -> None:
    sim = Sim()
    encoder = sim["enc-1"]
    assert isinstance(encoder, SimEncoder)
    assert encoder.ticks(30.0) == int(sim["motor-1"].position(30.0) * 200)  # type: ignore[attr-defined]


def test_encoder_and_motor_must_agree_on_resolution() -> None:
    specs = (
        SimResourceSpec("motor", "m", attributes={"encoder": "e", "ticks_per_rotation": 200}),
        SimResourceSpec("encoder", "e", attributes={"ticks_per_rotation": 100}),
    )
    sim = Sim(specs=specs)

    async def main(rt: Any) -> None:
        with pytest.raises(DeviceParamError, match="disagrees with motor m's 200"):
            await sim["e"].capture("TicksCount", {})

    sim.run(main)


def test_an_encoder_whose_motor_is_missing_fails_clearly() -> None:
    sim = Sim(specs=(SimResourceSpec("encoder", "e", attributes={"motor": "ghost"}),))

    async def main(rt: Any) -> None:
        with pytest.raises(DeviceParamError, match="motor 'ghost' does not exist"):
            await sim["e"].capture("TicksCount", {})

    sim.run(main)


def test_public_names_are_pinned() -> None:
    assert sorted(devices.__all__) == sorted(
        name
        for name in dir(devices)
        if name[0] not in "_@" and name not in {"annotations", "fakes"}
    )
    assert {
        "Resource",
        "CaptureResult",
        "TabularReading",
        "BinaryReading",
        "Annotations",
        "BoundingBox",
        "Classification",
        "DeviceReadError",
        "DeviceTimeout",
        "DeviceDisconnected",
        "DeviceUnavailable",
        "build_sim_resource",
        "PayloadOptions",
    } <= set(devices.__all__)


def test_importing_devices_touches_no_hardware_library() -> None:
    import subprocess
    import sys

    hardware = ("gpiozero", "smbus2", "serial", "picamera2", "lgpio", "spidev")
    code = (
        "import sys, dmsim.devices, dmsim.devices.fakes\n"
        f"print(','.join(m for m in {hardware!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_resources_built_with_a_lookup_read_the_devices_it_gives() -> None:
    """A running machine that rebuilds its camera: the vision service reads the camera the
    machine runs now, not the one built alongside it."""
    kernel = SimKernel(epoch_ns=0)
    rt = kernel.process("p")
    specs = [SimResourceSpec("camera", "cam"), SimResourceSpec("vision", "detector")]
    running = build_sim_resources(specs, rt=rt, rng=RngTree(0))
    rebuilt = build_sim_resources(specs, rt=rt, rng=RngTree(0), lookup=running.__getitem__)

    async def main() -> None:
        await rebuilt["detector"].capture("CaptureAllFromCamera", {"camera_name": "cam"})

    kernel.run_main(main())
    assert running["cam"].statistics().captures == 1
    assert rebuilt["cam"].statistics().captures == 0
