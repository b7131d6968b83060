"""The small interface the capture engine sees, the resource APIs, and device statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from dmsim.errors import ConfigError, Problem

from ._readings import CaptureResult

__all__ = [
    "API_BY_TYPE",
    "METHODS_BY_TYPE",
    "DeviceStatistics",
    "FaultInjectable",
    "Resource",
    "resolve_api",
]

# The documents' table of capturable methods, per resource type.
METHODS_BY_TYPE: Mapping[str, frozenset[str]] = {
    "arm": frozenset({"EndPosition", "JointPositions"}),
    "board": frozenset({"Analogs", "Gpios"}),
    "camera": frozenset({"GetImages", "ReadImage", "NextPointCloud"}),
    "encoder": frozenset({"TicksCount"}),
    "gantry": frozenset({"Lengths", "Position"}),
    "motor": frozenset({"Position", "IsPowered"}),
    "movement_sensor": frozenset(
        {
            "AngularVelocity",
            "CompassHeading",
            "LinearAcceleration",
            "LinearVelocity",
            "Orientation",
            "Position",
        }
    ),
    "sensor": frozenset({"Readings"}),
    "servo": frozenset({"Position"}),
    "vision": frozenset({"CaptureAllFromCamera"}),
}

API_BY_TYPE: Mapping[str, str] = {
    kind: f"rdk:{'service' if kind == 'vision' else 'component'}:{kind}" for kind in METHODS_BY_TYPE
}


def resolve_api(api_type: str) -> tuple[str, str]:
    """``(type, api)`` for a short type (``"arm"``) or a full API (``"rdk:component:arm"``)."""
    short = api_type.rsplit(":", 1)[-1]
    api = API_BY_TYPE.get(short)
    if api is None or (":" in api_type and api_type != api):
        known = ", ".join(sorted(API_BY_TYPE.values()))
        raise ConfigError(
            Problem("type", f"no simulated model for resource API {api_type!r}; known: {known}")
        )
    return short, api


@runtime_checkable
class Resource(Protocol):
    """A component or service the capture engine reads from.

    ``capture`` raises only :class:`dmsim.errors.DeviceError` subclasses (bad params
    included); timestamps come from the runtime port.
    """

    @property
    def api(self) -> str: ...

    @property
    def name(self) -> str: ...

    def methods(self) -> frozenset[str]: ...

    async def capture(self, method: str, params: Mapping[str, str]) -> CaptureResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class FaultInjectable(Protocol):
    """A device the fault schedule can break (every simulated device is one)."""

    def inject_fault(
        self, kind: str, *, fault_id: str, until: float | None = None, method: str | None = None
    ) -> None: ...

    def clear_fault(self, fault_id: str) -> bool: ...

    def reconnect(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DeviceStatistics:
    """Counters of one device since it was built.

    ``errors`` counts failed captures by kind (``read_error``, ``timeout``,
    ``disconnected``, ``bad_params``...); ``stuck`` counts captures that returned the
    previous value again; ``hangs`` counts captures that waited on a timeout fault.
    Real drivers add transport counters in ``transport``.
    """

    captures: int = 0
    ok: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    stuck: int = 0
    hangs: int = 0
    faults_injected: int = 0
    faults_active: int = 0
    transport: Mapping[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())
