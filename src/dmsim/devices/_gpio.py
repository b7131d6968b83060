"""A board on the Pi's own pins through gpiozero, with an injected pin factory.

GPIO inputs are gpiozero ``InputDevice``s; analog readers are channels of an MCP3008 ADC on
SPI (10 bits, ``adc_max_voltage`` full scale). The pin factory is always passed explicitly
(``LGPIOFactory(chip=0)`` on a Pi 5, ``MockFactory()`` in tests), so gpiozero never probes
for a default one for our pins; gpiozero itself is imported only when the board opens.
(gpiozero 2.0's software SPI bus still initialises the global default factory as a side
effect; tests set ``GPIOZERO_PIN_FACTORY=mock`` so that is a harmless mock.) Given
``reopen_factory``, the board owns its pin factory: ``close()`` closes it (the lgpio factory
holds the GPIO chip open) and a later capture opens a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dmsim.runtime import Runtime

from ._board import analog_record
from ._driver import RealDriver
from ._errors import DeviceParamError, DeviceReadError, DeviceUnavailable
from ._params import param_required
from ._readings import CaptureResult, TabularReading

__all__ = ["GpioBoard"]

_MCP3008_MAX = 1023


class GpioBoard(RealDriver):
    TYPE = "board"
    METHODS = frozenset({"Analogs", "Gpios"})

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        pin_factory: Any,
        pins: Iterable[int] = (),
        analogs: Mapping[str, int] | None = None,
        adc_max_voltage: float = 3.3,
        pull_up: bool = False,
        reopen_factory: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt)
        self._factory = pin_factory
        self._reopen_factory = reopen_factory
        self._factory_closed = False
        self._pins = tuple(pins)
        self._channels = dict(analogs or {})
        self._vmax = adc_max_voltage
        self._pull_up = pull_up
        self._inputs: dict[int, Any] = {}
        self._adcs: dict[str, Any] = {}

    def open(self) -> None:
        """Claim the pins (idempotent); :class:`DeviceUnavailable` if gpiozero refuses."""
        if self._inputs or self._adcs or not (self._pins or self._channels):
            return
        if self._factory_closed and self._reopen_factory is not None:
            self._factory = self._reopen_factory()  # DeviceUnavailable if the chip is gone
            self._factory_closed = False
        from gpiozero import MCP3008, GPIOZeroError, InputDevice

        try:
            for pin in self._pins:
                self._inputs[pin] = InputDevice(
                    pin, pull_up=self._pull_up, pin_factory=self._factory
                )
            for reader, channel in self._channels.items():
                self._adcs[reader] = MCP3008(
                    channel=channel, max_voltage=self._vmax, pin_factory=self._factory
                )
        except (GPIOZeroError, ValueError) as error:
            self._release()
            raise DeviceUnavailable(f"{self.label}: {type(error).__name__}: {error}") from None

    def _release(self) -> None:
        for device in [*self._inputs.values(), *self._adcs.values()]:
            device.close()
        self._inputs.clear()
        self._adcs.clear()

    async def close(self) -> None:
        self._release()
        if self._reopen_factory is not None and not self._factory_closed:
            self._factory_closed = True
            self._factory.close()

    async def _capture(self, method: str, params: Mapping[str, str], /) -> CaptureResult:
        self.open()
        requested = self._rt.wall_ns()
        if method == "Analogs":
            reader = param_required(params, "reader_name", where=f"{self.label} Analogs")
            adc = self._adcs.get(reader)
            if adc is None:
                known = ", ".join(sorted(self._adcs)) or "none"
                raise DeviceParamError(f"{self.label}: no analog reader {reader!r} (have {known})")
            code = await self._read(lambda: int(adc.raw_value))
            data: dict[str, Any] = analog_record(code, max_code=_MCP3008_MAX, full_scale=self._vmax)
        else:
            raw = param_required(params, "pin_name", where=f"{self.label} Gpios")
            device = self._inputs.get(int(raw)) if raw.isdecimal() else None
            if device is None:
                known = ", ".join(str(p) for p in self._pins) or "none"
                raise DeviceParamError(f"{self.label}: no GPIO pin {raw!r} (have {known})")
            data = {"high": await self._read(lambda: bool(device.pin.state))}
        received = max(requested, self._rt.wall_ns())
        return CaptureResult((TabularReading(data),), requested, received)

    async def _read(self, fn: Any) -> Any:
        from gpiozero import GPIOZeroError

        try:
            return await self._rt.run_blocking(fn)
        except (GPIOZeroError, OSError) as error:
            raise DeviceReadError(f"{self.label}: {type(error).__name__}: {error}") from None
