"""Wire compatibility, checked against independent code: a hand-rolled varint framing with
viam-sdk's classes writes files dmsim must read, and parses files dmsim writes."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import any_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from viam.proto.app.data import Annotations, BoundingBox, Classification
from viam.proto.app.datasync import (
    DataCaptureMetadata,
    DataType,
    MimeType,
    SensorData,
    SensorMetadata,
)

from dmsim.storage._codec import binary_reading, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._reader import CaptureReader, read_capture_file
from dmsim.storage._realfs import RealFS
from dmsim.storage._writer import CaptureWriter, ClosedFile


def varint(n: int) -> bytes:
    out = []
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def delimited(message: bytes) -> bytes:
    return varint(len(message)) + message


def independent_parse(data: bytes) -> tuple[DataCaptureMetadata, list[SensorData]]:
    length, pos = read_varint(data, 0)
    header = DataCaptureMetadata.FromString(data[pos : pos + length])
    pos += length
    readings = []
    while pos < len(data):
        length, pos = read_varint(data, pos)
        readings.append(SensorData.FromString(data[pos : pos + length]))
        pos += length
    return header, readings


def ts(seconds: int, nanos: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def test_rdk_style_file_reads_back_field_for_field(tmp_path: Path) -> None:
    params = any_pb2.Any()
    params.Pack(wrappers_pb2.StringValue(value="A1"))
    header = DataCaptureMetadata(
        component_type="rdk:component:board",
        component_name="board-1",
        method_name="Analogs",
        type=DataType.DATA_TYPE_TABULAR_SENSOR,
        method_parameters={"reader_name": params},
        file_extension=".dat",
        tags=["field", "rig-3"],
    )
    readings = []
    for i in range(300):  # > 128 bytes total, so multi-byte lengths are exercised too
        values = struct_pb2.Struct()
        values.update({"value": i * 1.5, "name": "A1" * (i % 90), "ok": i % 2 == 0})
        readings.append(
            SensorData(
                metadata=SensorMetadata(
                    time_requested=ts(1_700_000_000 + i, i),
                    time_received=ts(1_700_000_000 + i, i + 9),
                ),
                struct=values,
            )
        )
    path = tmp_path / "2026-06-17T13_04_32.032650-04_00.capture"
    path.write_bytes(
        delimited(header.SerializeToString())
        + b"".join(delimited(r.SerializeToString()) for r in readings)
    )
    contents = read_capture_file(RealFS(), str(path))
    assert contents.metadata == header
    assert list(contents.readings) == readings
    assert contents.reading_ids == (None,) * 300
    assert contents.torn_tail_bytes == 0


def test_rdk_style_binary_file_with_annotations_reads_back(tmp_path: Path) -> None:
    header = DataCaptureMetadata(
        component_type="rdk:component:camera",
        component_name="cam",
        method_name="ReadImage",
        type=DataType.DATA_TYPE_BINARY_SENSOR,
        file_extension=".jpeg",
        mime_type="image/jpeg",
    )
    image = bytes(range(256)) * 1000
    reading = SensorData(
        metadata=SensorMetadata(
            time_requested=ts(5, 6),
            time_received=ts(7, 8),
            mime_type=MimeType.MIME_TYPE_IMAGE_JPEG,
            annotations=Annotations(
                bboxes=[
                    BoundingBox(
                        id="b1",
                        label="dog",
                        x_min_normalized=0.1,
                        y_min_normalized=0.2,
                        x_max_normalized=0.3,
                        y_max_normalized=0.4,
                        confidence=0.9,
                    )
                ],
                classifications=[Classification(label="animal", confidence=0.5, id="c1")],
            ),
        ),
        binary=image,
    )
    path = tmp_path / "x.capture"
    path.write_bytes(delimited(header.SerializeToString()) + delimited(reading.SerializeToString()))
    contents = read_capture_file(RealFS(), str(path))
    assert contents.metadata == header
    assert list(contents.readings) == [reading]


def test_dmsim_files_parse_with_independent_code(tmp_path: Path) -> None:
    fs = RealFS()
    closed: list[ClosedFile] = []
    clock = [0.0]
    key = CollectorKey.of("rdk:component:sensor", "imu", "Readings", {"rate": "fast"})
    writer = CaptureWriter(
        fs,
        capture_dir=str(tmp_path),
        key=key,
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: clock[0],
        wall_ns=lambda: 1_781_715_872_000_000_000,
        tags=["t"],
        file_extension=".dat",
        on_file_closed=closed.append,
    )
    written = []
    for i in range(50):
        reading = tabular_reading(
            {"x": i, "s": "v"}, time_requested_ns=i * 10**6, time_received_ns=i * 10**6 + 5
        )
        written.append(reading)
        writer.write(reading, reading_id=ReadingId("imu/Readings", 2, i))
    writer.close()
    [done] = closed
    header, readings = independent_parse(Path(done.path).read_bytes())
    assert header.component_type == "rdk:component:sensor"
    assert header.method_name == "Readings"
    assert header.type == DataType.DATA_TYPE_TABULAR_SENSOR
    assert list(header.tags) == ["t"]
    unpacked = wrappers_pb2.StringValue()
    assert header.method_parameters["rate"].Unpack(unpacked)
    assert unpacked.value == "fast"
    for parsed, original in zip(readings, written, strict=True):
        parsed.DiscardUnknownFields()  # the identity: viam-sdk keeps it as an unknown field
        assert parsed == original


def test_dmsim_binary_files_parse_with_independent_code(tmp_path: Path) -> None:
    fs = RealFS()
    closed: list[ClosedFile] = []
    writer = CaptureWriter(
        fs,
        capture_dir=str(tmp_path),
        key=CollectorKey.of("rdk:component:camera", "cam", "ReadImage"),
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: 0,
        file_extension=".jpeg",
        on_file_closed=closed.append,
    )
    images = [bytes([i]) * (70_000 + i) for i in range(3)]
    for i, image in enumerate(images):
        writer.write(
            binary_reading(image, time_requested_ns=i, time_received_ns=i),
            reading_id=ReadingId("cam", 0, i),
            mime_type="image/png" if i == 1 else "",
        )
    writer.close()
    assert len(closed) == 3
    for i, done in enumerate(closed):
        header, [parsed] = independent_parse(Path(done.path).read_bytes())
        assert parsed.binary == images[i]
        assert header.mime_type == ("image/png" if i == 1 else "")
        assert header.file_extension == (".png" if i == 1 else ".jpeg")
        with CaptureReader(fs, done.path) as reader:
            [record] = reader.records()
            assert record.reading_id == ReadingId("cam", 0, i)
            assert [len(c) for c in reader.payload_chunks(record)] == [
                65536,
                len(images[i]) - 65536,
            ]
