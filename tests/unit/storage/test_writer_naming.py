"""File names and layout: rdk-compatible stems, params hash, parsing dmsim's and rdk's names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import StorageError
from dmsim.storage._naming import (
    CollectorKey,
    format_stem,
    next_stem_time,
    params_hash,
    parse_capture_name,
    parse_capture_path,
    safe_part,
)

US_2026 = 1_781_715_872_032_650  # 2026-06-17T17:04:32.032650Z


def test_stem_is_rdks_layout_in_utc() -> None:
    assert format_stem(US_2026) == "2026-06-17T17_04_32.032650Z"
    assert format_stem(US_2026, "a1b2c3") == "2026-06-17T17_04_32.032650Z_a1b2c3"
    assert format_stem(0) == "1970-01-01T00_00_00.000000Z"
    assert format_stem(-62_135_596_800_000_000) == "0001-01-01T00_00_00.000000Z"


def test_stem_outside_years_1_to_9999_is_refused() -> None:
    with pytest.raises(StorageError, match="outside years"):
        format_stem(-62_135_596_800_000_001)


@given(st.integers(0, 253_402_300_799_999_998), st.none() | st.sampled_from(["000000", "abcdef"]))
def test_names_parse_back_and_sort_by_time(time_us: int, hash_: str | None) -> None:
    name = format_stem(time_us, hash_) + ".prog"
    parsed = parse_capture_name(name)
    assert parsed is not None
    assert (parsed.time_us, parsed.params_hash, parsed.extension) == (time_us, hash_, ".prog")
    assert parsed.is_prog
    assert parsed.stem + ".prog" == name
    later = format_stem(time_us + 1, hash_) + ".capture"
    assert name.removesuffix(".prog") < later.removesuffix(".capture")


def test_rdk_names_with_local_offsets_parse_to_utc() -> None:
    rdk = parse_capture_name("2026-06-17T13_04_32.032650-04_00.capture")
    assert rdk is not None
    assert rdk.time_us == US_2026
    east = parse_capture_name("2026-06-17T22_34_32.032650+05_30.capture")
    assert east is not None
    assert east.time_us == US_2026
    nanos = parse_capture_name("2026-06-17T17_04_32.0326501Z.capture")
    assert nanos is not None
    assert nanos.time_ns == US_2026 * 1000 + 100
    whole = parse_capture_name("2026-06-17T17_04_32Z.capture")
    assert whole is not None
    assert whole.time_ns == (US_2026 // 1_000_000) * 10**9


@pytest.mark.parametrize(
    "name",
    [
        "2026-06-17T17_04_32.032650Z.dat",
        "2026-06-17T17:04:32.032650Z.capture",
        "2026-13-17T17_04_32.032650Z.capture",
        "2026-06-17T24_04_32.032650Z.capture",
        "2026-06-17T17_04_60.032650Z.capture",
        "2026-06-17T17_04_32.032650Z_ABCDEF.capture",
        "notes.capture",
        "2026-06-17T17_04_32.032650Z.capture.reason.txt",
    ],
)
def test_other_names_are_not_capture_names(name: str) -> None:
    assert parse_capture_name(name) is None


def test_parse_capture_path_splits_the_layout() -> None:
    path = "/cap/rdk_component_board/b/Analogs/2026-06-17T17_04_32.032650Z_a1b2c3.capture"
    where = parse_capture_path("/cap", path)
    assert where is not None
    assert (where.api_dir, where.name_dir, where.method_dir) == (
        "rdk_component_board",
        "b",
        "Analogs",
    )
    assert where.file.params_hash == "a1b2c3"
    assert parse_capture_path("/cap", "/cap/failed/a/b/2026-06-17T17_04_32.032650Z.capture") is None
    assert parse_capture_path("/cap", "/cap/a/b/x.capture") is None
    assert (
        parse_capture_path("/cap", "/elsewhere/a/b/c/2026-06-17T17_04_32.032650Z.capture") is None
    )


def test_params_hash_is_stable_and_order_free() -> None:
    assert params_hash({}) is None
    first = params_hash({"reader_name": "A1", "x": "1"})
    assert first == params_hash({"x": "1", "reader_name": "A1"})
    assert first != params_hash({"reader_name": "A2", "x": "1"})
    assert first == "389bb2"  # pinned: a changed hash would orphan existing name sequences


def test_collector_key_directory() -> None:
    key = CollectorKey.of("rdk:component:camera", "remote:cam", "GetImages", {"b": "2", "a": "1"})
    assert key.additional_params == (("a", "1"), ("b", "2"))
    assert key.params == {"a": "1", "b": "2"}
    assert key.directory("/cap") == "/cap/rdk_component_camera/remote_cam/GetImages"
    assert safe_part("a:b:c", what="x") == "a_b_c"


def test_next_stem_time_never_repeats_or_goes_back() -> None:
    assert next_stem_time(10, None) == 10
    assert next_stem_time(10, 5) == 10
    assert next_stem_time(10, 10) == 11
    assert next_stem_time(3, 10) == 11
