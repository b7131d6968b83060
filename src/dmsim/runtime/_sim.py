"""SimRuntime: the runtime port on simpy's simulated time.

One :class:`SimKernel` owns the simpy environment and the simulated wall clock. Each
simulated OS process gets its own :class:`SimRuntime` from :meth:`SimKernel.process`, so a
crash (:meth:`SimRuntime.kill`) takes down exactly that process's tasks.

simpy drives coroutines directly: ``env.process()`` accepts anything with ``send`` and
``throw``, and every awaitable here yields a simpy event.
"""

from __future__ import annotations

import asyncio
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar, cast

import simpy

from ._port import ProcessKilled, QueueEmpty, QueueFull

T = TypeVar("T")

__all__ = ["SimKernel", "SimRuntime"]

_KILLED = "dmsim:killed"


@types.coroutine
def _wait_event(rt: SimRuntime, event: simpy.Event) -> Generator[simpy.Event, Any, Any]:
    """Await one simpy event; translate interrupts into cancellation or a kill. (A generator
    rather than an awaitable class: one object per wait instead of two.)"""
    if not rt.alive:
        raise ProcessKilled(rt.name)
    try:
        return (yield event)
    except simpy.Interrupt as interrupt:
        cancel = getattr(event, "cancel", None)
        if cancel is not None:  # a pending Store get/put must not swallow an item later
            cancel()
        if interrupt.cause == _KILLED:
            raise ProcessKilled(rt.name) from None
        raise asyncio.CancelledError() from None


def _resume(coro: Coroutine[Any, Any, T], first: simpy.Event) -> Coroutine[Any, Any, T]:
    """Continue a coroutine that has already been started and is waiting on ``first``."""

    class _Continue:
        def __await__(self) -> Generator[simpy.Event, Any, T]:
            event = first
            while True:
                try:
                    value = yield event
                except GeneratorExit:  # garbage collection: the inner coroutine may be gone
                    coro.close()
                    raise
                except BaseException as error:  # forward interrupts to the coroutine
                    try:
                        event = coro.throw(error)
                    except StopIteration as done:
                        return done.value  # type: ignore[no-any-return]
                else:
                    try:
                        event = coro.send(value)
                    except StopIteration as done:
                        return done.value  # type: ignore[no-any-return]

    async def run() -> T:
        return await _Continue()

    return run()


class TaskFailed(Exception):
    """An unjoined task failed; the original exception is its ``__cause__``."""


def _original(error: BaseException) -> BaseException:
    while isinstance(error, TaskFailed) and error.__cause__ is not None:
        error = error.__cause__
    return error


