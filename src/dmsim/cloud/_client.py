"""``GrpcTransport``: the cloud transport port over real gRPC (grpclib + viam-sdk stubs).

Every call carries the idempotency key as the ``dmsim-idempotency-key`` metadata header and,
when given, the API key as ``authorization: Bearer <key>``. Outcomes, as the sync engine
classifies them (see :mod:`dmsim.sync._transport`):

- a response → ``ok``;
- a gRPC status from the server → :class:`~dmsim.errors.CloudError` named by the status;
- the per-call ``timeout`` elapsing → ``TimeoutError`` (the upload may have landed);
- the call broken mid-way (a reset, a stream the server terminated, the connection lost) →
  ``ConnectionResetError`` (may have landed; a new connection may work at once);
- the cloud unreachable (connection refused, no route, no name) → ``ConnectionError``.

The channel reconnects by itself on the next call after the server went away. After a
timeout or a failed connection the channel is dropped and the next call opens a new one: a
half-open TCP connection (a NAT mapping expired, a Wi-Fi roam, a blackholing link) answers
nothing, and the kernel may take many minutes to give up on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import h2.exceptions
from grpclib.client import Channel, UnaryUnaryMethod
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError
from viam.proto.app.data import CreateSequenceRequest, CreateSequenceResponse
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadResponse,
    DataSyncServiceStub,
    FileData,
    FileUploadRequest,
    FileUploadResponse,
    StreamingDataCaptureUploadRequest,
    StreamingDataCaptureUploadResponse,
    UploadMetadata,
)

from dmsim.errors import CloudError
from dmsim.sync._transport import (
    CREATE_SEQUENCE_PATH,
    IDEMPOTENCY_HEADER,
    CloudTransport,
    DataCaptureRequest,
    request_bytes,
)

from ._tls import client_ssl_context

__all__ = ["GrpcTransport", "GrpcTransportStatistics"]

T = TypeVar("T")
CHUNK_SIZE = 64 * 1024  # rdk's UploadChunkSize


class _SerializedOrProto(ProtoCodec):
    """protobuf, except that a message declared as ``bytes`` is already serialized and goes
    out as it is (see :mod:`dmsim.sync._transport` for why requests come as bytes)."""

    def encode(self, message: Any, message_type: Any) -> bytes:
        if message_type is bytes:
            return bytes(message)
        return super().encode(message, message_type)


@dataclass(frozen=True, slots=True)
class GrpcTransportStatistics:
    calls: int
    ok: int
    failed: int
    unknown: int
    bytes_sent: int


async def _packets(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Re-cut the caller's chunks into packets of at most ``size`` bytes (none empty)."""
    async for chunk in chunks:
        for start in range(0, len(chunk), size):
            yield chunk[start : start + size]


