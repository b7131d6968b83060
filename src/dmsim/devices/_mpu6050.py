"""MPU-6050 movement sensor over an smbus2-shaped I2C bus (register map: RM-MPU-6000A rev 4.2).

The driver reaches the chip only through :class:`I2CBus` (``smbus2.SMBus`` on a Pi, a
:class:`~dmsim.devices.fakes.FakeI2CBus` in CI), and waits only through the runtime port.

- ``open()`` checks ``WHO_AM_I`` (0x68; common clones 0x70/0x72/0x98 are accepted and
  flagged), resets the chip, wakes it with the X-gyro PLL clock, and sets the sample rate,
  low-pass filter and full-scale ranges.
- Every sample is one 14-byte block read from 0x3B (accel, temperature, gyro: one sampling
  instant). A NACK (``OSError`` errno 121) is retried; a capture whose retries all fail is a
  :class:`DeviceReadError`, and ``disconnect_after`` failed captures in a row mark the chip
  :class:`DeviceDisconnected` until a later capture re-opens it.
- Given ``reopen_bus``, the driver owns its bus: ``close()`` closes it (a rebuild would
  otherwise leave its file descriptor behind) and a later capture opens it again.
- ``AngularVelocity`` (deg/s) and ``LinearAcceleration`` (m/s², gravity included) are the
  methods this chip can answer, in rdk's movement sensor shapes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import Runtime

from ._driver import RealDriver
from ._errors import DeviceDisconnected, DeviceReadError, DeviceUnavailable, WrongDevice
from ._readings import CaptureResult, TabularReading

__all__ = [
    "ACCEL_RANGES",
    "GYRO_RANGES",
    "MPU6050_IDS",
    "I2CBus",
    "ImuSample",
    "Mpu6050",
    "decode_imu_block",
    "open_smbus",
]

REG_SMPLRT_DIV = 0x19
REG_CONFIG = 0x1A
REG_GYRO_CONFIG = 0x1B
REG_ACCEL_CONFIG = 0x1C
REG_ACCEL_XOUT_H = 0x3B
REG_PWR_MGMT_1 = 0x6B
REG_WHO_AM_I = 0x75
PWR_DEVICE_RESET = 0x80
PWR_CLOCK_PLL_XGYRO = 0x01
STANDARD_GRAVITY = 9.80665

MPU6050_IDS: Mapping[int, str] = {0x68: "MPU-6050", 0x70: "MPU-6500", 0x72: "clone", 0x98: "clone"}
# full scale → (register bits, LSB per unit)
ACCEL_RANGES: Mapping[int, tuple[int, float]] = {
    2: (0x00, 16384.0),
    4: (0x08, 8192.0),
    8: (0x10, 4096.0),
    16: (0x18, 2048.0),
}
GYRO_RANGES: Mapping[int, tuple[int, float]] = {
    250: (0x00, 131.0),
    500: (0x08, 65.5),
    1000: (0x10, 32.8),
    2000: (0x18, 16.4),
}
_BLOCK = struct.Struct(">7h")
T = TypeVar("T")
_ERRNO_NACK = 121


class I2CBus(Protocol):
    """The part of ``smbus2.SMBus`` the drivers use."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None: ...

    def close(self) -> None: ...


def open_smbus(bus: int | str) -> I2CBus:
    """``smbus2.SMBus(bus)`` (imported here, never at module import)."""
    from smbus2 import SMBus

    try:
        handle: I2CBus = SMBus(bus)
    except OSError as error:
        raise DeviceUnavailable(f"I2C bus {bus!r} cannot be opened: {error}") from None
    return handle


@dataclass(frozen=True, slots=True)
class ImuSample:
    """One MPU-6050 sample in SI-ish units; ``saturated`` names axes at full scale."""

    accel_mps2: tuple[float, float, float]
    gyro_dps: tuple[float, float, float]
    temperature_c: float
    saturated: frozenset[str]


def decode_imu_block(
    block: Sequence[int], *, accel_lsb_per_g: float, gyro_lsb_per_dps: float
) -> ImuSample:
    """Decode the 14 bytes from ACCEL_XOUT_H: big-endian int16 ax, ay, az, temp, gx, gy, gz."""
    ax, ay, az, temp, gx, gy, gz = _BLOCK.unpack(bytes(block))
    saturated = frozenset(
        name
        for name, raw in zip(
            ("ax", "ay", "az", "gx", "gy", "gz"), (ax, ay, az, gx, gy, gz), strict=True
        )
        if raw in (32767, -32768)
    )
    scale = STANDARD_GRAVITY / accel_lsb_per_g
    return ImuSample(
        (ax * scale, ay * scale, az * scale),
        (gx / gyro_lsb_per_dps, gy / gyro_lsb_per_dps, gz / gyro_lsb_per_dps),
        temp / 340.0 + 36.53,
        saturated,
    )


