"""Simulated sensors (``Readings`` → ``{"readings": {...}}``, as rdk captures them).

Models, after the documents' examples:

- ``tmp36``: an analog temperature sensor (10 mV/°C, 500 mV at 0 °C) on a 12-bit ADC; the
  air follows a daily cycle (coolest before dawn, warmest mid-afternoon, local time from the
  world's wall clock) plus weather and noise; ``num_readings`` ADC samples are averaged.
  Readings: ``temperature_c``, ``millivolts``.
- ``wifi-rssi``: signal strength in integer dBm: slow shadowing plus Rayleigh fast fading
  (a sum-of-sinusoids Doppler model), clamped to what a Wi-Fi chip reports. Reading: ``rssi``.
- ``sync-window``: a selective syncer (``selective_syncer_name``): ``should_sync`` is true
  while the world's wall clock (UTC) is between ``sync_from_hour`` (default 22) and
  ``sync_until_hour`` (default 6), wrapping past midnight: a robot that uploads only at night,
  on the depot's network. Readings: ``should_sync``, ``hour``.
- anything else (``fake``): ``tabular_fields`` smooth numeric fields ``a``, ``b``, ``c``...
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from typing import Any

from dmsim.runtime import RngTree, Runtime, Trace

from ._board import esp32_adc_code, esp32_adc_volts
from ._params import attr_float, attr_int, attr_str
from ._readings import Reading, TabularReading
from ._signals import Noise, Smooth
from ._sim import ReadRequest, SimDevice, SimTime

__all__ = ["SENSOR_MODELS", "SimSensor", "rayleigh_fading_db"]

SENSOR_MODELS = ("tmp36", "wifi-rssi", "sync-window", "fake")
_NS_PER_HOUR = 3_600_000_000_000
_FADING_PATHS = 8


def rayleigh_fading_db(noise: Noise, t: float, *, doppler_hz: float) -> float:
    """Fast-fading gain (dB, mean power 0 dB) at time ``t``: ``_FADING_PATHS`` scattered
    paths with random arrival angles and phases (Clarke's model)."""
    re = im = 0.0
    for n in range(_FADING_PATHS):
        angle = 2 * math.pi * noise.uniform(n, 0)
        phase = 2 * math.pi * noise.uniform(n, 1) + 2 * math.pi * doppler_hz * math.cos(angle) * t
        re += math.cos(phase)
        im += math.sin(phase)
    power = (re * re + im * im) / _FADING_PATHS
    return 10.0 * math.log10(max(power, 1e-3))


class SimSensor(SimDevice):
    TYPE = "sensor"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "fake",
        latency_s: float = 0.0,
        attributes: Mapping[str, Any] | None = None,
        fields: int = 3,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        attrs = attributes or {}
        source = f"{self.label} attributes"
        self._kind = model if model in SENSOR_MODELS else "fake"
        self._noise = Noise(self._rng.child("noise"))
        self._weather = Smooth(
            self._rng.child("weather"), amplitude=2.5, min_hz=1 / 86_400, max_hz=1 / 3_600
        )
        self._shadowing = Smooth(
            self._rng.child("shadowing"), amplitude=6.0, min_hz=1 / 600, max_hz=1 / 30
        )
        self._fading = Noise(self._rng.child("fading"))
        if self._kind == "tmp36":
            attr_str(attrs, "analog_reader", source=source, default="temp")
        self._num_readings = attr_int(
            attrs, "num_readings", source=source, default=1, low=1, high=1000
        )
        self._mean_rssi = attr_float(
            attrs, "mean_rssi_dbm", source=source, default=-58.0, low=-95.0, high=-20.0
        )
        self._fields = [string.ascii_lowercase[i] if i < 26 else f"f{i}" for i in range(fields)]
        self._sync_hours = (
            attr_float(attrs, "sync_from_hour", source=source, default=22.0, low=0.0, high=24.0),
            attr_float(attrs, "sync_until_hour", source=source, default=6.0, low=0.0, high=24.0),
        )

    def air_temperature(self, now: SimTime) -> float:
        """True air temperature (°C): daily cycle peaking at 15:00 plus weather."""
        hour = (now.wall_ns % (24 * _NS_PER_HOUR)) / _NS_PER_HOUR
        daily = 4.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        return 21.0 + daily + self._weather.value(now.t)

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        if self._kind == "tmp36":
            readings = self._tmp36(req.now)
        elif self._kind == "wifi-rssi":
            readings = self._wifi(req.now)
        elif self._kind == "sync-window":
            readings = self._sync_window(req.now)
        else:
            readings = self._fake(req.now)
        return (TabularReading({"readings": readings}),)

    def _tmp36(self, now: SimTime) -> dict[str, Any]:
        volts = 0.5 + 0.01 * self.air_temperature(now)
        codes = [
            esp32_adc_code(volts, 4.0 * self._noise.normal(now.t_ns, i))
            for i in range(self._num_readings)
        ]
        mean_code = sum(codes) / len(codes)
        measured = esp32_adc_volts(mean_code)
        millivolts = round(measured * 1000.0, 1)
        return {"temperature_c": round((measured - 0.5) * 100.0, 2), "millivolts": millivolts}

    def _wifi(self, now: SimTime) -> dict[str, Any]:
        level = self._mean_rssi + self._shadowing.value(now.t)
        level += rayleigh_fading_db(self._fading, now.t, doppler_hz=2.0)
        level += 1.5 * self._noise.normal(now.t_ns)
        return {"rssi": max(-95, min(-20, round(level)))}

    def _sync_window(self, now: SimTime) -> dict[str, Any]:
        hour = (now.wall_ns % (24 * _NS_PER_HOUR)) / _NS_PER_HOUR
        start, end = self._sync_hours
        inside = start <= hour < end if start <= end else hour >= start or hour < end
        return {"should_sync": inside, "hour": round(hour, 3)}

    def _fake(self, now: SimTime) -> dict[str, Any]:
        return {
            name: math.sin(2 * math.pi * now.t / (10.0 + 3 * i))
            + 0.1 * self._noise.normal(now.t_ns, i)
            for i, name in enumerate(self._fields)
        }
