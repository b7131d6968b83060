"""Test doubles for the sync tests: a scripted in-process cloud transport over the real
``CloudCore``, capture-file builders, and a simulated world (SimKernel + SimFS)."""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from viam.proto.app.data import CreateSequenceRequest, CreateSequenceResponse
from viam.proto.app.datasync import (
    DataCaptureMetadata,
    DataCaptureUploadMetadata,
    DataCaptureUploadResponse,
    DataType,
    FileUploadResponse,
    SensorData,
    StreamingDataCaptureUploadResponse,
    UploadMetadata,
)

from dmsim.cloud import CloudCore
from dmsim.errors import CloudError
from dmsim.runtime import RngTree, Runtime, SimKernel, SimRuntime, Trace
from dmsim.storage._codec import (
    binary_reading,
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    tabular_reading,
)
from dmsim.storage._fs import FileSystem
from dmsim.storage._identity import ReadingId
from dmsim.storage._simfs import SimFS
from dmsim.sync import (
    DataCaptureRequest,
    InUseTracker,
    SyncEngine,
    SyncSettings,
    request_message,
)

EPOCH_NS = 1_700_000_000 * 10**9
CAPTURE_DIR = "/data/capture"

# What the scripted transport does with one call.
OK = "ok"
DROP_ACK = "drop_ack"  # commit, then the client sees a timeout (unknown outcome)
LINK_DOWN = "link_down"  # ConnectionError before anything was sent
CRASH_BEFORE = "crash_before"  # the robot's process dies before the request leaves
CRASH_AFTER = "crash_after"  # the process dies right after the cloud committed


@dataclass
class Call:
    rpc: str
    key: str
    action: str
    nbytes: int


