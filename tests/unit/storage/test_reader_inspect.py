"""inspect and verify: summaries per file, and every kind of problem listed, never raised."""

from __future__ import annotations

import pytest
from tests.unit.storage.storage_kit import put
from viam.proto.app.datasync import DataType

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage._codec import (
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    tabular_reading,
)
from dmsim.storage._creation import CREATION_FIELD_NUMBER
from dmsim.storage._identity import ReadingId
from dmsim.storage._inspect import (
    CaptureListing,
    capture_files,
    inspect_file,
    inspect_path,
    verify_dir,
)
from dmsim.storage._naming import CollectorKey
from dmsim.storage._simfs import SimFS
from dmsim.storage._varint import uvarint
from dmsim.storage._writer import CaptureWriter, ClosedFile

KEY = CollectorKey.of("rdk:component:board", "b1", "Analogs", {"reader_name": "A1"})


def make_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 24, rng=RngTree(1), wall_clock=lambda: 0)


def write_file(
    fs: SimFS, seqs: list[int], *, stream: str = "b1", wall_ns: int = 10**18
) -> ClosedFile:
    closed: list[ClosedFile] = []
    writer = CaptureWriter(
        fs,
        capture_dir="/cap",
        key=KEY,
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: wall_ns,
        tags=["x", "y"],
        file_extension=".dat",
        on_file_closed=closed.append,
    )
    for seq in seqs:
        reading = tabular_reading(
            {"v": seq}, time_requested_ns=seq * 1000, time_received_ns=seq * 1000 + 1
        )
        writer.write(reading, reading_id=ReadingId(stream, 0, seq))
    writer.close()
    return closed[0]


def test_inspect_reports_every_field() -> None:
    fs = make_fs()
    done = write_file(fs, [3, 4, 5])
    report = inspect_file(fs, done.path)
    assert report.problems == ()
    assert (report.component_type, report.component_name, report.method_name) == (
        "rdk:component:board",
        "b1",
        "Analogs",
    )
    assert report.data_type == "tabular"
    assert report.tags == ("x", "y")
    assert report.file_extension == ".dat"
    assert report.method_parameters == (("reader_name", "A1"),)
    assert (report.readings, report.first_time_requested_ns, report.last_time_requested_ns) == (
        3,
        3000,
        5000,
    )
    assert report.size_bytes == done.size_bytes
    assert report.torn_tail_bytes == 0
    assert not report.is_prog
    doc = report.to_json()
    assert doc["method_parameters"] == {"reader_name": "A1"}
    assert doc["problems"] == []


def test_a_damaged_creation_stamp_is_a_problem_and_the_readings_are_still_counted() -> None:
    fs = make_fs()
    header = (
        build_metadata(
            component_type="rdk:component:board",
            component_name="b1",
            method_name="Analogs",
            data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        ).SerializeToString()
        + uvarint(CREATION_FIELD_NUMBER << 3 | 2)
        + b"\x01\x0a"
    )
    reading = tabular_reading({"v": 1}, time_requested_ns=7, time_received_ns=8)
    put(fs, "/cap/s.capture", uvarint(len(header)) + header + encode_sensor_data(reading))
    report = inspect_file(fs, "/cap/s.capture")
    assert (report.readings, report.creation) == (1, None)
    [problem] = report.problems
    assert "creation stamp (field 71001) is damaged: data ends inside a varint" in str(problem)


def test_inspect_reports_torn_tails_and_damage_without_raising() -> None:
    fs = make_fs()
    done = write_file(fs, [1, 2])
    torn = done.path.replace(".capture", "_t.prog")
    handle = fs.open_read(done.path)
    data = handle.read()
    handle.close()
    put(fs, torn, data + b"\x20\x0a\x02")  # a record cut short in its first field
    report = inspect_file(fs, torn)
    assert report.is_prog
    assert report.torn_tail_bytes == 3
    [problem] = report.problems
    assert problem.offset == len(data)
    assert "torn tail of 3 bytes" in str(problem)
    garbage = "/cap/g.capture"
    put(fs, garbage, b"\xff" * 40)
    bad = inspect_file(fs, garbage)
    [problem] = bad.problems
    assert problem.offset == 0
    assert bad.size_bytes == 40
    assert bad.to_json()["problems"][0]["offset"] == 0
    missing = inspect_file(fs, "/cap/none.capture")
    [problem] = missing.problems
    assert problem.offset is None


