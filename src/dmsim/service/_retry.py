"""Retrying what a refusing disk would not write, for as long as a shutdown may wait."""

from __future__ import annotations

from collections.abc import Callable

from dmsim.runtime import Runtime

__all__ = ["retry_within"]

_FIRST_RETRY_S = 0.1
_LAST_RETRY_S = 1.0


async def retry_within(
    rt: Runtime, pending: Callable[[], bool], attempt: Callable[[], None], *, within_s: float
) -> None:
    """Call ``attempt`` while ``pending()`` for up to ``within_s``: after 0.1 s, then at
    doubling intervals up to every second (a disk that recovers is written at once, a
    failing one is not hammered)."""
    deadline = rt.monotonic() + within_s
    wait = _FIRST_RETRY_S
    while pending() and (left := deadline - rt.monotonic()) > 0:
        await rt.sleep(min(wait, left))
        attempt()
        wait = min(2 * wait, _LAST_RETRY_S)
