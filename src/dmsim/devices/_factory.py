"""Build simulated resources from a machine config's component and service entries.

``model`` matters only where the documents name distinct behaviours (sensors: ``tmp36``,
``wifi-rssi``, ``sync-window``, Viam's ``viam:capture-control:capture-control-sensor``, else a
generic ``fake``); every other real-world model name (``webcam``,
``esp32``, ``ur5e``...) gets its type's simulation. dmsim-only attributes, all optional:

- any type: ``sim_latency_ms`` (time between request and answer, default 0);
- camera: ``width_px``, ``height_px``, ``fps``, ``scene`` (``garden``/``inspection``), ``objects``;
- motor: ``max_rpm``, ``ticks_per_rotation`` and ``encoder`` (as rdk's encoded motors);
- encoder: ``motor`` (the motor whose shaft it counts; :func:`build_sim_resources` fills it
  in from the motor's ``encoder`` attribute), ``ticks_per_rotation``;
- movement sensor: ``motion`` (``vehicle``/``static``), ``latitude``, ``longitude``, ``altitude_m``;
- gantry: ``lengths_mm``; sensor: ``num_readings``, ``mean_rssi_dbm``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import RngTree, Runtime, Trace

from ._actuators import SimGantry, SimServo
from ._arm import SimArm
from ._board import SimBoard
from ._camera import SimCamera
from ._capture_control import CAPTURE_CONTROL_MODEL, SimCaptureControl
from ._errors import DeviceParamError
from ._imu import SimMovementSensor
from ._motor import SimEncoder, SimMotor
from ._params import PayloadOptions, attr_float, attr_int
from ._resource import Resource, resolve_api
from ._sensors import SimSensor
from ._sim import SimDevice
from ._vision import SimVision

__all__ = ["SimResourceSpec", "build_sim_resource", "build_sim_resources"]

Lookup = Callable[[str], Resource]


@dataclass(frozen=True, slots=True)
class SimResourceSpec:
    """One component or service to simulate; ``api_type`` is ``"camera"`` or
    ``"rdk:component:camera"``."""

    api_type: str
    name: str
    model: str = "sim"
    attributes: Mapping[str, Any] = field(default_factory=dict)


def _motor_ref(lookup: Lookup | None, encoder: str, motor_name: str) -> Callable[[], SimMotor]:
    def resolve() -> SimMotor:
        try:
            if lookup is None:
                raise LookupError(motor_name)
            motor = lookup(motor_name)
        except LookupError:
            raise DeviceParamError(
                f"encoder {encoder!r}: motor {motor_name!r} does not exist"
            ) from None
        if not isinstance(motor, SimMotor):
            raise DeviceParamError(f"encoder {encoder!r}: {motor_name!r} is not a simulated motor")
        return motor

    return resolve


def build_sim_resource(
    *,
    api_type: str,
    name: str,
    model: str,
    attributes: Mapping[str, Any],
    rt: Runtime,
    rng: RngTree,
    trace: Trace | None = None,
    payload: PayloadOptions | None = None,
    lookup: Lookup | None = None,
) -> SimDevice:
    """A simulated resource of any supported type. ``lookup(name)`` finds other resources
    (the vision service's cameras, an encoder's motor); it should raise ``KeyError`` for an
    unknown name. Bad attributes raise :class:`~dmsim.errors.ConfigError`."""
    kind, api = resolve_api(api_type)
    source = f"{api}/{name} attributes"
    latency = (
        attr_float(
            attributes, "sim_latency_ms", source=source, default=0.0, low=0.0, high=600_000.0
        )
        / 1000
    )
    opts = payload or PayloadOptions()
    common: dict[str, Any] = {
        "name": name, "rt": rt, "rng": rng, "trace": trace, "model": model, "latency_s": latency,
    }  # fmt: skip
    if kind in _PLAIN:
        return _PLAIN[kind](**common)
    if kind in _WITH_ATTRIBUTES:
        return _WITH_ATTRIBUTES[kind](**common, attributes=attributes)
    if kind == "camera":
        return SimCamera(**common, attributes=attributes, payload=opts)
    if kind == "sensor" and model.rsplit(":", 1)[-1] == CAPTURE_CONTROL_MODEL:
        return SimCaptureControl(**common, attributes=attributes)
    if kind == "sensor":
        return SimSensor(**common, attributes=attributes, fields=opts.tabular_fields)
    if kind == "motor":
        max_rpm = attr_float(
            attributes, "max_rpm", source=source, default=120.0, low=0.0, high=100_000.0
        )
        return SimMotor(
            **common, max_rpm=max_rpm, ticks_per_rotation=_ticks_per_rotation(attributes, source)
        )
    if kind == "encoder":
        motor = attributes.get("motor")
        if motor is not None and not isinstance(motor, str):
            raise ConfigError(
                Problem("attributes.motor", f"must be a motor name, got {motor!r}"), source=source
            )
        return SimEncoder(
            **common,
            ticks_per_rotation=_ticks_per_rotation(attributes, source),
            motor=None if motor is None else _motor_ref(lookup, name, motor),
        )
    return SimVision(**common, lookup=lookup)


_PLAIN: dict[str, Callable[..., SimDevice]] = {"arm": SimArm, "servo": SimServo}
_WITH_ATTRIBUTES: dict[str, Callable[..., SimDevice]] = {
    "board": SimBoard,
    "gantry": SimGantry,
    "movement_sensor": SimMovementSensor,
}


def _ticks_per_rotation(attributes: Mapping[str, Any], source: str) -> int | None:
    if attributes.get("ticks_per_rotation") is None:
        return None
    return attr_int(attributes, "ticks_per_rotation", source=source, default=1, low=1, high=1 << 24)


def build_sim_resources(
    specs: Iterable[SimResourceSpec],
    *,
    rt: Runtime,
    rng: RngTree,
    trace: Trace | None = None,
    payload: PayloadOptions | None = None,
    lookup: Lookup | None = None,
) -> dict[str, SimDevice]:
    """Every resource of a machine, wired together: vision services find their cameras, and
    an encoder named by a motor's ``encoder`` attribute counts that motor's shaft. They find
    each other by name when they capture: among themselves, or through ``lookup`` (a running
    machine's current devices, so that one rebuilt later is the one the others read)."""
    specs = list(specs)
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(Problem("name", f"duplicate resource names: {', '.join(duplicates)}"))
    encoder_motor = {}
    for spec in specs:
        encoder = spec.attributes.get("encoder")
        if resolve_api(spec.api_type)[0] == "motor" and isinstance(encoder, str):
            encoder_motor[encoder] = spec.name
    built: dict[str, SimDevice] = {}
    for spec in specs:
        attributes = dict(spec.attributes)
        if spec.name in encoder_motor:
            attributes.setdefault("motor", encoder_motor[spec.name])
        built[spec.name] = build_sim_resource(
            api_type=spec.api_type,
            name=spec.name,
            model=spec.model,
            attributes=attributes,
            rt=rt,
            rng=rng,
            trace=trace,
            payload=payload,
            lookup=lookup or built.__getitem__,
        )
    return built
