"""Start a real cloud on loopback inside a test, and talk to it with raw grpclib."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from grpclib.client import Channel
from grpclib.encoding.proto import ProtoCodec

from dmsim.cloud import (
    CloudCore,
    CloudHost,
    CloudLimits,
    CloudServer,
    GrpcTransport,
    ensure_certificate,
)
from dmsim.runtime import RealRuntime

DATA_SYNC = "/viam.app.datasync.v1.DataSyncService"


@asynccontextmanager
async def running_cloud(
    data_dir: Path | None,
    *,
    limits: CloudLimits | None = None,
    tls: bool = False,
    api_key: str | None = None,
    http: bool = False,
    capacity_bytes: int | None = None,
) -> AsyncIterator[CloudServer]:
    """A CloudServer on an ephemeral loopback port, stopped on exit."""
    runtime = RealRuntime()
    core = CloudCore(
        clock=lambda: runtime.wall_ns() / 1e9,
        data_dir=None if data_dir is None else str(data_dir),
        limits=limits,
        capacity_bytes=capacity_bytes,
    )
    files = None
    if tls:
        assert data_dir is not None
        files = ensure_certificate(data_dir, now_ns=runtime.wall_ns())
    server = CloudServer(
        CloudHost(core, runtime=runtime),
        tls=files,
        api_key=api_key,
        http_port=0 if http else None,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def transport(server: CloudServer, **kwargs: Any) -> AsyncIterator[GrpcTransport]:
    client = GrpcTransport(port=server.port, **kwargs)
    try:
        yield client
    finally:
        await client.close()


class RawCodec(ProtoCodec):
    """Sends ``bytes`` as they are (to send malformed messages); decodes replies normally."""

    def encode(self, message: Any, message_type: Any) -> bytes:
        if isinstance(message, bytes):
            return message
        return super().encode(message, message_type)


@asynccontextmanager
async def raw_channel(server: CloudServer) -> AsyncIterator[Channel]:
    channel = Channel("127.0.0.1", server.port, codec=RawCodec())
    try:
        yield channel
    finally:
        channel.close()


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
