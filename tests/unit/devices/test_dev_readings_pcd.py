"""Reading values, their protobuf forms, and the strict PCD parser."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.devices import (
    Annotations,
    BinaryReading,
    BoundingBox,
    CaptureResult,
    Classification,
    PcdError,
    TabularReading,
    annotations_to_proto,
    encode_pcd,
    mime_type_to_proto,
    parse_pcd,
    tabular_to_struct,
)
from dmsim.errors import InternalError

IMG = BinaryReading(b"\xff\xd8", "image/jpeg")


@pytest.mark.parametrize(
    ("readings", "times", "message"),
    [
        ((), (1, 2), "at least one reading"),
        ((TabularReading({}), IMG), (1, 2), "exactly one reading"),
        ((BinaryReading(b"", "image/png"),), (1, 2), "empty payload"),
        ((IMG,), (5, 4), "before time_requested"),
    ],
)
def test_malformed_capture_results_are_bugs(
    readings: tuple, times: tuple[int, int], message: str
) -> None:
    with pytest.raises(InternalError, match=message):
        CaptureResult(readings, *times)


def test_capture_result_kinds() -> None:
    assert CaptureResult((TabularReading({"a": 1}),), 1, 1).is_tabular
    assert not CaptureResult((IMG, IMG), 1, 2).is_tabular


def test_annotations_convert_to_the_viam_proto() -> None:
    annotations = Annotations(
        bboxes=(
            BoundingBox("b1", "FAIL", 0.1, 0.2, 0.3, 0.4, 0.9),
            BoundingBox("b2", "PASS", 0.5, 0.5, 0.6, 0.7),
        ),
        classifications=(Classification("", "FAIL", 0.8), Classification("c", "color")),
    )
    proto = annotations_to_proto(annotations)
    first, second = proto.bboxes
    assert (first.id, first.label, first.x_min_normalized, first.y_max_normalized) == (
        "b1",
        "FAIL",
        0.1,
        0.4,
    )
    assert first.HasField("confidence")
    assert first.confidence == pytest.approx(0.9)
    assert not second.HasField("confidence")
    assert [c.label for c in proto.classifications] == ["FAIL", "color"]
    assert proto.classifications[0].HasField("confidence")
    assert not proto.classifications[1].HasField("confidence")
    assert annotations_to_proto(Annotations()) is None
    assert annotations_to_proto(None) is None


def test_mime_types_map_to_the_datasync_enum() -> None:
    from viam.proto.app.datasync import MimeType

    assert mime_type_to_proto("image/jpeg") == MimeType.MIME_TYPE_IMAGE_JPEG
    assert mime_type_to_proto("image/png") == MimeType.MIME_TYPE_IMAGE_PNG
    assert mime_type_to_proto("pointcloud/pcd") == MimeType.MIME_TYPE_APPLICATION_PCD
    assert mime_type_to_proto("text/plain") == MimeType.MIME_TYPE_UNSPECIFIED


def test_tabular_data_converts_to_a_struct() -> None:
    struct = tabular_to_struct({"pose": {"x": 1.5, "ok": True}, "values": [1, 2.5, None], "s": "x"})
    assert struct["pose"]["x"] == 1.5
    assert list(struct["values"]) == [1, 2.5, None]
    for bad in ({"x": math.nan}, {"x": [math.inf]}, {"x": object()}, {"x": {1: 2}}):
        with pytest.raises(InternalError):
            tabular_to_struct(bad)


finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@given(
    st.lists(st.tuples(finite, finite, finite, st.integers(0, 0xFFFFFF)), max_size=40),
    st.sampled_from(["binary", "ascii"]),
)
def test_pcd_round_trips(points: list[tuple[float, float, float, int]], data_format: str) -> None:
    xyz = np.array([p[:3] for p in points], dtype=np.float32).reshape(-1, 3)
    rgb = np.array([p[3] for p in points], dtype=np.uint32)
    cloud = parse_pcd(encode_pcd(xyz, rgb, data_format=data_format))
    assert cloud.points == len(points)
    assert cloud.width == len(points)
    assert cloud.height == 1
    if data_format == "binary":
        assert np.array_equal(cloud.xyz(), xyz.astype(np.float64))
    else:
        assert np.allclose(cloud.xyz(), xyz, rtol=1e-5, atol=1e-3)
    assert list(cloud.data["rgb"]) == [p[3] for p in points]


def sample(data_format: str = "binary") -> bytes:
    xyz = np.arange(12, dtype=np.float32).reshape(4, 3)
    return encode_pcd(xyz, np.arange(4, dtype=np.uint32), data_format=data_format)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (sample()[:-1], "binary data is 63 bytes; 4 points × 16 = 64 expected"),
        (sample() + b"\0", "65 bytes"),
        (sample().replace(b"POINTS 4", b"POINTS 5"), "WIDTH × HEIGHT = 4 but POINTS = 5"),
        (sample().replace(b"VERSION 0.7", b"VERSION 0.6"), "VERSION must be 0.7"),
        (sample().replace(b"SIZE 4 4 4 4", b"SIZE 4 4 4"), "SIZE has 3 entries for 4 fields"),
        (sample().replace(b"TYPE F F F I", b"TYPE F F F Q"), "unsupported TYPE"),
        (sample().replace(b"HEIGHT 1\n", b""), "'VIEWPOINT' where 'HEIGHT' was expected"),
        (sample().replace(b"DATA binary", b"DATA binary_compressed"), "not supported"),
        (sample().split(b"DATA")[0], "header ends before DATA"),
        (sample("ascii").rsplit(b"\n", 2)[0] + b"\n", "3 lines for 4 points"),
        (sample("ascii").replace(b"9 10 11 3", b"9 10 3"), "point 3 has 3 values"),
        (sample("ascii").replace(b"9 10 11 3", b"9 10 x 3"), "non-numeric"),
        (b"\xff\xfe garbage\n", "not ASCII"),
    ],
)
def test_pcd_parser_is_strict(blob: bytes, message: str) -> None:
    with pytest.raises(PcdError, match=message):
        parse_pcd(blob)


@given(st.data())
def test_any_truncation_or_corruption_is_a_pcd_error(data: st.DataObject) -> None:
    blob = sample(data.draw(st.sampled_from(["binary", "ascii"])))
    cut = data.draw(st.integers(0, len(blob) - 1))
    mutated = blob[:cut] + data.draw(st.binary(max_size=3))
    if mutated == blob:
        return
    try:
        parse_pcd(mutated)
    except PcdError:
        return
    # A few mutations stay valid (e.g. an ascii digit for a digit): then it must reparse equal.
    assert parse_pcd(mutated).points == 4
