"""Device error families: what went wrong talking to a device, and which fault (if any) caused it.

Every error a :class:`~dmsim.devices.Resource` raises from ``capture`` derives from
:class:`dmsim.errors.DeviceError`, so a collector can catch one family and count by class.
``fault_id`` names the injected fault that produced the error (``None`` for a real failure).
"""

from __future__ import annotations

from dmsim.errors import DeviceError

__all__ = [
    "DeviceDisconnected",
    "DeviceParamError",
    "DeviceReadError",
    "DeviceTimeout",
    "DeviceUnavailable",
    "WrongDevice",
    "error_kind",
]


class _FaultAwareDeviceError(DeviceError):
    def __init__(self, message: str, *, fault_id: str | None = None) -> None:
        self.fault_id = fault_id
        super().__init__(f"{message} [fault {fault_id}]" if fault_id else message)


class DeviceReadError(_FaultAwareDeviceError):
    """One read failed (NACK, bad frame, sensor error); the next one may succeed."""


class DeviceTimeout(_FaultAwareDeviceError):
    """The device did not answer in time (no fresh sample, no frame)."""


class DeviceDisconnected(_FaultAwareDeviceError):
    """The device is gone (unplugged, bus dead); reads fail until it is reconnected."""


class DeviceUnavailable(_FaultAwareDeviceError):
    """The device cannot be opened (missing node, no answer to the identity probe)."""


class WrongDevice(DeviceUnavailable):
    """The device answered, but it is not the chip or firmware the driver expects."""


class DeviceParamError(_FaultAwareDeviceError):
    """A capture asked for something the device cannot do (unknown method, bad param)."""


_KINDS: tuple[tuple[type[DeviceError], str], ...] = (
    (DeviceParamError, "bad_params"),
    (DeviceReadError, "read_error"),
    (DeviceTimeout, "timeout"),
    (DeviceDisconnected, "disconnected"),
    (WrongDevice, "wrong_device"),
    (DeviceUnavailable, "unavailable"),
)


def error_kind(error: DeviceError) -> str:
    """The short name statistics use for ``error`` (``"read_error"``, ``"timeout"``...)."""
    for cls, kind in _KINDS:
        if isinstance(error, cls):
            return kind
    return "device_error"