class SimTask:
    """A coroutine running as a simpy process."""

    def __init__(self, rt: SimRuntime, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self._rt = rt
        self._name = name
        self._cancelled = False
        self._joined = False
        self._error: Exception | None = None
        self._coro = coro
        self._runner = self._guard(coro)
        # simpy drives anything with send/throw; its annotation says Generator.
        self._process = rt.kernel.env.process(self._runner)  # type: ignore[arg-type]

    async def _guard(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            self._cancelled = True
            return None
        except ProcessKilled:
            return None
        except Exception as error:
            # simpy re-creates a failed event's exception from its args when it hands it to a
            # waiter, which breaks exceptions with keyword-only constructors. A joined task
            # keeps the original for join(); an unjoined one crashes the run with it as cause.
            self._error = error
            if self._joined:
                return None
            raise TaskFailed(self._name) from error
        finally:
            self._rt._tasks.pop(self, None)

    @property
    def name(self) -> str:
        return self._name

    def done(self) -> bool:
        return not self._process.is_alive

    def cancel(self) -> None:
        self._interrupt(None)

    def _interrupt(self, cause: str | None) -> None:
        if self._process.is_alive and self._process is not self._rt.kernel.env.active_process:
            self._process.interrupt(cause)

    def _close(self) -> None:
        # Both: a runner that never started has not taken ownership of ``coro`` yet.
        self._runner.close()
        self._coro.close()
        self._rt._tasks.pop(self, None)

    async def join(self) -> Any:
        self._joined = True
        result = await _wait_event(self._rt, self._process)
        if self._error is not None:
            raise self._error
        if self._cancelled:
            raise asyncio.CancelledError()
        return result

    async def stop(self) -> None:
        self.cancel()
        if self._process.is_alive:
            await _wait_event(self._rt, self._process)


class SimEvent:
    """asyncio.Event's semantics; a simpy event exists only while someone waits, so setting
    an event nobody waits on schedules nothing."""

    def __init__(self, rt: SimRuntime) -> None:
        self._rt = rt
        self._flag = False
        self._waiters: simpy.Event | None = None

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        if self._waiters is not None:
            self._waiters.succeed()
            self._waiters = None

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    async def wait(self) -> None:
        if self._flag:
            return
        if self._waiters is None:
            self._waiters = self._rt.kernel.env.event()
        await _wait_event(self._rt, self._waiters)


class SimQueue:
    """A FIFO with asyncio.Queue's semantics: an item leaves the queue only when a getter has
    resumed with it, so a cancelled getter can never lose one (simpy's Store hands items to
    waiting gets a step before they resume). Waiting costs one wake-up event."""

    def __init__(self, rt: SimRuntime, maxsize: int) -> None:
        self._rt = rt
        self._maxsize = maxsize
        self._items: deque[Any] = deque()
        self._getters: deque[simpy.Event] = deque()
        self._putters: deque[simpy.Event] = deque()

    @property
    def maxsize(self) -> int:
        return self._maxsize

    def qsize(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    def put_nowait(self, item: Any) -> None:
        if self.full():
            raise QueueFull()
        self._items.append(item)
        _wake(self._getters)

    async def put(self, item: Any) -> None:
        while self.full():
            await self._wait(self._putters)
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise QueueEmpty()
        item = self._items.popleft()
        _wake(self._putters)
        return item

    async def get(self) -> Any:
        while not self._items:
            await self._wait(self._getters)
        return self.get_nowait()

    async def _wait(self, waiters: deque[simpy.Event]) -> None:
        event = self._rt.kernel.env.event()
        waiters.append(event)
        try:
            await _wait_event(self._rt, event)
        except BaseException:
            if event in waiters:
                waiters.remove(event)
            elif event.triggered:
                _wake(waiters)  # we were woken but leave: pass the wake-up on
            raise


def _wake(waiters: deque[simpy.Event]) -> None:
    if waiters:
        waiters.popleft().succeed()


class SimKernel:
    """The simulated world's clock: one simpy environment and a steppable wall clock."""

    def __init__(self, *, epoch_ns: int, clock_id: str = "sim") -> None:
        self.env = simpy.Environment()
        self.clock_id = clock_id  # every process of a world shares its monotonic clock
        self._wall_offset_ns = epoch_ns
        self._wall_clock_sets = 0
        self._processes: list[SimRuntime] = []

    def now(self) -> float:
        return float(self.env.now)

    def wall_ns(self) -> int:
        return self._wall_offset_ns + round(self.env.now * 1e9)

    def step_wall_clock(self, seconds: float) -> None:
        """Jump the wall clock (NTP step, RTC set); monotonic time is unaffected."""
        self._wall_offset_ns += round(seconds * 1e9)
        self._wall_clock_sets += 1

    def wall_clock_sets(self) -> int:
        return self._wall_clock_sets

    def process(self, name: str) -> SimRuntime:
        """A new simulated OS process with its own tasks."""
        rt = SimRuntime(self, name)
        self._processes.append(rt)
        return rt

    def close(self) -> None:
        """Abandon the simulation: every process dies and every pending task is closed where
        it stands, without running. A world dropped before its tasks ran would otherwise leave
        never-awaited coroutines for the garbage collector to warn about in a later test."""
        for rt in self._processes:
            rt.alive = False
            for task in list(rt._tasks):
                task._close()
        self._processes.clear()

    def run(self, until: float | simpy.Event | None = None) -> None:
        try:
            self.env.run(until=until)
        except TaskFailed as failure:
            raise _original(failure) from None

    def run_main(self, coro: Coroutine[Any, Any, T], *, name: str = "main") -> T:
        """Run ``coro`` in a fresh process until it returns (other processes may still exist)."""
        task = self.process(name).spawn(coro, name=name)
        task._joined = True
        self.run(until=task._process)
        if task._error is not None:
            raise task._error
        if task._cancelled:
            raise asyncio.CancelledError()
        return cast(T, task._process.value)


class SimRuntime:
    """The runtime port for one simulated process."""

    def __init__(self, kernel: SimKernel, name: str) -> None:
        self.kernel = kernel
        self.name = name
        self.alive = True
        self._tasks: dict[SimTask, None] = {}  # insertion-ordered for determinism

    # clocks
    def monotonic(self) -> float:
        return float(self.kernel.env.now)

    def monotonic_clock_id(self) -> str:
        return self.kernel.clock_id

    def wall_ns(self) -> int:
        return self.kernel.wall_ns()

    def wall_clock_sets(self) -> int:
        return self.kernel.wall_clock_sets()

    # waiting
    async def sleep(self, seconds: float) -> None:
        await _wait_event(self, self.kernel.env.timeout(max(0.0, seconds)))

    async def sleep_until(self, deadline: float) -> None:
        await _wait_event(self, self.kernel.env.timeout(max(0.0, deadline - self.kernel.env.now)))

    # concurrency
    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> SimTask:
        if not self.alive:
            coro.close()
            raise ProcessKilled(self.name)
        task = SimTask(self, coro, name)
        self._tasks[task] = None
        return task

    def event(self) -> SimEvent:
        return SimEvent(self)

    def queue(self, maxsize: int = 0) -> SimQueue:
        return SimQueue(self, maxsize)

    async def with_timeout(self, seconds: float, coro: Coroutine[Any, Any, T]) -> T:
        # Fast path: most simulated work finishes without waiting; then no process, no timer.
        try:
            first = coro.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        task = SimTask(self, _resume(coro, first), "with_timeout")
        task._joined = True
        self._tasks[task] = None
        timer = self.kernel.env.timeout(max(0.0, seconds))
        try:
            await _wait_event(self, self.kernel.env.any_of([task._process, timer]))
        except asyncio.CancelledError:
            await task.stop()
            raise
        if task.done():
            return await task.join()  # type: ignore[no-any-return]
        await task.stop()
        raise TimeoutError(f"timed out after {seconds:g}s")

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        # Simulated I/O takes no simulated time unless its port models it.
        return fn(*args)

    # crashes
    def kill(self) -> None:
        """Crash this process: every task stops at its next wait; ports refuse it from now on."""
        self.alive = False
        for task in list(self._tasks):
            task._interrupt(_KILLED)
