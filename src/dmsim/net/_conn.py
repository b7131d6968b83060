"""One proxied TCP connection: two lanes (upstream, downstream), each a reader and a pump.

The reader stamps each chunk with its arrival time and queues it (bounded, so a slow toxic
pushes back on the sender); the pump runs the chunk through the stream's active toxics in the
order they were added and writes what comes out. An end of stream is passed on as a
half-close; the connection ends when both lanes have ended, or when a toxic or a peer closes
it (``reset=True`` sends a TCP RST through ``SO_LINGER`` 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ._stubs import Stub, make_stub
from ._toxics import Stream, Toxic

__all__ = ["Connection", "Host", "reset_writer"]

_READ_SIZE = 262144
_QUEUE_CHUNKS = 8  # per lane: at most 2 MiB buffered before the sender feels it


class Host(Protocol):
    """What a connection needs from its proxy."""

    def data_toxics(self) -> list[Toxic]: ...

    def stub_rng(self, connection: int, toxic: Toxic) -> np.random.Generator: ...

    def note(
        self, kind: str, connection: int | None, toxic: str | None, value: float | None
    ) -> None: ...

    def count_bytes(self, stream: Stream, nbytes: int) -> None: ...

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


@dataclass(slots=True)
class _Lane:
    stream: Stream
    src: asyncio.StreamReader
    dst: asyncio.StreamWriter
    queue: asyncio.Queue[tuple[bytes, float] | None] = field(
        default_factory=lambda: asyncio.Queue(_QUEUE_CHUNKS)
    )
    ended: bool = False


class Connection:
    def __init__(
        self,
        host: Host,
        index: int,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        on_closed: Callable[[Connection, str], None],
    ) -> None:
        self.index = index
        self._host = host
        self._writers = (client[1], server[1])
        self._lanes = (
            _Lane(Stream.UPSTREAM, client[0], server[1]),
            _Lane(Stream.DOWNSTREAM, server[0], client[1]),
        )
        self._stubs: dict[str, Stub] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()
        self._on_closed = on_closed
        self.closed = False
        for writer in self._writers:
            _no_delay(writer)

    # the Closer protocol, for stubs
    def note(self, kind: str, toxic: str, value: float | None = None) -> None:
        self._host.note(kind, self.index, toxic, value)

    def now(self) -> float:
        return self._host.now()

    async def sleep_until(self, deadline: float) -> None:
        await self._host.sleep_until(deadline)

    # lifecycle
    async def run(self) -> None:
        for toxic in self._host.data_toxics():
            self.add_toxic(toxic)
        loop = asyncio.get_running_loop()
        for lane in self._lanes:
            self._tasks.append(loop.create_task(self._read(lane)))
            self._tasks.append(loop.create_task(self._pump(lane)))
        await self._done.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def add_toxic(self, toxic: Toxic) -> None:
        stub = make_stub(toxic, self, self._host.stub_rng(self.index, toxic))
        self._stubs[toxic.name] = stub
        self.note("toxic.applies" if stub.active else "toxic.skips", toxic.name)
        if stub.active and not self.closed:
            stub.start()

    def remove_toxic(self, name: str) -> None:
        stub = self._stubs.pop(name, None)
        if stub is not None:
            stub.removed()

    def replace_toxic(self, toxic: Toxic) -> None:
        """New attributes for an existing toxic: same stub state and decisions."""
        stub = self._stubs.get(toxic.name)
        if stub is not None:
            stub.toxic = toxic

    def close(self, *, reset: bool, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in self._writers:
            if reset:
                reset_writer(writer)
            else:
                writer.close()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for stub in self._stubs.values():
            stub.removed()  # only stops timers now: the connection is already closed
        self._done.set()
        self._on_closed(self, reason)

    # lanes
    async def _read(self, lane: _Lane) -> None:
        try:
            while data := await lane.src.read(_READ_SIZE):
                await lane.queue.put((data, self._host.now()))
        except (ConnectionError, OSError):
            self.close(reset=True, reason=f"{lane.stream.value}_read_failed")
            return
        await lane.queue.put(None)

    async def _pump(self, lane: _Lane) -> None:
        try:
            # A toxic may close the connection from inside this task: stop at once then.
            while not self.closed and (item := await lane.queue.get()) is not None:
                data, arrived = item
                stubs = [
                    stub
                    for toxic in self._host.data_toxics()
                    if toxic.stream is lane.stream
                    and (stub := self._stubs.get(toxic.name)) is not None
                    and stub.active
                ]
                await self._through(lane, stubs, data, arrived)
            if self.closed:
                return
            lane.ended = True
            if lane.dst.can_write_eof():
                lane.dst.write_eof()
        except (ConnectionError, OSError):
            self.close(reset=True, reason=f"{lane.stream.value}_write_failed")
            return
        if all(other.ended for other in self._lanes):
            self.close(reset=False, reason="eof")

    async def _through(self, lane: _Lane, stubs: list[Stub], data: bytes, arrived: float) -> None:
        if self.closed:
            return
        if not stubs:
            lane.dst.write(data)
            await lane.dst.drain()
            self._host.count_bytes(lane.stream, len(data))
            return
        head, rest = stubs[0], stubs[1:]

        async def emit(piece: bytes) -> None:
            await self._through(lane, rest, piece, arrived)

        await head.on_chunk(data, emit, arrived)


def _no_delay(writer: asyncio.StreamWriter) -> None:
    # Small writes (slicer pieces) must leave as separate segments, not be coalesced.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def reset_writer(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST: SO_LINGER on with a zero timeout discards unsent data."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
