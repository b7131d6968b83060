"""MPU-6050 on the Pi's I2C bus: the real driver, the real chip."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from dmsim.devices import GRAVITY, Mpu6050, open_smbus
from dmsim.runtime import RealRuntime

pytestmark = [pytest.mark.hil, pytest.mark.timeout(60)]


def test_identity_gravity_and_rates(i2c_node: Path) -> None:
    bus = open_smbus(str(i2c_node))

    async def main(rt: RealRuntime) -> list[float]:
        imu = Mpu6050(name="bench-imu", bus=bus, rt=rt)
        await imu.open()
        assert imu.chip is not None
        magnitudes = []
        for _ in range(100):
            sample = await imu.read()
            magnitudes.append(math.dist(sample.accel_mps2, (0.0, 0.0, 0.0)))
            assert all(abs(w) < 20.0 for w in sample.gyro_dps)  # the rig sits still
            assert -20.0 < sample.temperature_c < 70.0
            await rt.sleep(0.005)
        await imu.close()
        return magnitudes

    rt = RealRuntime()
    magnitudes = rt.run_main(main(rt))
    assert statistics.fmean(magnitudes) == pytest.approx(GRAVITY, rel=0.08)
