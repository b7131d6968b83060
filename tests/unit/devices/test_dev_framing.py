"""The ESP32 framing (COBS + CRC-32) and its messages."""

from __future__ import annotations

import zlib

import pytest
from cobs import cobs
from hypothesis import given
from hypothesis import strategies as st

from dmsim.devices import (
    MSG_SAMPLE,
    BoardSample,
    FrameDecoder,
    SeqTracker,
    SerialFrame,
    decode_sample,
    encode_frame,
    encode_sample,
)
from dmsim.devices.fakes import BOOT_BANNER

frames = st.builds(
    SerialFrame,
    type=st.integers(0, 255),
    seq=st.integers(0, 2**32 - 1),
    boot_id=st.integers(0, 2**16 - 1),
    t_dev_us=st.integers(0, 2**64 - 1),
    payload=st.binary(max_size=300),
)


def test_a_frame_round_trips_and_has_no_zero_inside() -> None:
    frame = SerialFrame(MSG_SAMPLE, 7, 3, 123456, b"\x00\x00abc\x00")
    wire = encode_frame(frame)
    assert wire[0] == 0
    assert wire[-1] == 0
    assert 0 not in wire[1:-1]
    result = FrameDecoder().feed(wire)
    assert result.frames == (frame,)
    assert not result.errors


@given(
    st.lists(st.tuples(st.binary(max_size=40), frames), max_size=8),
    st.binary(max_size=40),
    st.lists(st.integers(1, 64), min_size=1, max_size=20),
)
def test_valid_frames_survive_any_byte_soup_in_order(
    pieces: list[tuple[bytes, SerialFrame]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(junk + encode_frame(frame) for junk, frame in pieces) + tail
    decoder = FrameDecoder()
    got = []
    position, i = 0, 0
    while position < len(stream):  # fed in arbitrary chunks
        size = cuts[i % len(cuts)]
        got.extend(decoder.feed(stream[position : position + size]).frames)
        position += size
        i += 1
    assert got == [frame for _, frame in pieces]
    assert decoder.totals["frames"] == len(pieces)


def wire(raw: bytes) -> bytes:
    return b"\x00" + cobs.encode(raw) + b"\x00"


def test_rejected_chunks_are_counted_by_kind() -> None:
    good = SerialFrame(MSG_SAMPLE, 1, 1, 1, b"x")
    body = bytes([1]) + bytes(15) + b"payload"
    crc = zlib.crc32(body).to_bytes(4, "little")
    v2 = bytes([2]) + body[1:]
    decoder = FrameDecoder(max_frame=64)
    cases = {
        "crc": wire(body + bytes(a ^ 0xFF for a in crc)),
        "decode": b"\x00\x05ab\x00",  # COBS says 4 more bytes, only 2 follow
        "short": wire(b"tiny"),
        "version": wire(v2 + zlib.crc32(v2).to_bytes(4, "little")),
        "oversize": b"\x00" + b"\x01" * 200 + b"\x00",
    }
    for kind, blob in cases.items():
        result = decoder.feed(blob + encode_frame(good))
        assert result.frames == (good,)
        assert result.errors == {kind: 1}
    banner = decoder.feed(BOOT_BANNER + encode_frame(good))
    assert banner.frames == (good,)
    assert sum(banner.errors.values()) == 1  # the banner is one rejected chunk
    stats = decoder.statistics()
    assert stats.frames == 6
    # The boot banner is longer than max_frame: one more oversize chunk.
    assert stats.rejected == {"decode": 1, "short": 1, "crc": 1, "version": 1, "oversize": 2}


def test_oversize_counts_once_and_skips_to_the_next_delimiter_across_feeds() -> None:
    decoder = FrameDecoder(max_frame=32)
    good = SerialFrame(1, 0, 0, 0, b"ok")
    assert decoder.feed(b"\x01" * 20).errors == {}
    assert decoder.feed(b"\x01" * 20).errors == {"oversize": 1}
    assert decoder.feed(b"\x01" * 200).errors == {}
    assert decoder.feed(encode_frame(good)).frames == (good,)


@given(
    st.dictionaries(st.integers(0, 63), st.integers(0, 4095), max_size=10),
    st.dictionaries(st.integers(0, 63), st.booleans(), max_size=10),
)
def test_board_samples_round_trip(analogs: dict[int, int], gpios: dict[int, bool]) -> None:
    assert decode_sample(encode_sample(analogs, gpios)) == BoardSample(analogs, gpios)


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x02\x01\x00\x00", encode_sample({1: 5}, {})[:-1], b"\x01\x22\xff\xff" + bytes(16)],
)
def test_malformed_samples_decode_to_none(payload: bytes) -> None:
    assert decode_sample(payload) is None


def test_seq_tracker() -> None:
    tracker = SeqTracker()
    kinds = [
        tracker.observe(boot, seq)
        for boot, seq in [(1, 0), (1, 1), (1, 4), (1, 4), (1, 2), (2, 0), (2, 1)]
    ]
    assert [(e.kind, e.lost) for e in kinds] == [
        ("first", 0),
        ("next", 0),
        ("gap", 2),
        ("stale", 0),
        ("stale", 0),
        ("reboot", 0),
        ("next", 0),
    ]
