"""CaptureReader: streaming payloads, torn tails reported, damage named by file and offset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from viam.proto.app.datasync import DataCaptureMetadata, DataType, SensorData

from dmsim.errors import StorageError
from dmsim.storage._codec import (
    CaptureFormatError,
    NoMetadataError,
    binary_reading,
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    encode_uvarint,
    frame,
    tabular_reading,
)
from dmsim.storage._fs import FileSystem, ReadHandle
from dmsim.storage._identity import ReadingId, identity_of
from dmsim.storage._reader import CaptureReader, read_capture_file
from dmsim.storage._realfs import RealFS

TABULAR = build_metadata(
    component_type="rdk:component:sensor",
    component_name="s",
    method_name="Readings",
    data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
)
BINARY = build_metadata(
    component_type="rdk:component:camera",
    component_name="c",
    method_name="ReadImage",
    data_type=DataType.DATA_TYPE_BINARY_SENSOR,
)


def record(i: int, rid: ReadingId | None = None) -> bytes:
    return encode_sensor_data(
        tabular_reading({"i": i}, time_requested_ns=i, time_received_ns=i), rid
    )


def field(number: int, payload: bytes) -> bytes:
    return encode_uvarint(number << 3 | 2) + frame(payload)


def write(tmp_path: Path, data: bytes, name: str = "f.capture") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def good_metadata_field() -> bytes:
    meta = tabular_reading({}, time_requested_ns=1, time_received_ns=2).metadata
    return field(1, meta.SerializeToString())


def read_all(path: str) -> tuple[int, int]:
    with CaptureReader(RealFS(), path) as reader:
        count = sum(1 for _ in reader.records())
        return count, reader.torn_tail_bytes


def test_every_truncation_is_a_torn_tail_or_a_torn_header(tmp_path: Path) -> None:
    header = encode_metadata(TABULAR)
    records = [record(i, ReadingId("s", 0, i)) for i in range(3)]
    data = header + b"".join(records)
    ends = [len(header) + sum(len(r) for r in records[: k + 1]) for k in range(3)]
    for cut in range(len(data) + 1):
        path = write(tmp_path, data[:cut])
        if cut < len(header):
            with pytest.raises(NoMetadataError) as info:
                read_all(path)
            assert info.value.empty == (cut == 0)
            continue
        complete = [e for e in ends if e <= cut]
        last = complete[-1] if complete else len(header)
        assert read_all(path) == (len(complete), cut - last), cut


def test_a_zero_filled_tail_is_torn_not_readings(tmp_path: Path) -> None:
    path = write(tmp_path, encode_metadata(TABULAR) + record(0) + b"\0" * 4096)
    assert read_all(path) == (1, 4096)
    assert NoMetadataError.__mro__[1] is CaptureFormatError
    with pytest.raises(NoMetadataError) as info:
        read_all(write(tmp_path, b"\0" * 100))
    assert info.value.empty


def bad_records() -> dict[str, tuple[bytes, str]]:
    meta = good_metadata_field()
    struct = field(2, b"")
    no_time = field(1, b"")
    return {
        "zero-length record": (b"\x00\x01", "zero-length record"),
        "unknown field": (frame(meta + struct + field(9, b"x")), "unexpected field 9"),
        "wrong wire type": (frame(meta + b"\x10\x01"), "field 2 has wire type 0"),
        "two data fields": (frame(meta + struct + field(3, b"x")), "more than one data field"),
        "no data": (frame(meta), "neither struct nor binary"),
        "no metadata": (frame(struct), "no SensorMetadata"),
        "no time_requested": (frame(no_time + struct), "no time_requested"),
        "bad nanos": (frame(field(1, field(1, b"\x10\xff\xff\xff\xff\x0f")) + struct), "nanos"),
        "bad seconds": (
            frame(field(1, field(1, b"\x08" + encode_uvarint(2**62))) + struct),
            "seconds",
        ),
        "binary in tabular": (frame(meta + field(3, b"img")), "binary reading in a tabular"),
        "field past record": (
            frame(meta + encode_uvarint(2 << 3 | 2) + b"\x05ab"),
            "runs past the end",
        ),
        "tag past record": (frame(meta + b"\x9a"), "runs past the end"),
        "overlong length": (b"\xff" * 11, "not a varint"),
        "garbage struct": (frame(meta + field(2, b"\x0a\x05\xff")), "does not parse"),
        "garbage identity": (frame(meta + struct + field(71000, b"\x0a\x09x")), "does not parse"),
    }


@pytest.mark.parametrize("case", sorted(bad_records()))
def test_damage_is_named_by_file_and_offset(tmp_path: Path, case: str) -> None:
    damage, what = bad_records()[case]
    prefix = encode_metadata(TABULAR) + record(0)
    path = write(tmp_path, prefix + damage + record(1))
    with CaptureReader(RealFS(), path) as reader:
        records = reader.records()
        next(records)
        with pytest.raises(CaptureFormatError, match=what) as info:
            next(records)
    assert info.value.path == path
    assert info.value.offset >= len(prefix)
    assert path in str(info.value)
    assert f"at byte {info.value.offset}" in str(info.value)


def test_tabular_reading_in_a_binary_file_is_damage(tmp_path: Path) -> None:
    path = write(tmp_path, encode_metadata(BINARY) + record(0))
    with pytest.raises(CaptureFormatError, match="tabular reading in a binary"):
        read_all(path)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\xff" * 12, "not a varint"),
        (b"\x00\x01", "zero-length DataCaptureMetadata"),
        (encode_uvarint(2 << 20) + b"x", "over"),
        (frame(b"\x0a\x05ab"), "does not parse"),
        (frame(DataCaptureMetadata(method_name="m").SerializeToString()), "not tabular/binary"),
        (b"\x05abc", "torn header"),
        (b"\x85", "ends inside the header length"),
    ],
)
def test_unreadable_headers(tmp_path: Path, data: bytes, what: str) -> None:
    with pytest.raises(NoMetadataError, match=what) as info:
        CaptureReader(RealFS(), write(tmp_path, data))
    assert not info.value.empty


def test_missing_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open"):
        CaptureReader(RealFS(), str(tmp_path / "nope.capture"))


@dataclass
class CountingFS:
    """Counts the bytes read through every read handle it opens."""

    inner: FileSystem
    read_bytes: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_read(self, path: str) -> ReadHandle:
        return CountingHandle(self.inner.open_read(path), self)


@dataclass
class CountingHandle:
    inner: ReadHandle
    owner: CountingFS

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.owner.read_bytes += len(data)
        return data

    def seek(self, offset: int) -> None:
        self.inner.seek(offset)

    def tell(self) -> int:
        return self.inner.tell()

    def close(self) -> None:
        self.inner.close()


def test_binary_payloads_stream_in_chunks_and_are_never_loaded_by_the_scan(tmp_path: Path) -> None:
    big = bytes(range(256)) * 20_000  # 5 MB
    rid = ReadingId("cam", 1, 7)
    readings = [
        binary_reading(big, time_requested_ns=1, time_received_ns=2),
        binary_reading(b"tiny", time_requested_ns=3, time_received_ns=4),
    ]
    path = write(
        tmp_path,
        encode_metadata(BINARY)
        + encode_sensor_data(readings[0], rid)
        + encode_sensor_data(readings[1]),
    )
    fs = CountingFS(RealFS())
    with CaptureReader(fs, path, chunk_size=4096) as reader:
        records = list(reader.records())
        assert fs.read_bytes < 64 * 1024
        assert [r.payload.length for r in records] == [len(big), 4]  # type: ignore[union-attr]
        assert not records[0].sensor_data.HasField("binary")
        chunks = list(reader.payload_chunks(records[0]))
        assert {len(c) for c in chunks[:-1]} == {65536}
        assert b"".join(chunks) == big
        full = reader.reading(records[0])
        assert full.binary == big
        assert identity_of(full) == rid
        assert reader.read_payload(records[1]) == b"tiny"
        assert records[0].time_requested_ns == 1
        assert records[0].is_binary


def test_records_is_a_single_pass_and_payloads_only_exist_for_binary(tmp_path: Path) -> None:
    path = write(tmp_path, encode_metadata(TABULAR) + record(0))
    with CaptureReader(RealFS(), path) as reader:
        [rec] = reader.records()
        assert reader.finished
        assert reader.readings == 1
        assert reader.valid_end == reader.size
        with pytest.raises(StorageError, match="single pass"):
            list(reader.records())
        with pytest.raises(StorageError, match="not binary"):
            list(reader.payload_chunks(rec))


def test_read_capture_file_returns_messages_without_the_identity_field(tmp_path: Path) -> None:
    path = write(tmp_path, encode_metadata(TABULAR) + record(5, ReadingId("s", 0, 5)) + b"\x09")
    contents = read_capture_file(RealFS(), path)
    assert contents.reading_ids == (ReadingId("s", 0, 5),)
    assert contents.torn_tail_bytes == 1
    assert contents.readings[0] == tabular_reading(
        {"i": 5}, time_requested_ns=5, time_received_ns=5
    )
    assert isinstance(contents.readings[0], SensorData)
