"""Whether the real wall clock was set: the timerfd counter and its fallback. Setting the
system clock needs CAP_SYS_TIME and would touch the host's clock, so the kernel's side is
checked on the bench (hil/test_bench_clock.py); here the reading of its answers is."""

from __future__ import annotations

import errno
import sys

import pytest

from dmsim.runtime import RealRuntime, SimKernel
from dmsim.runtime import _clock_sets as clock_sets
from dmsim.runtime._clock_sets import (
    STEP_TOLERANCE_NS,
    OffsetSetCounter,
    TimerfdSetCounter,
    process_set_counter,
)

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="timerfd is Linux's")


def test_the_simulated_kernel_counts_every_set_of_its_wall_clock() -> None:
    kernel = SimKernel(epoch_ns=10**18)
    rt = kernel.process("p")
    assert rt.wall_clock_sets() == 0
    kernel.step_wall_clock(-kernel.wall_ns() / 1e9)  # an RTC unset: 1970
    kernel.step_wall_clock(10**9)  # set again, to the very time it had
    assert rt.wall_clock_sets() == 2
    assert kernel.wall_ns() == 10**18


class FakeClocks:
    def __init__(self) -> None:
        self.wall, self.mono = 10**18, 0

    def wall_ns(self) -> int:
        return self.wall

    def monotonic_ns(self) -> int:
        return self.mono


def test_without_a_timerfd_a_set_is_an_offset_that_moved_more_than_a_second() -> None:
    clocks = FakeClocks()
    counter = OffsetSetCounter(clocks.wall_ns, clocks.monotonic_ns)
    clocks.mono += 10**9
    clocks.wall += 10**9
    assert counter.count() == 0  # both clocks ran
    clocks.wall += STEP_TOLERANCE_NS  # drift or a slew: not a set
    assert counter.count() == 0
    clocks.wall -= 3600 * 10**9
    assert counter.count() == 1
    assert counter.count() == 1
    clocks.wall += 3600 * 10**9
    assert counter.count() == 2


@linux_only
def test_the_timerfd_counter_sees_no_set_while_the_clock_only_runs() -> None:
    counter = TimerfdSetCounter()
    try:
        assert [counter.count() for _ in range(3)] == [0, 0, 0]
    finally:
        counter.close()


@linux_only
def test_a_cancelled_read_is_one_set_and_rearms_the_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = TimerfdSetCounter()
    answers: list[OSError] = [OSError(errno.ECANCELED, "cancelled"), BlockingIOError()]

    def read(fd: int, n: int) -> bytes:
        raise answers.pop(0)

    rearmed: list[int] = []
    monkeypatch.setattr(clock_sets.os, "read", read)
    monkeypatch.setattr(counter, "_arm", lambda: rearmed.append(1))
    try:
        assert counter.count() == 1
        assert rearmed == [1]
        assert counter.count() == 1
        answers.append(OSError(errno.EBADF, "bad file descriptor"))
        with pytest.raises(OSError, match="bad file descriptor"):
            counter.count()
    finally:
        monkeypatch.undo()
        counter.close()


def test_a_sandbox_refusing_timerfd_falls_back_to_comparing_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused() -> None:
        raise PermissionError(errno.EPERM, "timerfd_create: Operation not permitted")

    monkeypatch.setattr(clock_sets, "TimerfdSetCounter", refused)
    assert isinstance(process_set_counter.__wrapped__(), OffsetSetCounter)


@linux_only
def test_the_real_runtime_reads_the_kernels_count() -> None:
    assert isinstance(process_set_counter(), TimerfdSetCounter)
    rt = RealRuntime()
    assert rt.wall_clock_sets() == rt.wall_clock_sets()
