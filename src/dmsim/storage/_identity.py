"""Reading identity: which stream, boot and sequence number a ``SensorData`` came from.

dmsim tags every reading it writes so an oracle can follow it to the cloud. The tag is field
**71000** of ``SensorData``, a length-delimited message ``{string stream = 1; uint32 boot = 2;
uint64 seq = 3;}``. ``SensorData`` does not declare that field, so Viam's parsers (rdk, the
cloud, viam-sdk) keep it as an unknown field: they skip it, and protobuf carries unknown fields
through parse and serialize, so the tag survives a ``DataCaptureUploadRequest`` round trip.
Files written by rdk carry no tag and read with identity ``None``.

The message type is built at import with ``descriptor_pb2`` in a private descriptor pool (no
protoc, nothing added to the default pool). A second type, ``IdentityCarrier``, declares only
field 71000: parsing a serialized ``SensorData`` as a carrier extracts the tag and skips the
rest. The hot paths encode the same bytes by hand (:class:`IdentityEncoder` for the writer,
:func:`identity_field_bytes`) and decode dmsim's own layout by hand, because building a
message per reading costs more than serializing the reading itself; property tests pin the
hand-made bytes and identities to the message classes'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, unknown_fields
from google.protobuf.message import DecodeError
from viam.proto.app.datasync import SensorData

from dmsim.errors import StorageError

from ._varint import CaptureFormatError, decode_uvarint, length_prefix, uvarint

__all__ = [
    "IDENTITY_FIELD_NUMBER",
    "IdentityEncoder",
    "ReadingId",
    "identity_field_bytes",
    "identity_from_bytes",
    "identity_of",
    "parse_identity",
    "with_identity",
]

IDENTITY_FIELD_NUMBER = 71000
_WIRE_TYPE_LEN = 2
_MAX_BOOT = (1 << 32) - 1
_MAX_SEQ = (1 << 64) - 1


_TAG = uvarint(IDENTITY_FIELD_NUMBER << 3 | _WIRE_TYPE_LEN)
_SEQ_TAG = b"\x18"  # field 3, varint
# a varint's first byte when more follow: the low 7 bits with the continuation bit
_LOW_BYTES = tuple(bytes((low | 0x80,)) for low in range(128))


@dataclass(frozen=True, slots=True, order=True)
class ReadingId:
    """One reading's identity: ``stream`` (a collector), ``boot`` (process start) and ``seq``."""

    stream: str
    boot: int
    seq: int

    def __post_init__(self) -> None:
        if not 0 <= self.boot <= _MAX_BOOT:
            raise StorageError(f"reading identity boot {self.boot} is not a uint32")
        if not 0 <= self.seq <= _MAX_SEQ:
            raise StorageError(f"reading identity seq {self.seq} is not a uint64")

    def __str__(self) -> str:
        return f"{self.stream}#{self.boot}:{self.seq}"


