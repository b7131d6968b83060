"""The runtime port: the only way core code sees time, waiting and concurrency.

Core modules are written once as ``async def`` coroutines against :class:`Runtime`.
:class:`~dmsim.runtime.SimRuntime` drives them with simpy on simulated time;
:class:`~dmsim.runtime.RealRuntime` drives them with asyncio on the wall clock.

Cancellation is ``asyncio.CancelledError`` under both runtimes. A simulated process
crash raises :class:`ProcessKilled` instead: cleanup code still runs, but every port
refuses to act for a killed process, so a crash loses exactly what RAM would lose.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "Clocks",
    "Event",
    "ProcessKilled",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "Runtime",
    "Task",
]


class ProcessKilled(BaseException):
    """Thrown into every task of a simulated process that crashed (RAM lost)."""


class QueueFull(Exception):
    """``put_nowait`` on a full queue."""


class QueueEmpty(Exception):
    """``get_nowait`` on an empty queue."""


class Task(Protocol[T_co]):
    """A spawned coroutine."""

    @property
    def name(self) -> str: ...

    def done(self) -> bool: ...

    def cancel(self) -> None:
        """Request cancellation; the coroutine sees ``CancelledError`` at its next wait."""

    async def join(self) -> T_co:
        """Wait for the result; re-raises the task's exception or ``CancelledError``."""

    async def stop(self) -> None:
        """Cancel and wait until the task has finished its cleanup."""


class Event(Protocol):
    def set(self) -> None: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> None: ...


class Queue(Protocol[T]):
    """A bounded FIFO (``maxsize`` 0 = unbounded)."""

    @property
    def maxsize(self) -> int: ...

    def qsize(self) -> int: ...

    def full(self) -> bool:
        """True when bounded and at ``maxsize`` (``put_nowait`` would raise)."""

    async def put(self, item: T) -> None: ...

    def put_nowait(self, item: T) -> None:
        """Raise :class:`QueueFull` instead of waiting."""

    async def get(self) -> T: ...

    def get_nowait(self) -> T:
        """Raise :class:`QueueEmpty` instead of waiting."""


class Clocks(Protocol):
    """The two clocks, and whether the wall clock was set between two looks."""

    def monotonic(self) -> float:
        """Seconds since the runtime started; never jumps."""

    def monotonic_clock_id(self) -> str:
        """Names the monotonic clock's zero: the monotonic times of two runtimes with the same
        id are on one clock (a capture file's creation stamp is read by this)."""

    def wall_ns(self) -> int:
        """Wall-clock time in ns since the Unix epoch; may be stepped (RTC, NTP)."""

    def wall_clock_sets(self) -> int:
        """A count that grows whenever the wall clock is set (an NTP step, an RTC set,
        ``date -s``), however briefly it was wrong: two equal readings mean it was not set in
        between. Slewing (NTP's gradual correction) is not a set."""


class Runtime(Clocks, Protocol):
    """Time, waiting and concurrency for core code."""

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``monotonic() >= deadline`` (returns at once if already past)."""

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> Task[T]: ...

    def event(self) -> Event: ...

    def queue(self, maxsize: int = 0) -> Queue[Any]: ...

    async def with_timeout(self, seconds: float, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro``; cancel it and raise ``TimeoutError`` after ``seconds``."""

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (file or device I/O) without stalling other tasks."""
