"""The simulated device base: method dispatch, faults, timestamps and statistics.

A model subclass only implements ``_read(ReadRequest(method, params, now))``: a pure function of its
seed-derived signals and the simulated time ``now``. Everything with a side effect (waiting,
timestamps, fault hangs, the trace) lives here and goes through the runtime port.

Device objects model hardware, so they may outlive a simulated process crash: call
:meth:`SimDevice.rebind` with the restarted process's runtime; faults and counters stay.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

from dmsim.errors import DeviceError
from dmsim.runtime import Event, RngTree, Runtime, Trace

from ._errors import (
    DeviceDisconnected,
    DeviceParamError,
    DeviceReadError,
    DeviceUnavailable,
    error_kind,
)
from ._faults import ActiveFault, FaultBook
from ._readings import CaptureResult, Reading
from ._resource import METHODS_BY_TYPE, DeviceStatistics, resolve_api
from ._signals import named_child

__all__ = ["ReadRequest", "SimDevice", "SimTime"]

# Float slack when comparing simulated times (simpy sums timeouts in floating point).
_TIME_EPS = 1e-9


class SimTime(NamedTuple):  # a NamedTuple, not a dataclass: built on every capture (hot path)
    """When a reading is taken: ``t`` simulated seconds (monotonic, the physics clock),
    ``t_ns`` the same in integer ns (the key for noise), ``wall_ns`` the physical world's
    wall clock (unaffected by clock steps on the device)."""

    t: float
    t_ns: int
    wall_ns: int


class ReadRequest(NamedTuple):  # built on every capture, like SimTime
    """One read a model must answer: ``method`` is one of its ``methods()``."""

    method: str
    params: Mapping[str, str]
    now: SimTime


class SimDevice(abc.ABC):
    """Base of every simulated resource. Subclasses set ``TYPE`` and implement ``_read``."""

    TYPE: ClassVar[str]

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
    ) -> None:
        self._type, self._api = resolve_api(self.TYPE)
        self._name = name
        self._model = model
        self._rt = rt
        self._rng = named_child(rng.child(self._type), name)
        self._trace = trace
        self._latency = latency_s
        self._epoch_ns = rt.wall_ns() - round(rt.monotonic() * 1e9)
        self._book = FaultBook()
        self._changed: Event = rt.event()
        self._last: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Reading, ...]] = {}
        self._closed = False
        self._captures = self._ok = self._stuck = self._hangs = 0
        self._errors: dict[str, int] = {}

    # -- identity -----------------------------------------------------------------------
    @property
    def api(self) -> str:
        return self._api

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    @property
    def label(self) -> str:
        return f"{self._api}/{self._name}"

    def methods(self) -> frozenset[str]:
        return METHODS_BY_TYPE[self._type]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} model={self._model!r}>"

    # -- capture ------------------------------------------------------------------------
    async def capture(self, method: str, params: Mapping[str, str]) -> CaptureResult:
        # One coroutine for the whole capture: this is the hot path of every simulation.
        self._captures += 1
        try:
            if self._closed:
                raise DeviceUnavailable(f"{self.label}: device is closed")
            if method not in METHODS_BY_TYPE[self._type]:
                supported = ", ".join(sorted(self.methods()))
                raise DeviceParamError(
                    f"{self.label}: method {method!r} is not supported ({supported})"
                )
            requested = self._rt.wall_ns()
            # no coroutine when healthy
            stuck = await self._gate(method) if len(self._book) else False
            key = (method, tuple(params.items()))  # a collector passes the same mapping each time
            readings = self._last.get(key) if stuck else None
            if readings is None:
                readings = await self._read(ReadRequest(method, params, self.now()))
                self._last[key] = readings
            else:
                self._stuck += 1
            if self._latency > 0:
                await self._rt.sleep(self._latency)
        except DeviceError as error:
            kind = error_kind(error)
            self._errors[kind] = self._errors.get(kind, 0) + 1
            raise
        self._ok += 1
        return CaptureResult(readings, requested, max(requested, self._rt.wall_ns()))

    def now(self) -> SimTime:
        t = self._rt.monotonic()
        t_ns = round(t * 1e9)
        return SimTime(t, t_ns, self._epoch_ns + t_ns)

    @abc.abstractmethod
    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        """The readings for ``req`` (a pure function of the seed and ``req.now``)."""

    async def close(self) -> None:
        self._closed = True

    # -- faults -------------------------------------------------------------------------
    async def _gate(self, method: str) -> bool:
        """Apply the active fault: raise, hang, or say whether to return the last value."""
        hung = False
        while True:
            self._expire()
            fault = self._book.effective(method)
            if fault is None:
                return False
            if fault.kind == "disconnect":
                raise DeviceDisconnected(f"{self.label}: disconnected", fault_id=fault.fault_id)
            if fault.kind == "read_error":
                raise DeviceReadError(f"{self.label}: read failed", fault_id=fault.fault_id)
            if fault.kind == "stuck":
                return True
            if not hung:
                self._hangs += 1
                hung = True
            await self._wait_for_change(self._book.earliest_end())

    async def _wait_for_change(self, deadline: float | None) -> None:
        changed = self._changed
        if deadline is None:
            await changed.wait()
            return
        remaining = deadline - self._rt.monotonic()
        if remaining > _TIME_EPS:
            with contextlib.suppress(TimeoutError):
                await self._rt.with_timeout(remaining, changed.wait())

    def _notify(self) -> None:
        # A fresh event per generation: waiters keep the one they wait on.
        old, self._changed = self._changed, self._rt.event()
        old.set()

    def _record(self, action: str, fault: ActiveFault, **extra: Any) -> None:
        if self._trace is not None:
            self._trace.record(
                "device.fault",
                action=action,
                device=self.label,
                fault=fault.kind,
                fault_id=fault.fault_id,
                until=fault.until,
                method=fault.method,
                **extra,
            )

    def _expire(self) -> None:
        gone = self._book.expire(self._rt.monotonic() + _TIME_EPS)
        for fault in gone:
            self._record("expire", fault)
        if gone:
            self._notify()

    def inject_fault(
        self, kind: str, *, fault_id: str, until: float | None = None, method: str | None = None
    ) -> None:
        """Start a fault now; it lasts until ``until`` (simulated seconds) or ``clear_fault``,
        and touches ``method`` only if given."""
        self._expire()
        fault = self._book.inject(
            kind, fault_id=fault_id, now=self._rt.monotonic(), until=until, method=method
        )
        self._record("inject", fault)
        self._notify()

    def clear_fault(self, fault_id: str) -> bool:
        """End a fault; ``False`` if it is not active (never injected, expired, cleared)."""
        self._expire()
        fault = self._book.clear(fault_id)
        if fault is None:
            return False
        self._record("clear", fault)
        self._notify()
        return True

    def reconnect(self) -> None:
        """Plug the device back in: every ``disconnect`` fault ends now."""
        self._expire()
        for fault in self._book.clear_kind("disconnect"):
            self._record("clear", fault, reason="reconnect")
        self._notify()

    def rebind(self, rt: Runtime) -> None:
        """Serve a new (restarted) simulated process; faults, counters and physics stay."""
        self._rt = rt
        self._changed = rt.event()

    def statistics(self) -> DeviceStatistics:
        self._expire()
        return DeviceStatistics(
            captures=self._captures,
            ok=self._ok,
            errors=dict(sorted(self._errors.items())),
            stuck=self._stuck,
            hangs=self._hangs,
            faults_injected=self._book.injected,
            faults_active=len(self._book),
        )
