"""Framing, message builders and the reading identity carried in field 71000."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2
from hypothesis import example, given
from hypothesis import strategies as st
from viam.proto.app.data import Annotations, BoundingBox
from viam.proto.app.datasync import (
    DataCaptureUploadRequest,
    DataType,
    SensorData,
    SensorMetadata,
    UploadMetadata,
)

from dmsim.errors import StorageError
from dmsim.storage._codec import (
    CaptureFormatError,
    binary_reading,
    build_metadata,
    decode_uvarint,
    encode_sensor_data,
    encode_uvarint,
    frame,
    tabular_reading,
    timestamp_from_ns,
)
from dmsim.storage._identity import (
    IDENTITY_FIELD_NUMBER,
    IdentityEncoder,
    ReadingId,
    _IdentityCarrier,
    _IdentityMessage,
    identity_field_bytes,
    identity_from_bytes,
    identity_of,
    parse_identity,
    with_identity,
)

u64 = st.integers(min_value=0, max_value=2**64 - 1)
ids = st.builds(ReadingId, st.text(max_size=40), st.integers(0, 2**32 - 1), u64)


@given(u64)
def test_uvarint_round_trips_every_uint64(value: int) -> None:
    encoded = encode_uvarint(value)
    assert decode_uvarint(encoded + b"\xff") == (value, len(encoded))
    assert len(encoded) == max(1, -(-value.bit_length() // 7))


def test_uvarint_known_encodings() -> None:
    assert encode_uvarint(0) == b"\x00"
    assert encode_uvarint(127) == b"\x7f"
    assert encode_uvarint(128) == b"\x80\x01"
    assert encode_uvarint(300) == b"\xac\x02"
    assert encode_uvarint(2**64 - 1) == b"\xff" * 9 + b"\x01"


@pytest.mark.parametrize("value", [-1, 2**64])
def test_uvarint_refuses_values_outside_uint64(value: int) -> None:
    with pytest.raises(StorageError, match="varint"):
        encode_uvarint(value)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"", "ends inside"),
        (b"\x80\x80", "ends inside"),
        (b"\xff" * 10 + b"\x01", "longer than 10"),
        (b"\xff" * 9 + b"\x7f", "over 64 bits"),
    ],
)
def test_uvarint_decode_errors_name_the_offset(data: bytes, what: str) -> None:
    with pytest.raises(CaptureFormatError, match=what) as info:
        decode_uvarint(b"\x05" + data, 1)
    assert info.value.offset == 1


def test_frame_prefixes_the_length() -> None:
    assert frame(b"abc") == b"\x03abc"
    assert frame(b"x" * 200)[:2] == b"\xc8\x01"


def test_build_metadata_packs_params_like_rdk() -> None:
    md = build_metadata(
        component_type="rdk:component:board",
        component_name="b",
        method_name="Analogs",
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        method_parameters={"reader_name": "A1"},
        tags=["t1"],
        file_extension=".dat",
    )
    packed = md.method_parameters["reader_name"]
    assert packed.type_url == "type.googleapis.com/google.protobuf.StringValue"
    assert packed.value == b"\n\x02A1"
    assert list(md.tags) == ["t1"]


def test_build_metadata_refuses_non_capture_types() -> None:
    with pytest.raises(StorageError, match="tabular or binary"):
        build_metadata(
            component_type="a",
            component_name="b",
            method_name="c",
            data_type=DataType.DATA_TYPE_FILE,
        )


def test_tabular_reading_from_mapping_and_struct() -> None:
    reading = tabular_reading(
        {"x": 1.5, "nested": {"ok": True}}, time_requested_ns=5, time_received_ns=7
    )
    assert reading.struct["x"] == 1.5
    assert reading.metadata.time_received.nanos == 7
    prebuilt = struct_pb2.Struct()
    prebuilt.update({"y": "z"})
    assert tabular_reading(prebuilt, time_requested_ns=0, time_received_ns=0).struct == prebuilt


def test_tabular_reading_refuses_values_a_struct_cannot_hold() -> None:
    with pytest.raises(StorageError, match="JSON-like"):
        tabular_reading({"x": object()}, time_requested_ns=0, time_received_ns=0)


json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
ns = st.integers(-(2**62), 2**62)


@given(st.dictionaries(st.text(max_size=8), json_like, max_size=8), ns, ns)
def test_tabular_reading_serializes_like_protobufs_own_builders(
    values: dict[str, object], requested: int, received: int
) -> None:
    """The builder sets fields in place for speed; the bytes must be those of the plain
    construction (``Struct.update``, ``SensorMetadata(...)``), empty mappings included."""
    struct = struct_pb2.Struct()
    struct.update(values)
    metadata = SensorMetadata(
        time_requested=timestamp_from_ns(requested), time_received=timestamp_from_ns(received)
    )
    expected = SensorData(metadata=metadata, struct=struct)
    built = tabular_reading(values, time_requested_ns=requested, time_received_ns=received)
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )


def test_binary_reading_carries_annotations() -> None:
    notes = Annotations(bboxes=[BoundingBox(label="cat", x_min_normalized=0.1)])
    reading = binary_reading(
        b"\xff\xd8", time_requested_ns=1, time_received_ns=2, annotations=notes
    )
    assert reading.binary == b"\xff\xd8"
    assert reading.metadata.annotations.bboxes[0].label == "cat"


def test_timestamp_from_negative_ns_normalizes() -> None:
    ts = timestamp_from_ns(-1)
    assert (ts.seconds, ts.nanos) == (-1, 999_999_999)


# -- identity --------------------------------------------------------------------------------


@given(ids)
def test_hand_encoded_identities_match_the_message_class(rid: ReadingId) -> None:
    message = _IdentityMessage(stream=rid.stream, boot=rid.boot, seq=rid.seq)
    canonical = _IdentityCarrier(identity=message).SerializeToString()
    assert identity_field_bytes(rid) == canonical
    assert IdentityEncoder(rid.stream, rid.boot).field_bytes(rid.seq) == canonical


def _parse_or_error(chunks: list[bytes]) -> ReadingId | str:
    try:
        return parse_identity(chunks)
    except StorageError:
        return "error"


@given(
    st.one_of(
        ids.map(lambda r: _IdentityMessage(stream=r.stream, boot=r.boot, seq=r.seq)).map(
            lambda message: message.SerializeToString()
        ),
        st.binary(max_size=40),
        st.lists(st.sampled_from([b"\x0a", b"\x10", b"\x18", b"\x01", b"\x80", b"\xff", b"s"]),
                 max_size=12).map(b"".join),
    )
)  # fmt: skip
@example(b"\x10\x80\x80\x80\x80\x10")  # boot 2**32: protobuf keeps its low 32 bits
@example(b"\x0a\x02\xc3\x28")  # a stream that is not UTF-8
@example(b"\x18\x01\x10\x01")  # seq before boot
def test_hand_decoded_identities_agree_with_protobuf(chunk: bytes) -> None:
    # One chunk takes the hand decoder when it can; an empty second chunk merges nothing and
    # forces protobuf's parse, so the two must give the same identity or both refuse.
    assert _parse_or_error([chunk]) == _parse_or_error([chunk, b""])


@given(
    ids,
    st.lists(
        st.one_of(u64, st.integers(0, 300), st.integers(2**14 - 200, 2**14 + 200)), max_size=30
    ),
)
def test_one_identity_encoder_serves_any_order_of_seqs(rid: ReadingId, seqs: list[int]) -> None:
    # The encoder builds fields 128 seqs at a time; jumping between blocks must not mix them.
    encoder = IdentityEncoder(rid.stream, rid.boot)
    for seq in [*seqs, *range(rid.seq - min(rid.seq, 130), rid.seq)]:
        expected = identity_field_bytes(ReadingId(rid.stream, rid.boot, seq))
        assert encoder.field_bytes(seq) == expected


@given(ids, st.binary(max_size=300))
def test_fast_identity_encoder_frames_records_like_the_codec(rid: ReadingId, blob: bytes) -> None:
    reading = binary_reading(blob, time_requested_ns=1, time_received_ns=2)
    body = reading.SerializeToString(deterministic=True)
    framed = IdentityEncoder(rid.stream, rid.boot).frame(body, rid.seq)
    assert framed == encode_sensor_data(reading, rid)


@given(ids)
def test_identity_round_trips_through_serialized_sensor_data(rid: ReadingId) -> None:
    framed = encode_sensor_data(
        binary_reading(b"abc", time_requested_ns=1, time_received_ns=2), rid
    )
    value, offset = decode_uvarint(framed)
    body = framed[offset:]
    assert value == len(body)
    assert identity_from_bytes(body) == rid
    assert identity_of(SensorData.FromString(body)) == rid


def test_identity_is_field_71000_length_delimited() -> None:
    wire = identity_field_bytes(ReadingId("s", 1, 5))
    assert wire[:3] == encode_uvarint(IDENTITY_FIELD_NUMBER << 3 | 2)


def test_identity_survives_an_upload_request_round_trip() -> None:
    rid = ReadingId("sensor-1/Readings", 3, 123_456)
    written = encode_sensor_data(
        tabular_reading({"v": 1}, time_requested_ns=1, time_received_ns=2), rid
    )
    parsed = SensorData.FromString(written[decode_uvarint(written)[1] :])
    request = DataCaptureUploadRequest(
        metadata=UploadMetadata(part_id="p"), sensor_contents=[parsed]
    )
    again = DataCaptureUploadRequest.FromString(request.SerializeToString())
    assert identity_of(again.sensor_contents[0]) == rid
    assert again.sensor_contents[0].struct["v"] == 1


def test_readings_without_identity_read_as_none() -> None:
    body = tabular_reading({}, time_requested_ns=0, time_received_ns=0).SerializeToString()
    assert identity_from_bytes(body) is None
    assert identity_of(SensorData.FromString(body)) is None


def test_with_identity_tags_a_copy_once() -> None:
    original = binary_reading(b"x", time_requested_ns=0, time_received_ns=0)
    tagged = with_identity(original, ReadingId("a", 0, 0))
    assert identity_of(original) is None
    assert identity_of(tagged) == ReadingId("a", 0, 0)
    with pytest.raises(StorageError, match="already carries"):
        with_identity(tagged, ReadingId("a", 0, 1))


def test_garbage_identity_is_a_storage_error() -> None:
    tag = encode_uvarint(IDENTITY_FIELD_NUMBER << 3 | 2)
    with pytest.raises(StorageError, match="identity"):
        identity_from_bytes(tag + b"\x02\x0a\x05")
    with pytest.raises(StorageError, match="identity"):
        parse_identity([b"\x0a\x05ab"])
    with pytest.raises(StorageError, match=r"unknown \[18\]"):
        parse_identity([b"\x90\x01s\x10\x01"])  # a flipped byte turned field 1 into 18
    wrong_wire_type = encode_uvarint(IDENTITY_FIELD_NUMBER << 3 | 0) + b"\x01"
    with pytest.raises(StorageError, match="wire type"):
        identity_of(SensorData.FromString(wrong_wire_type))


def test_repeated_identity_fields_merge_as_protobuf_specifies() -> None:
    first = identity_field_bytes(ReadingId("a", 1, 2))
    second = identity_field_bytes(ReadingId("b", 0, 9))
    assert identity_from_bytes(first + second) == ReadingId("b", 1, 9)


@pytest.mark.parametrize(("boot", "seq"), [(-1, 0), (2**32, 0), (0, -1), (0, 2**64)])
def test_reading_id_validates_its_ranges(boot: int, seq: int) -> None:
    with pytest.raises(StorageError, match="not a uint"):
        ReadingId("s", boot, seq)


def test_identity_encoder_validates_seq() -> None:
    with pytest.raises(StorageError, match="uint64"):
        IdentityEncoder("s", 0).field_bytes(-1)
    assert str(ReadingId("s", 1, 2)) == "s#1:2"
