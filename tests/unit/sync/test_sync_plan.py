"""Request planning: splitting, idempotency keys, upload metadata."""

from __future__ import annotations

import itertools

from google.protobuf import any_pb2, wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st
from viam.proto.app.datasync import DataCaptureUploadRequest, DataType, SensorData

from dmsim.storage._codec import build_metadata, tabular_reading
from dmsim.sync import (
    ContentHasher,
    RequestSplitter,
    capture_key,
    capture_upload_metadata,
    file_upload_metadata,
    split_readings,
)
from dmsim.sync._plan import field_size, file_key, path_labels


@given(
    st.lists(st.integers(0, 5000), max_size=200),
    st.integers(1024, 20_000),
    st.integers(0, 500),
)
def test_every_reading_lands_in_exactly_one_request_under_the_cap(
    sizes: list[int], cap: int, overhead: int
) -> None:
    ranges = split_readings(sizes, cap=cap, overhead=overhead)
    covered = [i for start, stop in ranges for i in range(start, stop)]
    assert covered == list(range(len(sizes)))  # each once, in order, contiguous
    for start, stop in ranges:
        assert stop > start
        total = overhead + sum(field_size(s) for s in sizes[start:stop])
        # Over the cap only when one reading alone exceeds it.
        assert total <= cap or stop - start == 1
    # Greedy: the next reading would not have fit in the previous request.
    for (start, _stop), (nxt, _) in itertools.pairwise(ranges):
        total = overhead + sum(field_size(s) for s in sizes[start : nxt + 1])
        assert total > cap


def test_splitter_reports_new_requests() -> None:
    splitter = RequestSplitter(cap=100, overhead=10)
    opened = [splitter.add(size) for size in (40, 40, 40, 200, 5)]
    assert opened == [True, False, True, True, True]
    assert splitter.ranges == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert split_readings([], cap=100, overhead=10) == []


def test_field_size_is_protobuf_arithmetic() -> None:
    reading = tabular_reading({"v": "x" * 300}, time_requested_ns=1, time_received_ns=2)
    request = DataCaptureUploadRequest(sensor_contents=[reading, reading])
    assert request.ByteSize() == 2 * field_size(reading.ByteSize())


def test_digest_depends_on_part_and_content_only() -> None:
    def digest(part: str, *chunks: bytes) -> str:
        hasher = ContentHasher(part)
        for chunk in chunks:
            hasher.update(chunk)
        return hasher.hexdigest()

    assert digest("p", b"ab", b"cd") == digest("p", b"abcd")
    assert digest("p", b"abcd") != digest("q", b"abcd")
    # The part id is length-prefixed, so no part/content pair can pose as another.
    assert digest("ab", b"c") != digest("a", b"bc")
    key = capture_key(digest("p", b"x"), 3, 7)
    assert key.endswith("/3-7")
    assert len(key.split("/")[0]) == 64


@given(
    st.tuples(st.sampled_from(["/a/status.json", "/b/status.json"]), st.integers(0, 3)),
    st.tuples(st.sampled_from(["/a/status.json", "/b/status.json"]), st.integers(0, 3)),
)
def test_an_arbitrary_files_key_names_the_file_not_only_its_bytes(
    first: tuple[str, int], second: tuple[str, int]
) -> None:
    digest = "ab" * 32  # the same content
    assert (file_key(digest, *first) == file_key(digest, *second)) == (first == second)
    assert file_key(digest, *first).startswith(digest + "/file-")
    assert file_key("cd" * 32, *first) != file_key(digest, *first)


def test_capture_metadata_becomes_upload_metadata_with_service_tags() -> None:
    header = build_metadata(
        component_type="rdk:component:camera",
        component_name="cam",
        method_name="ReadImage",
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        method_parameters={"mime_type": "image/png"},
        tags=["a", "b"],
        mime_type="image/png",
    )
    upload = capture_upload_metadata(header, part_id="part-9", service_tags=["b", "c"])
    assert upload.part_id == "part-9"
    assert (upload.component_type, upload.component_name, upload.method_name) == (
        "rdk:component:camera",
        "cam",
        "ReadImage",
    )
    assert upload.type == DataType.DATA_TYPE_BINARY_SENSOR
    assert list(upload.tags) == ["a", "b", "c"]
    assert upload.file_extension == ".png"
    assert upload.mime_type == "image/png"
    value = wrappers_pb2.StringValue()
    packed: any_pb2.Any = upload.method_parameters["mime_type"]
    assert packed.Unpack(value)
    assert value.value == "image/png"


def test_arbitrary_file_metadata() -> None:
    upload = file_upload_metadata(
        "/logs/tag=field/dataset=ds1/run.jpg",
        root="/logs",
        part_id="p",
        service_tags=["svc"],
        mtime_ns=1_700_000_000_123_456_789,
    )
    assert upload.type == DataType.DATA_TYPE_FILE
    assert upload.file_name == "/logs/tag=field/dataset=ds1/run.jpg"
    assert (upload.file_extension, upload.mime_type) == (".jpg", "image/jpeg")
    assert list(upload.tags) == ["field", "svc"]
    assert list(upload.dataset_ids) == ["ds1"]
    assert upload.file_modify_time.ToNanoseconds() == 1_700_000_000_123_456_789
    assert path_labels("/r/x", "/r").tags == ()
    assert path_labels("/r/tag=/x", "/r").tags == ()


def test_sensor_data_round_trips_through_a_request_with_unknown_fields() -> None:
    reading = tabular_reading({"v": 1}, time_requested_ns=1, time_received_ns=2)
    raw = reading.SerializeToString() + b"\xc2\xab\x22\x03abc"  # field 71000, 3 bytes
    body = b"\x12" + bytes([len(raw)]) + raw
    request = DataCaptureUploadRequest.FromString(body)
    assert request.sensor_contents[0].SerializeToString() == raw
    assert SensorData.FromString(raw).struct == reading.struct
