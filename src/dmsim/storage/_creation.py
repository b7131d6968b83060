"""When a capture file was begun, on the monotonic clock of the process that wrote it.

A file's name is the wall-clock time it was begun, and after a step back that time is shown
twice: the old clock showed it before the step, and today's clock shows it again. A file
named then may hold data from either side of the step (and a name pushed past the old clock,
to keep a collector's names in order, says even less). The sync engine dates unsynced data to
warn that it is stale, so dmsim stamps each file's header with the monotonic time it was
begun, which no set moves, and the clock that time is on.

The stamp is field **71001** of ``DataCaptureMetadata``, a length-delimited message ``{string
clock = 1; int64 monotonic_ns = 2;}``. ``clock`` names the monotonic clock's zero (a process
of one boot, or a simulated world): a stamp means something only to a process on the same
clock. Viam's parsers keep it as an unknown field and skip it, as they do the reading
identity (field 71000 of ``SensorData``). Files written by rdk carry no stamp.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import unknown_fields
from viam.proto.app.datasync import DataCaptureMetadata

from ._varint import CaptureFormatError, decode_uvarint, uvarint

__all__ = ["CREATION_FIELD_NUMBER", "CreationStamp", "creation_field_bytes", "creation_of"]

CREATION_FIELD_NUMBER = 71001
_WIRE_TYPE_VARINT = 0
_WIRE_TYPE_LEN = 2
_TAG = uvarint(CREATION_FIELD_NUMBER << 3 | _WIRE_TYPE_LEN)
_CLOCK_TAG = 1 << 3 | _WIRE_TYPE_LEN
_MONOTONIC_TAG = 2 << 3 | _WIRE_TYPE_VARINT
_INT64 = 1 << 64


@dataclass(frozen=True, slots=True)
class CreationStamp:
    """A file was begun at ``monotonic_ns`` of the monotonic clock named ``clock``."""

    clock: str
    monotonic_ns: int

    def __post_init__(self) -> None:
        if not -(1 << 63) <= self.monotonic_ns < 1 << 63:
            raise ValueError(f"creation stamp {self.monotonic_ns} ns is not an int64")


def creation_field_bytes(stamp: CreationStamp) -> bytes:
    """Field 71001, to append to a serialized ``DataCaptureMetadata``."""
    clock = stamp.clock.encode()
    body = uvarint(_CLOCK_TAG) + uvarint(len(clock)) + clock
    body += uvarint(_MONOTONIC_TAG) + uvarint(stamp.monotonic_ns % _INT64)
    return _TAG + uvarint(len(body)) + body


def creation_of(metadata: DataCaptureMetadata) -> CreationStamp | None:
    """The stamp a parsed header carries, or ``None`` (rdk's files). A stamp that does not
    parse raises :class:`CaptureFormatError`; the file's readings are no less readable."""
    stamp = None
    for field in unknown_fields.UnknownFieldSet(metadata):
        if field.field_number == CREATION_FIELD_NUMBER:
            if field.wire_type != _WIRE_TYPE_LEN:
                raise _damaged(f"has wire type {field.wire_type}")
            stamp = _parse(bytes(field.data))
    return stamp


def _parse(body: bytes) -> CreationStamp:
    try:
        return _parse_fields(body)
    except CaptureFormatError as error:  # a varint cut short or too long
        raise _damaged(f"is damaged: {error.what}") from None


def _parse_fields(body: bytes) -> CreationStamp:
    clock: str | None = None
    monotonic_ns: int | None = None
    pos = 0
    while pos < len(body):
        tag, pos = decode_uvarint(body, pos)
        if tag == _CLOCK_TAG:
            size, pos = decode_uvarint(body, pos)
            if pos + size > len(body):
                raise _damaged("ends inside its clock")
            try:
                clock = body[pos : pos + size].decode()
            except UnicodeDecodeError:
                raise _damaged("names its clock in bytes that are not UTF-8") from None
            pos += size
        elif tag == _MONOTONIC_TAG:
            value, pos = decode_uvarint(body, pos)
            monotonic_ns = value - _INT64 if value >= 1 << 63 else value
        else:
            raise _damaged(f"has unknown field tag {tag}")
    if clock is None or monotonic_ns is None:
        raise _damaged("lacks its clock or its time")
    return CreationStamp(clock, monotonic_ns)


def _damaged(what: str) -> CaptureFormatError:
    return CaptureFormatError(None, 0, f"header's creation stamp (field 71001) {what}")
