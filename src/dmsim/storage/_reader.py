"""Streaming reader for capture files.

:class:`CaptureReader` reads the header at open, then yields one :class:`CaptureRecord` per
``SensorData`` without ever holding a binary payload: each record is scanned field by field
(as rdk's ``BinaryPayloadReader`` does) and the payload is kept as a file range, read later in
chunks (:meth:`CaptureReader.payload_chunks`, e.g. 64 KiB upload chunks).

The format has no checksum, so every record is validated as far as the format allows:

- a crash only cuts a file short, so a **torn tail** is the start of one record: a length
  prefix the file ends inside, or a record running past the end of the file whose bytes read
  as the start of that record (known fields, each inside the declared length, at most one
  data field, the file ending inside the last); zeros from where a record or a field header
  should start count too (a crash that extended the file but not its data). It is reported in
  :attr:`CaptureReader.torn_tail_bytes`, never silently dropped (rdk drops it, DATA-3068);
- a record running past the end of the file over bytes that are *not* one record cut short
  (typically the next record's length prefix, read as a field tag) has a damaged length, and
  raises :class:`CaptureFormatError` at that record: a bit flip there must not turn every
  reading after it into a dropped "tail";
- anything else wrong raises :class:`CaptureFormatError` naming the file and byte offset: a
  varint over 10 bytes, a field other than ``metadata`` (1), ``struct`` (2), ``binary`` (3) or
  the identity (71000), a field with the wrong wire type or running past its record, a record
  with both or neither of struct and binary, or of the kind the header does not declare, a
  reading without ``time_requested``, an out-of-range timestamp, a body protobuf rejects.

Rejecting unknown fields is deliberate: random bytes usually parse as "unknown fields", so
accepting them would let garbage read as readings. A future Viam field in ``SensorData`` would
need adding to ``_KNOWN_FIELDS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError
from viam.proto.app.datasync import DataCaptureMetadata, DataType, SensorData

from dmsim.errors import StorageError

from ._codec import (
    MAX_VARINT_BYTES,
    CaptureFormatError,
    MismatchedReadingError,
    NoMetadataError,
    decode_uvarint,
)
from ._creation import CreationStamp, creation_of
from ._fs import FileSystem, ReadHandle
from ._identity import IDENTITY_FIELD_NUMBER, ReadingId, identity_field_bytes, parse_identity

__all__ = [
    "CaptureFileContents",
    "CaptureReader",
    "CaptureRecord",
    "PayloadRange",
    "read_capture_file",
]

MAX_HEADER_BYTES = 1 << 20
MAX_SENSOR_METADATA_BYTES = 1 << 20  # rdk's ErrSensorMetadataTooLarge bound
DEFAULT_CHUNK = 64 * 1024

_METADATA, _STRUCT, _BINARY = 1, 2, 3
_KNOWN_FIELDS = frozenset({_METADATA, _STRUCT, _BINARY, IDENTITY_FIELD_NUMBER})
_LEN = 2
_FILE_ENDS = "the file ends inside the field"
# A record up to this size (every tabular reading, small images) is read at once and its
# fields found in memory, five times cheaper than field by field through the source; the
# field-by-field scan still names any anomaly, and streams larger payloads.
_IN_MEMORY_RECORD = 64 * 1024
_CAPTURE_TYPES = (DataType.DATA_TYPE_BINARY_SENSOR, DataType.DATA_TYPE_TABULAR_SENSOR)
_MIN_TS_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, protobuf Timestamp's range
_MAX_TS_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass(frozen=True, slots=True)
class PayloadRange:
    """Where a binary payload's bytes are in the file."""

    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """One reading: ``sensor_data`` has metadata and struct, never the binary payload."""

    index: int
    offset: int
    size: int
    sensor_data: SensorData
    payload: PayloadRange | None
    reading_id: ReadingId | None

    @property
    def is_binary(self) -> bool:
        return self.payload is not None

    @property
    def time_requested_ns(self) -> int:
        return int(self.sensor_data.metadata.time_requested.ToNanoseconds())


