"""The ESP32 serial framing: ``COBS(ver | type | seq | boot_id | t_dev_us | payload | crc32) 0x00``.

A pure framer, no I/O. Header fields are little-endian (the ESP32's byte order): ``ver`` u8,
``type`` u8, ``seq`` u32, ``boot_id`` u16, ``t_dev_us`` u64; ``crc32`` (zlib/IEEE) covers header
and payload. COBS removes every 0x00 from the frame, so 0x00 delimits frames and the decoder
resynchronises at each one; a leading 0x00 flushes whatever junk came before (a boot banner).
A CRC is mandatory: random junk can COBS-decode.

:class:`FrameDecoder` is fed arbitrary chunks and returns the valid frames in order with the
count of each kind of rejected chunk; it never raises on bad input.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from cobs import cobs

__all__ = [
    "FRAME_ERROR_KINDS",
    "PROTOCOL_VERSION",
    "DecoderStatistics",
    "FeedResult",
    "FrameDecoder",
    "SerialFrame",
    "encode_frame",
]

PROTOCOL_VERSION = 1
_HEADER = struct.Struct("<BBIHQ")
_CRC = struct.Struct("<I")
_MIN_FRAME = _HEADER.size + _CRC.size
FRAME_ERROR_KINDS = ("decode", "short", "crc", "version", "oversize")


@dataclass(frozen=True, slots=True)
class SerialFrame:
    type: int
    seq: int
    boot_id: int
    t_dev_us: int
    payload: bytes = b""
    version: int = PROTOCOL_VERSION


def encode_frame(frame: SerialFrame, *, leading_delimiter: bool = True) -> bytes:
    """The bytes on the wire for ``frame`` (COBS-encoded, 0x00-terminated)."""
    body = (
        _HEADER.pack(frame.version, frame.type, frame.seq, frame.boot_id, frame.t_dev_us)
        + frame.payload
    )
    encoded: bytes = cobs.encode(body + _CRC.pack(zlib.crc32(body)))
    return (b"\x00" if leading_delimiter else b"") + encoded + b"\x00"


@dataclass(frozen=True, slots=True)
class FeedResult:
    """What one ``feed`` produced: frames in order, and rejected chunks by kind."""

    frames: tuple[SerialFrame, ...]
    errors: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class DecoderStatistics:
    """Everything a decoder has seen: bytes in, frames out, chunks rejected by kind."""

    bytes: int
    frames: int
    rejected: Mapping[str, int]


class FrameDecoder:
    """Splits a byte stream at 0x00 and validates each chunk (see the module docstring).

    ``max_frame`` bounds an encoded frame; a longer run without a delimiter is dropped as
    ``oversize`` (counted once) and everything up to the next 0x00 is skipped.
    """

    def __init__(self, *, max_frame: int = 1024) -> None:
        self._max = max_frame
        self._buffer = bytearray()
        self._skipping = False
        self.totals: dict[str, int] = dict.fromkeys(("frames", "bytes", *FRAME_ERROR_KINDS), 0)

    def feed(self, data: bytes) -> FeedResult:
        self.totals["bytes"] += len(data)
        frames: list[SerialFrame] = []
        errors: dict[str, int] = {}
        start = 0
        while True:
            end = data.find(b"\x00", start)
            if end < 0:
                self._append(data[start:], errors)
                break
            self._append(data[start:end], errors)
            chunk, skipped = bytes(self._buffer), self._skipping
            self._buffer.clear()
            self._skipping = False
            start = end + 1
            if chunk and not skipped:
                self._decode(chunk, frames, errors)
        for kind, n in errors.items():
            self.totals[kind] += n
        self.totals["frames"] += len(frames)
        return FeedResult(tuple(frames), errors)

    def statistics(self) -> DecoderStatistics:
        totals = self.totals
        rejected = {kind: totals[kind] for kind in FRAME_ERROR_KINDS}
        return DecoderStatistics(totals["bytes"], totals["frames"], rejected)

    def _append(self, part: bytes, errors: dict[str, int]) -> None:
        if self._skipping or not part:
            return
        if len(self._buffer) + len(part) > self._max:
            errors["oversize"] = errors.get("oversize", 0) + 1
            self._buffer.clear()
            self._skipping = True
            return
        self._buffer += part

    @staticmethod
    def _decode(chunk: bytes, frames: list[SerialFrame], errors: dict[str, int]) -> None:
        kind = None
        try:
            raw: bytes = cobs.decode(chunk)
        except cobs.DecodeError:
            kind = "decode"
        else:
            if len(raw) < _MIN_FRAME:
                kind = "short"
            elif zlib.crc32(raw[: -_CRC.size]) != _CRC.unpack_from(raw, len(raw) - _CRC.size)[0]:
                kind = "crc"
            else:
                version, ftype, seq, boot_id, t_dev_us = _HEADER.unpack_from(raw)
                if version != PROTOCOL_VERSION:
                    kind = "version"
                else:
                    frames.append(
                        SerialFrame(
                            ftype, seq, boot_id, t_dev_us, raw[_HEADER.size : -_CRC.size], version
                        )
                    )
        if kind is not None:
            errors[kind] = errors.get(kind, 0) + 1
