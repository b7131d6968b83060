"""The pass over a capture file before anything is sent: hash, validate, plan.

Blocking (run it through ``Runtime.run_blocking``). It

- hashes the file up to its last whole record into the idempotency digest (one sequential
  read; bytes after it, a torn tail or garbage appended later, are not sent, and counting them
  would give a resend of the same readings new keys);
- reads it with the storage reader (:class:`~dmsim.storage._reader.CaptureReader`), which
  validates the header and every record and locates binary payloads by file offset without
  loading them; an unreadable header or a reading of the wrong kind raises
  :class:`~dmsim.errors.StorageError` (terminal), found *before* any request is sent;
- plans the tabular request split and, when the whole file fits in one request (the common
  case: 256 KiB files under a 1 MiB cap), keeps the serialized readings so the upload need not
  read the file a third time.

A torn tail (a last record running past the end of the file) is reported, not an error: the
readings before it are uploaded, then the engine quarantines the file with the reason. So is
damage after whole readings (garbage appended to a completed file, a length prefix damaged in
the middle): the readings before it are whole and valid and go to the cloud, the file goes to
``failed/`` with the damage's offset. A reading of the wrong kind for the file's header (and a
header that does not read) is different: the file is not what it says, and none of it is sent.

Fast path. Most files are small tabular files (256 KiB by default, often a few hundred bytes),
and the storage reader's field-by-field validation in Python costs ten times more than parsing
the same records with protobuf's C parser. A tabular file of at most 1 MiB is therefore read
once into memory, hashed there, and each record parsed by protobuf and checked against a
condition *stricter* than the reader's (exactly one struct, metadata with an in-range
``time_requested``, no unknown field but one canonically encoded identity at the end, and a
canonical encoding: deterministic re-serialization gives the very same bytes, which rules out
repeated or conflicting fields and map keys; dmsim's writer produces exactly that, files from
other writers simply take the reader). A file that passes is one the reader accepts with the
same readings; any other file, including every damaged one, goes through the reader, which
gives the precise verdict. So the fast path changes speed, never outcomes (a test checks both
paths agree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from viam.proto.app.datasync import DataCaptureMetadata, DataType, SensorData

from dmsim.errors import StorageError
from dmsim.storage._codec import (
    CaptureFormatError,
    MismatchedReadingError,
    decode_uvarint,
    serialize_deterministic,
)
from dmsim.storage._fs import FileSystem
from dmsim.storage._identity import (
    IDENTITY_FIELD_NUMBER,
    ReadingId,
    identity_field_bytes,
    identity_of,
)
from dmsim.storage._reader import CaptureReader, CaptureRecord, PayloadRange

from ._chunks import hash_file, read_range
from ._classify import FileChangedError
from ._plan import ContentHasher, RequestSplitter

FAST_PATH_MAX_BYTES = 1 << 20
_LEN_WIRE_TYPE = 2
_MIN_TS_SECONDS = -62_135_596_800  # protobuf Timestamp's range, as the reader checks
_MAX_TS_SECONDS = 253_402_300_799

__all__ = ["BinaryReading", "CaptureScan", "TabularBatches", "reading_bytes", "scan_capture_file"]


@dataclass(frozen=True, slots=True)
class BinaryReading:
    """A binary reading without its payload, which stays on disk at ``payload``."""

    sensor_data: SensorData
    reading_id: ReadingId | None
    payload: PayloadRange


@dataclass(frozen=True, slots=True)
class CaptureScan:
    metadata: DataCaptureMetadata
    digest: str
    size: int
    readings: int
    torn_tail_bytes: int
    request_ranges: tuple[tuple[int, int], ...]
    binary: tuple[BinaryReading, ...]
    tabular_cache: tuple[bytes, ...] | None
    damage: str = ""  # damage after the scanned readings ("" when none)


def reading_bytes(sensor_data: SensorData, reading_id: ReadingId | None) -> bytes:
    """A reading serialized for a request, with dmsim's identity as its unknown field."""
    body = serialize_deterministic(sensor_data)
    return body + identity_field_bytes(reading_id) if reading_id is not None else body


def scan_capture_file(
    fs: FileSystem,
    path: str,
    *,
    part_id: str,
    cap: int,
    overhead_for: Callable[[DataCaptureMetadata], int],
) -> CaptureScan:
    size = fs.stat(path).size
    if size <= FAST_PATH_MAX_BYTES:
        data = read_range(fs, path, 0, size)
        quick = _fast_scan(data, part_id, cap, overhead_for)
        if quick is not None:
            return quick
    return _reader_scan(fs, path, part_id=part_id, cap=cap, overhead_for=overhead_for)


