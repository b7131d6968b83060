"""One coroutine workload, run under SimRuntime and RealRuntime, must order events the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from dmsim.runtime import (
    ProcessKilled,
    QueueEmpty,
    QueueFull,
    RealRuntime,
    Runtime,
    SimKernel,
)

Workload = Callable[[Runtime], Coroutine[Any, Any, Any]]


def run_sim(workload: Workload) -> Any:
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    rt = kernel.process("test")
    return kernel.run_main(workload(rt))


def run_real(workload: Workload) -> Any:
    rt = RealRuntime()
    return rt.run_main(workload(rt))


RUNNERS = {"sim": run_sim, "real": run_real}


@pytest.fixture(params=sorted(RUNNERS))
def run(request: pytest.FixtureRequest) -> Callable[[Workload], Any]:
    return RUNNERS[request.param]


# The producer's period; the consumer takes 2.5 of them, so the closest two events are half a
# period apart: wide enough that a loaded machine's late wake-ups keep the real clock's order.
PERIOD_S = 0.05


async def producer_consumer(rt: Runtime) -> list[str]:
    log: list[str] = []
    queue = rt.queue(maxsize=2)
    done = rt.event()

    async def producer() -> None:
        for i in range(5):
            await queue.put(i)
            log.append(f"put {i}")
            await rt.sleep(PERIOD_S)
        done.set()

    async def consumer() -> None:
        while True:
            item = await queue.get()
            log.append(f"got {item}")
            await rt.sleep(2.5 * PERIOD_S)

    consumer_task = rt.spawn(consumer(), name="consumer")
    await rt.spawn(producer(), name="producer").join()
    await done.wait()
    await rt.sleep(8 * PERIOD_S)  # the last get is 4 periods away
    await consumer_task.stop()
    log.append(f"consumer done={consumer_task.done()}")
    return log


def test_same_ordering_under_both_runtimes() -> None:
    assert run_sim(producer_consumer) == run_real(producer_consumer)
    assert run_sim(producer_consumer)[-1] == "consumer done=True"


async def timers(rt: Runtime) -> list[str]:
    log: list[str] = []

    async def ticker(name: str, period: float, count: int) -> None:
        start = rt.monotonic()
        for i in range(1, count + 1):
            await rt.sleep_until(start + i * period)
            log.append(f"{name}{i}")

    a = rt.spawn(ticker("a", 0.03, 4), name="a")
    b = rt.spawn(ticker("b", 0.05, 2), name="b")
    await a.join()
    await b.join()
    return log


def test_deadlines_interleave_identically(run: Callable[[Workload], Any]) -> None:
    assert run(timers) == ["a1", "b1", "a2", "a3", "b2", "a4"]


async def timeout_and_cancel(rt: Runtime) -> list[str]:
    log: list[str] = []

    async def slow() -> str:
        try:
            await rt.sleep(10)
        except asyncio.CancelledError:
            log.append("slow cancelled")
            raise
        return "never"

    async def fast() -> str:
        await rt.sleep(0.01)
        return "fast"

    log.append(await rt.with_timeout(1.0, fast()))
    try:
        await rt.with_timeout(0.02, slow())
    except TimeoutError:
        log.append("timeout")
    return log


def test_with_timeout_cancels_the_slow_coroutine(run: Callable[[Workload], Any]) -> None:
    assert run(timeout_and_cancel) == ["fast", "slow cancelled", "timeout"]


async def nowait_ops(rt: Runtime) -> list[str]:
    queue = rt.queue(maxsize=1)
    log = []
    try:
        queue.get_nowait()
    except QueueEmpty:
        log.append("empty")
    queue.put_nowait("x")
    try:
        queue.put_nowait("y")
    except QueueFull:
        log.append("full")
    log.append(queue.get_nowait())
    log.append(str(queue.qsize()))
    return log


def test_nowait_queue_operations(run: Callable[[Workload], Any]) -> None:
    assert run(nowait_ops) == ["empty", "full", "x", "0"]


def test_unjoined_task_failure_fails_the_run(run: Callable[[Workload], Any]) -> None:
    async def workload(rt: Runtime) -> None:
        async def boom() -> None:
            await rt.sleep(0.01)
            raise ValueError("boom")

        rt.spawn(boom(), name="boom")
        await rt.sleep(0.1)

    with pytest.raises(ValueError, match="boom"):
        run(workload)


def test_cancelled_get_does_not_swallow_an_item() -> None:
    """A consumer cancelled while waiting must not eat the next item (simpy Store pitfall)."""

    async def workload(rt: Runtime) -> list[int]:
        queue = rt.queue()
        got: list[int] = []

        async def consumer() -> None:
            got.append(await queue.get())

        first = rt.spawn(consumer(), name="c1")
        await rt.sleep(0.01)
        await first.stop()
        await queue.put(42)
        await rt.spawn(consumer(), name="c2").join()
        return got

    assert run_sim(workload) == [42]
    assert run_real(workload) == [42]


def test_kill_stops_every_task_of_a_process_and_runs_no_further_waits() -> None:
    kernel = SimKernel(epoch_ns=0)
    victim = kernel.process("victim")
    log: list[str] = []

    async def worker(name: str) -> None:
        try:
            while True:
                await victim.sleep(1)
                log.append(f"{name} tick {victim.monotonic():g}")
        finally:
            log.append(f"{name} cleanup")
            try:
                await victim.sleep(0)  # cleanup that tries to wait gets nowhere
                log.append(f"{name} waited after kill")
            except ProcessKilled:
                log.append(f"{name} refused")

    victim.spawn(worker("a"), name="a")
    victim.spawn(worker("b"), name="b")

    async def killer() -> None:
        await observer.sleep(2.5)
        victim.kill()

    observer = kernel.process("observer")
    kernel.run_main(killer())
    kernel.run(until=10)
    assert log == [
        "a tick 1",
        "b tick 1",
        "a tick 2",
        "b tick 2",
        "a cleanup",
        "a refused",
        "b cleanup",
        "b refused",
    ]
    with pytest.raises(ProcessKilled):
        victim.spawn(worker("c"), name="c")


def test_wall_clock_steps_do_not_move_monotonic_time() -> None:
    kernel = SimKernel(epoch_ns=1_000 * 10**9)
    rt = kernel.process("p")

    async def workload(rt: Runtime) -> tuple[float, int]:
        await rt.sleep(5)
        kernel.step_wall_clock(-3600)
        return rt.monotonic(), rt.wall_ns()

    assert kernel.run_main(workload(rt)) == (5.0, (1_000 + 5 - 3600) * 10**9)


def test_a_worlds_processes_share_one_monotonic_clock_and_each_real_runtime_has_its_own() -> None:
    """A capture file's creation stamp dates it only for a runtime on the same clock."""
    kernel = SimKernel(epoch_ns=0, clock_id="world w")
    assert {kernel.process(name).monotonic_clock_id() for name in "ab"} == {"world w"}
    first, second = RealRuntime(), RealRuntime()
    assert first.monotonic_clock_id() == first.monotonic_clock_id()
    assert first.monotonic_clock_id() != second.monotonic_clock_id()


