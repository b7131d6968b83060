"""The ESP32 board's messages inside the frames, and sequence tracking across reboots.

Messages (the frame ``type``):

- ``HELLO`` (1): sent after boot; payload = firmware id, UTF-8.
- ``SAMPLE`` (2): one sampling instant; payload = ``n`` (u8), ``n`` × (pin u8, ADC code u16),
  then GPIO ``mask`` (u64: pins reported) and ``levels`` (u64), all little-endian.

:class:`SeqTracker` follows ``(boot_id, seq)``: a new ``boot_id`` is a reboot (``seq`` restarts);
a jump in ``seq`` is frames lost on the wire.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "MSG_HELLO",
    "MSG_SAMPLE",
    "BoardSample",
    "SeqEvent",
    "SeqTracker",
    "decode_sample",
    "encode_sample",
]

MSG_HELLO = 1
MSG_SAMPLE = 2
_COUNT = struct.Struct("<B")
_ANALOG = struct.Struct("<BH")
_GPIO = struct.Struct("<QQ")


@dataclass(frozen=True, slots=True)
class BoardSample:
    analogs: Mapping[int, int]  # pin → 12-bit code
    gpios: Mapping[int, bool]  # pin → level


def encode_sample(analogs: Mapping[int, int], gpios: Mapping[int, bool]) -> bytes:
    out = bytearray(_COUNT.pack(len(analogs)))
    for pin, code in sorted(analogs.items()):
        out += _ANALOG.pack(pin, code)
    mask = levels = 0
    for pin, level in gpios.items():
        mask |= 1 << pin
        levels |= int(level) << pin
    return bytes(out + _GPIO.pack(mask, levels))


def decode_sample(payload: bytes) -> BoardSample | None:
    """The sample in ``payload``, or ``None`` if it is malformed (the CRC passed, so this is a
    firmware bug worth counting, not a wire error)."""
    if len(payload) < _COUNT.size:
        return None
    (count,) = _COUNT.unpack_from(payload)
    if len(payload) != _COUNT.size + count * _ANALOG.size + _GPIO.size:
        return None
    analogs = {}
    for i in range(count):
        pin, code = _ANALOG.unpack_from(payload, _COUNT.size + i * _ANALOG.size)
        if code > 4095:
            return None
        analogs[pin] = code
    mask, levels = _GPIO.unpack_from(payload, len(payload) - _GPIO.size)
    gpios = {pin: bool(levels >> pin & 1) for pin in range(64) if mask >> pin & 1}
    return BoardSample(analogs, gpios)


@dataclass(frozen=True, slots=True)
class SeqEvent:
    """``kind``: ``first``, ``next``, ``gap`` (``lost`` frames missing), ``reboot``, ``stale``
    (a sequence number at or before the last one, same boot: a duplicate or reordering)."""

    kind: str
    lost: int = 0


class SeqTracker:
    """Follows ``(boot_id, seq)`` pairs (a pure state machine)."""

    def __init__(self) -> None:
        self._boot: int | None = None
        self._seq = 0

    def observe(self, boot_id: int, seq: int) -> SeqEvent:
        if self._boot is None:
            event = SeqEvent("first")
        elif boot_id != self._boot:
            event = SeqEvent("reboot")
        elif seq <= self._seq:
            return SeqEvent("stale")
        elif seq == self._seq + 1:
            event = SeqEvent("next")
        else:
            event = SeqEvent("gap", seq - self._seq - 1)
        self._boot, self._seq = boot_id, seq
        return event
