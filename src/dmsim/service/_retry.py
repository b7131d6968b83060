"""Retrying what a refusing disk would not write: at doubling intervals, so that a disk that
recovers is written soon and a failing one is not hammered."""

from __future__ import annotations

import math
from collections.abc import Callable

from dmsim.runtime import Runtime

__all__ = ["retry_within"]


async def retry_within(
    rt: Runtime,
    pending: Callable[[], bool],
    attempt: Callable[[], None],
    *,
    within_s: float = math.inf,
    first_s: float = 0.1,
    last_s: float = 1.0,
) -> None:
    """Call ``attempt`` while ``pending()``, for up to ``within_s`` (a shutdown's wait; by
    default until nothing is pending): after ``first_s``, then at doubling intervals up to
    every ``last_s``."""
    deadline = rt.monotonic() + within_s
    wait = first_s
    while pending() and (left := deadline - rt.monotonic()) > 0:
        await rt.sleep(min(wait, left))
        attempt()
        wait = min(2 * wait, last_s)
