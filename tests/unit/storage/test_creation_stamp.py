"""A capture file's creation stamp (field 71001 of its header): when dmsim began it, on the
monotonic clock the stamp names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.sync.sync_fakes import tabular_metadata, tabular_readings, write_file
from viam.proto.app.datasync import DataCaptureMetadata, DataType

from dmsim.runtime import RngTree
from dmsim.storage._codec import binary_reading, encode_metadata
from dmsim.storage._creation import CREATION_FIELD_NUMBER, CreationStamp
from dmsim.storage._naming import CollectorKey
from dmsim.storage._reader import CaptureReader, read_capture_file
from dmsim.storage._simfs import SimFS
from dmsim.storage._varint import CaptureFormatError, decode_uvarint, uvarint
from dmsim.storage._writer import CaptureWriter

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)


def sim_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 30, rng=RngTree(0), wall_clock=lambda: 0)


@given(clock=st.text(max_size=40), monotonic_ns=INT64)
def test_a_stamp_reads_back_as_written_and_viams_parser_keeps_the_header(
    clock: str, monotonic_ns: int
) -> None:
    stamp = CreationStamp(clock, monotonic_ns)
    fs = sim_fs()
    write_file(fs, "/f.capture", encode_metadata(tabular_metadata(), stamp))
    with CaptureReader(fs, "/f.capture") as reader:
        assert reader.creation == stamp
        assert reader.metadata.component_name == "sensor-1"
    parsed = DataCaptureMetadata()  # what rdk and the cloud parse: an unknown field, skipped
    header = encode_metadata(tabular_metadata(), stamp)
    parsed.ParseFromString(header[decode_uvarint(header)[1] :])
    parsed.DiscardUnknownFields()
    assert parsed == tabular_metadata()


def test_a_file_of_rdk_has_no_stamp() -> None:
    fs = sim_fs()
    write_file(fs, "/f.capture", encode_metadata(tabular_metadata()))
    with CaptureReader(fs, "/f.capture") as reader:
        assert reader.creation is None


def test_a_damaged_stamp_is_named_and_leaves_the_readings_readable() -> None:
    garbled = uvarint(CREATION_FIELD_NUMBER << 3 | 2) + b"\x02\x10\xff"  # its time cut short
    header = tabular_metadata().SerializeToString() + garbled
    fs = sim_fs()
    write_file(fs, "/f.capture", uvarint(len(header)) + header + tabular_readings("s", 3)[0])
    with (
        CaptureReader(fs, "/f.capture") as reader,
        pytest.raises(CaptureFormatError, match=r"/f\.capture: .*creation stamp"),
    ):
        _ = reader.creation
    assert len(read_capture_file(fs, "/f.capture").readings) == 1


def test_stamps_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="int64"):
        CreationStamp("c", 1 << 63)


def test_the_writer_stamps_each_file_with_its_clock_when_it_began_it() -> None:
    fs, now = sim_fs(), [5.25]
    writer = CaptureWriter(
        fs,
        capture_dir="/cap",
        key=CollectorKey.of("rdk:component:camera", "cam", "ReadImage"),
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        now=lambda: now[0],
        wall_ns=lambda: 10**18,  # one wall time for all: names are pushed past it
        clock_id="process 1",
    )
    for _ in range(2):
        writer.write(binary_reading(b"x", time_requested_ns=0, time_received_ns=0))
        now[0] += 1.5
    writer.close()
    stamps = []
    for name in sorted(fs.listdir(writer.directory)):
        with CaptureReader(fs, f"{writer.directory}/{name}") as reader:
            stamps.append(reader.creation)
    assert stamps == [
        CreationStamp("process 1", 5_250_000_000),
        CreationStamp("process 1", 6_750_000_000),
    ]
