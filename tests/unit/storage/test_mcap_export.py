"""MCAP export: channels, schemas, images, attachments; CRC-validated by the mcap package."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcap.reader import make_reader
from mcap.records import Channel, DataEnd, Footer, Schema
from mcap.stream_reader import StreamReader
from viam.proto.app.data import Annotations, BoundingBox, Classification
from viam.proto.app.datasync import DataType

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage._codec import binary_reading, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._mcap_export import export_mcap, struct_to_json
from dmsim.storage._naming import CollectorKey
from dmsim.storage._realfs import RealFS
from dmsim.storage._simfs import SimFS
from dmsim.storage._writer import CaptureWriter


def writer(
    root: Path,
    name: str,
    method: str,
    data_type: DataType.ValueType,
    params: dict[str, str] | None = None,
    **options: object,
) -> CaptureWriter:
    return CaptureWriter(
        RealFS(),
        capture_dir=str(root),
        key=CollectorKey.of("rdk:component:x", name, method, params),
        data_type=data_type,
        now=lambda: 0.0,
        wall_ns=lambda: 1_700_000_000 * 10**9,
        **options,  # type: ignore[arg-type]
    )


def populate(root: Path) -> dict[str, bytes]:
    sensor = writer(
        root, "imu", "Readings", DataType.DATA_TYPE_TABULAR_SENSOR, max_file_size_bytes=300
    )
    for i in range(20):
        values = {"x": i * 0.5, "label": f"r{i}", "nested": {"ok": i % 2 == 0}}
        if i == 3:
            values["late"] = [1, 2]
        if i == 4:
            values["x"] = float("nan")
        sensor.write(
            tabular_reading(
                values,
                time_requested_ns=10**18 + i * 10**6,
                time_received_ns=10**18 + i * 10**6 + 7,
            ),
            reading_id=ReadingId("imu", 0, i),
        )
    sensor.close()
    images = {"jpeg": b"\xff\xd8\xff" + bytes(500), "png": b"\x89PNG" + bytes(300)}
    cam = writer(
        root,
        "cam",
        "ReadImage",
        DataType.DATA_TYPE_BINARY_SENSOR,
        file_extension=".jpeg",
        mime_type="image/jpeg",
    )
    notes = Annotations(
        bboxes=[BoundingBox(label="cat", x_min_normalized=0.1, x_max_normalized=0.4)],
        classifications=[Classification(label="pet")],
    )
    cam.write(
        binary_reading(
            images["jpeg"],
            time_requested_ns=2 * 10**18,
            time_received_ns=2 * 10**18,
            annotations=notes,
        )
    )
    cam.write(
        binary_reading(
            images["png"], time_requested_ns=2 * 10**18 + 1, time_received_ns=2 * 10**18 + 1
        ),
        mime_type="image/png",
    )
    cloud = writer(
        root,
        "lidar",
        "NextPointCloud",
        DataType.DATA_TYPE_BINARY_SENSOR,
        file_extension=".pcd",
        mime_type="pointcloud/pcd",
    )
    pcd = b"# .PCD v0.7\n" + bytes(range(256)) * 10
    cloud.write(binary_reading(pcd, time_requested_ns=3 * 10**18, time_received_ns=3 * 10**18))
    return {**images, "pcd": pcd}


def test_export_validates_with_crcs_and_opens_as_foxglove_expects(tmp_path: Path) -> None:
    root = tmp_path / "capture"
    payloads = populate(root)
    out = tmp_path / "out.mcap"
    report = export_mcap(RealFS(), str(root), str(out))
    assert report.problems == ()
    assert report.topics == ("/cam/ReadImage", "/cam/ReadImage/annotations", "/imu/Readings")
    assert report.messages == 20 + 2 + 1
    assert report.attachments == 1
    assert not (tmp_path / "out.mcap.part").exists()

    records = list(StreamReader(io.BytesIO(out.read_bytes()), validate_crcs=True).records)
    [data_end] = [r for r in records if isinstance(r, DataEnd)]
    assert data_end.data_section_crc != 0
    assert [r for r in records if isinstance(r, Footer)]
    schemas = {r.id: r for r in records if isinstance(r, Schema)}
    channels = {r.topic: r for r in records if isinstance(r, Channel)}
    assert set(channels) == {"/cam/ReadImage", "/cam/ReadImage/annotations", "/imu/Readings"}
    assert schemas[channels["/cam/ReadImage"].schema_id].name == "foxglove.CompressedImage"
    assert all(c.message_encoding == "json" for c in channels.values())
    assert all(s.encoding == "jsonschema" for s in schemas.values())
    assert channels["/imu/Readings"].metadata["component_type"] == "rdk:component:x"

    reader = make_reader(io.BytesIO(out.read_bytes()), validate_crcs=True)
    by_topic: dict[str, list[dict[str, object]]] = {}
    for schema, channel, message in reader.iter_messages():
        assert schema is not None
        body = json.loads(message.data)
        jsonschema.validate(body, json.loads(schema.data))
        by_topic.setdefault(channel.topic, []).append(body)
    readings = by_topic["/imu/Readings"]
    assert [r["label"] for r in readings] == [f"r{i}" for i in range(20)]
    assert readings[4]["x"] == "NaN"
    assert readings[3]["late"] == [1.0, 2.0]
    tabular_schema = json.loads(schemas[channels["/imu/Readings"].schema_id].data)
    assert set(tabular_schema["properties"]) == {"x", "label", "nested", "late"}
    assert tabular_schema["properties"]["nested"]["properties"]["ok"] == {"type": "boolean"}
    images = by_topic["/cam/ReadImage"]
    assert [i["format"] for i in images] == ["jpeg", "png"]
    assert base64.b64decode(images[0]["data"]) == payloads["jpeg"]  # type: ignore[arg-type]
    assert images[0]["timestamp"] == {"sec": 2 * 10**9, "nsec": 0}
    [notes] = by_topic["/cam/ReadImage/annotations"]
    assert notes["bboxes"][0]["label"] == "cat"  # type: ignore[index]
    [attachment] = list(reader.iter_attachments())
    assert attachment.media_type == "pointcloud/pcd"
    assert attachment.data == payloads["pcd"]
    assert attachment.name.startswith("lidar/NextPointCloud/")


def test_damaged_files_contribute_their_readable_prefix(tmp_path: Path) -> None:
    root = tmp_path / "capture"
    populate(root)
    garbage = root / "rdk_component_x" / "imu" / "Readings" / "2030-01-01T00_00_00.000000Z.capture"
    garbage.write_bytes(b"\xff" * 30)
    report = export_mcap(RealFS(), str(root), str(tmp_path / "o.mcap"))
    [problem] = report.problems
    assert problem.path == str(garbage)
    assert report.messages == 23
    assert report.to_json()["problems"][0]["offset"] == 0
    list(StreamReader(io.BytesIO((tmp_path / "o.mcap").read_bytes()), validate_crcs=True).records)


def test_a_torn_tail_is_reported_as_a_problem(tmp_path: Path) -> None:
    """Regression: a torn tail was only a byte count, so the CLI said nothing and exited 0."""
    root = tmp_path / "capture"
    populate(root)
    [first, *_] = sorted(root.rglob("*.capture"))
    intact_size = first.stat().st_size
    with first.open("ab") as f:
        f.write(b"\x30\x0a\x02")  # a record cut short
    report = export_mcap(RealFS(), str(root), str(tmp_path / "o.mcap"))
    assert report.messages == 23
    assert report.torn_tail_bytes == 3
    [problem] = report.problems
    assert (problem.path, problem.offset) == (str(first), intact_size)
    assert "torn tail of 3 bytes" in problem.what


def test_collectors_that_differ_only_in_params_get_a_channel_each(tmp_path: Path) -> None:
    """Regression: board Analogs A1 and A2 were merged into one /b1/Analogs channel whose
    metadata named A2 only, so nothing said which reading came from which pin."""
    root = tmp_path / "capture"
    collectors = {
        "/b1/Analogs/reader_name=A1": {"reader_name": "A1"},
        "/b1/Analogs/reader_name=A2": {"reader_name": "A2"},
        "/b1/Analogs/pin=a%2Fb,reader_name=x%3D1%2C2": {"reader_name": "x=1,2", "pin": "a/b"},
        "/b1/Analogs": None,
    }
    for i, params in enumerate(collectors.values()):
        sensor = writer(root, "b1", "Analogs", DataType.DATA_TYPE_TABULAR_SENSOR, params)
        for t in range(3):
            sensor.write(tabular_reading({"pin": i}, time_requested_ns=t, time_received_ns=t))
        sensor.close()
    out = tmp_path / "out.mcap"
    report = export_mcap(RealFS(), str(root), str(out))
    assert report.topics == tuple(sorted(collectors))
    reader = make_reader(io.BytesIO(out.read_bytes()), validate_crcs=True)
    pins: dict[str, set[object]] = {}
    for _, channel, message in reader.iter_messages():
        pins.setdefault(channel.topic, set()).add(json.loads(message.data)["pin"])
        assert json.loads(channel.metadata["method_parameters"]) == (
            collectors[channel.topic] or {}
        )
    assert pins == {topic: {float(i)} for i, topic in enumerate(collectors)}


def sim_capture(readings: int = 5) -> SimFS:
    fs = SimFS(capacity_bytes=1 << 24, rng=RngTree(1), wall_clock=lambda: 0)
    sensor = CaptureWriter(
        fs,
        capture_dir="/cap",
        key=CollectorKey.of("rdk:component:x", "imu", "Readings"),
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: 10**18,
    )
    for i in range(readings):
        sensor.write(tabular_reading({"x": i}, time_requested_ns=i, time_received_ns=i))
    sensor.close()
    fs.makedirs("/out")
    return fs


@pytest.mark.parametrize("op", ["open", "write", "fsync", "rename", "fsync_dir"])
def test_an_output_that_cannot_be_written_is_named_and_left_no_part(op: str) -> None:
    """Regression: `-o /proc/x.mcap` reported "x.mcap.part: No such file or directory"."""
    fs = sim_capture()
    fs.inject_eio(prefix="/out", ops=[op], fault_id="out")
    with pytest.raises(StorageError, match=r"^cannot write /out/x\.mcap: ") as info:
        export_mcap(fs, "/cap", "/out/x.mcap")
    assert ".part" not in str(info.value)
    assert not fs.exists("/out/x.mcap.part")


def test_a_capture_file_that_fails_to_read_is_a_problem_not_an_output_error() -> None:
    fs = sim_capture()
    [path] = [f"{d}/{n}" for d, _, names in fs.walk("/cap") for n in names]
    fs.inject_eio(prefix=path, ops=["read"], fault_id="in")
    report = export_mcap(fs, "/cap", "/out/x.mcap")
    [problem] = report.problems
    assert problem.path == path
    assert "read failed" in problem.what
    assert fs.exists("/out/x.mcap")


def test_struct_to_json_is_total() -> None:
    reading = tabular_reading(
        {"inf": float("-inf"), "n": None, "l": [True, "s"]}, time_requested_ns=0, time_received_ns=0
    )
    reading.struct.fields["unset"].SetInParent()
    assert struct_to_json(reading.struct) == {
        "inf": "-Infinity",
        "l": [True, "s"],
        "n": None,
        "unset": None,
    }


@settings(max_examples=25)
@given(cut=st.integers(0, 400), flip=st.integers(0, 3999))
def test_export_of_damaged_directories_always_validates(cut: int, flip: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "capture"
        sensor = writer(root, "imu", "Readings", DataType.DATA_TYPE_TABULAR_SENSOR)
        for i in range(10):
            sensor.write(tabular_reading({"x": i}, time_requested_ns=i, time_received_ns=i))
        sensor.close()
        [path] = list(root.rglob("*.capture"))
        data = bytearray(path.read_bytes())
        data[flip % len(data)] ^= 0x10
        path.write_bytes(bytes(data[: len(data) - cut % len(data)]))
        export_mcap(RealFS(), str(root), str(Path(tmp) / "o.mcap"))
        list(
            StreamReader(
                io.BytesIO((Path(tmp) / "o.mcap").read_bytes()), validate_crcs=True
            ).records
        )


class PayloadReadFails:
    """RealFS, except that the payload reader of ``path`` (its third open: the two passes'
    record readers come first) cannot be opened."""

    def __init__(self, path: Path) -> None:
        self._fs = RealFS()
        self._path = str(path)
        self._opens = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._fs, name)

    def open_read(self, path: str) -> object:
        if path == self._path:
            self._opens += 1
            if self._opens == 3:
                raise OSError(5, "Input/output error", path)
        return self._fs.open_read(path)


def test_a_payload_read_error_and_a_torn_tail_are_both_reported(tmp_path: Path) -> None:
    """Regression: the torn tail, found after, replaced the file's read error in the report."""
    root = tmp_path / "capture"
    cam = writer(root, "cam", "ReadImage", DataType.DATA_TYPE_BINARY_SENSOR)
    cam.write(binary_reading(b"\xff\xd8" + b"j" * 5000, time_requested_ns=0, time_received_ns=0))
    cam.close()
    [path] = root.rglob("*.capture")
    with path.open("ab") as f:
        f.write(b"\x30\x0a\x02")  # a record cut short
    report = export_mcap(PayloadReadFails(path), str(root), str(tmp_path / "o.mcap"))  # type: ignore[arg-type]
    assert sorted(("read failed" in p.what, "torn tail" in p.what) for p in report.problems) == [
        (False, True),
        (True, False),
    ]
    assert {p.path for p in report.problems} == {str(path)}
