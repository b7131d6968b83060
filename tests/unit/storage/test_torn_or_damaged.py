"""A record that runs past the end of the file: a crash's torn tail, or a damaged length?

A crash can only cut the file short, so a torn tail is always the start of one record. A length
prefix damaged to run past the end turns every reading after it into a "tail"; treating that as
torn dropped them all (28 of 29 readings, with the ``.prog`` deleted and exit 0).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.storage.storage_kit import put, read
from viam.proto.app.datasync import DataType

from dmsim.runtime import RngTree
from dmsim.storage._codec import (
    CaptureFormatError,
    binary_reading,
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    tabular_reading,
)
from dmsim.storage._identity import ReadingId
from dmsim.storage._inspect import verify_dir
from dmsim.storage._reader import CaptureReader, read_capture_file
from dmsim.storage._recovery import recover_capture_dir
from dmsim.storage._simfs import SimFS
from dmsim.storage._varint import uvarint

D = "/cap/rdk_component_sensor/s/Readings"
PROG = f"{D}/2026-01-01T00_00_00.500000Z.prog"
CAPTURE = f"{D}/2026-01-01T00_00_00.500000Z.capture"


def header(data_type: DataType.ValueType) -> bytes:
    return encode_metadata(
        build_metadata(
            component_type="rdk:component:sensor",
            component_name="s",
            method_name="Readings",
            data_type=data_type,
        )
    )


def tabular_records(values: list[dict[str, float]]) -> list[bytes]:
    return [
        encode_sensor_data(
            tabular_reading(v, time_requested_ns=i, time_received_ns=i), ReadingId("s", 0, i)
        )
        for i, v in enumerate(values)
    ]


def binary_records(payloads: list[bytes]) -> list[bytes]:
    return [
        encode_sensor_data(
            binary_reading(p, time_requested_ns=i, time_received_ns=i), ReadingId("s", 0, i)
        )
        for i, p in enumerate(payloads)
    ]


def body_at(record: bytes) -> int:
    """Where the body of ``record`` (length prefix and body) starts."""
    return next(i for i, byte in enumerate(record) if not byte & 0x80) + 1


def with_length(record: bytes, length: int) -> bytes:
    """``record`` with its length prefix replaced."""
    return uvarint(length) + record[body_at(record) :]


def make_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 26, rng=RngTree(4), wall_clock=lambda: 0)


TABULAR = header(DataType.DATA_TYPE_TABULAR_SENSOR)
BINARY = header(DataType.DATA_TYPE_BINARY_SENSOR)
# Like the audit's file: 29 readings of a sensor, record 2's length damaged to 8331.
READINGS_29 = tabular_records([{"a": i * 0.5, "b": 3.25} for i in range(29)])
DAMAGED_29 = (
    TABULAR + READINGS_29[0] + with_length(READINGS_29[1], 8331) + b"".join(READINGS_29[2:])
)
RECORD_2_AT = len(TABULAR) + len(READINGS_29[0])


def test_a_length_damaged_past_the_end_is_damage_at_that_record_not_a_torn_tail() -> None:
    fs = make_fs()
    put(fs, PROG, DAMAGED_29)
    [problem] = verify_dir(fs, "/cap").problems
    assert problem.offset == RECORD_2_AT
    assert "record length 8331 runs past the end of the file" in problem.what
    assert "torn" not in problem.what


def test_recover_keeps_every_byte_of_a_file_whose_length_is_damaged_past_the_end() -> None:
    fs = make_fs()
    put(fs, PROG, DAMAGED_29)
    report = recover_capture_dir(fs, "/cap")
    [done] = report.recovered
    [failed] = report.failed
    assert report.torn_bytes_dropped == 0
    assert done.damage is not None
    assert f"(byte {RECORD_2_AT})" in done.damage
    assert [rid.seq for rid in read_capture_file(fs, CAPTURE).reading_ids if rid] == [0]
    assert read(fs, failed.moved_to) == DAMAGED_29  # the 28 readings after it, byte for byte
    assert f"byte {RECORD_2_AT}" in read(fs, failed.moved_to + ".reason.txt").decode()


def test_a_damaged_first_record_sends_the_whole_file_to_failed() -> None:
    fs = make_fs()
    data = TABULAR + with_length(READINGS_29[0], 100_000) + b"".join(READINGS_29[1:])
    put(fs, PROG, data)
    report = recover_capture_dir(fs, "/cap")
    [failed] = report.failed
    assert (report.recovered, report.removed) == ((), ())
    assert read(fs, failed.moved_to) == data


values = st.dictionaries(st.text(max_size=8), st.floats(allow_nan=False), min_size=0, max_size=6)
files = st.one_of(
    st.lists(values, min_size=1, max_size=8).map(lambda vs: (TABULAR, tabular_records(vs))),
    st.lists(st.binary(max_size=3000), min_size=1, max_size=2).map(
        lambda ps: (BINARY, binary_records(ps))
    ),
)


@settings(max_examples=200, deadline=None)
@given(files, st.data())
def test_a_crash_that_cuts_the_file_anywhere_leaves_an_ordinary_torn_tail(
    file: tuple[bytes, list[bytes]], data: st.DataObject
) -> None:
    head, records = file
    whole = head + b"".join(records)
    cut = data.draw(st.integers(len(head), len(whole)), label="cut")
    ends = [len(head) + len(b"".join(records[: i + 1])) for i in range(len(records))]
    complete = sum(end <= cut for end in ends)
    last_end = ends[complete - 1] if complete else len(head)
    # A crash that grew the file without its data shows zeros, up to the cut record's end (not
    # inside its length prefix: zeros there would end the varint early, a length that fits).
    next_end, zeros = cut, 0
    if complete < len(records) and cut - last_end >= body_at(records[complete]):
        next_end = ends[complete]
        zeros = data.draw(st.integers(0, next_end - cut - 1), label="zeros")
    fs = make_fs()
    put(fs, PROG, whole[:cut] + bytes(zeros))
    with CaptureReader(fs, PROG) as reader:
        assert sum(1 for _ in reader.records()) == complete
        assert reader.torn_tail_bytes == cut + zeros - last_end
    report = recover_capture_dir(fs, "/cap")
    assert report.failed == ()
    assert report.torn_bytes_dropped == cut + zeros - last_end


@settings(max_examples=200, deadline=None)
@given(files, st.data())
def test_a_length_damaged_to_run_past_the_end_never_loses_the_readings_after_it(
    file: tuple[bytes, list[bytes]], data: st.DataObject
) -> None:
    head, records = file
    if len(records) < 2:
        records = records * 2  # the damage needs a reading after it
    k = data.draw(st.integers(0, len(records) - 2), label="damaged record")
    rest = len(b"".join(records[k:]))
    length = data.draw(st.integers(rest, 1 << 40), label="length")
    damaged = head + b"".join(records[:k]) + with_length(records[k], length)
    damaged += b"".join(records[k + 1 :])
    fs = make_fs()
    put(fs, PROG, damaged)
    with CaptureReader(fs, PROG) as reader, pytest.raises(CaptureFormatError) as info:
        for _ in reader.records():
            pass
    assert info.value.offset == len(head) + len(b"".join(records[:k]))
    report = recover_capture_dir(fs, "/cap")
    assert report.torn_bytes_dropped == 0
    [failed] = report.failed
    assert read(fs, failed.moved_to) == damaged
