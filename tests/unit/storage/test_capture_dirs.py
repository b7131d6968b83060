"""The record of a part's capture directories: written whole and durable, read back as
written, one per part, and a damaged record is an error that names the file."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.storage.storage_kit import put, read

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage._capture_dirs import (
    CaptureDirs,
    capture_dirs_path,
    read_capture_dirs,
    write_capture_dirs,
)
from dmsim.storage._simfs import SimFS

STATE_DIR = "/home/robot/.viam/dmsim"
PART = "a1b2c3d4-0000-4000-8000-000000000001"
RECORD = f"{STATE_DIR}/capture-dirs/{PART}.json"


def simfs() -> SimFS:
    return SimFS(capacity_bytes=1 << 30, rng=RngTree(0).child("fs"), wall_clock=lambda: 0)


absolute_paths = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00/"), min_size=1).map(
        lambda name: "/" + name
    ),
    min_size=1,
    max_size=5,
    unique=True,
)


@given(absolute_paths, st.text(min_size=1))
def test_what_is_written_reads_back_and_survives_a_power_cut(dirs: list[str], part: str) -> None:
    fs = simfs()
    assert read_capture_dirs(fs, STATE_DIR, part) is None
    write_capture_dirs(fs, STATE_DIR, CaptureDirs(part, "/first"))
    record = CaptureDirs(part, dirs[0], tuple(dirs[1:]))
    write_capture_dirs(fs, STATE_DIR, record)  # replaces the earlier record
    fs.crash()
    assert read_capture_dirs(fs, STATE_DIR, part) == record


def test_each_part_has_its_own_record_named_after_it_when_the_id_is_a_safe_file_name() -> None:
    assert capture_dirs_path(STATE_DIR, PART) == RECORD
    unsafe = capture_dirs_path(STATE_DIR, "../../etc/passwd")
    assert unsafe.startswith(f"{STATE_DIR}/capture-dirs/")
    assert ".." not in unsafe
    fs = simfs()
    write_capture_dirs(fs, STATE_DIR, CaptureDirs(PART, "/data/one"))
    write_capture_dirs(fs, STATE_DIR, CaptureDirs("../../etc/passwd", "/data/two"))
    assert read_capture_dirs(fs, STATE_DIR, PART) == CaptureDirs(PART, "/data/one")


def test_the_former_dirs_of_a_machine_in_another_dir_include_the_recorded_current_one() -> None:
    record = CaptureDirs(PART, "/data/b", ("/data/a", "/data/c"))
    assert record.formers_of("/data/b") == ("/data/a", "/data/c")
    assert record.formers_of("/data/new") == ("/data/b", "/data/a", "/data/c")
    assert record.formers_of("/data/a") == ("/data/b", "/data/c")


def test_a_write_a_crash_cut_short_is_replaced() -> None:
    fs = simfs()
    put(fs, RECORD + ".tmp", b'{"part_id": "a1', durable=True)
    write_capture_dirs(fs, STATE_DIR, CaptureDirs(PART, "/old"))
    assert read_capture_dirs(fs, STATE_DIR, PART) == CaptureDirs(PART, "/old")
    assert not fs.exists(RECORD + ".tmp")
    assert read(fs, RECORD).startswith(b"{")


def document(**fields: object) -> bytes:
    base: dict[str, object] = {"part_id": PART, "capture_dir": "/a", "former_capture_dirs": []}
    return json.dumps({**base, **fields}).encode()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe", "UnicodeDecodeError"),
        (b'{"part_id": "a1', "JSONDecodeError"),
        (b'{"dirs": []}', "KeyError"),
        (document(former_capture_dirs="/a"), "former_capture_dirs is not a list"),
        (document(capture_dir="relative"), "'relative' is not an absolute path"),
        (document(former_capture_dirs=["/b", 3]), "3 is not an absolute path"),
        (document(part_id="someone-else"), "records part 'someone-else'"),
    ],
)
def test_a_damaged_record_names_the_file_and_what_is_wrong(content: bytes, says: str) -> None:
    fs = simfs()
    put(fs, RECORD, content)
    with pytest.raises(StorageError) as caught:
        read_capture_dirs(fs, STATE_DIR, PART)
    assert RECORD in str(caught.value)
    assert says in str(caught.value)
