"""Start-up recovery: every row of the decision table, idempotence, live files untouched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.storage.storage_kit import put, read
from viam.proto.app.datasync import DataType

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage._codec import (
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    tabular_reading,
)
from dmsim.storage._identity import ReadingId
from dmsim.storage._inspect import verify_dir
from dmsim.storage._reader import read_capture_file
from dmsim.storage._recovery import recover_capture_dir
from dmsim.storage._simfs import SimFS

D = "/cap/rdk_component_sensor/s/Readings"
STEM = f"{D}/2026-06-17T17_04_32.032650Z"
HEADER = encode_metadata(
    build_metadata(
        component_type="rdk:component:sensor",
        component_name="s",
        method_name="Readings",
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
    )
)


def rec(seq: int) -> bytes:
    return encode_sensor_data(
        tabular_reading({"seq": seq}, time_requested_ns=seq, time_received_ns=seq),
        ReadingId("s", 0, seq),
    )


def make_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 24, rng=RngTree(2), wall_clock=lambda: 0)


def seqs(fs: SimFS, path: str) -> list[int]:
    return [rid.seq for rid in read_capture_file(fs, path).reading_ids if rid is not None]


def test_a_clean_prog_is_synced_and_renamed() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", HEADER + rec(1) + rec(2))
    report = recover_capture_dir(fs, "/cap")
    [done] = report.recovered
    assert (done.path, done.readings, done.rewritten, done.torn_bytes) == (
        STEM + ".capture",
        2,
        False,
        0,
    )
    assert done.reading_ids == (ReadingId("s", 0, 1), ReadingId("s", 0, 2))
    assert fs.listdir(D) == ["2026-06-17T17_04_32.032650Z.capture"]
    fs.crash()  # recovery made it durable: data and name
    assert seqs(fs, STEM + ".capture") == [1, 2]


def test_a_torn_tail_is_dropped_counted_and_the_prefix_kept() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", HEADER + rec(1) + rec(2) + rec(3)[:-4])
    report = recover_capture_dir(fs, "/cap")
    [done] = report.recovered
    assert done.rewritten
    assert done.torn_bytes == len(rec(3)) - 4
    assert report.torn_bytes_dropped == done.torn_bytes
    assert report.readings_kept == 2
    assert fs.listdir(D) == ["2026-06-17T17_04_32.032650Z.capture"]
    assert read(fs, STEM + ".capture") == HEADER + rec(1) + rec(2)
    assert verify_dir(fs, "/cap").ok


def test_damage_mid_file_keeps_the_prefix_and_quarantines_the_original() -> None:
    fs = make_fs()
    original = HEADER + rec(1) + b"\x03\x98\x01\x00" + rec(2)
    put(fs, STEM + ".prog", original)
    report = recover_capture_dir(fs, "/cap")
    [done] = report.recovered
    [failed] = report.failed
    assert done.damage is not None
    assert "unexpected field 19" in done.damage
    assert seqs(fs, STEM + ".capture") == [1]
    assert (
        failed.moved_to
        == "/cap/failed/rdk_component_sensor/s/Readings/2026-06-17T17_04_32.032650Z.prog"
    )
    assert read(fs, failed.moved_to) == original
    note = read(fs, failed.moved_to + ".reason.txt").decode()
    assert "unexpected field 19" in note
    assert f"byte {len(HEADER) + len(rec(1)) + 1}" in note  # the bad field, past its length


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty file"),
        (b"\0" * 300, "only zero bytes"),
        (HEADER, "no complete reading"),
        (HEADER + rec(1)[:5], "no complete reading"),
    ],
)
def test_files_without_readings_are_removed(data: bytes, why: str) -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", data)
    report = recover_capture_dir(fs, "/cap")
    [removed] = report.removed
    assert why in removed.reason
    assert removed.torn_bytes == (5 if data.endswith(rec(1)[:5]) else 0)
    assert fs.listdir(D) == []


@pytest.mark.parametrize("data", [b"\xff" * 20, b"\x05ab", HEADER + b"\x03\x98\x01\x00"])
def test_unreadable_files_move_to_failed_with_the_reason(data: bytes) -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", data)
    report = recover_capture_dir(fs, "/cap")
    [failed] = report.failed
    assert fs.listdir(D) == []
    assert read(fs, failed.moved_to) == data
    assert "reason:" in read(fs, failed.moved_to + ".reason.txt").decode()
    assert report.recovered == ()


def test_live_files_and_failed_dir_are_never_touched() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", HEADER + rec(1) + b"\x01")
    put(fs, "/cap/failed/x/y/z/old.prog", b"\xff")
    report = recover_capture_dir(fs, "/cap/", live={STEM + ".prog"})
    assert report.skipped_live == (STEM + ".prog",)
    assert not report.changed_anything
    assert read(fs, STEM + ".prog") == HEADER + rec(1) + b"\x01"
    assert fs.exists("/cap/failed/x/y/z/old.prog")


def test_recovery_is_idempotent() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", HEADER + rec(1) + b"\x09\x0a")
    put(fs, f"{D}/2026-06-17T17_04_33.000000Z.prog", b"\xff\xff")
    put(fs, f"{D}/2026-06-17T17_04_34.000000Z.capture", HEADER + rec(5))
    first = recover_capture_dir(fs, "/cap")
    assert first.changed_anything
    state = {p: read(fs, f"{d}/{p}") for d, _, files in fs.walk("/cap") for p in files}
    second = recover_capture_dir(fs, "/cap")
    assert not second.changed_anything
    assert second.scanned == 0
    assert {p: read(fs, f"{d}/{p}") for d, _, files in fs.walk("/cap") for p in files} == state


def test_an_interrupted_copy_is_finished_by_the_next_run() -> None:
    fs = make_fs()
    data = HEADER + rec(1) + b"\x09"
    put(fs, STEM + ".prog", data)
    put(fs, STEM + ".recovering", HEADER)  # a copy cut short by a crash
    report = recover_capture_dir(fs, "/cap")
    assert report.stale_temp_removed == (STEM + ".recovering",)
    assert seqs(fs, STEM + ".capture") == [1]
    # a crash after the copy became the .capture, before the .prog was removed:
    put(fs, STEM + ".prog", data)
    report = recover_capture_dir(fs, "/cap")
    assert fs.listdir(D) == ["2026-06-17T17_04_32.032650Z.capture"]
    assert seqs(fs, STEM + ".capture") == [1]
    assert report.recovered == ()


def test_a_damaged_source_left_beside_its_copy_still_goes_to_failed() -> None:
    fs = make_fs()
    put(fs, STEM + ".capture", HEADER + rec(1))
    put(fs, STEM + ".prog", HEADER + rec(1) + b"\x03\x98\x01\x00")
    report = recover_capture_dir(fs, "/cap")
    assert len(report.failed) == 1
    assert fs.listdir(D) == ["2026-06-17T17_04_32.032650Z.capture"]


def test_disk_errors_leave_the_file_for_later_and_carry_on() -> None:
    fs = make_fs()
    other = f"{D}/2026-06-17T17_04_40.000000Z.prog"
    put(fs, STEM + ".prog", HEADER + rec(1))
    put(fs, other, HEADER + rec(2))
    fs.inject_eio(prefix=STEM + ".prog", ops=["rename"], fault_id="r", count=1)
    report = recover_capture_dir(fs, "/cap")
    [issue] = report.errors
    assert issue.path == STEM + ".prog"
    assert "left for later" in issue.message
    assert [r.source for r in report.recovered] == [other]
    again = recover_capture_dir(fs, "/cap")
    assert [r.source for r in again.recovered] == [STEM + ".prog"]
    assert again.errors == ()


def test_missing_capture_dir_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="not a directory"):
        recover_capture_dir(make_fs(), "/nope")


def test_report_to_json_counts_readings() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", HEADER + rec(1) + rec(2))
    doc = recover_capture_dir(fs, "/cap").to_json()
    assert doc["recovered"][0]["readings"] == 2
    assert "reading_ids" not in doc["recovered"][0]
    assert doc["readings_kept"] == 2


def test_a_second_damaged_file_of_the_same_name_never_overwrites_the_first_in_failed() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", b"\xff" * 20)
    [first] = recover_capture_dir(fs, "/cap").failed
    put(fs, STEM + ".prog", b"\x05ab")
    [second] = recover_capture_dir(fs, "/cap").failed
    assert first.moved_to != second.moved_to
    assert read(fs, first.moved_to) == b"\xff" * 20
    assert read(fs, second.moved_to) == b"\x05ab"
    assert "varint" in read(fs, first.moved_to + ".reason.txt").decode()
    assert "torn header" in read(fs, second.moved_to + ".reason.txt").decode()


def test_a_quarantined_file_keeps_its_bytes_through_a_power_cut() -> None:
    fs = make_fs()
    put(fs, STEM + ".prog", b"\xff" * 20)  # still in the page cache: a process crash left it
    [failed] = recover_capture_dir(fs, "/cap").failed
    fs.crash()
    assert read(fs, failed.moved_to) == b"\xff" * 20


def test_a_prog_beside_a_capture_of_other_readings_is_kept_in_failed() -> None:
    fs = make_fs()
    put(fs, STEM + ".capture", HEADER + rec(7))
    put(fs, STEM + ".prog", HEADER + rec(1) + rec(2))
    report = recover_capture_dir(fs, "/cap")
    [failed] = report.failed
    assert report.removed == ()
    assert STEM + ".capture" in failed.reason
    assert read(fs, failed.moved_to) == HEADER + rec(1) + rec(2)
    assert seqs(fs, STEM + ".capture") == [7]


def test_a_prog_whose_capture_holds_only_part_of_its_readings_is_kept_in_failed() -> None:
    fs = make_fs()
    put(fs, STEM + ".capture", HEADER + rec(1))
    put(fs, STEM + ".prog", HEADER + rec(1) + rec(2))
    [failed] = recover_capture_dir(fs, "/cap").failed
    assert read(fs, failed.moved_to) == HEADER + rec(1) + rec(2)


@pytest.mark.parametrize("tail", [b"", rec(3)[:6]])
def test_a_prog_already_copied_to_its_capture_is_removed_and_reported(tail: bytes) -> None:
    fs = make_fs()
    put(fs, STEM + ".capture", HEADER + rec(1) + rec(2))
    put(fs, STEM + ".prog", HEADER + rec(1) + rec(2) + tail)
    report = recover_capture_dir(fs, "/cap")
    [removed] = report.removed
    assert removed.path == STEM + ".prog"
    assert STEM + ".capture" in removed.reason
    assert removed.torn_bytes == len(tail)
    assert report.failed == ()
    assert fs.listdir(D) == ["2026-06-17T17_04_32.032650Z.capture"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 9), max_size=4),
    st.lists(st.integers(0, 9), max_size=4),
    st.integers(0, 8),
)
def test_no_reading_of_a_prog_or_its_capture_is_lost(
    in_capture: list[int], in_prog: list[int], torn: int
) -> None:
    fs = make_fs()
    put(fs, STEM + ".capture", HEADER + b"".join(map(rec, in_capture)))
    put(fs, STEM + ".prog", HEADER + b"".join(map(rec, in_prog)) + rec(99)[:torn])
    recover_capture_dir(fs, "/cap")
    kept = {
        seq
        for d, _, names in fs.walk("/cap")
        for name in names
        if not name.endswith(".reason.txt")
        for seq in seqs(fs, f"{d}/{name}")
    }
    assert set(in_capture) | set(in_prog) <= kept
