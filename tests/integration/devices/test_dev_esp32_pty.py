"""The ESP32 host driver against a fake ESP32 on a real pseudo-terminal, on the wall clock."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from dmsim.devices import (
    DeviceDisconnected,
    DeviceParamError,
    DeviceTimeout,
    DeviceUnavailable,
    Esp32Board,
)
from dmsim.devices.fakes import FakeEsp32
from dmsim.runtime import RealRuntime

pytestmark = pytest.mark.timeout(30)

ANALOGS = {"A1": 34, "A2": 35}


@pytest.fixture
def esp32(tmp_path: Path) -> Iterator[FakeEsp32]:
    fake = FakeEsp32(
        link=tmp_path / "esp32", analogs={34: 1234, 35: 4000}, gpios={27: True}, rate_hz=200
    )
    with fake:
        yield fake


def run(main: Callable[[RealRuntime], Coroutine[Any, Any, Any]]) -> Any:
    rt = RealRuntime()
    return rt.run_main(main(rt))


def board(rt: RealRuntime, fake: FakeEsp32, **options: Any) -> Esp32Board:
    return Esp32Board(
        name="my-esp32", url=str(fake.link), rt=rt, analogs=ANALOGS, pins=[27], **options
    )


async def value(b: Esp32Board, reader: str = "A1") -> Any:
    return (await b.capture("Analogs", {"reader_name": reader})).readings[0].data["value"]  # type: ignore[union-attr]


async def until(rt: RealRuntime, check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = rt.monotonic() + timeout
    while not check():
        assert rt.monotonic() < deadline, "condition not reached in time"
        await rt.sleep(0.02)


def test_analogs_and_gpios_through_the_pty(esp32: FakeEsp32) -> None:
    async def main(rt: RealRuntime) -> Any:
        b = board(rt, esp32)
        first = (await b.capture("Analogs", {"reader_name": "A1"})).readings[0].data  # type: ignore[union-attr]
        high = (await b.capture("Gpios", {"pin_name": "27"})).readings[0].data  # type: ignore[union-attr]
        esp32.set_analog(35, 17)
        esp32.set_gpio(27, False)
        await until(rt, lambda: b._latest is not None and b._latest.sample.gpios[27] is False)
        low = (await b.capture("Gpios", {"pin_name": "27"})).readings[0].data  # type: ignore[union-attr]
        a2 = await value(b, "A2")
        with pytest.raises(DeviceParamError, match="no analog reader 'A9'"):
            await b.capture("Analogs", {"reader_name": "A9"})
        with pytest.raises(DeviceParamError, match="no GPIO pin '²⁷'"):  # not digits to int()
            await b.capture("Gpios", {"pin_name": "²⁷"})
        await b.close()
        return first, high, low, a2, b.firmware, b.statistics()

    first, high, low, a2, firmware, stats = run(main)
    assert first == {"value": 1234, "min_range": 0.0, "max_range": 3.3, "step_size": 3.3 / 4095}
    assert (high, low, a2) == ({"high": True}, {"high": False}, 17)
    assert stats.ok == 4
    assert stats.errors == {"bad_params": 2}
    assert stats.transport["frames"] >= 2
    assert firmware in (None, "dmsim-fake-esp32 1.0")  # HELLO may predate the open


def test_garbage_resets_and_corruption_are_counted_not_raised(esp32: FakeEsp32) -> None:
    async def main(rt: RealRuntime) -> Any:
        b = board(rt, esp32)
        await value(b)
        esp32.send_garbage(b"\xff\xfe garbage \x00 more\x00")
        esp32.reset()
        await until(rt, lambda: b.statistics().transport.get("reboots", 0) == 1)
        assert b.firmware == "dmsim-fake-esp32 1.0"  # the HELLO after the reboot
        esp32.corrupt_next(2)
        esp32.drop_next(3)

        def damage_seen() -> bool:
            counters = b.statistics().transport
            bad = counters.get("frame_crc", 0) + counters.get("frame_decode", 0)
            return bad >= 2 and counters.get("frames_lost", 0) >= 5

        await until(rt, damage_seen)
        reading = await value(b)
        await b.close()
        return reading, b.statistics()

    reading, stats = run(main)
    assert reading == 1234
    assert stats.failed == 0
    assert stats.transport["frame_decode"] >= 1  # the garbage and the reboot banner


def test_unplug_disconnects_and_replug_recovers(esp32: FakeEsp32) -> None:
    async def main(rt: RealRuntime) -> Any:
        b = board(rt, esp32)
        await value(b)
        esp32.unplug()
        await until(rt, lambda: not b.connected)
        with pytest.raises(DeviceDisconnected, match="lost"):
            await value(b)
        await rt.sleep(0.3)  # the driver keeps trying to re-open meanwhile
        esp32.replug()
        await until(rt, lambda: b.connected)
        reading = await value(b)
        await b.close()
        return reading, b.statistics()

    reading, stats = run(main)
    assert reading == 1234
    assert stats.transport["disconnects"] == 1
    assert stats.transport["reconnects"] == 1
    assert dict(stats.errors) == {"disconnected": 1}


def test_a_silent_board_times_out(esp32: FakeEsp32, tmp_path: Path) -> None:
    async def main(rt: RealRuntime) -> None:
        b = board(rt, esp32, sample_timeout_s=0.3, stale_after_s=0.1)
        await value(b)
        esp32.drop_next(10_000)  # firmware hung: the port stays open, nothing arrives
        await rt.sleep(0.15)
        with pytest.raises(DeviceTimeout, match=r"no sample for 0\.3s"):
            await value(b)
        await b.close()
        missing = Esp32Board(name="x", url=str(tmp_path / "nothing"), rt=rt, analogs=ANALOGS)
        with pytest.raises(DeviceUnavailable, match="cannot be opened"):
            await missing.open()

    run(main)