class GrpcTransport:
    """A :class:`~dmsim.sync._transport.CloudTransport` to a DataSyncService at host:port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int,
        cert_path: str | Path | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if timeout <= 0 or chunk_size <= 0:
            raise ValueError("timeout and chunk_size must be positive")
        self._host, self._port = host, port
        self._ssl: ssl.SSLContext | None = (
            None if cert_path is None else client_ssl_context(Path(cert_path))
        )
        self._api_key = api_key
        self._timeout = timeout
        self._chunk_size = chunk_size
        self._channel: Channel | None = None
        self._stub: DataSyncServiceStub | None = None
        self._counts = {"calls": 0, "ok": 0, "failed": 0, "unknown": 0, "bytes_sent": 0}

    def _connect(self) -> DataSyncServiceStub:
        if self._stub is None:
            self._channel = Channel(
                self._host, self._port, ssl=self._ssl, codec=_SerializedOrProto()
            )
            self._stub = DataSyncServiceStub(self._channel)
        return self._stub

    def _drop(self, stub: DataSyncServiceStub) -> None:
        """Close the channel ``stub`` used, unless a newer one has replaced it already."""
        if stub is self._stub and self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None

    def _metadata(self, key: str) -> dict[str, str]:
        metadata = {IDEMPOTENCY_HEADER: key}
        if self._api_key is not None:
            metadata["authorization"] = f"Bearer {self._api_key}"
        return metadata

    async def _guard(self, stub: DataSyncServiceStub, call: Awaitable[T]) -> T:
        self._counts["calls"] += 1
        try:
            result = await call
        except GRPCError as error:
            self._counts["failed"] += 1
            raise CloudError(error.status.name, error.message or error.status.name) from None
        except TimeoutError:
            self._counts["unknown"] += 1
            self._drop(stub)
            raise TimeoutError(
                f"no answer from the cloud within {self._timeout:g}s (reconnecting)"
            ) from None
        except (
            StreamTerminatedError,
            ProtocolError,
            h2.exceptions.ProtocolError,
            ConnectionResetError,
            ConnectionAbortedError,
            BrokenPipeError,
            EOFError,
        ) as error:
            self._counts["unknown"] += 1
            self._drop(stub)
            raise ConnectionResetError(f"cloud connection broke mid-call: {error!r}") from error
        except OSError as error:
            self._counts["unknown"] += 1
            self._drop(stub)
            raise ConnectionError(f"cannot reach the cloud: {error!r}") from error
        self._counts["ok"] += 1
        return result

    async def data_capture_upload(
        self, request: DataCaptureRequest, *, key: str
    ) -> DataCaptureUploadResponse:
        stub = self._connect()
        data = request_bytes(request)
        self._counts["bytes_sent"] += len(data)
        # the stub's method, with the request declared as bytes: sent as they are
        method = UnaryUnaryMethod[bytes, DataCaptureUploadResponse](
            stub.DataCaptureUpload.channel,
            stub.DataCaptureUpload.name,
            bytes,
            DataCaptureUploadResponse,
        )
        response: DataCaptureUploadResponse = await self._guard(
            stub, method(data, timeout=self._timeout, metadata=self._metadata(key))
        )
        return response

    async def file_upload(
        self, metadata: UploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> FileUploadResponse:
        stub = self._connect()

        async def call() -> FileUploadResponse:
            async with stub.FileUpload.open(
                timeout=self._timeout, metadata=self._metadata(key)
            ) as stream:
                await stream.send_message(FileUploadRequest(metadata=metadata))
                async for packet in _packets(chunks, self._chunk_size):
                    self._counts["bytes_sent"] += len(packet)
                    await stream.send_message(
                        FileUploadRequest(file_contents=FileData(data=packet))
                    )
                await stream.end()
                reply: FileUploadResponse | None = await stream.recv_message()
            return _required(reply)

        return await self._guard(stub, call())

    async def streaming_data_capture_upload(
        self, metadata: DataCaptureUploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> StreamingDataCaptureUploadResponse:
        stub = self._connect()

        async def call() -> StreamingDataCaptureUploadResponse:
            async with stub.StreamingDataCaptureUpload.open(
                timeout=self._timeout, metadata=self._metadata(key)
            ) as stream:
                await stream.send_message(StreamingDataCaptureUploadRequest(metadata=metadata))
                async for packet in _packets(chunks, self._chunk_size):
                    self._counts["bytes_sent"] += len(packet)
                    await stream.send_message(StreamingDataCaptureUploadRequest(data=packet))
                await stream.end()
                reply: StreamingDataCaptureUploadResponse | None = await stream.recv_message()
            return _required(reply)

        return await self._guard(stub, call())

    async def create_sequence(
        self, request: CreateSequenceRequest, *, key: str
    ) -> CreateSequenceResponse:
        stub = self._connect()  # the same channel: DataService is served beside DataSyncService
        self._counts["bytes_sent"] += request.ByteSize()
        method = UnaryUnaryMethod[CreateSequenceRequest, CreateSequenceResponse](
            stub.DataCaptureUpload.channel,
            CREATE_SEQUENCE_PATH,
            CreateSequenceRequest,
            CreateSequenceResponse,
        )
        response: CreateSequenceResponse = await self._guard(
            stub, method(request, timeout=self._timeout, metadata=self._metadata(key))
        )
        return response

    async def reachable(self) -> bool:
        """Whether a TCP connection to the cloud opens now, within the call timeout: a cheap
        probe (no RPC, nothing sent) for a machine waiting out an offline pause."""
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), self._timeout
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None

    def statistics(self) -> GrpcTransportStatistics:
        return GrpcTransportStatistics(**self._counts)


def _required(reply: T | None) -> T:
    if reply is None:  # the server ended the call with OK but no message
        raise CloudError("UNKNOWN", "the cloud ended the call without a response")
    return reply


if TYPE_CHECKING:  # mypy proves GrpcTransport implements the port
    _conforms: CloudTransport = GrpcTransport(port=0)
