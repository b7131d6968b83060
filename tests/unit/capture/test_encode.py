"""The content digest the oracle compares between capture and cloud: it must not depend on
whether the reading carries its identity, nor on how the identity or other unknown fields
reached the message."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st
from viam.proto.app.data import Annotations, BoundingBox
from viam.proto.app.datasync import SensorData

from dmsim.capture._encode import built_sensor_data_digest, sensor_data_digest
from dmsim.storage._codec import binary_reading, serialize_deterministic, tabular_reading
from dmsim.storage._identity import ReadingId, identity_field_bytes
from dmsim.storage._varint import uvarint

scalars = st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8)
structs = st.dictionaries(
    st.text(max_size=8),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    max_size=5,
)
ids = st.none() | st.builds(
    ReadingId, st.text(max_size=20), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
)
readings = st.one_of(
    structs.map(lambda values: tabular_reading(values, time_requested_ns=1, time_received_ns=2)),
    st.binary(max_size=64).map(
        lambda blob: binary_reading(blob, time_requested_ns=5, time_received_ns=6)
    ),
    st.text(max_size=8).map(
        lambda label: binary_reading(
            b"\xff\xd8",
            time_requested_ns=7,
            time_received_ns=8,
            annotations=Annotations(bboxes=[BoundingBox(label=label, confidence=0.5)]),
        )
    ),
)
# what else a message may carry as unknown fields: another field, a second identity, an
# identity of the wrong wire type, identities encoded out of order or with a padded varint
extras = st.sampled_from(
    [
        b"",
        uvarint(90 << 3 | 0) + b"\x07",
        identity_field_bytes(ReadingId("other", 1, 1)),
        uvarint(71000 << 3 | 0) + b"\x05",
        uvarint(71000 << 3 | 2) + b"\x04\x18\x01\x10\x01",
        uvarint(71000 << 3 | 2) + b"\x05\x10\x01\x18\x81\x00",  # seq 1 padded to two bytes
    ]
)


def digest_of_known_fields(reading: SensorData) -> str:
    clone = SensorData()
    clone.CopyFrom(reading)
    clone.DiscardUnknownFields()
    return hashlib.blake2b(serialize_deterministic(clone), digest_size=8).hexdigest()


@given(readings, ids, extras)
def test_the_digest_covers_known_fields_only(
    reading: SensorData, rid: ReadingId | None, extra: bytes
) -> None:
    untagged = sensor_data_digest(reading)
    tagged = SensorData()
    tagged.CopyFrom(reading)
    if rid is not None:
        tagged.MergeFromString(identity_field_bytes(rid))
    tagged.MergeFromString(extra)
    assert untagged == digest_of_known_fields(reading)
    assert sensor_data_digest(tagged) == untagged
    # and as the cloud sees it: parsed from the wire
    assert sensor_data_digest(SensorData.FromString(tagged.SerializeToString())) == untagged


@given(readings, ids.filter(lambda rid: rid is not None))
def test_an_identity_carried_in_the_metadata_is_left_out_too(
    reading: SensorData, rid: ReadingId
) -> None:
    # a streamed upload carries the identity in SensorMetadata, one level down
    tagged = SensorData()
    tagged.CopyFrom(reading)
    tagged.metadata.MergeFromString(identity_field_bytes(rid))
    assert sensor_data_digest(tagged) == sensor_data_digest(reading)


@given(readings)
def test_the_capture_side_digest_of_a_built_reading_is_the_same(reading: SensorData) -> None:
    assert built_sensor_data_digest(reading) == sensor_data_digest(reading)


def test_readings_that_differ_have_different_digests() -> None:
    a = tabular_reading({"t": 1.0}, time_requested_ns=1, time_received_ns=2)
    b = tabular_reading({"t": 1.5}, time_requested_ns=1, time_received_ns=2)
    assert sensor_data_digest(a) != sensor_data_digest(b)
