"""Viam's DataSyncService over real gRPC (grpclib), in front of a :class:`CloudHost`.

Per call: authenticate (API key), ask the fault plan what to do, receive the request under
the size limits, ingest it (the host's next group commit) and answer only once it is durable
— each step possibly bent by the fault the plan chose. Statuses a client can meet:

- ``UNAUTHENTICATED``: the server has an API key and the call carries none or a wrong one
  (``authorization: Bearer <key>``, or a ``key: <key>`` metadata entry); nothing is read.
- ``INVALID_ARGUMENT``: bytes that do not parse as the RPC's message (malformed protobuf,
  invalid UTF-8), a stream whose first packet is not the metadata or whose later packets are,
  a truncated message, an idempotency key over 512 bytes, or anything the core rejects.
- ``RESOURCE_EXHAUSTED``: a message over ``max_message_bytes`` (refused from its 5-byte gRPC
  prefix, before its body is buffered), a stream over ``max_stream_bytes``, storage full.
- ``UNIMPLEMENTED``: a compressed message (the server announces no compression); a unary call
  (DataCaptureUpload) carrying no request message or more than one.

Other errors are answered once the whole request is received, so a client-streaming caller
reads the status rather than a reset stream (grpclib's client picks up an early status too).
Request headers (gRPC metadata) beyond HTTP/2's 64 KiB header-list limit are refused by the
HTTP/2 layer itself, which closes that connection; the server carries on.

To refuse an oversized body from its prefix the receiver reads the HTTP/2 stream under
grpclib's server ``Stream`` (``stream._stream``) instead of ``recv_message``; a test pins it.

A FileUpload or StreamingDataCaptureUpload payload is written to a blob staged on disk chunk by
chunk as it arrives (:meth:`CloudCore.stage_blob`), so memory holds a message at a time, not
the upload; the core commits that blob with the upload or discards it, and a call dropped
before it reached the core discards it here.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message
from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream
from viam.proto.app.data import CreateSequenceRequest, CreateSequenceResponse
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataCaptureUploadResponse,
    DataSyncServiceBase,
    FileUploadRequest,
    FileUploadResponse,
    StreamingDataCaptureUploadRequest,
    StreamingDataCaptureUploadResponse,
    UploadMetadata,
)

from dmsim.errors import CloudError
from dmsim.sync._transport import CREATE_SEQUENCE_PATH, IDEMPOTENCY_HEADER

from ._blobs import StagedBlob
from ._faults import FaultAction
from ._host import CloudHost
from ._records import IngestResult
from ._store import storage_error

__all__ = ["DataSyncService", "api_key_problem"]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)
_Ingest = Callable[[str | None, bool], IngestResult]
_PREFIX = 5  # gRPC message prefix: compressed flag + 4-byte length


@dataclass(frozen=True, slots=True)
class _Received:
    """A request read in full: how to ingest it, and the blob its payload was staged in."""

    ingest: _Ingest
    staged: StagedBlob | None = None

    def drop(self) -> None:
        """The call ends without reaching the core: nothing of it stays on disk."""
        if self.staged is not None:
            self.staged.discard()


def api_key_problem(api_key: str) -> str | None:
    """Why no client could present ``api_key``, or None if it is usable. A gRPC metadata value
    is printable ASCII, and HTTP/2 refuses one with surrounding spaces: with such a key every
    call would be refused."""
    if not api_key.strip():
        return "empty (omit it to serve without an API key)"
    if not api_key.isascii() or not api_key.isprintable() or api_key != api_key.strip():
        return f"{api_key!r}: must be printable ASCII without leading or trailing spaces"
    return None


class _Crashed(GRPCError):
    """Raised after a ``restart`` fault aborted the connection (the status never reaches the
    client; it only unwinds the handler)."""


class _CancelledAfterCommit(asyncio.CancelledError):
    """The client gave up while its upload was being committed (the commit went through)."""


class _Receiver:
    """Reads gRPC messages from a server stream, counting bytes, enforcing limits, and
    enacting byte-triggered faults (stall, restart) at the exact byte."""

    def __init__(
        self, service: DataSyncService, stream: Stream[Any, Any], action: FaultAction
    ) -> None:
        self._service = service
        self._stream = stream
        self._h2 = stream._stream  # grpclib's HTTP/2 stream: lets us refuse oversized bodies
        self._action = action
        self._armed = action.kind == "stall" or (action.kind == "restart" and not action.commit)
        self.received = 0

    async def _read(self, size: int) -> bytes:
        chunk = b""
        if self._armed and self.received + size >= self._action.after_bytes:
            head = max(0, self._action.after_bytes - self.received)
            chunk = await self._read_exact(head)
            await self.trigger()
            size -= head
        return chunk + await self._read_exact(size)

    async def _read_exact(self, size: int) -> bytes:
        try:
            data = await self._h2.recv_data(size)
        except AssertionError:  # grpclib: the stream ended inside a message
            raise GRPCError(Status.INVALID_ARGUMENT, "truncated message") from None
        self.received += len(data)
        return data

    async def trigger(self) -> None:
        """Enact an armed stall/restart now (at its byte, or at the end of the request)."""
        if not self._armed:
            return
        self._armed = False
        await self._service._enact_byte_fault(self._action, self._stream)

    async def at_end(self) -> bool:
        """Whether the request ends here (a next message is refused from its prefix unread)."""
        return not await self._read(_PREFIX)

    async def message(self, message_type: type[M], *, limit: int, total_limit: int) -> M | None:
        prefix = await self._read(_PREFIX)
        if not prefix:
            return None
        if prefix[0]:
            raise GRPCError(Status.UNIMPLEMENTED, "compressed messages are not supported")
        size = int.from_bytes(prefix[1:], "big")
        if size > limit:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"{message_type.__name__}: {size} bytes exceeds the {limit}-byte message limit",
            )
        if self.received + size > total_limit:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"stream: {self.received + size} bytes exceeds the {total_limit}-byte stream limit",
            )
        body = await self._read(size)
        try:
            message: M = message_type.FromString(body)
        except DecodeError as error:
            raise GRPCError(
                Status.INVALID_ARGUMENT, f"malformed {message_type.__name__}: {error}"
            ) from None
        return message


def _file_response(response_type: type[Message]) -> Callable[[IngestResult], Message]:
    return lambda result: response_type(
        file_id=result.file_id, binary_data_id=result.binary_data_id
    )


class DataSyncService(DataSyncServiceBase):
    """The three upload RPCs, and the data API's ``CreateSequence`` (served on the same
    server, as a client reaches both through one connection). ``api_key=None`` serves
    without authentication; a key no client can present (see :func:`api_key_problem`) is a
    ``ValueError``. ``crash`` is what a ``restart`` fault does: the CLI server passes a hard
    process exit; by default the call's connection is aborted (an in-process cloud cannot die
    alone)."""

    def __init__(
        self,
        host: CloudHost,
        *,
        api_key: str | None = None,
        crash: Callable[[], None] | None = None,
    ) -> None:
        problem = None if api_key is None else api_key_problem(api_key)
        if problem is not None:
            raise ValueError(f"api_key: {problem}")
        self._host = host
        self._api_key = api_key
        self._crash = crash
        self.unauthenticated = 0

    # -- the RPCs -----------------------------------------------------------------------

    async def DataCaptureUpload(
        self, stream: Stream[DataCaptureUploadRequest, DataCaptureUploadResponse]
    ) -> None:
        async def receive(rx: _Receiver) -> _Received:
            request = await self._receive_one(rx, DataCaptureUploadRequest, "DataCaptureUpload")
            return _Received(
                lambda key, full: self._host.core.ingest_data_capture(
                    request, key=key, storage_full=full
                )
            )

        await self._serve(
            stream, "DataCaptureUpload", receive, _file_response(DataCaptureUploadResponse)
        )

    async def FileUpload(self, stream: Stream[FileUploadRequest, FileUploadResponse]) -> None:
        async def receive(rx: _Receiver) -> _Received:
            metadata, staged = await self._receive_stream(
                rx, FileUploadRequest, "file_contents", lambda p: p.file_contents.data
            )
            assert isinstance(metadata, UploadMetadata)
            return _Received(
                lambda key, full: self._host.core.ingest_file(
                    metadata, staged, key=key, storage_full=full
                ),
                staged,
            )

        await self._serve(stream, "FileUpload", receive, _file_response(FileUploadResponse))

    async def StreamingDataCaptureUpload(
        self,
        stream: Stream[StreamingDataCaptureUploadRequest, StreamingDataCaptureUploadResponse],
    ) -> None:
        async def receive(rx: _Receiver) -> _Received:
            metadata, staged = await self._receive_stream(
                rx, StreamingDataCaptureUploadRequest, "data", lambda p: p.data
            )
            assert isinstance(metadata, DataCaptureUploadMetadata)
            return _Received(
                lambda key, full: self._host.core.ingest_streaming(
                    metadata, staged, key=key, storage_full=full
                ),
                staged,
            )

        await self._serve(
            stream,
            "StreamingDataCaptureUpload",
            receive,
            _file_response(StreamingDataCaptureUploadResponse),
        )

    async def CreateSequence(
        self, stream: Stream[CreateSequenceRequest, CreateSequenceResponse]
    ) -> None:
        async def receive(rx: _Receiver) -> _Received:
            request = await self._receive_one(rx, CreateSequenceRequest, "CreateSequence")
            return _Received(
                lambda key, full: self._host.core.create_sequence(
                    request, key=key, storage_full=full
                )
            )

        await self._serve(
            stream,
            "CreateSequence",
            receive,
            lambda result: CreateSequenceResponse(id=result.file_id),
        )

    def __mapping__(self) -> dict[str, Handler]:
        mapping: dict[str, Handler] = super().__mapping__()
        mapping[CREATE_SEQUENCE_PATH] = Handler(
            self.CreateSequence,
            Cardinality.UNARY_UNARY,
            CreateSequenceRequest,
            CreateSequenceResponse,
        )
        return mapping

    # -- the shared call flow -----------------------------------------------------------

    async def _receive_one(self, rx: _Receiver, request_type: type[M], rpc: str) -> M:
        """A unary call's one request."""
        limits = self._host.core.limits
        request = await rx.message(
            request_type,
            limit=limits.max_message_bytes,
            total_limit=limits.max_message_bytes + _PREFIX,
        )
        if request is None or not await rx.at_end():
            # A cardinality violation: UNIMPLEMENTED, as gRPC's status code table
            # (doc/statuscodes.md) says and grpcio answers a unary call with no request.
            # For extra requests grpcio 1.85 answers the first and ignores the rest and
            # grpc-java answers INTERNAL "Too many requests"; we follow the table.
            got = "none" if request is None else "more"
            raise GRPCError(
                Status.UNIMPLEMENTED,
                f"{rpc} takes exactly one {request_type.__name__}, got {got}",
            )
        return request

    async def _receive_stream(
        self,
        rx: _Receiver,
        packet_type: type[M],
        data_field: str,
        payload: Callable[[Any], bytes],
    ) -> tuple[Message, StagedBlob]:
        """First packet the metadata, then only ``data_field`` packets, their payloads written
        to a staged blob as they arrive."""
        limits = self._host.core.limits
        total = limits.max_stream_bytes + limits.max_metadata_bytes
        name = packet_type.__name__
        first = await rx.message(packet_type, limit=limits.max_message_bytes, total_limit=total)
        if first is None:
            raise GRPCError(Status.INVALID_ARGUMENT, f"{name}: empty stream (no metadata packet)")
        if first.WhichOneof("upload_packet") != "metadata":
            got = first.WhichOneof("upload_packet") or "an empty packet"
            raise GRPCError(
                Status.INVALID_ARGUMENT, f"{name}[0]: first packet must be metadata, got {got}"
            )
        staged = self._host.core.stage_blob()
        try:
            index = 0
            while (
                packet := await rx.message(
                    packet_type, limit=limits.max_message_bytes, total_limit=total
                )
            ) is not None:
                index += 1
                kind = packet.WhichOneof("upload_packet")
                if kind != data_field:
                    raise GRPCError(
                        Status.INVALID_ARGUMENT,
                        f"{name}[{index}]: expected {data_field}, got {kind or 'an empty packet'}",
                    )
                try:
                    staged.write(payload(packet))
                except OSError as error:
                    raise storage_error(error) from error
        except BaseException:
            staged.discard()
            raise
        metadata: Message = first.metadata
        return metadata, staged

    def _authenticate(self, metadata: Any) -> None:
        if self._api_key is None:
            return
        offered = None
        auth = metadata.get("authorization") if metadata is not None else None
        if isinstance(auth, str) and auth.startswith("Bearer "):
            offered = auth.removeprefix("Bearer ")
        elif metadata is not None and isinstance(metadata.get("key"), str):
            offered = metadata.get("key")
        if offered is None or not hmac.compare_digest(offered.encode(), self._api_key.encode()):
            self.unauthenticated += 1
            reason = "missing API key" if offered is None else "wrong API key"
            raise GRPCError(Status.UNAUTHENTICATED, reason)

    async def _serve(
        self,
        stream: Stream[Any, Any],
        rpc: str,
        receive: Callable[[_Receiver], Awaitable[_Received]],
        respond: Callable[[IngestResult], Message],
    ) -> None:
        self._authenticate(stream.metadata)
        header = stream.metadata.get(IDEMPOTENCY_HEADER) if stream.metadata is not None else None
        key = header if isinstance(header, str) else None
        plan, host = self._host.plan, self._host
        action = plan.decide(rpc, host.now(), key=key)
        outcome, detail = "cancelled", ""
        try:
            rx = _Receiver(self, stream, action)
            received = await receive(rx)
            try:
                await rx.trigger()  # a stall/restart past the end of the request fires here
                if action.kind == "reject":
                    raise GRPCError(Status[action.code], action.message)
            except BaseException:
                received.drop()
                raise
            result = await self._commit(received, key, action)
            outcome = "cancelled-after-commit"  # until the ack is out
            await self._acknowledge(stream, action, result, respond)
            if action.kind == "drop_ack":
                outcome = "dropped"
            else:
                outcome = "duplicate" if result.duplicate else "ok"
        except _CancelledAfterCommit:
            outcome = "cancelled-after-commit"
            raise
        except CloudError as error:
            outcome, detail = f"error:{error.code}", str(error)
            raise GRPCError(
                Status[error.code], str(error).removeprefix(f"{error.code}: ")
            ) from None
        except _Crashed:
            outcome = "crashed"
            raise
        except GRPCError as error:
            outcome, detail = f"error:{error.status.name}", str(error.message or "")
            raise
        except Exception as error:
            outcome, detail = "error:UNKNOWN", repr(error)
            raise
        finally:
            plan.finish(action, outcome, host.now(), detail=detail)

    async def _commit(
        self, received: _Received, key: str | None, action: FaultAction
    ) -> IngestResult:
        """Ingest in the host's next group commit. If the call is cancelled meanwhile (client
        deadline), the commit still happens; wait for it so the timeline says what happened.
        A commit that failed drops the staged payload: a group that failed before running
        this upload never handed it to the core, which would have discarded it."""
        full = action.kind == "storage_full"
        commit = self._host.submit(lambda: received.ingest(key, full))
        try:
            return await asyncio.shield(commit)
        except CloudError:
            received.drop()
            raise
        except asyncio.CancelledError:
            try:
                await commit
            except CloudError:
                received.drop()
                raise asyncio.CancelledError from None
            raise _CancelledAfterCommit from None

    async def _acknowledge(
        self,
        stream: Stream[Any, Any],
        action: FaultAction,
        result: IngestResult,
        respond: Callable[[IngestResult], Message],
    ) -> None:
        if action.kind == "slow_ack":
            await self._host.runtime.sleep(action.seconds)
        elif action.kind == "drop_ack":
            await stream.cancel()  # RST_STREAM: the client never learns the upload landed
            return
        elif action.kind == "restart" and action.commit:
            self._do_crash(action, stream)
        await stream.send_message(respond(result))

    async def _enact_byte_fault(self, action: FaultAction, stream: Stream[Any, Any]) -> None:
        if action.kind == "restart":
            self._do_crash(action, stream)
            return
        # stall: stop reading; 0 s = until the client gives up (its deadline cancels us)
        if action.seconds > 0:
            await self._host.runtime.sleep(action.seconds)
        else:
            await self._host.runtime.event().wait()

    def _do_crash(self, action: FaultAction, stream: Stream[Any, Any]) -> None:
        self._host.plan.finish(action, "crashed", self._host.now())  # in case we never return
        log.warning("restart fault %s: the cloud goes down now", action.fault_id)
        if self._crash is not None:
            self._crash()
        stream._stream._transport.abort()
        raise _Crashed(Status.UNAVAILABLE, action.message)
