"""Upload one file, the way rdk does, plus idempotency keys (planning lives in ``_plan``).

- Tabular ``.capture``: ``DataCaptureUpload`` requests of at most ``max_request_bytes``, keys
  ``<digest>/<start>-<stop>``.
- Binary ``.capture``: per reading, a payload of at most 1,000,000 bytes by ``DataCaptureUpload``
  (one ``SensorData``), larger by ``StreamingDataCaptureUpload`` with 64 KiB chunks read from
  disk; the reading's identity field rides as an unknown field of ``sensor_metadata``.
- Sequence file (``<capture_dir>/sequences/*.seq``): one ``CreateSequence`` (rdk
  ``upload_sequence.go``), key ``<digest>/sequence``; a file that does not parse is terminal.
- Arbitrary file: ``FileUpload`` in 64 KiB chunks from offset 0 on every attempt (rdk
  DATA-3114), verified against the hashing pass while streaming. Readiness is checked again
  when a worker takes the file: one written to since the walk must have been quiet for
  ``file_last_modified_millis`` by then, or it is left for a later pass unsent.

Requests already acknowledged (``skip_keys``, from an earlier attempt of this engine) are not
sent again. The uploader never deletes or moves anything: it returns an :class:`UploadResult`
and the engine decides. Every RPC attempt is reported through ``on_attempt`` (the engine traces
``upload.attempt`` and counts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from google.protobuf.timestamp_pb2 import Timestamp
from viam.proto.app.data import CreateSequenceRequest, SequenceResourceFilter
from viam.proto.app.datasync import (
    DataCaptureMetadata,
    DataCaptureUploadMetadata,
    SensorData,
    SensorMetadata,
    UploadMetadata,
)

from dmsim.errors import InternalError, InvariantViolation, StorageError
from dmsim.runtime import Runtime
from dmsim.storage._codec import encode_uvarint
from dmsim.storage._fs import FileSystem
from dmsim.storage._identity import identity_field_bytes
from dmsim.storage._sequences import SequenceFile, parse_sequence_file
from dmsim.storage._varint import length_prefix

from ._chunks import ChunkSource, Verify, hash_file, read_range
from ._classify import FileChangedError, Outcome, classify_error
from ._plan import (
    MAX_UNARY_PAYLOAD_BYTES,
    ContentHasher,
    capture_key,
    capture_upload_metadata,
    field_size,
    file_key,
    file_upload_metadata,
    sequence_key,
)
from ._scan import BinaryReading, CaptureScan, TabularBatches, reading_bytes, scan_capture_file
from ._select import Candidate, FileKind, QuietClock
from ._transport import CloudTransport

__all__ = ["AttemptHook", "FileUploader", "UploadResult", "UploadStatus"]

RPC_UNARY = "DataCaptureUpload"
RPC_STREAMING = "StreamingDataCaptureUpload"
RPC_FILE = "FileUpload"
RPC_SEQUENCE = "CreateSequence"

_METADATA_CACHE_SIZE = 1024  # distinct collectors' headers; bounded, not a growing table
# (key, rpc, outcome, code, bytes): called once per RPC attempt, after it ends.
AttemptHook = Callable[[str, str, Outcome, str, int], None]


class UploadStatus(StrEnum):
    UPLOADED = "uploaded"  # every request acknowledged: delete the file
    HEADER_ONLY = "header_only"  # a capture file with no readings: nothing to send, delete
    TORN = "torn"  # readings before a torn tail acknowledged: quarantine with the reason
    DAMAGED = "damaged"  # readings before damage acknowledged: quarantine with ``damage``
    CHANGED = "changed"  # an arbitrary file changed after its upload: keep it, resend later
    NOT_READY = "not_ready"  # an arbitrary file written to since the walk: not sent, left
    FAILED = "failed"  # ``error`` says why; ``acked_keys`` need not be sent again


@dataclass(frozen=True, slots=True)
class UploadResult:
    status: UploadStatus
    acked_keys: frozenset[str]
    readings: int = 0
    payload_bytes: int = 0
    torn_tail_bytes: int = 0
    error: BaseException | None = None
    damage: str = ""


class FileUploader:
    """Uploads files through a :class:`CloudTransport`; stateless between files."""

    def __init__(
        self,
        *,
        rt: Runtime,
        fs: FileSystem,
        transport: CloudTransport,
        part_id: str,
        service_tags: Sequence[str],
        max_request_bytes: int,
        file_last_modified_millis: int,
        quiet_clock: QuietClock,
    ) -> None:
        self._rt = rt
        self._fs = fs
        self._transport = transport
        self._part_id = part_id
        self._tags = tuple(service_tags)
        self._cap = max_request_bytes
        self._quiet_ms = file_last_modified_millis
        self._quiet_clock = quiet_clock
        self._metadata_cache: dict[bytes, UploadMetadata] = {}

    async def upload(
        self, candidate: Candidate, *, skip_keys: frozenset[str], on_attempt: AttemptHook
    ) -> UploadResult:
        acked: set[str] = set(skip_keys)
        try:
            if candidate.kind is FileKind.ARBITRARY:
                return await self._arbitrary(candidate, acked, on_attempt)
            if candidate.kind is FileKind.SEQUENCE:
                return await self._sequence(candidate, acked, on_attempt)
            return await self._capture(candidate.path, acked, on_attempt)
        except (InternalError, InvariantViolation):
            raise  # a bug or a broken promise (e.g. from a trace listener) must surface
        except Exception as error:  # every other failure is classified by the engine
            return UploadResult(UploadStatus.FAILED, frozenset(acked), error=error)

    # capture files ---------------------------------------------------------------------------

    def _upload_metadata(self, metadata: DataCaptureMetadata) -> UploadMetadata:
        """Built once per distinct header (every file of a collector shares one); the cached
        message is only ever serialized or copied, never changed."""
        header = metadata.SerializeToString()
        cached = self._metadata_cache.get(header)
        if cached is None:
            if len(self._metadata_cache) >= _METADATA_CACHE_SIZE:
                self._metadata_cache.clear()
            cached = capture_upload_metadata(
                metadata, part_id=self._part_id, service_tags=self._tags
            )
            self._metadata_cache[header] = cached
        return cached

    def _overhead(self, metadata: DataCaptureMetadata) -> int:
        return field_size(self._upload_metadata(metadata).ByteSize())

    async def _capture(self, path: str, acked: set[str], on_attempt: AttemptHook) -> UploadResult:
        scan = await self._rt.run_blocking(self._scan, path)
        upload_md = self._upload_metadata(scan.metadata)
        payload = 0
        for index, reading in enumerate(scan.binary):
            key = capture_key(scan.digest, index, index + 1)
            if key not in acked:
                await self._binary(path, upload_md, reading, key, on_attempt)
                acked.add(key)
            payload += reading.payload.length
        if scan.request_ranges:
            payload += await self._tabular(path, scan, upload_md, acked, on_attempt)
        if scan.damage:
            status = UploadStatus.DAMAGED
        elif scan.torn_tail_bytes:
            status = UploadStatus.TORN
        else:
            status = UploadStatus.UPLOADED if scan.readings else UploadStatus.HEADER_ONLY
        return UploadResult(
            status,
            frozenset(acked),
            scan.readings,
            payload,
            torn_tail_bytes=scan.torn_tail_bytes,
            damage=scan.damage,
        )

    def _scan(self, path: str) -> CaptureScan:
        return scan_capture_file(
            self._fs, path, part_id=self._part_id, cap=self._cap, overhead_for=self._overhead
        )

    async def _tabular(
        self,
        path: str,
        scan: CaptureScan,
        upload_md: UploadMetadata,
        acked: set[str],
        on_attempt: AttemptHook,
    ) -> int:
        md_field = _field(1, upload_md.SerializeToString())
        cached = scan.tabular_cache is not None  # in memory: no trip to the I/O thread
        if cached:
            batches = TabularBatches(self._fs, path, scan.tabular_cache)
        else:
            batches = await self._rt.run_blocking(TabularBatches, self._fs, path, None)
        sent = 0
        try:
            for start, stop in scan.request_ranges:
                count = stop - start
                if cached:
                    readings = batches.take(count)
                else:
                    readings = await self._rt.run_blocking(batches.take, count)
                key = capture_key(scan.digest, start, stop)
                if key in acked:
                    continue
                body = md_field + _sensor_contents(readings)
                await self._call(
                    key,
                    RPC_UNARY,
                    len(body),
                    on_attempt,
                    self._transport.data_capture_upload(body, key=key),
                )
                acked.add(key)
                sent += len(body)
        finally:
            batches.close()
        return sent

    async def _binary(
        self,
        path: str,
        upload_md: UploadMetadata,
        reading: BinaryReading,
        key: str,
        on_attempt: AttemptHook,
    ) -> None:
        payload = reading.payload
        if payload.length <= MAX_UNARY_PAYLOAD_BYTES:
            data = await self._rt.run_blocking(
                read_range, self._fs, path, payload.offset, payload.length
            )
            full = SensorData()
            full.CopyFrom(reading.sensor_data)
            full.binary = data
            body = _field(1, upload_md.SerializeToString()) + _field(
                2, reading_bytes(full, reading.reading_id)
            )
            await self._call(
                key,
                RPC_UNARY,
                payload.length,
                on_attempt,
                self._transport.data_capture_upload(body, key=key),
            )
            return
        metadata = DataCaptureUploadMetadata(
            upload_metadata=upload_md, sensor_metadata=_sensor_metadata(reading)
        )
        chunks = ChunkSource(self._rt, self._fs, path, offset=payload.offset, length=payload.length)
        try:
            await self._call(
                key,
                RPC_STREAMING,
                payload.length,
                on_attempt,
                self._transport.streaming_data_capture_upload(metadata, chunks, key=key),
            )
        finally:
            chunks.close()

    # arbitrary files -------------------------------------------------------------------------

    async def _arbitrary(
        self, candidate: Candidate, acked: set[str], on_attempt: AttemptHook
    ) -> UploadResult:
        path = candidate.path
        before = await self._rt.run_blocking(self._fs.stat, path)
        changed = (before.size, before.mtime_ns) != (candidate.size, candidate.mtime_ns)
        if changed and not self._quiet_clock.ready(
            replace(candidate, size=before.size, mtime_ns=before.mtime_ns),
            file_last_modified_millis=self._quiet_ms,
        ):  # written to since the walk: a writer may still be at it
            return UploadResult(UploadStatus.NOT_READY, frozenset(acked))
        digest, size = await self._rt.run_blocking(hash_file, self._fs, path, self._part_id)
        if size == 0:
            raise FileChangedError(path)  # emptied since selection (rdk errFileEmpty: retry)
        key = file_key(digest, path, before.mtime_ns)
        if key not in acked:
            metadata = file_upload_metadata(
                path,
                root=candidate.root.path,
                part_id=self._part_id,
                service_tags=self._tags,
                mtime_ns=before.mtime_ns,
            )
            chunks = ChunkSource(self._rt, self._fs, path, verify=Verify(self._part_id, digest))
            try:
                await self._call(
                    key,
                    RPC_FILE,
                    size,
                    on_attempt,
                    self._transport.file_upload(metadata, chunks, key=key),
                )
            finally:
                chunks.close()
            acked.add(key)
        after = await self._rt.run_blocking(self._fs.stat, path)
        status = UploadStatus.UPLOADED if after == before else UploadStatus.CHANGED
        return UploadResult(status, frozenset(acked), 0, size)

    # sequence files --------------------------------------------------------------------------

    async def _sequence(
        self, candidate: Candidate, acked: set[str], on_attempt: AttemptHook
    ) -> UploadResult:
        path = candidate.path  # written whole by a rename: its size is final
        data = await self._rt.run_blocking(read_range, self._fs, path, 0, candidate.size)
        sequence = parse_sequence_file(data, path)  # a StorageError: terminal
        if sequence.end_ns is None:
            raise StorageError(f"{path}: a closed sequence file without an end_time")
        hasher = ContentHasher(self._part_id)
        hasher.update(data)
        key = sequence_key(hasher.hexdigest())
        if key not in acked:
            request = _sequence_request(sequence, self._part_id)
            await self._call(
                key,
                RPC_SEQUENCE,
                request.ByteSize(),
                on_attempt,
                self._transport.create_sequence(request, key=key),
            )
            acked.add(key)
        return UploadResult(UploadStatus.UPLOADED, frozenset(acked), 0, len(data))

    # one RPC ---------------------------------------------------------------------------------

    async def _call(
        self,
        key: str,
        rpc: str,
        nbytes: int,
        on_attempt: AttemptHook,
        call: Awaitable[object],
    ) -> None:
        try:
            await call
        except Exception as error:
            verdict = classify_error(error)
            on_attempt(key, rpc, verdict.outcome, verdict.code, nbytes)
            raise
        on_attempt(key, rpc, Outcome.OK, "OK", nbytes)


def _sequence_request(sequence: SequenceFile, part_id: str) -> CreateSequenceRequest:
    assert sequence.end_ns is not None
    start, end = Timestamp(), Timestamp()
    start.FromNanoseconds(sequence.start_ns)
    end.FromNanoseconds(sequence.end_ns)
    return CreateSequenceRequest(
        part_id=part_id,
        resources=[
            SequenceResourceFilter(resource_name=r, method_name=m) for r, m in sequence.resources
        ],
        sequence_tags=list(sequence.tags),
        start_time=start,
        end_time=end,
    )


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (field numbers < 16: a one-byte tag)."""
    return bytes(((number << 3) | 2,)) + encode_uvarint(len(payload)) + payload


_SENSOR_CONTENTS_TAG = bytes(((2 << 3) | 2,))


def _sensor_contents(readings: list[bytes]) -> bytes:
    """Serialized readings as ``DataCaptureUploadRequest.sensor_contents`` (field 2) on the
    wire, in one join: it runs on the event loop, ten thousand readings per request."""
    parts: list[bytes] = []
    for reading in readings:
        parts += (_SENSOR_CONTENTS_TAG, length_prefix(len(reading)), reading)
    return b"".join(parts)


def _sensor_metadata(reading: BinaryReading) -> SensorMetadata:
    """The reading's ``SensorMetadata``; a streamed payload has no ``SensorData`` around it, so
    dmsim's identity rides here as the same unknown field 71000 (Viam's parsers skip it)."""
    body = reading.sensor_data.metadata.SerializeToString()
    if reading.reading_id is not None:
        body += identity_field_bytes(reading.reading_id)
    metadata: SensorMetadata = SensorMetadata.FromString(body)
    return metadata