@pytest.mark.timeout(60)
def test_cancel_is_never_lost_inside_with_timeout() -> None:
    """Regression: on Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that arrives
    as the inner coroutine completes; a collector's ``close()`` then hung forever."""

    async def workload(rt: Runtime) -> int:
        rounds = 0

        async def instant() -> int:
            return 1

        async def busy() -> None:
            nonlocal rounds
            while True:
                rounds += await rt.with_timeout(5.0, instant())
                await rt.sleep(0)

        for _ in range(200):
            task = rt.spawn(busy(), name="busy")
            await rt.sleep(0)
            await rt.with_timeout(2.0, task.stop())
            assert task.done()
        return rounds

    assert run_real(workload) > 0
    assert run_sim(workload) > 0


class _KeywordOnlyError(Exception):
    def __init__(self, message: str, *, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def test_exceptions_with_keyword_only_constructors_reach_the_joiner_intact(
    run: Callable[[Workload], Any],
) -> None:
    """Regression: simpy re-created failed events' exceptions from ``args``, so raising e.g.
    ``CaptureWriteError`` inside a joined task turned into a TypeError."""

    async def workload(rt: Runtime) -> str:
        async def fails() -> None:
            await rt.sleep(0.01)
            raise _KeywordOnlyError("disk full", detail="ENOSPC")

        try:
            await rt.spawn(fails(), name="fails").join()
        except _KeywordOnlyError as error:
            joined = error.detail
        try:
            await rt.with_timeout(1.0, fails())
        except _KeywordOnlyError as error:
            return joined + "/" + error.detail
        return "not raised"

    assert run(workload) == "ENOSPC/ENOSPC"


def test_an_unjoined_failure_crashes_the_run_with_the_original_exception(
    run: Callable[[Workload], Any],
) -> None:
    async def workload(rt: Runtime) -> None:
        async def fails() -> None:
            await rt.sleep(0.01)
            raise _KeywordOnlyError("disk full", detail="ENOSPC")

        rt.spawn(fails(), name="fails")
        await rt.sleep(1)

    with pytest.raises(_KeywordOnlyError) as info:
        run(workload)
    assert info.value.detail == "ENOSPC"


def test_a_get_cancelled_after_the_item_was_handed_over_keeps_the_item(
    run: Callable[[Workload], Any],
) -> None:
    """Regression: simpy hands a queued item to a waiting get one step before the getter
    resumes; cancelling the getter in between lost the item (a clean shutdown lost a reading)."""

    async def workload(rt: Runtime) -> list[int]:
        queue = rt.queue()
        got: list[int] = []

        async def consumer() -> None:
            got.append(await queue.get())

        first = rt.spawn(consumer(), name="c1")
        await rt.sleep(0.01)
        queue.put_nowait(7)
        await rt.sleep(0)  # the item is handed to c1's get, c1 has not resumed yet
        await first.stop()
        if not got:
            await rt.with_timeout(1.0, rt.spawn(consumer(), name="c2").join())
        return got

    assert run(workload) == [7]


def _never_awaited_warnings(action: Callable[[], None]) -> list[str]:
    """The "coroutine ... was never awaited" warnings ``action`` leaves for the collector."""
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
        gc.collect()
    return [str(w.message) for w in caught if "never awaited" in str(w.message)]


def test_closing_a_kernel_closes_tasks_that_never_ran() -> None:
    async def idle(rt: Runtime) -> None:
        await rt.sleep(1.0)

    def abandon(close: bool) -> None:
        kernel = SimKernel(epoch_ns=0)
        started, unstarted = kernel.process("a"), kernel.process("b")
        started.spawn(idle(started), name="started")
        kernel.run(until=0.5)  # one task is suspended mid-sleep
        unstarted.spawn(idle(unstarted), name="never-ran")
        if close:
            kernel.close()
            assert not started.alive
            assert not unstarted.alive

    assert _never_awaited_warnings(lambda: abandon(close=False))  # the failure being fixed
    assert _never_awaited_warnings(lambda: abandon(close=True)) == []
