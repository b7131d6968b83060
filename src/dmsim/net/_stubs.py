"""Toxic stubs: one toxic acting on one connection's stream.

A stub sees every chunk of its stream in order and passes what survives to ``emit`` (the rest
of the chain). Stubs that act on time rather than data (``timeout``, ``reset_peer``) close the
connection through :class:`Closer`. The random draws come from the stub's own seeded stream:
the first draw decides toxicity, the next ones jitter and slice sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import numpy as np

from ._toxics import Toxic, ToxicType, applies, latency_seconds, slice_sizes

__all__ = ["Closer", "Emit", "Stub", "make_stub"]

Emit = Callable[[bytes], Awaitable[None]]


class Closer(Protocol):
    """What a stub may do to its connection, and how it sees time."""

    index: int

    def close(self, *, reset: bool, reason: str) -> None: ...

    def note(self, kind: str, toxic: str, value: float | None = None) -> None: ...

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class Stub:
    """A toxic that does nothing to the data: the base, and what an inactive toxic is."""

    def __init__(self, toxic: Toxic, conn: Closer, rng: np.random.Generator) -> None:
        self.toxic = toxic
        self.conn = conn
        self.rng = rng
        self.active = applies(toxic.toxicity, float(rng.random()))
        self._timers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Called once an active stub is in place (at connect or when the toxic is added)."""

    async def on_chunk(self, data: bytes, emit: Emit, _arrived: float, /) -> None:
        await emit(data)

    def removed(self) -> None:
        """The toxic was removed (or the connection closed): stop any timers."""
        for timer in self._timers:
            timer.cancel()

    def _after(self, seconds: float, action: Callable[[], None]) -> None:
        async def wait_then() -> None:
            await self.conn.sleep_until(self.conn.now() + seconds)
            action()

        self._timers.append(asyncio.get_running_loop().create_task(wait_then()))


class _Latency(Stub):
    async def on_chunk(self, data: bytes, emit: Emit, arrived: float, /) -> None:
        delay = latency_seconds(
            self.toxic.attr("latency"), self.toxic.attr("jitter"), float(self.rng.random())
        )
        self.conn.note("latency", self.toxic.name, delay)
        await self.conn.sleep_until(arrived + delay)  # from arrival: delays do not pile up
        await emit(data)


class _Bandwidth(Stub):
    # Pieces of 100 ms worth of data, so a slow rate still delivers steadily.
    def __init__(self, toxic: Toxic, conn: Closer, rng: np.random.Generator) -> None:
        super().__init__(toxic, conn, rng)
        self._rate = toxic.attr("rate") * 1000.0  # bytes per second
        self._free_at = 0.0

    async def on_chunk(self, data: bytes, emit: Emit, _arrived: float, /) -> None:
        piece = max(1, int(self._rate / 10))
        for i in range(0, len(data), piece):
            part = data[i : i + piece]
            self._free_at = max(self.conn.now(), self._free_at) + len(part) / self._rate
            await self.conn.sleep_until(self._free_at)
            await emit(part)


class _Timeout(Stub):
    def start(self) -> None:
        timeout = self.toxic.attr("timeout")
        if timeout > 0:
            self._after(timeout / 1000.0, self._fire)

    def _fire(self) -> None:
        self.conn.note("timeout", self.toxic.name)
        self.conn.close(reset=False, reason="timeout")

    async def on_chunk(self, data: bytes, _emit: Emit, _arrived: float, /) -> None:
        self.conn.note("dropped", self.toxic.name, float(len(data)))

    def removed(self) -> None:
        super().removed()
        if self.active:  # data was dropped: the stream is broken, so end it
            self.conn.close(reset=False, reason="timeout_removed")


class _ResetPeer(Stub):
    def __init__(self, toxic: Toxic, conn: Closer, rng: np.random.Generator) -> None:
        super().__init__(toxic, conn, rng)
        self._armed = False

    async def on_chunk(self, _data: bytes, _emit: Emit, _arrived: float, /) -> None:
        if not self._armed:
            self._armed = True
            self._after(self.toxic.attr("timeout") / 1000.0, self._fire)
        # Data after the trigger is discarded, as a reset discards unsent data.

    def _fire(self) -> None:
        self.conn.note("reset_peer", self.toxic.name)
        self.conn.close(reset=True, reason="reset_peer")


class _LimitData(Stub):
    def __init__(self, toxic: Toxic, conn: Closer, rng: np.random.Generator) -> None:
        super().__init__(toxic, conn, rng)
        self._sent = 0

    def start(self) -> None:
        if self.toxic.attr("bytes") == 0:
            self._fire()

    async def on_chunk(self, data: bytes, emit: Emit, _arrived: float, /) -> None:
        room = self.toxic.attr("bytes") - self._sent
        part = data[: max(0, room)]
        if part:
            self._sent += len(part)
            await emit(part)
        if self._sent >= self.toxic.attr("bytes"):
            self._fire()

    def _fire(self) -> None:
        self.conn.note("limit_data", self.toxic.name, float(self._sent))
        self.conn.close(reset=False, reason="limit_data")


class _Slicer(Stub):
    async def on_chunk(self, data: bytes, emit: Emit, _arrived: float, /) -> None:
        delay = self.toxic.attr("delay") / 1e6
        sizes = slice_sizes(
            len(data), self.toxic.attr("average_size"), self.toxic.attr("size_variation"), self.rng
        )
        offset = 0
        for n, size in enumerate(sizes):
            if n and delay:
                await self.conn.sleep_until(self.conn.now() + delay)
            await emit(data[offset : offset + size])
            offset += size


_KINDS: dict[ToxicType, type[Stub]] = {
    ToxicType.LATENCY: _Latency,
    ToxicType.BANDWIDTH: _Bandwidth,
    ToxicType.TIMEOUT: _Timeout,
    ToxicType.RESET_PEER: _ResetPeer,
    ToxicType.LIMIT_DATA: _LimitData,
    ToxicType.SLICER: _Slicer,
}


def make_stub(toxic: Toxic, conn: Closer, rng: np.random.Generator) -> Stub:
    """The stub for a data toxic (not ``down``, which the proxy enacts at accept time); the
    connection consults it only if ``stub.active``."""
    return _KINDS[toxic.type](toxic, conn, rng)
