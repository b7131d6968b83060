"""The varint encoder (unsigned LEB128, as protobuf encodes lengths and integers) that the
codec and the identity encoder share. No range check: it is on the per-reading hot path, so
callers pass values in ``[0, 2**64)`` (:func:`dmsim.storage._codec.encode_uvarint` checks)."""

from __future__ import annotations

import functools

__all__ = ["length_prefix", "uvarint"]

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
