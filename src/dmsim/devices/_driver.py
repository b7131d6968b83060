"""Shared plumbing of the real drivers: identity, capture accounting, statistics.

A real driver implements ``_capture(method, params)``; this base checks the method, counts
successes and failures by kind, and keeps transport counters (NACKs, CRC errors, reopens...)
that :meth:`statistics` reports.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar

from dmsim.errors import DeviceError
from dmsim.runtime import Runtime

from ._errors import DeviceParamError, error_kind
from ._readings import CaptureResult
from ._resource import API_BY_TYPE, DeviceStatistics

__all__ = ["RealDriver"]


class RealDriver(abc.ABC):
    """Base of the hardware drivers. Subclasses set ``TYPE`` and ``METHODS``."""

    TYPE: ClassVar[str]
    METHODS: ClassVar[frozenset[str]]

    def __init__(self, *, name: str, rt: Runtime) -> None:
        self._name = name
        self._rt = rt
        self._captures = self._ok = 0
        self._errors: dict[str, int] = {}
        self._transport: dict[str, int] = {}

    @property
    def api(self) -> str:
        return API_BY_TYPE[self.TYPE]

    @property
    def name(self) -> str:
        return self._name

    @property
    def label(self) -> str:
        return f"{self.api}/{self._name}"

    def methods(self) -> frozenset[str]:
        return self.METHODS

    async def capture(self, method: str, params: Mapping[str, str]) -> CaptureResult:
        self._captures += 1
        try:
            if method not in self.METHODS:
                supported = ", ".join(sorted(self.METHODS))
                raise DeviceParamError(
                    f"{self.label}: method {method!r} is not supported ({supported})"
                )
            result = await self._capture(method, params)
        except DeviceError as error:
            kind = error_kind(error)
            self._errors[kind] = self._errors.get(kind, 0) + 1
            raise
        self._ok += 1
        return result

    @abc.abstractmethod
    async def _capture(self, method: str, params: Mapping[str, str], /) -> CaptureResult:
        """Read ``method`` (one of ``METHODS``) from the hardware."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Let go of the hardware (port, pins, camera); a later capture opens it again."""

    def _count(self, counter: str, n: int = 1) -> None:
        self._transport[counter] = self._transport.get(counter, 0) + n

    def statistics(self) -> DeviceStatistics:
        return DeviceStatistics(
            captures=self._captures,
            ok=self._ok,
            errors=dict(sorted(self._errors.items())),
            transport=dict(sorted(self._transport.items())),
        )
