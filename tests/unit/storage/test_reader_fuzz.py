"""Fuzzed files (truncations, bit flips, random bytes) never crash inspect, verify or recover:
they raise StorageError at most (the reader) or report (inspect, verify, recover)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.storage.storage_kit import put
from viam.proto.app.data import Annotations, BoundingBox
from viam.proto.app.datasync import DataType

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage import _reader
from dmsim.storage._codec import (
    binary_reading,
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    tabular_reading,
)
from dmsim.storage._identity import ReadingId
from dmsim.storage._inspect import capture_files, inspect_file, verify_dir
from dmsim.storage._reader import CaptureReader
from dmsim.storage._recovery import recover_capture_dir
from dmsim.storage._simfs import SimFS

DIR = "/cap/rdk_component_x/x/Get"


def tabular_file() -> bytes:
    md = build_metadata(
        component_type="rdk:component:x",
        component_name="x",
        method_name="Get",
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        tags=["a"],
        method_parameters={"p": "q"},
    )
    records = b"".join(
        encode_sensor_data(
            tabular_reading(
                {"i": i, "s": "abc", "l": [1, {"n": None}]}, time_requested_ns=i, time_received_ns=i
            ),
            ReadingId("x", 1, i),
        )
        for i in range(4)
    )
    return encode_metadata(md) + records


def binary_file() -> bytes:
    md = build_metadata(
        component_type="rdk:component:camera",
        component_name="x",
        method_name="Get",
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        mime_type="image/jpeg",
    )
    notes = Annotations(bboxes=[BoundingBox(label="b", x_max_normalized=0.5)])
    reading = binary_reading(
        b"\xff\xd8" + bytes(300), time_requested_ns=5, time_received_ns=6, annotations=notes
    )
    return encode_metadata(md) + encode_sensor_data(reading, ReadingId("x", 0, 0))


BASES = [tabular_file(), binary_file()]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(BASES)))
    how = draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if how == "splice":
        pos = draw(st.integers(0, len(data)))
        return bytes(data[:pos]) + draw(st.binary(min_size=1, max_size=40)) + bytes(data[pos:])
    return draw(st.binary(max_size=400))


def make_fs(files: list[bytes]) -> SimFS:
    fs = SimFS(capacity_bytes=1 << 24, rng=RngTree(9), wall_clock=lambda: 0)
    fs.makedirs("/cap")
    for i, data in enumerate(files):
        ext = ".prog" if i % 2 else ".capture"
        put(fs, f"{DIR}/2026-01-01T00_00_{i:02d}.000000Z{ext}", data)
    return fs


@settings(max_examples=300)
@given(damaged())
def test_the_reader_raises_only_storage_errors(data: bytes) -> None:
    fs = make_fs([data])
    path = f"{DIR}/2026-01-01T00_00_00.000000Z.capture"
    try:
        with CaptureReader(fs, path) as reader:
            for record in reader.records():
                if record.is_binary:
                    reader.read_payload(record)
                reader.reading(record)
            assert reader.torn_tail_bytes >= 0
    except StorageError:
        pass


@settings(max_examples=150)
@given(st.lists(damaged(), min_size=1, max_size=4))
def test_inspect_verify_and_recover_report_instead_of_crashing(files: list[bytes]) -> None:
    fs = make_fs(files)
    paths = capture_files(fs, "/cap").files
    reports = [inspect_file(fs, p) for p in paths]
    assert len(reports) == len(files)
    verify = verify_dir(fs, "/cap")
    damaged_files = {r.path for r in reports if r.problems}
    assert {p.path for p in verify.problems} >= damaged_files
    recovery = recover_capture_dir(fs, "/cap")
    assert recovery.errors == ()
    left = capture_files(fs, "/cap").files
    assert not any(p.endswith(".prog") for p in left)
    assert recover_capture_dir(fs, "/cap").changed_anything is False


def _outcome(data: bytes) -> tuple[object, ...]:
    """Everything a reader says about ``data``: records, then the error or torn bytes."""
    fs = SimFS(capacity_bytes=1 << 24, rng=RngTree(0), wall_clock=lambda: 0)
    path = f"{DIR}/f.capture"
    put(fs, path, data)
    seen: list[object] = []
    try:
        with CaptureReader(fs, path) as reader:
            for r in reader.records():
                seen.append((r.index, r.offset, r.size, r.sensor_data.SerializeToString(),
                             r.payload, r.reading_id))  # fmt: skip
            return (*seen, "torn", reader.torn_tail_bytes)
    except StorageError as error:
        return (*seen, type(error).__name__, str(error))


@pytest.mark.parametrize("base", BASES, ids=["tabular", "binary"])
def test_records_read_in_memory_match_the_field_by_field_scan(
    base: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small records are scanned in memory (the fast path); anything odd falls back to the
    # field-by-field scan. Both must say exactly the same about every file: here, every file
    # one flipped byte (five ways) or one cut away from a good one.
    variants = [base[:cut] for cut in range(len(base))]
    for at in range(len(base)):
        for mask in (0x01, 0x08, 0x10, 0x38, 0x80):
            flipped = bytearray(base)
            flipped[at] ^= mask
            variants.append(bytes(flipped))
    fast = [_outcome(v) for v in variants]
    monkeypatch.setattr(_reader, "_IN_MEMORY_RECORD", -1)
    assert [_outcome(v) for v in variants] == fast