def test_a_header_that_fails_to_read_is_a_problem_not_an_abort() -> None:
    fs = make_fs()
    done = write_file(fs, [1, 2])
    fs.inject_eio(prefix=done.path, ops=["read"], fault_id="eio")
    [problem] = inspect_file(fs, done.path).problems
    assert problem.what.startswith("read failed: ")
    assert not verify_dir(fs, "/cap").ok


def test_capture_files_walks_sorted_skips_failed_and_other_files() -> None:
    fs = make_fs()
    first = write_file(fs, [1], wall_ns=10**18)
    second = write_file(fs, [2], wall_ns=10**18 + 10**9)
    put(fs, "/cap/failed/x/y/z.capture", b"junk")
    put(fs, "/cap/failed/x/y/z.capture.reason.txt", b"why")
    put(fs, "/cap/notes.txt", b"hello")
    listing = capture_files(fs, "/cap")
    assert listing.files == (first.path, second.path)
    assert listing.quarantined == 1  # the reason file is not a quarantined file
    assert capture_files(fs, first.path) == CaptureListing((first.path,), 0, ())
    assert [r.path for r in inspect_path(fs, "/cap")] == list(listing.files)
    with pytest.raises(StorageError, match="no such file"):
        capture_files(fs, "/nowhere")


def test_verify_passes_an_intact_directory() -> None:
    fs = make_fs()
    write_file(fs, [1, 2, 3])
    write_file(fs, [4, 5], wall_ns=10**18 + 1)
    report = verify_dir(fs, "/cap")
    assert report.ok
    assert (report.files_checked, report.readings) == (2, 5)
    assert report.to_json()["ok"] is True


def test_verify_lists_every_problem() -> None:
    fs = make_fs()
    write_file(fs, [1, 2])
    write_file(fs, [2, 3], wall_ns=10**18 + 1)  # reading 2 twice: a duplicate
    header = encode_metadata(
        build_metadata(
            component_type="t",
            component_name="n",
            method_name="m",
            data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        )
    )
    put(fs, "/cap/a/b/c/2026-01-01T00_00_00.000000Z.capture", header + b"\x05\x0a\x01")  # torn
    put(fs, "/cap/a/b/c/2026-01-01T00_00_01.000000Z.capture", b"\x00\x07")  # no header
    put(fs, "/cap/a/b/c/2026-01-01T00_00_02.000000Z.prog", header)  # clean, open
    report = verify_dir(fs, "/cap")
    assert not report.ok
    whats = sorted(p.what for p in report.problems)
    assert len(whats) == 3
    assert any("appears twice (also in" in w for w in whats)
    assert any("torn tail of 3 bytes" in w for w in whats)
    assert any("zero-length DataCaptureMetadata" in w for w in whats)
    assert report.open_files == ("/cap/a/b/c/2026-01-01T00_00_02.000000Z.prog",)


def test_verify_flags_a_reading_repeated_within_one_file() -> None:
    fs = make_fs()
    write_file(fs, [7, 7])
    [problem] = verify_dir(fs, "/cap").problems
    assert "earlier in this file" in problem.what


def test_verify_lists_every_problem_of_a_file() -> None:
    """Regression: once a duplicate was found, a torn tail in the same file went unlisted."""
    fs = make_fs()
    done = write_file(fs, [7, 7, 8, 8, 9])
    size = fs.stat(done.path).size
    put(fs, done.path, b"\x20\x0a\x02")  # a record cut short
    duplicates, torn = verify_dir(fs, "/cap").problems
    assert "earlier in this file" in duplicates.what
    assert "1 more reading of this file appears twice" in duplicates.what
    assert (torn.offset, torn.what) == (size, "torn tail of 3 bytes")
    report = inspect_file(fs, done.path, seen={})
    assert report.problems == (duplicates, torn)
    assert [p["what"] for p in report.to_json()["problems"]] == [duplicates.what, torn.what]
