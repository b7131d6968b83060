"""Simulated board (ESP32-like): analog readers behind a 12-bit ADC, and GPIO levels.

Analog inputs follow slow smooth voltages (0..3.3 V) read through a model of the ESP32 ADC
at 11 dB attenuation: a dead zone near 0 V, compression and saturation near the top, and a
few LSB of noise. Gpios flip between levels at random moments.

Captured shapes follow rdk's board collectors: ``Analogs`` →
``{"value": code, "min_range": 0.0, "max_range": 3.3, "step_size": 3.3/4095}``;
``Gpios`` → ``{"high": bool}``. Attributes as in the documents' ESP32 example:
``analogs: [{"name": "A1", "pin": "34"}]`` and ``pins: [27]``; the pin of each
``digital_interrupts: [{"pin": 4}]`` is a GPIO too, as on micro-RDK's ESP32. With no analogs
(no pins) listed, any reader (pin) name is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import RngTree, Runtime, Trace

from ._errors import DeviceParamError
from ._params import param_required
from ._readings import Reading, TabularReading
from ._signals import Noise, Smooth, named_child, stable_hash
from ._sim import ReadRequest, SimDevice

__all__ = [
    "ADC_FULL_SCALE_V",
    "ADC_MAX_CODE",
    "SimBoard",
    "analog_record",
    "esp32_adc_code",
    "esp32_adc_volts",
]

ADC_MAX_CODE = 4095
ADC_FULL_SCALE_V = 3.3
_DEAD_ZONE_V = 0.075  # below this the ESP32 ADC reads 0
_KNEE_V = 2.6  # above this the response flattens towards saturation
_SATURATION_V = 3.15
_NOISE_LSB = 4.0
_GPIO_SLOT_S = 0.5


# Codes per volt in the linear region, chosen so the compressed top reaches full scale
# exactly at saturation with a continuous slope.
_SLOPE = ADC_MAX_CODE / ((_KNEE_V - _DEAD_ZONE_V) + (_SATURATION_V - _KNEE_V) / 2)


def esp32_adc_code(volts: float, noise: float) -> int:
    """The 12-bit code an ESP32 ADC (11 dB attenuation) gives for ``volts``, plus ``noise``
    (in LSB, e.g. a standard normal times a few LSB): 0 in the dead zone, linear up to the
    knee, then a quadratic roll-off that flattens at full scale at saturation."""
    if volts <= _DEAD_ZONE_V:
        return 0
    code = (min(volts, _KNEE_V) - _DEAD_ZONE_V) * _SLOPE
    if volts > _KNEE_V:
        over, span = min(volts, _SATURATION_V) - _KNEE_V, _SATURATION_V - _KNEE_V
        code += _SLOPE * over - _SLOPE / (2 * span) * over * over
    return max(0, min(ADC_MAX_CODE, round(code + noise)))


def esp32_adc_volts(code: float) -> float:
    """The voltage a linear calibration reads back from ``code`` (exact below the knee)."""
    return _DEAD_ZONE_V + code / _SLOPE


def analog_record(
    code: int, *, max_code: int = ADC_MAX_CODE, full_scale: float = 3.3
) -> dict[str, Any]:
    """rdk's ``ReadAnalogReaderResponse`` record for one ADC code."""
    return {
        "value": code,
        "min_range": 0.0,
        "max_range": full_scale,
        "step_size": full_scale / max_code,
    }


def _names(attributes: Mapping[str, Any], source: str) -> tuple[dict[str, str], set[str]]:
    analogs: dict[str, str] = {}
    raw_analogs = attributes.get("analogs", [])
    if not isinstance(raw_analogs, list):
        raise ConfigError(Problem("attributes.analogs", "must be a list"), source=source)
    for index, item in enumerate(raw_analogs):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ConfigError(
                Problem(f"attributes.analogs[{index}]", "needs a string 'name'"), source=source
            )
        analogs[item["name"]] = str(item.get("pin", item["name"]))
    raw_pins = attributes.get("pins", [])
    if not isinstance(raw_pins, list) or not all(_is_pin(p) for p in raw_pins):
        raise ConfigError(
            Problem("attributes.pins", "must be a list of pin numbers"), source=source
        )
    pins = {str(p) for p in raw_pins}
    raw_interrupts = attributes.get("digital_interrupts", [])
    if not isinstance(raw_interrupts, list):
        raise ConfigError(Problem("attributes.digital_interrupts", "must be a list"), source=source)
    for index, item in enumerate(raw_interrupts):
        if not isinstance(item, Mapping) or not _is_pin(item.get("pin")):
            raise ConfigError(
                Problem(f"attributes.digital_interrupts[{index}]", "needs a pin number 'pin'"),
                source=source,
            )
        pins.add(str(item["pin"]))
    return analogs, pins


def _is_pin(value: object) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


class SimBoard(SimDevice):
    TYPE = "board"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self._analogs, self._pins = _names(attributes or {}, f"{self.label} attributes")
        self._signals: dict[str, Smooth] = {}
        self._adc_noise = Noise(self._rng.child("adc"))
        self._gpio_noise = Noise(self._rng.child("gpio"))

    def volts(self, reader: str, t: float) -> float:
        """The true voltage on analog reader ``reader`` at time ``t``."""
        signal = self._signals.get(reader)
        if signal is None:
            signal = Smooth(
                named_child(self._rng.child("analog"), reader), offset=1.65, amplitude=1.5
            )
            self._signals[reader] = signal
        return signal.value(t)

    def level(self, pin: str, t: float) -> bool:
        """The GPIO level of ``pin`` at time ``t`` (random, held for ``_GPIO_SLOT_S``)."""
        slot = int(t // _GPIO_SLOT_S)
        return self._gpio_noise.uniform(slot, stable_hash(pin)) < 0.5

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        if req.method == "Analogs":
            reader = param_required(req.params, "reader_name", where=f"{self.label} Analogs")
            if self._analogs and reader not in self._analogs:
                known = ", ".join(sorted(self._analogs))
                raise DeviceParamError(f"{self.label}: no analog reader {reader!r} (have {known})")
            noise = _NOISE_LSB * self._adc_noise.normal(req.now.t_ns, stable_hash(reader))
            code = esp32_adc_code(self.volts(reader, req.now.t), noise)
            return (TabularReading(analog_record(code)),)
        pin = param_required(req.params, "pin_name", where=f"{self.label} Gpios")
        if self._pins and pin not in self._pins:
            raise DeviceParamError(
                f"{self.label}: no GPIO pin {pin!r} (have {', '.join(sorted(self._pins))})"
            )
        return (TabularReading({"high": self.level(pin, req.now.t)}),)