def _build_types() -> tuple[Any, Any]:
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="dmsim/storage/v1/identity.proto", package="dmsim.storage.v1", syntax="proto3"
    )
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    kinds = descriptor_pb2.FieldDescriptorProto
    identity = file_proto.message_type.add(name="ReadingIdentity")
    identity.field.add(name="stream", number=1, type=kinds.TYPE_STRING, label=optional)
    identity.field.add(name="boot", number=2, type=kinds.TYPE_UINT32, label=optional)
    identity.field.add(name="seq", number=3, type=kinds.TYPE_UINT64, label=optional)
    carrier = file_proto.message_type.add(name="IdentityCarrier")
    carrier.field.add(
        name="identity",
        number=IDENTITY_FIELD_NUMBER,
        type=kinds.TYPE_MESSAGE,
        label=optional,
        type_name=".dmsim.storage.v1.ReadingIdentity",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    identity_class, carrier_class = (
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{file_proto.package}.{n}"))
        for n in ("ReadingIdentity", "IdentityCarrier")
    )
    return identity_class, carrier_class


_IdentityMessage, _IdentityCarrier = _build_types()


def identity_field_bytes(reading_id: ReadingId) -> bytes:
    """Field 71000 as it appears on the wire (tag, length, message), canonical encoding: the
    message class's bytes, encoded by hand (the sync scan checks every reading against them,
    and building two messages costs more than the check); a test pins the two equal."""
    body = b""
    if reading_id.stream:  # proto3 omits empty and zero fields
        stream = reading_id.stream.encode()
        body = b"\x0a" + uvarint(len(stream)) + stream
    if reading_id.boot:
        body += b"\x10" + uvarint(reading_id.boot)
    if reading_id.seq:
        body += _SEQ_TAG + uvarint(reading_id.seq)
    return _TAG + uvarint(len(body)) + body


class IdentityEncoder:
    """Fast encoder for one stream and boot: only ``seq`` changes between readings.

    The field's bytes before the seq value depend only on the value's varint length, so they
    are built once per length (1 to 10 bytes). A varint's first byte holds the low 7 bits and
    the rest is the varint of ``seq >> 7``, so the fields of 128 consecutive seqs differ only
    in that byte: they are built together, and a collector counting up pays one list index
    per reading.
    """

    __slots__ = ("_block", "_block_fields", "_head_lows", "_heads", "_zero", "boot", "stream")

    def __init__(self, stream: str, boot: int) -> None:
        ReadingId(stream, boot, 0)  # validates
        self.stream = stream
        self.boot = boot
        prefix = bytes(_IdentityMessage(stream=stream, boot=boot).SerializeToString())
        # indexed by the seq varint's length (entry 0 unused: a varint has at least one byte)
        self._heads = tuple(
            b"".join((_TAG, uvarint(len(prefix) + 1 + n), prefix, _SEQ_TAG)) for n in range(11)
        )
        # proto3 omits a zero seq; so must we, to match the message class
        self._zero = b"".join((_TAG, uvarint(len(prefix)), prefix))
        # per seq varint length: its head followed by each of the 128 first bytes (built when
        # a seq of that length first comes)
        self._head_lows: dict[int, list[bytes]] = {}
        self._block: int | None = None  # seq >> 7 of the seqs in _block_fields
        self._block_fields: list[bytes] = []

    def field_bytes(self, seq: int) -> bytes:
        if seq >> 7 != self._block:
            self._build_block(seq)
        return self._block_fields[seq & 0x7F]

    def frame(self, body: bytes, seq: int) -> bytes:
        """One framed record: the length varint, ``body`` (a serialized ``SensorData``), then
        this identity with ``seq`` as field 71000."""
        if seq >> 7 != self._block:
            self._build_block(seq)
        field = self._block_fields[seq & 0x7F]
        return length_prefix(len(body) + len(field)) + body + field

    def _build_block(self, seq: int) -> None:
        if not 0 <= seq <= _MAX_SEQ:
            raise StorageError(f"reading identity seq {seq} is not a uint64")
        block = seq >> 7
        if block == 0:
            fields = [self._zero, *(self._heads[1] + uvarint(n) for n in range(1, 128))]
        else:
            rest = uvarint(block)
            head_lows = self._head_lows.get(len(rest))
            if head_lows is None:
                head = self._heads[1 + len(rest)]
                head_lows = self._head_lows[len(rest)] = [head + low for low in _LOW_BYTES]
            fields = [head_low + rest for head_low in head_lows]
        self._block, self._block_fields = block, fields


def _from_message(message: Any) -> ReadingId:
    return ReadingId(str(message.stream), int(message.boot), int(message.seq))


def identity_from_bytes(serialized: bytes) -> ReadingId | None:
    """The identity in a serialized ``SensorData``, or ``None`` if it carries none.

    Raises :class:`StorageError` if field 71000 is present but is not a valid identity.
    """
    carrier = _IdentityCarrier()
    try:
        carrier.ParseFromString(serialized)
    except DecodeError as error:
        raise StorageError(f"reading identity (field {IDENTITY_FIELD_NUMBER}): {error}") from None
    if not carrier.HasField("identity"):
        return None
    return parse_identity([carrier.identity.SerializeToString()])  # checks for stray fields


def identity_of(reading: SensorData) -> ReadingId | None:
    """The identity a parsed ``SensorData`` carries as an unknown field, or ``None``."""
    chunks: list[bytes] = []
    for field in unknown_fields.UnknownFieldSet(reading):
        if field.field_number != IDENTITY_FIELD_NUMBER:
            continue
        if field.wire_type != _WIRE_TYPE_LEN:
            raise StorageError(f"field {IDENTITY_FIELD_NUMBER} has wire type {field.wire_type}")
        chunks.append(bytes(field.data))
    return parse_identity(chunks) if chunks else None


def parse_identity(chunks: Iterable[bytes]) -> ReadingId:
    """The identity in the contents of one or more field-71000 occurrences."""
    chunks = tuple(chunks)
    if len(chunks) == 1:
        canonical = _parse_canonical(chunks[0])
        if canonical is not None:
            return canonical
    message = _IdentityMessage()
    try:
        # Repeated occurrences of an embedded message merge, as protobuf specifies.
        for chunk in chunks:
            message.MergeFromString(chunk)
    except DecodeError as error:
        raise StorageError(f"reading identity (field {IDENTITY_FIELD_NUMBER}): {error}") from None
    # dmsim alone writes this type: a field it does not define can only be damage.
    stray = sorted({field.field_number for field in unknown_fields.UnknownFieldSet(message)})
    if stray:
        raise StorageError(f"reading identity (field {IDENTITY_FIELD_NUMBER}) has unknown {stray}")
    return _from_message(message)


def _parse_canonical(chunk: bytes) -> ReadingId | None:
    """The identity in one occurrence laid out as dmsim writes it (stream, boot, seq, each at
    most once and in order), decoded by hand; ``None`` for any other layout, which the
    protobuf path then parses or rejects."""
    end = len(chunk)
    stream, boot, seq, pos = "", 0, 0, 0
    try:
        if pos < end and chunk[pos] == 0x0A:
            length, pos = decode_uvarint(chunk, pos + 1)
            if length > end - pos:
                return None
            stream = chunk[pos : pos + length].decode()
            pos += length
        if pos < end and chunk[pos] == 0x10:
            boot, pos = decode_uvarint(chunk, pos + 1)
        if pos < end and chunk[pos] == 0x18:
            seq, pos = decode_uvarint(chunk, pos + 1)
    except (CaptureFormatError, UnicodeDecodeError):
        return None
    if pos != end or boot > _MAX_BOOT:  # protobuf truncates an oversized uint32
        return None
    return ReadingId(stream, boot, seq)


def with_identity(reading: SensorData, reading_id: ReadingId) -> SensorData:
    """A copy of ``reading`` carrying ``reading_id``; a reading can be tagged only once."""
    existing = identity_of(reading)
    if existing is not None:
        raise StorageError(f"reading already carries identity {existing}")
    tagged = SensorData()
    tagged.CopyFrom(reading)
    tagged.MergeFromString(identity_field_bytes(reading_id))
    return tagged
