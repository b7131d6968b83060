"""The list of former capture directories a capture directory keeps: written whole and durable,
read back as written, and a damaged list is an error that names the file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.storage.storage_kit import put, read

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage._former_dirs import FORMER_DIRS_FILE, read_former_dirs, write_former_dirs
from dmsim.storage._simfs import SimFS

CAPTURE_DIR = "/data/capture"
LISTED = f"{CAPTURE_DIR}/{FORMER_DIRS_FILE}"


def simfs() -> SimFS:
    return SimFS(capacity_bytes=1 << 30, rng=RngTree(0).child("fs"), wall_clock=lambda: 0)


absolute_paths = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00/"), min_size=1).map(
        lambda name: "/" + name
    ),
    max_size=5,
    unique=True,
)


@given(absolute_paths)
def test_what_is_written_reads_back_and_survives_a_power_cut(dirs: list[str]) -> None:
    fs = simfs()
    assert read_former_dirs(fs, CAPTURE_DIR) == ()
    write_former_dirs(fs, CAPTURE_DIR, ["/first"])
    write_former_dirs(fs, CAPTURE_DIR, dirs)  # replaces the earlier list
    fs.crash()
    assert read_former_dirs(fs, CAPTURE_DIR) == tuple(dirs)


def test_a_write_a_crash_cut_short_is_replaced() -> None:
    fs = simfs()
    put(fs, LISTED + ".tmp", b'{"former_capture_dirs": ["/ha', durable=True)
    write_former_dirs(fs, CAPTURE_DIR, ["/old"])
    assert read_former_dirs(fs, CAPTURE_DIR) == ("/old",)
    assert not fs.exists(LISTED + ".tmp")
    assert read(fs, LISTED).startswith(b"{")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfe", "UnicodeDecodeError"),
        (b'{"former_capture_dirs": ["/a"', "JSONDecodeError"),
        (b'{"dirs": []}', "KeyError"),
        (b'{"former_capture_dirs": ["relative"]}', "must be a list of absolute paths"),
        (b'{"former_capture_dirs": "/a"}', "must be a list of absolute paths"),
    ],
)
def test_a_damaged_list_names_the_file_and_what_is_wrong(content: bytes, says: str) -> None:
    fs = simfs()
    put(fs, LISTED, content)
    with pytest.raises(StorageError) as caught:
        read_former_dirs(fs, CAPTURE_DIR)
    assert LISTED in str(caught.value)
    assert says in str(caught.value)