@dataclass(slots=True)
class _Fields:
    """The raw fields of one record as the scan finds them."""

    metadata: list[bytes] = field(default_factory=list)
    identity: list[bytes] = field(default_factory=list)
    struct: bytes | None = None
    payload: PayloadRange | None = None

    @property
    def has_data(self) -> bool:
        return self.struct is not None or self.payload is not None


class _Source:
    """Forward reads over a :class:`ReadHandle` with a buffer and absolute offsets."""

    __slots__ = ("_buf", "_buf_offset", "_chunk", "_handle", "_i", "size")

    def __init__(self, handle: ReadHandle, size: int, chunk: int) -> None:
        self._handle = handle
        self.size = size
        self._chunk = chunk
        self._buf = b""
        self._buf_offset = 0
        self._i = 0

    @property
    def pos(self) -> int:
        return self._buf_offset + self._i

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available at the cursor; False if the file ends first."""
        avail = len(self._buf) - self._i
        if avail >= need:
            return True
        parts = [self._buf[self._i :]]
        start = self.pos
        while avail < need:
            data = self._handle.read(max(need - avail, self._chunk))
            if not data:
                break
            parts.append(data)
            avail += len(data)
        self._buf, self._buf_offset, self._i = b"".join(parts), start, 0
        return avail >= need

    def read_exact(self, n: int) -> bytes | None:
        if not self._fill(n):
            return None
        data = self._buf[self._i : self._i + n]
        self._i += n
        return data

    def read_varint(self) -> int | None:
        """A varint at the cursor; ``None`` if the file ends inside it."""
        start = self.pos
        self._fill(MAX_VARINT_BYTES)
        buf, i = self._buf, self._i
        result = shift = 0
        for count in range(MAX_VARINT_BYTES):
            if i + count >= len(buf):
                return None
            byte = buf[i + count]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                self._i = i + count + 1
                if result >= 1 << 64:
                    break
                return result
            shift += 7
        raise CaptureFormatError(None, start, "varint longer than 10 bytes")

    def seek(self, offset: int) -> None:
        if self._buf_offset <= offset <= self._buf_offset + len(self._buf):
            self._i = offset - self._buf_offset
            return
        self._handle.seek(offset)
        self._buf, self._buf_offset, self._i = b"", offset, 0

    def rest_is_zero(self) -> bool:
        """Whether every byte from the cursor to the end of the file is zero (consumes it)."""
        while self._fill(1):
            chunk = self._buf[self._i :]
            if chunk.count(0) != len(chunk):
                return False
            self._i = len(self._buf)
        return True


def _well_formed_fields(body: bytes, base: int) -> _Fields | None:
    """The fields of the record ``body`` (at file offset ``base``) if nothing in it is wrong,
    else ``None``."""
    fields = _Fields()
    i, end = 0, len(body)
    try:
        while i < end:
            tag = body[i]
            if tag < 0x80:  # fields 1-3: a one-byte tag
                i += 1
            else:
                tag, i = decode_uvarint(body, i)
            number = tag >> 3
            if tag & 7 != _LEN or number not in _KNOWN_FIELDS or i >= end:
                return None
            size = body[i]
            if size < 0x80:
                i += 1
            else:
                size, i = decode_uvarint(body, i)
            stop = i + size
            if stop > end:
                return None
            if number == _METADATA:  # under MAX_SENSOR_METADATA_BYTES: the record is smaller
                fields.metadata.append(body[i:stop])
            elif number == IDENTITY_FIELD_NUMBER:
                fields.identity.append(body[i:stop])
            elif fields.struct is not None or fields.payload is not None:
                return None  # a second data field
            elif number == _STRUCT:
                fields.struct = body[i:stop]
            else:
                fields.payload = PayloadRange(base + i, size)
            i = stop
    except CaptureFormatError:  # a varint cut short, too long or over 64 bits
        return None
    return fields


def _check_timestamp(ts: timestamp_pb2.Timestamp) -> str | None:
    if not 0 <= ts.nanos < 1_000_000_000:
        return f"timestamp nanos {ts.nanos} out of range"
    if not _MIN_TS_SECONDS <= ts.seconds <= _MAX_TS_SECONDS:
        return f"timestamp seconds {ts.seconds} out of range"
    return None


class CaptureReader:
    """One capture file, opened for a single streaming pass over its readings."""

    def __init__(self, fs: FileSystem, path: str, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.path = path
        self._fs = fs
        self._payload_handle: ReadHandle | None = None
        self._torn = 0
        self._valid_end = 0
        self._count = 0
        self._started = False
        self._finished = False
        try:
            self.size = fs.stat(path).size
            handle = fs.open_read(path)
        except OSError as error:
            raise StorageError(f"{path}: cannot open: {error.strerror or error}") from error
        self._src = _Source(handle, self.size, chunk_size)
        self._handle = handle
        try:
            self.metadata = self._read_header()
        except BaseException:
            handle.close()
            raise
        self._valid_end = self.header_size = self._src.pos

    # -- header -------------------------------------------------------------------------

    def _no_metadata(self, offset: int, what: str, *, empty: bool = False) -> NoMetadataError:
        return NoMetadataError(self.path, offset, what, empty=empty)

    def _read_header(self) -> DataCaptureMetadata:
        src = self._src
        if self.size == 0:
            raise self._no_metadata(0, "empty file: no DataCaptureMetadata", empty=True)
        try:
            length = src.read_varint()
        except CaptureFormatError:
            raise self._no_metadata(0, "header length is not a varint") from None
        if length is None:
            raise self._no_metadata(0, "file ends inside the header length (torn header)")
        if length == 0:
            if src.rest_is_zero():
                raise self._no_metadata(0, "file holds only zero bytes", empty=True)
            raise self._no_metadata(0, "zero-length DataCaptureMetadata")
        if length > MAX_HEADER_BYTES:
            raise self._no_metadata(0, f"header length {length} over {MAX_HEADER_BYTES}")
        body = src.read_exact(length)
        if body is None:
            raise self._no_metadata(0, f"torn header: {length} bytes declared, file ends first")
        metadata = DataCaptureMetadata()
        try:
            metadata.ParseFromString(body)
        except DecodeError as error:
            raise self._no_metadata(0, f"DataCaptureMetadata does not parse: {error}") from None
        if metadata.type not in _CAPTURE_TYPES:
            raise self._no_metadata(0, f"header data type {metadata.type} is not tabular/binary")
        return metadata

    @property
    def creation(self) -> CreationStamp | None:
        """When dmsim began the file, on which monotonic clock (``None``: rdk's file); raises
        :class:`CaptureFormatError` for a damaged stamp, which leaves the readings readable."""
        try:
            return creation_of(self.metadata)
        except CaptureFormatError as error:
            raise CaptureFormatError(self.path, error.offset, error.what) from None

    # -- records ------------------------------------------------------------------------

    @property
    def torn_tail_bytes(self) -> int:
        """Bytes after the last complete record that form no record (final after a pass)."""
        return self._torn

    @property
    def valid_end(self) -> int:
        """Offset just past the last complete record read so far."""
        return self._valid_end

    @property
    def readings(self) -> int:
        return self._count

    @property
    def finished(self) -> bool:
        """True once :meth:`records` reached the end of the file (or its torn tail)."""
        return self._finished

    def records(self) -> Iterator[CaptureRecord]:
        """Yield every complete record; raise :class:`CaptureFormatError` at damage."""
        if self._started:
            raise StorageError(f"{self.path}: records() is a single pass")
        self._started = True
        while True:
            record = self._next_record()
            if record is None:
                self._finished = True
                return
            self._count += 1
            self._valid_end = record.offset + record.size
            yield record

    def _corrupt(self, offset: int, what: str) -> CaptureFormatError:
        return CaptureFormatError(self.path, offset, what)

    def _torn_from(self, start: int) -> None:
        self._torn = self.size - start

    def _next_record(self) -> CaptureRecord | None:
        src = self._src
        start = src.pos
        if start >= self.size:
            return None
        try:
            length = src.read_varint()
        except CaptureFormatError:
            raise self._corrupt(start, "record length is not a varint") from None
        if length is None:
            self._torn_from(start)
            return None
        if src.pos + length > self.size:
            if (damage := self._not_cut_short(src.pos + length)) is not None:
                at, what = damage
                raise self._corrupt(
                    start,
                    f"record length {length} runs past the end of the file, but the "
                    f"{self.size - start} bytes from here are not one record cut short "
                    f"({what} at byte {at}): the length is damaged",
                )
            self._torn_from(start)
            return None
        if length == 0:
            if src.rest_is_zero():
                self._torn_from(start)
                return None
            raise self._corrupt(start, "zero-length record")
        end = src.pos + length
        return self._scan_record(start, end)

    def _not_cut_short(self, end: int) -> tuple[int, str] | None:
        """Why the bytes from the cursor to the end of the file cannot be the start of one
        record ending at ``end`` (past the end of the file), as byte offset and what; ``None``
        if they can. Reads field headers only, skipping bodies (payloads may be large)."""
        src = self._src
        has_data = False
        while src.pos < self.size:
            field_at = src.pos
            number, problem = self._skip_field(end, has_data=has_data)
            if problem == _FILE_ENDS:
                return None
            if problem is not None:
                # A crash that grew the file without writing its data leaves zeros, which may
                # have ended this header's varint early: zeros from its last byte on are a tear.
                read_to = src.pos
                if read_to > field_at:
                    src.seek(read_to - 1)
                    if src.rest_is_zero():
                        return None
                return field_at, problem
            has_data = has_data or number in (_STRUCT, _BINARY)
        return None

    def _skip_field(self, end: int, *, has_data: bool) -> tuple[int, str | None]:
        """Check the field header at the cursor and skip its body: its number, and what is wrong
        (:data:`_FILE_ENDS` if the file ends inside it) or ``None``."""
        src = self._src
        try:
            tag = src.read_varint()
        except CaptureFormatError:
            return 0, "field tag is not a varint"
        if tag is None:
            return 0, _FILE_ENDS
        number, wire_type = tag >> 3, tag & 7
        if number not in _KNOWN_FIELDS or wire_type != _LEN:
            return number, f"unexpected field {number} (wire type {wire_type})"
        try:
            length = src.read_varint()
        except CaptureFormatError:
            return number, f"field {number} length is not a varint"
        if length is None:
            return number, _FILE_ENDS
        if src.pos + length > end:
            return number, f"field {number} runs past the end of its record"
        if number in (_STRUCT, _BINARY) and has_data:
            return number, "record has more than one data field"
        if number == _METADATA and length > MAX_SENSOR_METADATA_BYTES:
            return number, f"SensorMetadata of {length} bytes over limit"
        if src.pos + length >= self.size:
            return number, _FILE_ENDS
        src.seek(src.pos + length)
        return number, None

    def _scan_record(self, start: int, end: int) -> CaptureRecord:
        src = self._src
        body_at = src.pos
        if end - body_at <= _IN_MEMORY_RECORD:
            body = src.read_exact(end - body_at)
            in_memory = None if body is None else _well_formed_fields(body, body_at)
            if in_memory is not None:
                return self._build(start, end, in_memory)
            src.seek(body_at)  # something is wrong: the scan below says what and where
        fields = _Fields()
        while src.pos < end:
            field_at = src.pos
            try:
                tag = src.read_varint()
            except CaptureFormatError:
                raise self._corrupt(field_at, "field tag is not a varint") from None
            number, wire_type = (tag >> 3, tag & 7) if tag is not None else (0, 0)
            if src.pos > end:
                raise self._corrupt(field_at, "field tag runs past the end of its record")
            if number not in _KNOWN_FIELDS:
                raise self._corrupt(field_at, f"unexpected field {number} (wire type {wire_type})")
            if wire_type != _LEN:
                raise self._corrupt(field_at, f"field {number} has wire type {wire_type}, not 2")
            try:
                length = src.read_varint()
            except CaptureFormatError:
                length = None
            if length is None or src.pos + length > end:
                raise self._corrupt(field_at, f"field {number} runs past the end of its record")
            if number in (_STRUCT, _BINARY) and fields.has_data:
                raise self._corrupt(field_at, "record has more than one data field")
            if number == _BINARY:
                fields.payload = PayloadRange(src.pos, length)
                src.seek(src.pos + length)
                continue
            if number == _METADATA and length > MAX_SENSOR_METADATA_BYTES:
                raise self._corrupt(field_at, f"SensorMetadata of {length} bytes over limit")
            data = src.read_exact(length)
            if data is None:
                raise self._corrupt(field_at, f"file ends inside field {number}")
            if number == _METADATA:
                fields.metadata.append(data)
            elif number == IDENTITY_FIELD_NUMBER:
                fields.identity.append(data)
            else:
                fields.struct = data
        return self._build(start, end, fields)

    def _build(self, start: int, end: int, fields: _Fields) -> CaptureRecord:
        reading = SensorData()
        try:
            if fields.metadata:
                reading.metadata.SetInParent()
                reading.metadata.MergeFromString(b"".join(fields.metadata))
            if fields.struct is not None:
                reading.struct.SetInParent()
                reading.struct.MergeFromString(fields.struct)
            reading_id = parse_identity(fields.identity) if fields.identity else None
        except (DecodeError, StorageError) as error:
            raise self._corrupt(start, f"reading does not parse: {error}") from None
        problem = self._validate(reading, fields)
        if problem:
            raise self._corrupt(start, problem)
        mismatch = self._kind_mismatch(fields)
        if mismatch:
            raise MismatchedReadingError(self.path, start, mismatch)
        return CaptureRecord(self._count, start, end - start, reading, fields.payload, reading_id)

    def _validate(self, reading: SensorData, fields: _Fields) -> str:
        if not reading.HasField("metadata"):
            return "reading has no SensorMetadata"
        meta = reading.metadata
        if not meta.HasField("time_requested"):
            return "reading has no time_requested"
        for name in ("time_requested", "time_received"):
            if meta.HasField(name) and (problem := _check_timestamp(getattr(meta, name))):
                return f"{name}: {problem}"
        if not fields.has_data:
            return "reading has neither struct nor binary data"
        return ""

    def _kind_mismatch(self, fields: _Fields) -> str:
        declared = self.metadata.type
        if fields.struct is not None and declared == DataType.DATA_TYPE_BINARY_SENSOR:
            return "tabular reading in a binary capture file"
        if fields.payload is not None and declared == DataType.DATA_TYPE_TABULAR_SENSOR:
            return "binary reading in a tabular capture file"
        return ""

    # -- payloads -----------------------------------------------------------------------

    def payload_chunks(
        self, record: CaptureRecord, chunk_size: int = DEFAULT_CHUNK
    ) -> Iterator[bytes]:
        """The binary payload of ``record`` in chunks of at most ``chunk_size`` bytes."""
        if record.payload is None:
            raise StorageError(f"{self.path}: record {record.index} is not binary")
        if self._payload_handle is None:
            self._payload_handle = self._fs.open_read(self.path)
        handle = self._payload_handle
        handle.seek(record.payload.offset)
        remaining = record.payload.length
        while remaining:
            data = handle.read(min(chunk_size, remaining))
            if not data:
                raise self._corrupt(record.payload.offset, "file shrank under the reader")
            remaining -= len(data)
            yield data

    def read_payload(self, record: CaptureRecord) -> bytes:
        return b"".join(self.payload_chunks(record))

    def reading(self, record: CaptureRecord) -> SensorData:
        """The full ``SensorData`` (payload loaded, identity kept as its unknown field)."""
        full = SensorData()
        full.CopyFrom(record.sensor_data)
        if record.payload is not None:
            full.binary = self.read_payload(record)
        if record.reading_id is not None:
            full.MergeFromString(identity_field_bytes(record.reading_id))
        return full

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        self._handle.close()
        if self._payload_handle is not None:
            self._payload_handle.close()
            self._payload_handle = None

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class CaptureFileContents:
    """A whole small file in memory (tests, tools); large payloads belong to the reader."""

    metadata: DataCaptureMetadata
    readings: tuple[SensorData, ...]
    reading_ids: tuple[ReadingId | None, ...]
    torn_tail_bytes: int


def read_capture_file(fs: FileSystem, path: str) -> CaptureFileContents:
    """Read every reading of ``path`` with its payload; raises on damage."""
    with CaptureReader(fs, path) as reader:
        readings: list[SensorData] = []
        ids: list[ReadingId | None] = []
        for record in reader.records():
            full = reader.reading(record)
            full.DiscardUnknownFields()
            readings.append(full)
            ids.append(record.reading_id)
        torn = reader.torn_tail_bytes
        return CaptureFileContents(reader.metadata, tuple(readings), tuple(ids), torn)