@dataclass
class ScriptedTransport:
    """``CloudTransport`` straight into a ``CloudCore``; ``script(rpc, key)`` picks an action:
    ``OK``, ``DROP_ACK``, ``LINK_DOWN``, or a gRPC status name to reject with. A call takes
    ``latency`` seconds, or ``delays[action]`` when its action has one."""

    rt: Runtime
    core: CloudCore
    script: Callable[[str, str], str] = lambda rpc, key: OK
    latency: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    async def _enter(self, rpc: str, key: str, nbytes: int) -> str:
        action = self.script(rpc, key)
        self.calls.append(Call(rpc, key, action, nbytes))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            delay = self.delays.get(action, self.latency)
            if delay:
                await self.rt.sleep(delay)
        finally:
            self.active -= 1
        if action == LINK_DOWN:
            raise ConnectionError("link down")
        if action == CRASH_BEFORE:
            await self._die()
        if action not in (OK, DROP_ACK, CRASH_AFTER):
            raise CloudError(action, "scripted rejection")
        return action

    async def _die(self) -> None:
        assert isinstance(self.rt, SimRuntime)
        self.rt.kill()
        await self.rt.sleep(0)  # raises ProcessKilled: this task is part of the dead process

    async def _after(self, action: str) -> None:
        if action == DROP_ACK:
            raise TimeoutError("acknowledgement lost")
        if action == CRASH_AFTER:
            await self._die()

    async def data_capture_upload(
        self, request: DataCaptureRequest, *, key: str
    ) -> DataCaptureUploadResponse:
        request = request_message(request)
        action = await self._enter("DataCaptureUpload", key, request.ByteSize())
        result = self.core.ingest_data_capture(request, key=key)
        await self._after(action)
        return DataCaptureUploadResponse(file_id=result.file_id)

    async def file_upload(
        self, metadata: UploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> FileUploadResponse:
        data = b"".join([chunk async for chunk in chunks])
        action = await self._enter("FileUpload", key, len(data))
        result = self.core.ingest_file(metadata, data, key=key)
        await self._after(action)
        return FileUploadResponse(binary_data_id=result.binary_data_id)

    async def streaming_data_capture_upload(
        self, metadata: DataCaptureUploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> StreamingDataCaptureUploadResponse:
        data = b"".join([chunk async for chunk in chunks])
        action = await self._enter("StreamingDataCaptureUpload", key, len(data))
        result = self.core.ingest_streaming(metadata, data, key=key)
        await self._after(action)
        return StreamingDataCaptureUploadResponse(binary_data_id=result.binary_data_id)

    async def create_sequence(
        self, request: CreateSequenceRequest, *, key: str
    ) -> CreateSequenceResponse:
        action = await self._enter("CreateSequence", key, request.ByteSize())
        result = self.core.create_sequence(request, key=key)
        await self._after(action)
        return CreateSequenceResponse(id=result.file_id)

    async def close(self) -> None:
        return None


def tabular_metadata(name: str = "sensor-1", tags: tuple[str, ...] = ()) -> DataCaptureMetadata:
    return build_metadata(
        component_type="rdk:component:sensor",
        component_name=name,
        method_name="Readings",
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        tags=tags,
        file_extension=".dat",
    )


def binary_metadata(name: str = "camera-1") -> DataCaptureMetadata:
    return build_metadata(
        component_type="rdk:component:camera",
        component_name=name,
        method_name="ReadImage",
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        mime_type="image/jpeg",
    )


def tabular_readings(stream: str, count: int, *, start: int = 0, pad: int = 0) -> list[bytes]:
    """Framed tabular records with identities ``(stream, 1, start..start+count-1)``."""
    out = []
    for seq in range(start, start + count):
        reading = tabular_reading(
            {"seq": seq, "pad": "x" * pad},
            time_requested_ns=EPOCH_NS + seq,
            time_received_ns=EPOCH_NS + seq + 1,
        )
        out.append(encode_sensor_data(reading, ReadingId(stream, 1, seq)))
    return out


def binary_record(stream: str, seq: int, payload: bytes) -> bytes:
    reading = binary_reading(
        payload, time_requested_ns=EPOCH_NS + seq, time_received_ns=EPOCH_NS + seq + 1
    )
    return encode_sensor_data(reading, ReadingId(stream, 1, seq))


def write_file(fs: FileSystem, path: str, data: bytes) -> None:
    fs.makedirs(posixpath.dirname(path))
    handle = fs.open_append(path)
    handle.write(data)
    handle.fsync()
    handle.close()
    fs.fsync_dir(posixpath.dirname(path))


def write_capture(
    fs: FileSystem, path: str, metadata: DataCaptureMetadata, records: list[bytes]
) -> bytes:
    data = encode_metadata(metadata) + b"".join(records)
    write_file(fs, path, data)
    return data


def capture_path(index: int, name: str = "sensor-1", method: str = "Readings") -> str:
    return f"{CAPTURE_DIR}/rdk_component_sensor/{name}/{method}/{index:08d}.capture"


def stored_identities(core: CloudCore) -> list[tuple[str, int, int]]:
    """Every reading identity the cloud stored (duplicates show up twice)."""
    return sorted(
        (item.reading_stream, item.reading_boot or 0, item.reading_seq or 0)
        for item in core.query()
        if item.reading_stream is not None
    )


@dataclass
class World:
    """A simulated robot: kernel, process, SimFS, trace, cloud core and scripted transport."""

    seed: int = 1
    kernel: SimKernel = field(init=False)
    rt: SimRuntime = field(init=False)
    fs: SimFS = field(init=False)
    trace: Trace = field(init=False)
    core: CloudCore = field(init=False)
    transport: ScriptedTransport = field(init=False)
    tracker: InUseTracker = field(default_factory=InUseTracker)
    online: bool = True
    flushes: int = 0

    def __post_init__(self) -> None:
        self.kernel = SimKernel(epoch_ns=EPOCH_NS)
        self.rt = self.kernel.process("robot")
        self.trace = Trace(self.kernel.now)
        self.fs = SimFS(
            capacity_bytes=1 << 32,
            rng=RngTree(self.seed).child("fs"),
            wall_clock=self.kernel.wall_ns,
        )
        self.core = CloudCore(clock=lambda: self.kernel.wall_ns() / 1e9)
        self.transport = ScriptedTransport(self.rt, self.core)

    async def flush(self) -> None:
        self.flushes += 1

    def settings(self, **overrides: Any) -> SyncSettings:
        values: dict[str, Any] = {"capture_dir": CAPTURE_DIR, "part_id": "part-1"}
        values.update(overrides)
        return SyncSettings(**values)

    def engine(self, settings: SyncSettings | None = None, **kwargs: Any) -> SyncEngine:
        kwargs.setdefault("fs", self.fs)
        return SyncEngine(
            rt=self.rt,
            transport=self.transport,
            settings=settings or self.settings(),
            rng=RngTree(self.seed),
            trace=self.trace,
            tracker=self.tracker,
            flush_capture=self.flush,
            is_online=lambda: self.online,
            **kwargs,
        )

    def files(self, root: str = CAPTURE_DIR) -> list[str]:
        if not self.fs.is_dir(root):
            return []
        return [posixpath.join(d, n) for d, _dirs, names in self.fs.walk(root) for n in names]

    def run(self, coro: Any) -> Any:
        return self.kernel.run_main(coro)


def parse_request(data: bytes) -> SensorData:
    return SensorData.FromString(data)


class SteppingClock:
    """A runtime's clocks: monotonic seconds, a wall clock that may be set (stepped) or
    slewed, and the count of sets a kernel reports."""

    def __init__(self) -> None:
        self.mono = 100.0
        self.offset_ns = EPOCH_NS
        self.sets = 0

    def monotonic(self) -> float:
        return self.mono

    def monotonic_clock_id(self) -> str:
        return "stepping"

    def wall_ns(self) -> int:
        return self.offset_ns + round(self.mono * 1e9)

    def wall_clock_sets(self) -> int:
        return self.sets

    def step(self, seconds: float) -> None:
        self.offset_ns += int(seconds * 1e9)
        self.sets += 1

    def set_wall(self, wall_ns: int) -> None:
        self.offset_ns = wall_ns - round(self.mono * 1e9)
        self.sets += 1
