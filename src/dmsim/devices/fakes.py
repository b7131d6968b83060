"""Test doubles for the real drivers' transports (a public test kit, like ``trio.testing``).

- :class:`FakeI2CBus` + :class:`FakeMpu6050`: a register-level I2C bus and IMU chip.
- :class:`FakeEsp32`: the ESP32 wire protocol on a pseudo-terminal, with reboots, garbage,
  corrupted and lost frames, unplug and replug.

gpiozero ships its own twin (``gpiozero.pins.mock.MockFactory``) for :class:`GpioBoard`.
"""

from ._fake_esp32 import BOOT_BANNER, FakeEsp32
from ._fake_i2c import I2C_BLOCK_MAX, FakeI2CBus, FakeI2CDevice, FakeMpu6050

__all__ = [
    "BOOT_BANNER",
    "I2C_BLOCK_MAX",
    "FakeEsp32",
    "FakeI2CBus",
    "FakeI2CDevice",
    "FakeMpu6050",
]
