"""Loopback fixtures for the fault proxy: an echo server, a proxy in front of it, a client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from dmsim.net import FaultProxy

T = TypeVar("T")
LOOPBACK = "127.0.0.1"


def run(coro: Coroutine[Any, Any, T], *, timeout: float = 30.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """An echo server on an ephemeral loopback port; every connection closed on exit."""
    writers: set[asyncio.StreamWriter] = set()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writers.discard(writer)
            writer.close()

    server = await asyncio.start_server(echo, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in list(writers):
            writer.transport.abort()
        await server.wait_closed()


@asynccontextmanager
async def proxied(
    upstream_port: int, *, seed: int = 1, **options: Any
) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy(f"{LOOPBACK}:0", (LOOPBACK, upstream_port), seed=seed, **options)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@asynccontextmanager
async def echo_behind_proxy(*, seed: int = 1, **options: Any) -> AsyncIterator[FaultProxy]:
    async with echo_server() as port, proxied(port, seed=seed, **options) as proxy:
        yield proxy


@asynccontextmanager
async def client(
    proxy: FaultProxy,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(*proxy.listen_address)
    try:
        yield reader, writer
    finally:
        writer.transport.abort()


async def round_trip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[bytes, float]:
    """Send ``data``, read the same number of bytes back; the wall time it took."""
    start = time.monotonic()
    writer.write(data)
    await writer.drain()
    got = await reader.readexactly(len(data))
    return got, time.monotonic() - start


async def read_until_eof(reader: asyncio.StreamReader) -> tuple[bytes, int]:
    """Every byte until EOF, and how many reads it took."""
    chunks = []
    while chunk := await reader.read(65536):
        chunks.append(chunk)
    return b"".join(chunks), len(chunks)
