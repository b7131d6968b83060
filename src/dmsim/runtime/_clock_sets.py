"""Whether the real wall clock was set: :meth:`RealRuntime.wall_clock_sets`.

Comparing the wall clock with the monotonic one at two readings misses a clock that was wrong
only in between (an RTC unset for a moment, set back by NTP before the next look), and files
stamped meanwhile carry the wrong time. Linux tells every set as it happens: a
``CLOCK_REALTIME`` timerfd armed with ``TFD_TIMER_CANCEL_ON_SET`` fails its next read with
``ECANCELED`` after any discontinuous change (``settimeofday``, ``clock_settime``, an NTP
step), the way systemd notices clock changes. Elsewhere, or where a sandbox refuses timerfd,
the comparison of offsets is the fallback. One counter serves the whole process: the clock is
the system's, not a runtime's.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["OffsetSetCounter", "SetCounter", "TimerfdSetCounter", "process_set_counter"]

# Without a timerfd: a wall clock that moved this far apart from the monotonic one between two
# readings was set (NTP slews far slower: 0.5 ms a second at most).
STEP_TOLERANCE_NS = 1_000_000_000

_CLOCK_REALTIME = 0
_TFD_TIMER_ABSTIME = 1
_TFD_TIMER_CANCEL_ON_SET = 2
_LONG_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1


class _Timespec(ctypes.Structure):
    # time_t is a C long in the ABI of the plain (not *64) glibc symbols, on 32 and 64 bits
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class SetCounter(Protocol):
    def count(self) -> int:
        """How many sets were seen so far (grows by one for any number of sets between two
        calls)."""


class TimerfdSetCounter:
    """Linux's own account of clock sets, read without blocking at each call."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._settime = libc.timerfd_settime
        fd = libc.timerfd_create(_CLOCK_REALTIME, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _errno_error("timerfd_create")
        self._fd: int = fd
        self._sets = 0
        self._lock = threading.Lock()
        self._arm()

    def count(self) -> int:
        with self._lock:
            try:
                os.read(self._fd, 8)
            except BlockingIOError:
                pass  # no set since the last read
            except OSError as error:
                if error.errno != errno.ECANCELED:
                    raise
                self._sets += 1
                self._arm()
            return self._sets

    def close(self) -> None:
        os.close(self._fd)

    def _arm(self) -> None:
        # An absolute expiry that never comes: the timer exists only to be cancelled by a set.
        never = _Itimerspec(it_value=_Timespec(tv_sec=_LONG_MAX))
        flags = _TFD_TIMER_ABSTIME | _TFD_TIMER_CANCEL_ON_SET
        if self._settime(self._fd, flags, ctypes.byref(never), None) != 0:
            raise _errno_error("timerfd_settime")


class OffsetSetCounter:
    """The fallback: a set is a wall-minus-monotonic offset that moved more than
    :data:`STEP_TOLERANCE_NS` since the last call (a clock wrong only between two calls is
    not seen)."""

    def __init__(
        self,
        wall_ns: Callable[[], int] = time.time_ns,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._wall_ns, self._monotonic_ns = wall_ns, monotonic_ns
        self._offset_ns = self._offset()
        self._sets = 0
        self._lock = threading.Lock()

    def count(self) -> int:
        with self._lock:
            offset = self._offset()
            if abs(offset - self._offset_ns) > STEP_TOLERANCE_NS:
                self._sets += 1
            self._offset_ns = offset
            return self._sets

    def _offset(self) -> int:
        return self._wall_ns() - self._monotonic_ns()


@functools.cache
def process_set_counter() -> SetCounter:
    """The process's counter, opened at first use (a set before then is not seen)."""
    if sys.platform == "linux":
        try:
            return TimerfdSetCounter()
        except (OSError, AttributeError):  # a sandbox refusing timerfd; a libc without it
            pass
    return OffsetSetCounter()


def _errno_error(call: str) -> OSError:
    number = ctypes.get_errno()
    return OSError(number, f"{call}: {os.strerror(number)}")
