"""SimCloudTransport: the cloud transport port over a :class:`SimLink` to an in-process cloud.

One call, as the real gRPC path would carry it, on simulated time:

1. the call's headers go upstream; only then does the cloud see the call and ask its
   :class:`~dmsim.cloud.RpcFaultPlan` what to do (a call that never arrives is never decided);
2. the request goes upstream packet by packet (streaming calls consume the caller's chunks,
   re-cut into ``chunk_size`` packets); a ``stall`` or ``restart`` fault fires at its byte;
3. the cloud commits through :class:`~dmsim.cloud.CloudCore` (or rejects);
4. the answer comes downstream; a ``slow_ack`` waits first, a ``drop_ack`` resets the call.

Anything that breaks after the commit leaves the client with ``TimeoutError`` or
``ConnectionError`` — an *unknown* outcome — although the cloud holds the upload: exactly the
hazard idempotency keys defuse. The whole call shares one deadline (``timeout``). Every attempt
is recorded (a ``net.transport.attempt`` trace event, which the oracle reads, and the
statistics; :meth:`SimCloudTransport.attempts` keeps the latest ``keep_attempts``, so a
simulated week of uploads does not grow in memory) with the outcome the client saw and what
the cloud did.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal, NoReturn

from viam.proto.app.data import CreateSequenceRequest, CreateSequenceResponse
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadResponse,
    FileData,
    FileUploadRequest,
    FileUploadResponse,
    StreamingDataCaptureUploadRequest,
    StreamingDataCaptureUploadResponse,
    UploadMetadata,
)

from dmsim.cloud import CloudCore, FaultAction, IngestResult, RpcFaultPlan
from dmsim.errors import CloudError
from dmsim.runtime import ProcessKilled, Runtime, Trace
from dmsim.sync import DataCaptureRequest, request_message

from ._params import Direction
from ._simlink import SimLink

__all__ = ["ClientOutcome", "SimCloudTransport", "SimTransportStatistics", "UploadAttempt"]

ClientOutcome = Literal["ok", "fail", "unknown"]
_PREFIX = 5  # gRPC length prefix per message
_UNKNOWN_CODES = frozenset({"DEADLINE_EXCEEDED", "UNKNOWN"})


@dataclass(frozen=True, slots=True)
class UploadAttempt:
    """One call: what the client saw (``outcome``) and what the cloud did (``cloud``:
    ``unreached``, ``ok``, ``duplicate``, ``dropped``, ``crashed``, ``cancelled`` or
    ``error:CODE``). ``landed``: after this call the cloud holds the key (committed by this
    call or an earlier one through this transport)."""

    index: int
    rpc: str
    key: str
    outcome: ClientOutcome
    cloud: str
    landed: bool
    fault_id: str | None
    error: str
    started: float
    finished: float
    bytes_sent: int


@dataclass(frozen=True, slots=True)
class SimTransportStatistics:
    calls: int
    ok: int
    failed: int
    unknown: int
    landed_unknown: int  # the cloud has it, the client does not know
    duplicates: int  # acknowledged as already stored
    bytes_sent: int


class _Crash(ConnectionResetError):
    """The cloud process died under this call (a ``restart`` fault); the retry finds the
    connection refused until the cloud is back."""


class _Call:
    """Book-keeping of one call in flight."""

    def __init__(self, rpc: str, key: str, started: float, deadline: float) -> None:
        self.rpc, self.key, self.started, self.deadline = rpc, key, started, deadline
        self.action: FaultAction | None = None
        self.cloud = "unreached"
        self.landed = False
        self.sent = 0


class SimCloudTransport:
    """A :class:`~dmsim.sync._transport.CloudTransport` on simulated time."""

    def __init__(
        self,
        runtime: Runtime,
        link: SimLink,
        core: CloudCore,
        *,
        plan: RpcFaultPlan | None = None,
        timeout: float = 30.0,
        chunk_size: int = 64 * 1024,
        overhead_bytes: int = 128,
        restart_downtime: float = 0.0,
        trace: Trace | None = None,
        keep_attempts: int = 10_000,
    ) -> None:
        if timeout <= 0 or chunk_size <= 0 or overhead_bytes < 0 or restart_downtime < 0:
            raise ValueError(
                "timeout and chunk_size must be > 0, overhead_bytes and restart_downtime >= 0"
            )
        self._rt = runtime
        self._link = link
        self._core = core
        self.plan = plan if plan is not None else RpcFaultPlan()
        self._timeout = timeout
        self._chunk_size = chunk_size
        self._overhead = overhead_bytes  # HTTP/2 headers or trailers of one call
        self._restart_downtime = restart_downtime
        self._cloud_down_until = -1.0
        self._trace = trace if trace is not None else link.trace
        self._attempts: deque[UploadAttempt] = deque(maxlen=keep_attempts)
        self._tally: Counter[str] = Counter()  # the statistics' fields
        self._landed: set[str] = set()  # keys this transport saw the cloud commit

    # the CloudTransport port
    async def data_capture_upload(
        self, request: DataCaptureRequest, *, key: str
    ) -> DataCaptureUploadResponse:
        request = request_message(request)  # the in-process cloud ingests the message

        async def packets() -> AsyncIterator[tuple[int, bytes]]:
            yield request.ByteSize() + _PREFIX, b""

        result = await self._call(
            "DataCaptureUpload",
            key,
            packets(),
            lambda _data, full: self._core.ingest_data_capture(request, key=key, storage_full=full),
        )
        return DataCaptureUploadResponse(file_id=result.file_id)

    async def file_upload(
        self, metadata: UploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> FileUploadResponse:
        async def packets() -> AsyncIterator[tuple[int, bytes]]:
            yield FileUploadRequest(metadata=metadata).ByteSize() + _PREFIX, b""
            async for piece in self._recut(chunks):
                packet = FileUploadRequest(file_contents=FileData(data=piece))
                yield packet.ByteSize() + _PREFIX, piece

        result = await self._call(
            "FileUpload",
            key,
            packets(),
            lambda data, full: self._core.ingest_file(metadata, data, key=key, storage_full=full),
        )
        return FileUploadResponse(file_id=result.file_id, binary_data_id=result.binary_data_id)

    async def streaming_data_capture_upload(
        self, metadata: DataCaptureUploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> StreamingDataCaptureUploadResponse:
        async def packets() -> AsyncIterator[tuple[int, bytes]]:
            yield StreamingDataCaptureUploadRequest(metadata=metadata).ByteSize() + _PREFIX, b""
            async for piece in self._recut(chunks):
                size = StreamingDataCaptureUploadRequest(data=piece).ByteSize()
                yield size + _PREFIX, piece

        result = await self._call(
            "StreamingDataCaptureUpload",
            key,
            packets(),
            lambda data, full: self._core.ingest_streaming(
                metadata, data, key=key, storage_full=full
            ),
        )
        return StreamingDataCaptureUploadResponse(
            file_id=result.file_id, binary_data_id=result.binary_data_id
        )

    async def create_sequence(
        self, request: CreateSequenceRequest, *, key: str
    ) -> CreateSequenceResponse:
        async def packets() -> AsyncIterator[tuple[int, bytes]]:
            yield request.ByteSize() + _PREFIX, b""

        result = await self._call(
            "CreateSequence",
            key,
            packets(),
            lambda _data, full: self._core.create_sequence(request, key=key, storage_full=full),
        )
        return CreateSequenceResponse(id=result.file_id)

    async def close(self) -> None:
        """Nothing to release: the link and the core belong to the caller."""

    # records
    def attempts(self) -> tuple[UploadAttempt, ...]:
        """The latest ``keep_attempts`` attempts, oldest first."""
        return tuple(self._attempts)

    def statistics(self) -> SimTransportStatistics:
        return SimTransportStatistics(
            **{f.name: self._tally[f.name] for f in dataclasses.fields(SimTransportStatistics)}
        )

    # one call
    async def _call(
        self,
        rpc: str,
        key: str,
        packets: AsyncIterator[tuple[int, bytes]],
        ingest: Callable[[bytes, bool], IngestResult],
    ) -> IngestResult:
        now = self._rt.monotonic()
        call = _Call(rpc, key, now, now + self._timeout)
        try:
            result = await self._carry(call, packets, ingest)
        except CloudError as error:
            outcome: ClientOutcome = "unknown" if error.code in _UNKNOWN_CODES else "fail"
            self._finish(call, outcome, error)
            raise
        except (TimeoutError, ConnectionError) as error:
            self._finish(call, "unknown", error)
            raise
        except (asyncio.CancelledError, ProcessKilled) as error:
            call.cloud = "cancelled" if call.action is not None and not call.landed else call.cloud
            self._finish(call, "unknown", error)
            raise
        self._finish(call, "ok", None)
        return result

    async def _carry(
        self,
        call: _Call,
        packets: AsyncIterator[tuple[int, bytes]],
        ingest: Callable[[bytes, bool], IngestResult],
    ) -> IngestResult:
        await self._send(call, self._overhead)
        if self._rt.monotonic() < self._cloud_down_until:
            raise ConnectionRefusedError("connection refused: the cloud is restarting")
        action = self.plan.decide(call.rpc, self._rt.monotonic(), key=call.key)
        call.action, call.cloud = action, "cancelled"
        armed = action.kind == "stall" or (action.kind == "restart" and not action.commit)
        received, data = 0, []
        async for size, payload in packets:
            rest = size
            if armed and received + size >= action.after_bytes:
                head = max(0, action.after_bytes - received)
                await self._send(call, head)
                received, rest, armed = received + head, size - head, False
                await self._byte_fault(call, action)
            await self._send(call, rest)
            received += rest
            data.append(payload)
        if armed:  # the request ended before the fault's byte: it fires at the end
            await self._byte_fault(call, action)
        if action.kind == "reject":
            call.cloud = f"error:{action.code}"
            await self._answer(call)
            raise CloudError(action.code, action.message)
        try:
            result = ingest(b"".join(data), action.kind == "storage_full")
        except CloudError as error:
            call.cloud = f"error:{error.code}"
            await self._answer(call)
            raise
        call.landed, call.cloud = True, "duplicate" if result.duplicate else "ok"
        self._landed.add(call.key)
        await self._acknowledge(call, action)
        return result

    async def _acknowledge(self, call: _Call, action: FaultAction) -> None:
        if action.kind == "slow_ack":
            await self._wait(call, action.seconds)
        elif action.kind == "drop_ack":
            call.cloud = "dropped"
            await self._answer(call)  # the RST_STREAM travels like an answer
            raise ConnectionResetError(f"call reset by the cloud ({action.message})")
        elif action.kind == "restart" and action.commit:
            self._crash(call, action)
        await self._answer(call)

    async def _byte_fault(self, call: _Call, action: FaultAction) -> None:
        if action.kind == "restart":
            self._crash(call, action)
        # stall: the cloud stops reading; 0 s = until the client gives up
        await self._wait(call, action.seconds if action.seconds > 0 else float("inf"))

    def _crash(self, call: _Call, action: FaultAction) -> NoReturn:
        self._cloud_down_until = self._rt.monotonic() + self._restart_downtime
        call.cloud = "crashed"
        raise _Crash(f"connection lost: the cloud restarted ({action.message})")

    async def _wait(self, call: _Call, seconds: float) -> None:
        """Wait ``seconds`` of the cloud's time, unless the client's deadline comes first."""
        now = self._rt.monotonic()
        if now + seconds > call.deadline:
            await self._rt.sleep_until(call.deadline)
            raise TimeoutError(f"no answer within {self._timeout:g}s")
        await self._rt.sleep(seconds)

    async def _send(self, call: _Call, nbytes: int) -> None:
        await self._link.transfer(nbytes, Direction.UPSTREAM, deadline=call.deadline)
        call.sent += nbytes

    async def _answer(self, call: _Call) -> None:
        await self._link.transfer(self._overhead, Direction.DOWNSTREAM, deadline=call.deadline)

    async def _recut(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            for start in range(0, len(chunk), self._chunk_size):
                yield chunk[start : start + self._chunk_size]

    def _finish(self, call: _Call, outcome: ClientOutcome, error: BaseException | None) -> None:
        now = self._rt.monotonic()
        action = call.action
        if action is not None:
            self.plan.finish(action, call.cloud, now, detail=repr(error) if error else "")
        fault_id = action.fault_id if action is not None and action.fault_id else None
        fault_id = fault_id or getattr(error, "fault_id", None) or None
        tally = self._tally
        attempt = UploadAttempt(
            index=tally["calls"],
            rpc=call.rpc,
            key=call.key,
            outcome=outcome,
            cloud=call.cloud,
            landed=call.landed or call.key in self._landed,
            fault_id=fault_id,
            error="" if error is None else f"{type(error).__name__}: {error}",
            started=call.started,
            finished=now,
            bytes_sent=call.sent,
        )
        self._attempts.append(attempt)
        tally["calls"] += 1
        tally["ok"] += outcome == "ok"
        tally["failed"] += outcome == "fail"
        tally["unknown"] += outcome == "unknown"
        tally["landed_unknown"] += outcome == "unknown" and attempt.landed
        tally["duplicates"] += attempt.cloud == "duplicate"
        tally["bytes_sent"] += attempt.bytes_sent
        self._trace.record(
            "net.transport.attempt",
            rpc=attempt.rpc,
            key=attempt.key,
            outcome=attempt.outcome,
            cloud=attempt.cloud,
            landed=attempt.landed,
            fault_id=attempt.fault_id,
            error=attempt.error,
            started=attempt.started,
            bytes=attempt.bytes_sent,
        )
