"""Property: any sequence of readings written, closed and read back is identical, in order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from viam.proto.app.data import Annotations, BoundingBox, Classification
from viam.proto.app.datasync import DataType, SensorData

from dmsim.runtime import RngTree
from dmsim.storage._codec import binary_reading, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._reader import read_capture_file
from dmsim.storage._simfs import SimFS
from dmsim.storage._writer import CaptureWriter

MAX_NS = 253_402_300_799 * 10**9  # the end of year 9999, protobuf Timestamp's range

json_scalars = st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
structs = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
times = st.integers(min_value=-62_135_596_800 * 10**9, max_value=MAX_NS)
ids = st.one_of(
    st.none(),
    st.builds(
        ReadingId, st.text(max_size=20), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
    ),
)
confidences = st.none() | st.floats(0, 1)


@st.composite
def annotation_sets(draw: st.DrawFn) -> Annotations | None:
    if not draw(st.booleans()):
        return None
    boxes = []
    for _ in range(draw(st.integers(0, 2))):
        conf = draw(confidences)
        box = BoundingBox(
            id=draw(st.text(max_size=4)),
            label=draw(st.text(max_size=8)),
            x_min_normalized=draw(st.floats(0, 1)),
            y_max_normalized=draw(st.floats(0, 1)),
        )
        if conf is not None:
            box.confidence = conf
        boxes.append(box)
    labels = draw(st.lists(st.text(max_size=8), max_size=2))
    return Annotations(bboxes=boxes, classifications=[Classification(label=x) for x in labels])


@st.composite
def tabular_readings(draw: st.DrawFn) -> tuple[SensorData, ReadingId | None]:
    values: dict[str, Any] = draw(structs)
    reading = tabular_reading(values, time_requested_ns=draw(times), time_received_ns=draw(times))
    return reading, draw(ids)


@st.composite
def binary_readings(draw: st.DrawFn) -> tuple[SensorData, ReadingId | None]:
    payload = draw(st.binary(max_size=300))
    if draw(st.booleans()):  # a payload over one 64 KiB read chunk, cheap to generate
        payload = (payload + b"\x01") * (70_000 // (len(payload) + 1) + 1)
    reading = binary_reading(
        payload,
        time_requested_ns=draw(times),
        time_received_ns=draw(times),
        annotations=draw(annotation_sets()),
    )
    return reading, draw(ids)


def write_and_read(
    data_type: DataType.ValueType,
    readings: list[tuple[SensorData, ReadingId | None]],
    *,
    max_size: int,
    buffer_bytes: int,
    gaps: list[float],
    wall_step_ns: int,
) -> tuple[list[SensorData], list[ReadingId | None]]:
    fs = SimFS(capacity_bytes=1 << 30, rng=RngTree(0), wall_clock=lambda: 0)
    clock = [0.0]
    wall = [1_700_000_000 * 10**9]
    writer = CaptureWriter(
        fs,
        capture_dir="/data/capture",
        key=CollectorKey.of("rdk:component:x", "thing", "Method"),
        data_type=data_type,
        now=lambda: clock[0],
        wall_ns=lambda: wall[0],
        max_file_size_bytes=max_size,
        buffer_bytes=buffer_bytes,
    )
    for (reading, rid), gap in zip(readings, gaps, strict=False):
        writer.write(reading, reading_id=rid)
        clock[0] += gap
        wall[0] += wall_step_ns  # may be 0 or negative: names must still be unique, ordered
        writer.maybe_sync()
    for reading, rid in readings[len(gaps) :]:
        writer.write(reading, reading_id=rid)
    writer.close()
    assert writer.live_paths() == frozenset()
    got: list[SensorData] = []
    got_ids: list[ReadingId | None] = []
    names = fs.listdir(writer.directory) if readings else []
    assert all(name.endswith(".capture") for name in names)
    for name in names:  # lexical order must be creation order
        contents = read_capture_file(fs, f"{writer.directory}/{name}")
        assert contents.torn_tail_bytes == 0
        got.extend(contents.readings)
        got_ids.extend(contents.reading_ids)
    return got, got_ids


common = {
    "max_size": st.integers(0, 3000),
    "buffer_bytes": st.integers(0, 5000),
    "gaps": st.lists(st.floats(0, 2.5), max_size=30),
    "wall_step_ns": st.sampled_from([0, -5_000_000_000, 1, 1_000_000]),
}


@settings(max_examples=60)
@given(readings=st.lists(tabular_readings(), max_size=30), **common)
def test_tabular_round_trip(
    readings: list[tuple[SensorData, ReadingId | None]], **options: Any
) -> None:
    got, got_ids = write_and_read(DataType.DATA_TYPE_TABULAR_SENSOR, readings, **options)
    assert got == [r for r, _ in readings]
    assert got_ids == [i for _, i in readings]


@settings(max_examples=30)
@given(readings=st.lists(binary_readings(), max_size=6), **common)
def test_binary_round_trip(
    readings: list[tuple[SensorData, ReadingId | None]], **options: Any
) -> None:
    got, got_ids = write_and_read(DataType.DATA_TYPE_BINARY_SENSOR, readings, **options)
    assert got == [r for r, _ in readings]
    assert got_ids == [i for _, i in readings]
