"""Varints (unsigned LEB128, as protobuf encodes lengths and integers), shared by the codec,
the reader and the identity. ``uvarint`` has no range check: it is on the per-reading hot path,
so callers pass values in ``[0, 2**64)`` (:func:`dmsim.storage._codec.encode_uvarint` checks)."""

from __future__ import annotations

import functools

from dmsim.errors import StorageError

__all__ = ["MAX_VARINT_BYTES", "CaptureFormatError", "decode_uvarint", "length_prefix", "uvarint"]

# A uint64 needs at most ten 7-bit groups; anything longer is garbage, not a big number.
MAX_VARINT_BYTES = 10


class CaptureFormatError(StorageError):
    """A capture file is damaged: ``path`` and byte ``offset`` say where, ``what`` says how."""

    def __init__(self, path: str | None, offset: int, what: str) -> None:
        self.path = path
        self.offset = offset
        self.what = what
        super().__init__(f"{path or '<bytes>'}: at byte {offset}: {what}")


_SMALL = tuple(bytes((n,)) for n in range(128))


def uvarint(value: int) -> bytes:
    # Short forms first: lengths and sequence numbers are almost always under 2**21.
    if value < 0x80:
        return _SMALL[value]
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0x200000:
        return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80, value >> 14))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# A record's length prefix. A stream's records come in a few lengths, and a cache hit costs a
# quarter of building the varint (mostly the bytes() constructor); bounded for binary payloads,
# whose lengths rarely repeat.
length_prefix = functools.lru_cache(maxsize=1024)(uvarint)


def decode_uvarint(buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode one varint at ``offset``; return ``(value, offset after it)``.

    Raises :class:`CaptureFormatError` if the buffer ends inside the varint or the varint is
    longer than ten bytes (with the offset relative to ``buf``).
    """
    result = 0
    shift = 0
    pos = offset
    end = len(buf)
    while True:
        if pos >= end:
            raise CaptureFormatError(None, offset, "data ends inside a varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if pos - offset >= MAX_VARINT_BYTES:
            raise CaptureFormatError(None, offset, "varint longer than 10 bytes")
    if result >= 1 << 64:
        raise CaptureFormatError(None, offset, "varint over 64 bits")
    return result, pos