class Mpu6050(RealDriver):
    TYPE = "movement_sensor"
    METHODS = frozenset({"AngularVelocity", "LinearAcceleration"})

    def __init__(
        self,
        *,
        name: str,
        bus: I2CBus,
        rt: Runtime,
        address: int = 0x68,
        accel_range_g: int = 2,
        gyro_range_dps: int = 250,
        sample_rate_div: int = 7,
        dlpf_cfg: int = 3,
        retries: int = 2,
        disconnect_after: int = 3,
        reopen_bus: Callable[[], I2CBus] | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt)
        if accel_range_g not in ACCEL_RANGES or gyro_range_dps not in GYRO_RANGES:
            raise ConfigError(
                Problem(
                    "accel_range_g/gyro_range_dps",
                    f"must be one of {sorted(ACCEL_RANGES)} g and {sorted(GYRO_RANGES)} deg/s",
                ),
                source=self.label,
            )
        self._bus = bus
        self._reopen_bus = reopen_bus
        self._bus_closed = False
        self.address = address
        self._accel = ACCEL_RANGES[accel_range_g]
        self._gyro = GYRO_RANGES[gyro_range_dps]
        self._rate_div = sample_rate_div & 0xFF
        self._dlpf = dlpf_cfg & 0x07
        self._retries = retries
        self._disconnect_after = disconnect_after
        self._failures = 0
        self._opened = False
        self.chip: str | None = None

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self._rt.run_blocking(fn, *args)
        except OSError as error:
            self._count("nacks" if error.errno == _ERRNO_NACK else "bus_errors")
            raise

    async def open(self) -> None:
        """Probe, reset and configure the chip (idempotent)."""
        if self._opened:
            return
        if self._bus_closed and self._reopen_bus is not None:
            self._bus = self._reopen_bus()  # DeviceUnavailable if the bus node is gone
            self._bus_closed = False
        try:
            who = await self._io(self._bus.read_byte_data, self.address, REG_WHO_AM_I)
        except OSError as error:
            raise DeviceUnavailable(
                f"{self.label}: no answer at I2C address {self.address:#04x}: {error}"
            ) from None
        if who not in MPU6050_IDS:
            known = ", ".join(f"{i:#04x}" for i in MPU6050_IDS)
            raise WrongDevice(f"{self.label}: WHO_AM_I is {who:#04x}, not an MPU-6050 ({known})")
        self.chip = MPU6050_IDS[who]
        try:
            await self._io(
                self._bus.write_byte_data, self.address, REG_PWR_MGMT_1, PWR_DEVICE_RESET
            )
            await self._rt.sleep(0.1)  # the reset takes up to 100 ms
            for register, value in (
                (REG_PWR_MGMT_1, PWR_CLOCK_PLL_XGYRO),
                (REG_SMPLRT_DIV, self._rate_div),
                (REG_CONFIG, self._dlpf),
                (REG_GYRO_CONFIG, self._gyro[0]),
                (REG_ACCEL_CONFIG, self._accel[0]),
            ):
                await self._io(self._bus.write_byte_data, self.address, register, value)
        except OSError as error:
            raise DeviceUnavailable(f"{self.label}: configuration failed: {error}") from None
        self._opened = True
        self._failures = 0
        self._count("opens")

    async def read(self) -> ImuSample:
        """One sample (retrying NACKs); see the module docstring for failure handling."""
        if not self._opened:
            try:
                await self.open()
            except DeviceUnavailable as error:
                raise DeviceDisconnected(str(error)) from None
        last: OSError | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                self._count("retries")
            try:
                block = await self._io(
                    self._bus.read_i2c_block_data, self.address, REG_ACCEL_XOUT_H, 14
                )
            except OSError as error:
                last = error
                continue
            self._failures = 0
            self._count("samples")
            sample = decode_imu_block(
                block, accel_lsb_per_g=self._accel[1], gyro_lsb_per_dps=self._gyro[1]
            )
            if sample.saturated:
                self._count("saturated")
            return sample
        self._failures += 1
        if self._failures >= self._disconnect_after:
            self._opened = False
            self._count("disconnects")
            raise DeviceDisconnected(
                f"{self.label}: {self._failures} reads in a row failed ({last})"
            )
        raise DeviceReadError(f"{self.label}: read failed after {self._retries + 1} tries ({last})")

    async def _capture(self, method: str, _params: Mapping[str, str], /) -> CaptureResult:
        requested = self._rt.wall_ns()
        sample = await self.read()
        received = max(requested, self._rt.wall_ns())
        if method == "AngularVelocity":
            x, y, z = sample.gyro_dps
            data = {"angular_velocity": {"x": x, "y": y, "z": z}}
        else:
            x, y, z = sample.accel_mps2
            data = {"linear_acceleration": {"x": x, "y": y, "z": z}}
        return CaptureResult((TabularReading(data),), requested, received)

    def describe(self) -> dict[str, object]:
        return {
            "model": "mpu6050",
            "chip": self.chip,
            "address": self.address,
            "accel_lsb_per_g": self._accel[1],
            "gyro_lsb_per_dps": self._gyro[1],
        }

    async def close(self) -> None:
        self._opened = False
        if self._reopen_bus is not None and not self._bus_closed:
            self._bus_closed = True
            self._bus.close()
