"""The real MPU-6050 driver against the register-level fake, on simulated time."""

from __future__ import annotations

import errno
import math
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from dmsim.devices import (
    DeviceDisconnected,
    DeviceReadError,
    DeviceUnavailable,
    ImuMotion,
    ImuTruth,
    Mpu6050,
    WrongDevice,
    decode_imu_block,
)
from dmsim.devices.fakes import FakeI2CBus, FakeMpu6050
from dmsim.errors import ConfigError
from dmsim.runtime import RngTree, SimKernel, SimRuntime

G = 9.80665


def run(main: Callable[[SimRuntime], Coroutine[Any, Any, Any]]) -> Any:
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    rt = kernel.process("p")
    return kernel.run_main(main(rt))


def rig(
    rt: SimRuntime, chip: FakeMpu6050 | None = None, **options: Any
) -> tuple[Mpu6050, FakeMpu6050, FakeI2CBus]:
    bus = FakeI2CBus()
    chip = chip or FakeMpu6050()
    bus.attach(0x68, chip)
    return Mpu6050(name="imu", bus=bus, rt=rt, **options), chip, bus


def truth(
    force: tuple[float, float, float], rate: tuple[float, float, float], temp: float = 25.0
) -> Callable[[float], ImuTruth]:
    identity = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    return lambda t: ImuTruth(identity, force, rate, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), temp)


def test_open_probes_resets_wakes_and_configures() -> None:
    async def main(rt: SimRuntime) -> None:
        imu, chip, _ = rig(rt, accel_range_g=8, gyro_range_dps=500, sample_rate_div=9, dlpf_cfg=3)
        assert chip.asleep
        await imu.open()
        assert not chip.asleep
        assert chip.register(0x6B) == 0x01  # awake, X-gyro PLL
        assert (chip.register(0x19), chip.register(0x1A)) == (9, 3)
        assert (chip.register(0x1B), chip.register(0x1C)) == (0x08, 0x10)
        assert chip.resets == 1
        assert rt.monotonic() == pytest.approx(0.1)  # waited out the reset
        assert imu.chip == "MPU-6050"

    run(main)


def test_level_sensor_reads_gravity_and_temperature() -> None:
    async def main(rt: SimRuntime) -> None:
        imu, _, _ = rig(rt)
        sample = await imu.read()
        assert sample.accel_mps2 == pytest.approx((0.0, 0.0, G), abs=G / 16384)
        assert sample.gyro_dps == (0.0, 0.0, 0.0)
        assert sample.temperature_c == pytest.approx(25.0, abs=0.01)
        result = await imu.capture("LinearAcceleration", {})
        assert result.readings[0].data["linear_acceleration"]["z"] == pytest.approx(G, abs=0.001)  # type: ignore[union-attr]

    run(main)


@pytest.mark.parametrize(
    ("gyro_range", "lsb"), [(250, 131.0), (500, 65.5), (1000, 32.8), (2000, 16.4)]
)
@pytest.mark.parametrize(("accel_range", "accel_lsb"), [(2, 16384.0), (16, 2048.0)])
def test_full_scale_settings_change_the_encoding(
    gyro_range: int, lsb: float, accel_range: int, accel_lsb: float
) -> None:
    chip = FakeMpu6050(motion=truth((1.0, -2.0, 9.0), (0.5, -100.0, 240.0)))

    async def main(rt: SimRuntime) -> Any:
        imu, _, _ = rig(rt, chip, accel_range_g=accel_range, gyro_range_dps=gyro_range)
        return await imu.read()

    sample = run(main)
    assert sample.gyro_dps == pytest.approx((0.5, -100.0, 240.0), abs=0.5 / lsb + 1e-9)
    assert sample.accel_mps2 == pytest.approx((1.0, -2.0, 9.0), abs=G / accel_lsb)
    if gyro_range == 250:
        assert sample.gyro_dps[0] == pytest.approx(0.504, abs=0.0005)  # 66 LSB / 131


def test_saturation_is_flagged() -> None:
    chip = FakeMpu6050(motion=truth((0.0, 0.0, 30.0), (300.0, 0.0, 0.0)))

    async def main(rt: SimRuntime) -> Any:
        imu, _, _ = rig(rt, chip)
        sample = await imu.read()
        return sample, imu.statistics()

    sample, stats = run(main)
    assert sample.saturated == {"az", "gx"}
    assert stats.transport["saturated"] == 1


def test_a_moving_imu_is_read_back_through_the_registers() -> None:
    motion = ImuMotion(RngTree(3))
    clock = iter(0.05 * i for i in range(1000))
    chip = FakeMpu6050(motion=motion.truth, clock=lambda: next(clock))

    async def main(rt: SimRuntime) -> list[Any]:
        imu, _, _ = rig(rt, chip, accel_range_g=4, gyro_range_dps=500)
        return [await imu.read() for _ in range(20)]

    samples = run(main)
    for i, sample in enumerate(samples):
        expected = motion.truth(0.05 * i)
        assert sample.accel_mps2 == pytest.approx(expected.specific_force, abs=G / 8192)
        assert sample.gyro_dps == pytest.approx(expected.angular_rate_dps, abs=1 / 65.5)
        assert math.dist(sample.accel_mps2, (0, 0, 0)) == pytest.approx(G, abs=1.5)