def _reader_scan(
    fs: FileSystem,
    path: str,
    *,
    part_id: str,
    cap: int,
    overhead_for: Callable[[DataCaptureMetadata], int],
) -> CaptureScan:
    with CaptureReader(fs, path) as reader:
        metadata = reader.metadata
        splitter = RequestSplitter(cap=cap, overhead=overhead_for(metadata))
        tabular = metadata.type == DataType.DATA_TYPE_TABULAR_SENSOR
        cache: list[bytes] | None = [] if tabular else None
        binary: list[BinaryReading] = []
        damage = ""
        try:
            for record in reader.records():
                if record.payload is not None:
                    binary.append(
                        BinaryReading(record.sensor_data, record.reading_id, record.payload)
                    )
                    continue
                body = reading_bytes(record.sensor_data, record.reading_id)
                if splitter.add(len(body)) and record.index > 0:
                    cache = None  # more than one request: too big to keep in memory
                if cache is not None:
                    cache.append(body)
        except MismatchedReadingError:
            raise
        except CaptureFormatError as error:
            damage = str(error)
        # The key names what is sent: bytes past the last whole record (a torn tail, garbage
        # appended later) would give the same readings new keys on a resend.
        digest, _ = hash_file(fs, path, part_id, length=reader.valid_end)
        return CaptureScan(
            metadata=metadata,
            digest=digest,
            size=reader.size,
            readings=reader.readings,
            torn_tail_bytes=reader.torn_tail_bytes,
            request_ranges=tuple(splitter.ranges) if tabular else (),
            binary=tuple(binary),
            tabular_cache=tuple(cache) if cache else None,
            damage=damage,
        )


def _fast_scan(
    data: bytes, part_id: str, cap: int, overhead_for: Callable[[DataCaptureMetadata], int]
) -> CaptureScan | None:
    """The scan of a simple, well-formed tabular file; ``None`` means "ask the reader"."""
    try:
        length, pos = decode_uvarint(data, 0)
        if not 0 < length <= len(data) - pos:
            return None
        metadata = DataCaptureMetadata.FromString(data[pos : pos + length])
        pos += length
        if metadata.type != DataType.DATA_TYPE_TABULAR_SENSOR:
            return None
        splitter = RequestSplitter(cap=cap, overhead=overhead_for(metadata))
        bodies: list[bytes] = []
        while pos < len(data):
            length, pos = decode_uvarint(data, pos)
            if not 0 < length <= len(data) - pos:
                return None
            body = data[pos : pos + length]
            pos += length
            if not _plainly_valid(body):
                return None
            splitter.add(length)
            bodies.append(body)
    except (CaptureFormatError, DecodeError, StorageError):
        return None
    hasher = ContentHasher(part_id)
    hasher.update(data)
    return CaptureScan(
        metadata=metadata,
        digest=hasher.hexdigest(),
        size=len(data),
        readings=len(bodies),
        torn_tail_bytes=0,
        request_ranges=tuple(splitter.ranges),
        binary=(),
        tabular_cache=tuple(bodies) if bodies else None,
    )


def _plainly_valid(body: bytes) -> bool:
    reading = SensorData.FromString(body)
    if reading.WhichOneof("data") != "struct" or not reading.HasField("metadata"):
        return False
    meta = reading.metadata
    if not meta.HasField("time_requested") or not _in_range(meta.time_requested):
        return False
    if meta.HasField("time_received") and not _in_range(meta.time_received):
        return False
    unknown = [(f.field_number, f.wire_type) for f in UnknownFieldSet(reading)]
    if unknown not in ([], [(IDENTITY_FIELD_NUMBER, _LEN_WIRE_TYPE)]):
        return False
    if unknown:
        identity = identity_of(reading)  # raises StorageError when malformed
        # Canonical and last, as dmsim writes it (the reader re-encodes identities).
        if identity is None or not body.endswith(identity_field_bytes(identity)):
            return False
    # Byte for byte what protobuf writes (maps sorted, as dmsim's writer does): no repeated,
    # conflicting or non-canonical fields. Files from other writers take the reader.
    return serialize_deterministic(reading) == body


def _in_range(ts: timestamp_pb2.Timestamp) -> bool:
    nanos, seconds = int(ts.nanos), int(ts.seconds)
    return 0 <= nanos < 1_000_000_000 and _MIN_TS_SECONDS <= seconds <= _MAX_TS_SECONDS


class TabularBatches:
    """The serialized readings of a tabular file, one request's worth at a time: from the
    scan's cache, or from a second reader pass (blocking; call ``take`` via ``run_blocking``)."""

    def __init__(self, fs: FileSystem, path: str, cache: tuple[bytes, ...] | None) -> None:
        self._path = path
        self._cache = cache
        self._next = 0
        self._reader = CaptureReader(fs, path) if cache is None else None
        self._records: Iterator[CaptureRecord] | None = (
            self._reader.records() if self._reader is not None else None
        )

    def take(self, count: int) -> list[bytes]:
        if self._cache is not None:
            out = list(self._cache[self._next : self._next + count])
            self._next += count
        else:
            assert self._records is not None
            out = [
                reading_bytes(r.sensor_data, r.reading_id)
                for _, r in zip(range(count), self._records, strict=False)
            ]
        if len(out) != count:
            raise FileChangedError(self._path)  # fewer readings than the scan counted
        return out

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
