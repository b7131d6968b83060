"""Build the real (bench) driver for a config entry, the counterpart of ``build_sim_resource``.

Supported models and attributes (Viam's names where Viam has them):

- ``movement_sensor`` ``gyro-mpu6050`` / ``mpu6050``: ``i2c_bus`` (default ``"1"``),
  ``use_alt_i2c_address`` (0x69 instead of 0x68).
- ``board`` ``esp32``: ``serial_path`` (dmsim: the host's serial URL, required), ``analogs``
  ``[{"name", "pin"}]``, ``pins``, ``baud_rate`` (default 115200).
- ``board`` ``pi`` / ``pi5``: ``pins`` (GPIO inputs), ``analogs`` ``[{"name", "pin"}]`` where
  ``pin`` is an MCP3008 channel; the pin factory is ``LGPIOFactory(chip=gpio_chip)``
  (``gpio_chip``, default 0) unless one is passed in.
- ``camera`` ``csi`` / ``picamera2``: ``width_px``, ``height_px``.

Serial ports, cameras and GPIO pins are opened at the first capture. Building opens only the
I2C bus node (no traffic; :class:`DeviceUnavailable` if it is missing) and, for a Pi board
without an injected one, the lgpio pin factory; the driver closes what the build opened when it
is closed, and opens it again at a later capture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import Runtime

from ._driver import RealDriver
from ._errors import DeviceUnavailable
from ._esp32 import Esp32Board
from ._framesource import FrameSourceCamera, Picamera2Source
from ._gpio import GpioBoard
from ._mpu6050 import I2CBus, Mpu6050, open_smbus
from ._params import attr_int, attr_str
from ._resource import resolve_api

__all__ = ["REAL_MODELS", "build_real_resource"]

REAL_MODELS: Mapping[str, tuple[str, ...]] = {
    "movement_sensor": ("gyro-mpu6050", "mpu6050"),
    "board": ("esp32", "pi", "pi5"),
    "camera": ("csi", "picamera2"),
}


def _named_pins(attributes: Mapping[str, Any], source: str) -> dict[str, int]:
    raw = attributes.get("analogs", [])
    out: dict[str, int] = {}
    if not isinstance(raw, list):
        raise ConfigError(Problem("attributes.analogs", "must be a list"), source=source)
    for index, item in enumerate(raw):
        pin = item.get("pin") if isinstance(item, Mapping) else None
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not str(pin).isdecimal():
            raise ConfigError(
                Problem(
                    f"attributes.analogs[{index}]", "needs a string 'name' and a numeric 'pin'"
                ),
                source=source,
            )
        out[name] = int(str(pin))
    return out


def _pins(attributes: Mapping[str, Any], source: str) -> list[int]:
    raw = attributes.get("pins", [])
    if not isinstance(raw, list) or not all(str(p).isdecimal() for p in raw):
        raise ConfigError(
            Problem("attributes.pins", "must be a list of pin numbers"), source=source
        )
    return [int(str(p)) for p in raw]


def build_real_resource(
    *,
    api_type: str,
    name: str,
    model: str,
    attributes: Mapping[str, Any],
    rt: Runtime,
    pin_factory: Any = None,
    open_bus: Callable[[str], I2CBus] = open_smbus,
    camera_factory: Callable[[], Any] | None = None,
) -> RealDriver:
    """The hardware driver for one config entry; bad models or attributes raise
    :class:`~dmsim.errors.ConfigError`. ``open_bus``, ``pin_factory`` and ``camera_factory``
    inject transports (tests pass fakes)."""
    kind, api = resolve_api(api_type)
    source = f"{api}/{name} attributes"
    if model not in REAL_MODELS.get(kind, ()):
        supported = ", ".join(f"{k}: {'/'.join(m)}" for k, m in REAL_MODELS.items())
        raise ConfigError(
            Problem(
                "model", f"no hardware driver for {api} model {model!r} (supported: {supported})"
            ),
            source=f"{api}/{name}",
        )
    if kind == "movement_sensor":
        bus = attr_str(attributes, "i2c_bus", source=source, default="1")
        alt = attributes.get("use_alt_i2c_address", False)
        if not isinstance(alt, bool):
            raise ConfigError(
                Problem("attributes.use_alt_i2c_address", "must be true or false"), source=source
            )
        return Mpu6050(
            name=name,
            bus=open_bus(bus),
            rt=rt,
            address=0x69 if alt else 0x68,
            reopen_bus=lambda: open_bus(bus),
        )
    if kind == "camera":
        width = attr_int(attributes, "width_px", source=source, default=640, low=16, high=8192)
        height = attr_int(attributes, "height_px", source=source, default=480, low=16, high=8192)
        frames = Picamera2Source(width=width, height=height, camera_factory=camera_factory)
        return FrameSourceCamera(name=name, source=frames, rt=rt)
    analogs, pins = _named_pins(attributes, source), _pins(attributes, source)
    if model == "esp32":
        url = attr_str(attributes, "serial_path", source=source, default="")
        if not url:
            raise ConfigError(
                Problem("attributes.serial_path", "is required for an ESP32 board"), source=source
            )
        baud = attr_int(
            attributes, "baud_rate", source=source, default=115200, low=300, high=10_000_000
        )
        return Esp32Board(name=name, url=url, rt=rt, analogs=analogs, pins=pins, baudrate=baud)
    if pin_factory is not None:
        return GpioBoard(name=name, rt=rt, pin_factory=pin_factory, pins=pins, analogs=analogs)
    chip = attr_int(attributes, "gpio_chip", source=source, default=0, low=0, high=64)

    def open_lgpio() -> Any:
        try:
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory(chip=chip)
        except Exception as error:  # ImportError ([pi] extra missing) or lgpio.error (no chip)
            raise DeviceUnavailable(f"{api}/{name}: no lgpio pin factory: {error}") from None

    return GpioBoard(
        name=name,
        rt=rt,
        pin_factory=open_lgpio(),
        pins=pins,
        analogs=analogs,
        reopen_factory=open_lgpio,
    )
