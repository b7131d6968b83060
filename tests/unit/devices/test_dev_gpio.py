"""The gpiozero board against gpiozero's MockFactory and a bit-level MCP3008 twin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockSPIDevice

from dmsim.devices import DeviceParamError, DeviceUnavailable, GpioBoard
from dmsim.runtime import SimKernel


class FakeMcp3008(MockSPIDevice):  # type: ignore[misc]
    """The MCP3008's SPI conversation: start bit, single/diff bit, 3 channel bits, then a
    null bit and 10 data bits, MSB first (datasheet figure 6-1)."""

    def __init__(self, factory: MockFactory, volts: dict[int, float], vref: float = 3.3) -> None:
        super().__init__(11, 10, 9, 8, pin_factory=factory)
        self.volts, self.vref, self.state = volts, vref, "idle"

    def on_start(self) -> None:
        super().on_start()
        self.state = "idle"

    def on_bit(self) -> None:
        if self.state == "idle" and self.rx_buf[-1]:
            self.state, self.rx_buf = "mode", []
        elif self.state == "mode":
            self.state, self.rx_buf = "channel", []
        elif self.state == "channel" and len(self.rx_buf) == 3:
            code = max(0, min(1023, int(self.volts.get(self.rx_word(), 0.0) / self.vref * 1024)))
            self.tx_word(code, 12)  # a don't-care bit and the null bit, then 10 data bits
            self.state = "reply"


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()
    factory.close()


def run(main: Any) -> Any:
    kernel = SimKernel(epoch_ns=1)
    return kernel.run_main(main(kernel.process("p")))


def test_gpios_read_the_pin_level(factory: MockFactory) -> None:
    async def main(rt: Any) -> list[bool]:
        board = GpioBoard(name="pi", rt=rt, pin_factory=factory, pins=[17, 27])
        board.open()  # claiming the pin sets its pull; drive it after
        levels = []
        for level in (True, False):
            pin = factory.pin(17)
            pin.drive_high() if level else pin.drive_low()
            result = await board.capture("Gpios", {"pin_name": "17"})
            levels.append(result.readings[0].data["high"])
        await board.close()
        return levels

    assert run(main) == [True, False]


def test_analogs_read_the_mcp3008(factory: MockFactory) -> None:
    adc = FakeMcp3008(factory, {0: 1.65, 3: 3.3})

    async def main(rt: Any) -> list[dict[str, Any]]:
        board = GpioBoard(name="pi", rt=rt, pin_factory=factory, analogs={"A0": 0, "A3": 3})
        out = [
            (await board.capture("Analogs", {"reader_name": r})).readings[0].data
            for r in ("A0", "A3")
        ]
        await board.close()
        return out

    half, full = run(main)
    adc.close()
    assert half["value"] == 512
    assert full["value"] == 1023
    assert (half["min_range"], half["max_range"]) == (0.0, 3.3)
    assert half["step_size"] == pytest.approx(3.3 / 1023)


def test_bad_params_and_pin_conflicts(factory: MockFactory) -> None:
    async def main(rt: Any) -> None:
        board = GpioBoard(name="pi", rt=rt, pin_factory=factory, pins=[17])
        for pin in ("4", "¹⁷"):  # superscripts: digits to str.isdigit, not to int()
            with pytest.raises(DeviceParamError, match=f"no GPIO pin '{pin}' \\(have 17\\)"):
                await board.capture("Gpios", {"pin_name": pin})
        with pytest.raises(DeviceParamError, match="no analog reader 'A0'"):
            await board.capture("Analogs", {"reader_name": "A0"})
        with pytest.raises(DeviceParamError, match="not supported"):
            await board.capture("ReadImage", {})
        rival = GpioBoard(name="rival", rt=rt, pin_factory=factory, pins=[17])
        with pytest.raises(DeviceUnavailable, match="GPIOPinInUse"):
            await rival.capture("Gpios", {"pin_name": "17"})
        await board.close()
        await rival.capture("Gpios", {"pin_name": "17"})  # free again
        await rival.close()
        assert board.statistics().errors == {"bad_params": 4}

    run(main)