@pytest.mark.parametrize("who", [0x70, 0x72, 0x98])
def test_clone_chips_are_accepted(who: int) -> None:
    async def main(rt: SimRuntime) -> str | None:
        imu, _, _ = rig(rt, FakeMpu6050(who_am_i=who))
        await imu.open()
        return imu.chip

    assert run(main) in ("MPU-6500", "clone")


def test_wrong_chip_and_missing_chip() -> None:
    async def main(rt: SimRuntime) -> None:
        imu, _, _ = rig(rt, FakeMpu6050(who_am_i=0x60))
        with pytest.raises(WrongDevice, match="WHO_AM_I is 0x60"):
            await imu.open()
        lonely = Mpu6050(name="imu", bus=FakeI2CBus(), rt=rt, address=0x69)
        with pytest.raises(DeviceUnavailable, match="no answer at I2C address 0x69"):
            await lonely.open()

    run(main)


def test_bad_ranges_are_config_errors() -> None:
    async def main(rt: SimRuntime) -> None:
        with pytest.raises(ConfigError, match="accel_range_g"):
            rig(rt, accel_range_g=3)

    run(main)


def test_a_single_nack_is_retried_and_counted() -> None:
    async def main(rt: SimRuntime) -> Any:
        imu, chip, _ = rig(rt)
        await imu.open()
        chip.nack(1)
        await imu.capture("AngularVelocity", {})
        return imu.statistics()

    stats = run(main)
    assert stats.ok == 1
    assert stats.failed == 0
    assert (stats.transport["nacks"], stats.transport["retries"]) == (1, 1)


def test_repeated_nacks_fail_then_disconnect_then_recover_after_replug() -> None:
    async def main(rt: SimRuntime) -> Any:
        imu, chip, _ = rig(rt, retries=1, disconnect_after=2)
        await imu.open()
        chip.unplug()
        with pytest.raises(DeviceReadError, match="after 2 tries"):
            await imu.capture("AngularVelocity", {})
        with pytest.raises(DeviceDisconnected, match="2 reads in a row failed"):
            await imu.capture("AngularVelocity", {})
        with pytest.raises(DeviceDisconnected, match="no answer"):
            await imu.capture("AngularVelocity", {})  # tries to re-open, chip still gone
        chip.replug()
        assert chip.asleep  # power-cycled
        await imu.capture("LinearAcceleration", {})
        assert not chip.asleep  # the driver re-initialised it
        return imu.statistics()

    stats = run(main)
    assert dict(stats.errors) == {"disconnected": 2, "read_error": 1}
    assert stats.transport["opens"] == 2
    assert stats.transport["disconnects"] == 1


def test_fake_chip_registers() -> None:
    chip = FakeMpu6050()
    assert chip.read(0x75, 1) == b"\x68"
    chip.write(0x75, b"\x00")
    assert chip.read(0x75, 1) == b"\x68"  # read-only
    assert chip.read(0x3B, 14) == bytes(14)  # asleep: data reads 0
    chip.write(0x6B, b"\x00")
    assert chip.read(0x3B, 6)[4:6] == (16384).to_bytes(2, "big")  # az = 1 g at ±2 g
    chip.write(0x1C, b"\x18")
    chip.write(0x6B, b"\x80")  # DEVICE_RESET
    assert (chip.register(0x6B), chip.register(0x1C), chip.asleep) == (0x40, 0, True)


def test_fake_bus_behaves_like_smbus2() -> None:
    bus = FakeI2CBus()
    with pytest.raises(OSError, match="Remote I/O error") as info:
        bus.read_byte_data(0x68, 0x75)
    assert info.value.errno == errno.EREMOTEIO == 121
    bus.attach(0x68, FakeMpu6050())
    with pytest.raises(ValueError, match="over 32"):
        bus.read_i2c_block_data(0x68, 0x3B, 33)
    bus.write_i2c_block_data(0x68, 0x19, [4, 2])  # auto-increment: SMPLRT_DIV, CONFIG
    assert bus.read_i2c_block_data(0x68, 0x19, 2) == [4, 2]
    assert bus.transactions == 3  # the oversize request never reached the bus


def test_decode_block() -> None:
    block = [0x40, 0x00, 0, 0, 0xC0, 0x00, 0xF9, 0x8C, 0, 131, 0xFF, 0x7D, 0x7F, 0xFF]
    sample = decode_imu_block(block, accel_lsb_per_g=16384.0, gyro_lsb_per_dps=131.0)
    assert sample.accel_mps2 == pytest.approx((G, 0.0, -G))
    assert sample.temperature_c == pytest.approx(-1652 / 340 + 36.53)
    assert sample.gyro_dps == pytest.approx((1.0, -1.0, 32767 / 131))
    assert sample.saturated == {"gz"}
