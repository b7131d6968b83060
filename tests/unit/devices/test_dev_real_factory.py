"""Building real drivers from config entries, with injected fake transports."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from gpiozero.pins.mock import MockFactory
from tests.unit.devices.test_dev_framesource import FakePicamera2

from dmsim.devices import (
    DeviceUnavailable,
    Esp32Board,
    FrameSourceCamera,
    GpioBoard,
    Mpu6050,
    build_real_resource,
)
from dmsim.devices.fakes import FakeI2CBus, FakeMpu6050
from dmsim.errors import ConfigError
from dmsim.runtime import SimKernel


def run(main: Any) -> Any:
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    return kernel.run_main(main(kernel.process("p")))


def test_mpu6050_on_the_named_bus_and_address() -> None:
    opened: list[str] = []

    def open_bus(bus: str) -> FakeI2CBus:
        opened.append(bus)
        fake = FakeI2CBus()
        fake.attach(0x69, FakeMpu6050())
        return fake

    async def main(rt: Any) -> Any:
        imu = build_real_resource(
            api_type="movement_sensor",
            name="imu",
            model="gyro-mpu6050",
            attributes={"i2c_bus": "3", "use_alt_i2c_address": True},
            rt=rt,
            open_bus=open_bus,
        )
        assert isinstance(imu, Mpu6050)
        return (await imu.capture("LinearAcceleration", {})).readings[0].data

    data = run(main)
    assert opened == ["3"]
    assert data["linear_acceleration"]["z"] == pytest.approx(9.80665, abs=0.01)


def test_closing_an_mpu6050_closes_its_bus_and_a_later_capture_opens_it_again() -> None:
    """A reload closes a rebuilt driver: its bus's file descriptor goes with it (it used to be
    left to the garbage collector, one per rebuild)."""
    buses: list[FakeI2CBus] = []

    def open_bus(_bus: str) -> FakeI2CBus:
        buses.append(FakeI2CBus())
        buses[-1].attach(0x68, FakeMpu6050())
        return buses[-1]

    async def main(rt: Any) -> None:
        imu = build_real_resource(
            api_type="movement_sensor", name="imu", model="mpu6050", attributes={}, rt=rt,
            open_bus=open_bus,
        )  # fmt: skip
        await imu.capture("LinearAcceleration", {})
        await imu.close()
        assert [bus.closed for bus in buses] == [True]
        await imu.capture("AngularVelocity", {})
        await imu.close()

    run(main)
    assert [bus.closed for bus in buses] == [True, True]


class RecordingLgpioFactory(MockFactory):  # type: ignore[misc]
    """gpiozero's lgpio pin factory as the Pi board opens it, without a GPIO chip."""

    made: ClassVar[list[RecordingLgpioFactory]] = []

    def __init__(self, chip: int) -> None:
        super().__init__()
        self.chip, self.closed = chip, False
        self.made.append(self)

    def close(self) -> None:
        self.reset()
        super().close()
        self.closed = True


def test_a_pi_board_closes_the_lgpio_factory_it_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        sys.modules, "gpiozero.pins.lgpio", SimpleNamespace(LGPIOFactory=RecordingLgpioFactory)
    )
    monkeypatch.setattr(RecordingLgpioFactory, "made", [])

    async def main(rt: Any) -> None:
        pi = build_real_resource(
            api_type="board", name="pi", model="pi5", attributes={"pins": [17], "gpio_chip": 4},
            rt=rt,
        )  # fmt: skip
        assert (await pi.capture("Gpios", {"pin_name": "17"})).readings[0].data == {"high": False}
        await pi.close()
        assert [f.closed for f in RecordingLgpioFactory.made] == [True]
        await pi.capture("Gpios", {"pin_name": "17"})
        await pi.close()

    run(main)
    assert [(f.chip, f.closed) for f in RecordingLgpioFactory.made] == [(4, True), (4, True)]


def test_esp32_pi_and_camera_boards() -> None:
    factory = MockFactory()

    async def main(rt: Any) -> None:
        esp = build_real_resource(
            api_type="board",
            name="my-esp32",
            model="esp32",
            attributes={
                "serial_path": "/dev/ttyUSB0",
                "analogs": [{"name": "A1", "pin": "34"}],
                "pins": [27],
            },
            rt=rt,
        )
        assert isinstance(esp, Esp32Board)
        assert esp.url == "/dev/ttyUSB0"
        pi = build_real_resource(
            api_type="rdk:component:board",
            name="pi",
            model="pi5",
            attributes={"pins": [17]},
            rt=rt,
            pin_factory=factory,
        )
        assert isinstance(pi, GpioBoard)
        pi.open()
        factory.pin(17).drive_high()
        assert (await pi.capture("Gpios", {"pin_name": "17"})).readings[0].data == {"high": True}
        await pi.close()
        camera = build_real_resource(
            api_type="camera",
            name="picam",
            model="csi",
            attributes={"width_px": 32, "height_px": 24},
            rt=rt,
            camera_factory=FakePicamera2,
        )
        assert isinstance(camera, FrameSourceCamera)
        assert (await camera.capture("ReadImage", {})).readings[0].mime_type == "image/jpeg"
        await camera.close()

    run(main)
    factory.reset()
    factory.close()


@pytest.mark.parametrize(
    ("api_type", "model", "attributes", "error", "message"),
    [
        ("arm", "ur5e", {}, ConfigError, "no hardware driver for rdk:component:arm model 'ur5e'"),
        ("board", "esp32", {}, ConfigError, "serial_path"),
        (
            "board",
            "esp32",
            {"serial_path": "x", "analogs": [{"name": "A1"}]},
            ConfigError,
            r"analogs\[0\]",
        ),
        ("board", "pi", {"pins": ["GPIO4"]}, ConfigError, "attributes.pins"),
        ("board", "pi", {"pins": ["²"]}, ConfigError, "attributes.pins"),
        (
            "board",
            "esp32",
            {"serial_path": "x", "analogs": [{"name": "A1", "pin": "³"}]},
            ConfigError,
            r"analogs\[0\]",
        ),
        (
            "movement_sensor",
            "mpu6050",
            {"use_alt_i2c_address": "yes"},
            ConfigError,
            "true or false",
        ),
        ("board", "pi", {"pins": [4]}, DeviceUnavailable, "no lgpio pin factory"),
    ],
)
def test_bad_entries(
    api_type: str, model: str, attributes: dict[str, Any], error: type[Exception], message: str
) -> None:
    rt = SimKernel(epoch_ns=0).process("p")
    with pytest.raises(error, match=message):
        build_real_resource(
            api_type=api_type,
            name="x",
            model=model,
            attributes=attributes,
            rt=rt,
            open_bus=lambda _: FakeI2CBus(),
        )
