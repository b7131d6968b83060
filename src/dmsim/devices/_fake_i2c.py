"""A register-level fake I2C bus and MPU-6050, for running the real driver without hardware.

:class:`FakeI2CBus` has the ``smbus2.SMBus`` methods the drivers use and routes each
transaction by address; a missing address NACKs with ``OSError(121)`` like the kernel.
:class:`FakeMpu6050` models the chip's register file: reset values (``PWR_MGMT_1`` = 0x40,
asleep), a read-only ``WHO_AM_I``, the self-clearing ``DEVICE_RESET`` bit, data registers that
read 0 while asleep, ``FS_SEL``/``AFS_SEL`` scaling, auto-increment block reads, and a fresh
sample from its motion source at every block read that starts at ``ACCEL_XOUT_H``. Faults:
``nack(n)`` (the next ``n`` transactions fail), ``unplug()``/``replug()``, ``stuck``.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Sequence
from typing import Protocol

from ._imu import GRAVITY, ImuTruth
from ._kinematics import euler_zyx_matrix

__all__ = ["I2C_BLOCK_MAX", "FakeI2CBus", "FakeI2CDevice", "FakeMpu6050"]

I2C_BLOCK_MAX = 32  # smbus2's I2C_SMBUS_BLOCK_MAX
_REG_GYRO_CONFIG, _REG_ACCEL_CONFIG = 0x1B, 0x1C
_REG_DATA, _DATA_END = 0x3B, 0x49  # ACCEL_XOUT_H .. GYRO_ZOUT_L
_REG_PWR_MGMT_1, _REG_WHO_AM_I = 0x6B, 0x75
_SLEEP, _RESET = 0x40, 0x80
_ACCEL_LSB = (16384.0, 8192.0, 4096.0, 2048.0)
_GYRO_LSB = (131.0, 65.5, 32.8, 16.4)


def _nack() -> OSError:
    return OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))


class FakeI2CDevice(Protocol):
    def read(self, register: int, length: int) -> bytes: ...

    def write(self, register: int, data: bytes) -> None: ...


class FakeI2CBus:
    """An in-memory I2C bus (``smbus2.SMBus``-shaped)."""

    def __init__(self) -> None:
        self._devices: dict[int, FakeI2CDevice] = {}
        self.transactions = 0
        self.closed = False

    def attach(self, address: int, device: FakeI2CDevice) -> None:
        self._devices[address] = device

    def detach(self, address: int) -> None:
        self._devices.pop(address, None)

    def _device(self, address: int) -> FakeI2CDevice:
        self.transactions += 1
        device = self._devices.get(address)
        if device is None:
            raise _nack()
        return device

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        return self._device(i2c_addr).read(register, 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._device(i2c_addr).write(register, bytes([value & 0xFF]))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        if not 0 < length <= I2C_BLOCK_MAX:
            raise ValueError(f"Desired block length over {I2C_BLOCK_MAX} bytes")  # as smbus2
        return list(self._device(i2c_addr).read(register, length))

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None:
        if len(data) > I2C_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {I2C_BLOCK_MAX} bytes")
        self._device(i2c_addr).write(register, bytes(v & 0xFF for v in data))

    def close(self) -> None:
        self._devices.clear()
        self.closed = True


def _level_at_rest(_t: float) -> ImuTruth:
    rotation = euler_zyx_matrix(0.0, 0.0, 0.0)
    return ImuTruth(
        rotation, (0.0, 0.0, GRAVITY), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 25.0
    )


def _int16(value: float) -> int:
    return max(-32768, min(32767, round(value)))


class FakeMpu6050:
    """The chip behind :class:`FakeI2CBus`. ``motion(t)`` gives the truth at time ``t`` (e.g.
    :meth:`dmsim.devices.ImuMotion.truth`); ``clock()`` gives ``t`` — by default the sample
    count at 200 Hz, so every block read is a new instant."""

    def __init__(
        self,
        *,
        who_am_i: int = 0x68,
        motion: Callable[[float], ImuTruth] = _level_at_rest,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._who_am_i = who_am_i
        self._motion = motion
        self._clock = clock
        self._regs = bytearray(256)
        self._pending_nacks = 0
        self.unplugged = False
        self.stuck = False
        self.samples = 0
        self.resets = 0
        self._reset()

    def _reset(self) -> None:
        self._regs[:] = bytes(256)
        self._regs[_REG_PWR_MGMT_1] = _SLEEP
        self._regs[_REG_WHO_AM_I] = self._who_am_i

    # -- faults -------------------------------------------------------------------------
    def nack(self, count: int = 1) -> None:
        """The next ``count`` transactions fail with errno 121."""
        self._pending_nacks += count

    def unplug(self) -> None:
        self.unplugged = True

    def replug(self) -> None:
        """Back on the bus after a power cycle: registers at their reset values."""
        self.unplugged = False
        self._reset()

    def _check(self) -> None:
        if self.unplugged:
            raise _nack()
        if self._pending_nacks:
            self._pending_nacks -= 1
            raise _nack()

    # -- register access ----------------------------------------------------------------
    @property
    def asleep(self) -> bool:
        return bool(self._regs[_REG_PWR_MGMT_1] & _SLEEP)

    def register(self, address: int) -> int:
        return self._regs[address]

    def read(self, register: int, length: int) -> bytes:
        self._check()
        if register == _REG_DATA and not self.stuck:
            self._sample()
        out = bytearray()
        for offset in range(length):
            address = (register + offset) & 0xFF
            in_data = _REG_DATA <= address < _DATA_END
            out.append(0 if in_data and self.asleep else self._regs[address])
        return bytes(out)

    def write(self, register: int, data: bytes) -> None:
        self._check()
        for offset, value in enumerate(data):
            address = (register + offset) & 0xFF
            if address == _REG_WHO_AM_I or _REG_DATA <= address < _DATA_END:
                continue  # read-only
            if address == _REG_PWR_MGMT_1 and value & _RESET:
                self.resets += 1
                self._reset()  # DEVICE_RESET restores reset values and clears itself
                continue
            self._regs[address] = value

    def _sample(self) -> None:
        t = self._clock() if self._clock is not None else self.samples / 200.0
        self.samples += 1
        truth = self._motion(t)
        accel_lsb = _ACCEL_LSB[(self._regs[_REG_ACCEL_CONFIG] >> 3) & 0x03]
        gyro_lsb = _GYRO_LSB[(self._regs[_REG_GYRO_CONFIG] >> 3) & 0x03]
        raw = (
            *(_int16(a / GRAVITY * accel_lsb) for a in truth.specific_force),
            _int16((truth.temperature_c - 36.53) * 340.0),
            *(_int16(w * gyro_lsb) for w in truth.angular_rate_dps),
        )
        self._regs[_REG_DATA:_DATA_END] = struct.pack(">7h", *raw)
