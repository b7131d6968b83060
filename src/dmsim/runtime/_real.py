"""RealRuntime: the runtime port on asyncio and the wall clock."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._clock_sets import process_set_counter
from ._port import QueueEmpty, QueueFull

T = TypeVar("T")

__all__ = ["RealRuntime"]

_SPIN_S = 0.001


class RealTask:
    def __init__(self, runtime: RealRuntime, task: asyncio.Task[Any]) -> None:
        self._runtime = runtime
        self._task = task
        self.joined = False
        task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self.joined:
            return
        error = task.exception()
        if error is not None:
            self._runtime._crash(error)

    @property
    def name(self) -> str:
        return self._task.get_name()

    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> None:
        self._task.cancel()

    async def join(self) -> Any:
        self.joined = True
        return await self._task

    async def stop(self) -> None:
        self.joined = True
        self._task.cancel()
        await asyncio.wait([self._task])


class RealEvent:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class RealQueue:
    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)

    @property
    def maxsize(self) -> int:
        return self._queue.maxsize

    def qsize(self) -> int:
        return self._queue.qsize()

    def full(self) -> bool:
        return self._queue.full()

    async def put(self, item: Any) -> None:
        await self._queue.put(item)

    def put_nowait(self, item: Any) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise QueueFull() from None

    async def get(self) -> Any:
        return await self._queue.get()

    def get_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            raise QueueEmpty() from None


class RealRuntime:
    """The runtime port on the wall clock. Create it inside a running event loop, or use
    :meth:`run` to start one."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._clock_id = f"process {uuid.uuid4()}"  # its monotonic clock starts with it
        self._crashes: list[BaseException] = []
        self._main: asyncio.Task[Any] | None = None

    def monotonic(self) -> float:
        return time.monotonic() - self._start

    def monotonic_clock_id(self) -> str:
        return self._clock_id

    def wall_ns(self) -> int:
        return time.time_ns()

    def wall_clock_sets(self) -> int:
        return process_set_counter().count()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        # The event loop's timers have 1 ms granularity (epoll rounds up), which would cap a
        # collector near 1 kHz. Sleep coarsely to within a millisecond, then yield until due.
        remaining = deadline - self.monotonic()
        if remaining > _SPIN_S:
            await asyncio.sleep(remaining - _SPIN_S)
        while self.monotonic() < deadline:
            await asyncio.sleep(0)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> RealTask:
        return RealTask(self, asyncio.get_running_loop().create_task(coro, name=name))

    def event(self) -> RealEvent:
        return RealEvent()

    def queue(self, maxsize: int = 0) -> RealQueue:
        return RealQueue(maxsize)

    async def with_timeout(self, seconds: float, coro: Coroutine[Any, Any, T]) -> T:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the inner coroutine completes (a collector's close() then hung forever).
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                return await coro
        except TimeoutError:
            raise TimeoutError(f"timed out after {seconds:g}s") from None

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def _crash(self, error: BaseException) -> None:
        # An unjoined task failed: like an unhandled simpy process failure, stop the run.
        self._crashes.append(error)
        if self._main is not None:
            self._main.cancel()

    def run_main(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on a new event loop; a failure in any unjoined task fails the run."""

        async def main() -> T:
            self._main = asyncio.current_task()
            return await coro

        try:
            return asyncio.run(main())
        except asyncio.CancelledError:
            if self._crashes:
                raise self._crashes[0] from None
            raise
