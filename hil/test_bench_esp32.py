"""ESP32 over USB serial: the real host driver, the real board and firmware."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmsim.devices import DeviceDisconnected, Esp32Board
from dmsim.runtime import RealRuntime

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]

ANALOGS = {"A1": 34, "A2": 35}


def test_samples_arrive_in_range(esp32_node: Path) -> None:
    async def main(rt: RealRuntime) -> None:
        board = Esp32Board(
            name="bench-esp32", url=str(esp32_node), rt=rt, analogs=ANALOGS, pins=[27]
        )
        for _ in range(20):
            result = await board.capture("Analogs", {"reader_name": "A1"})
            assert 0 <= result.readings[0].data["value"] <= 4095  # type: ignore[union-attr]
            await rt.sleep(0.05)
        counters = board.statistics().transport
        assert counters.get("frames", 0) > 10
        assert counters.get("frames_stale", 0) == 0  # sequence numbers only go forwards
        await board.close()

    rt = RealRuntime()
    rt.run_main(main(rt))


def test_unplug_and_replug(esp32_node: Path) -> None:
    if os.environ.get("DMSIM_HIL_INTERACTIVE") != "1":
        pytest.skip("needs a person to pull the cable: set DMSIM_HIL_INTERACTIVE=1")

    async def main(rt: RealRuntime) -> None:
        board = Esp32Board(name="bench-esp32", url=str(esp32_node), rt=rt, analogs=ANALOGS)
        await board.capture("Analogs", {"reader_name": "A1"})
        print("\n>>> unplug the ESP32 USB cable now (60 s)")
        deadline = rt.monotonic() + 60
        while board.connected and rt.monotonic() < deadline:
            await rt.sleep(0.1)
        with pytest.raises(DeviceDisconnected):
            await board.capture("Analogs", {"reader_name": "A1"})
        print(">>> plug it back in (60 s)")
        deadline = rt.monotonic() + 60
        while not board.connected and rt.monotonic() < deadline:
            await rt.sleep(0.1)
        await board.capture("Analogs", {"reader_name": "A1"})
        await board.close()

    rt = RealRuntime()
    rt.run_main(main(rt))
