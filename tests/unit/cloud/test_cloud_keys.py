"""Fingerprints, derived ids and the Struct-to-JSON mapping, property-tested."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from hypothesis import given
from hypothesis import strategies as st

from dmsim.cloud import _keys
from dmsim.cloud._ingest import struct_to_json
from dmsim.cloud.samples import file_metadata, tabular_request

keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)
scalars = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=10,
)
readings = st.dictionaries(keys, values, max_size=4)


@given(readings)
def test_struct_to_json_matches_protobufs_mapping_for_finite_values(
    reading: dict[str, Any],
) -> None:
    struct = Struct()
    struct.update(reading)
    assert struct_to_json(struct) == MessageToDict(struct)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4))
def test_struct_to_json_never_fails(numbers: list[float]) -> None:
    struct = Struct()
    struct.update({"v": numbers})
    out = struct_to_json(struct)["v"]
    for number, mapped in zip(numbers, out, strict=True):
        if math.isfinite(number):
            assert mapped == number
        else:
            assert mapped in ("NaN", "Infinity", "-Infinity")


@given(readings, readings)
def test_fingerprint_is_deterministic_and_tells_readings_apart(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    fa = _keys.data_capture_fingerprint(tabular_request([a]))
    assert fa == _keys.data_capture_fingerprint(tabular_request([dict(reversed(a.items()))]))
    sa, sb = Struct(), Struct()
    sa.update(a)
    sb.update(b)
    if sa != sb:
        assert fa != _keys.data_capture_fingerprint(tabular_request([b]))


@given(st.text(max_size=10), st.binary(max_size=10), st.text(max_size=10), st.binary(max_size=10))
def test_file_fingerprint_separates_name_and_bytes(
    name_a: str, data_a: bytes, name_b: str, data_b: bytes
) -> None:
    same = (name_a, data_a) == (name_b, data_b)
    fa = _keys.file_fingerprint(file_metadata(name_a), hashlib.sha256(data_a).hexdigest())
    fb = _keys.file_fingerprint(file_metadata(name_b), hashlib.sha256(data_b).hexdigest())
    assert (fa == fb) == same


def test_ids_depend_only_on_the_upload_key() -> None:
    key = _keys.client_upload_key("abc")
    assert _keys.file_id_for(key) == _keys.file_id_for("key:abc")
    assert _keys.file_id_for(key) != _keys.file_id_for(_keys.content_upload_key("abc"))
    assert _keys.item_id_for("f", 3) == "f-3"
