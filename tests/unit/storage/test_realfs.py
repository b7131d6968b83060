"""RealFS on a temporary directory: the conformance suite, modes, flags and counters."""

from __future__ import annotations

import errno
import itertools
import os
import stat
import threading
from pathlib import Path

import pytest
from tests.unit.storage.realfs_faults import deny_listing

from dmsim.storage._fs import FileSystem
from dmsim.storage._realfs import RealFS
from dmsim.testing import check_filesystem


def test_realfs_passes_the_conformance_suite(tmp_path: Path) -> None:
    counter = itertools.count()

    def make() -> tuple[FileSystem, str]:
        root = tmp_path / f"check{next(counter)}"
        root.mkdir()
        return RealFS(), str(root)

    check_filesystem(make)


@pytest.fixture
def umask_zero() -> object:
    old = os.umask(0)
    yield None
    os.umask(old)


@pytest.mark.usefixtures("umask_zero")
def test_files_are_0600_and_directories_0700(tmp_path: Path) -> None:
    fs = RealFS()
    fs.makedirs(f"{tmp_path}/a/b")
    fs.open_append(f"{tmp_path}/a/b/f").close()
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b" / "f").st_mode) == 0o600


def test_appends_go_to_the_end_even_after_another_writer(tmp_path: Path) -> None:
    fs = RealFS()
    path = f"{tmp_path}/f"
    handle = fs.open_append(path)
    handle.write(b"one")
    with open(path, "ab") as other:
        other.write(b"-other-")
    handle.write(b"two")
    handle.close()
    assert Path(path).read_bytes() == b"one-other-two"


def test_disk_usage_is_statvfs_in_bytes(tmp_path: Path) -> None:
    usage = RealFS().disk_usage(str(tmp_path))
    st = os.statvfs(tmp_path)
    assert usage.total_bytes == st.f_blocks * st.f_frsize
    assert abs(usage.avail_bytes - st.f_bavail * st.f_frsize) < 64 * 1024 * 1024


def test_fsync_dir_needs_a_directory(tmp_path: Path) -> None:
    fs = RealFS()
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError) as info:
        fs.fsync_dir(f"{tmp_path}/f")
    assert info.value.errno == errno.ENOTDIR


def test_closed_handles_refuse_every_call(tmp_path: Path) -> None:
    fs = RealFS()
    handle = fs.open_append(f"{tmp_path}/f")
    handle.close()
    for call in (handle.fsync, handle.size, lambda: handle.write(b"x")):
        with pytest.raises(OSError, match="closed handle"):
            call()
    reader = fs.open_read(f"{tmp_path}/f")
    reader.close()
    for call in (reader.tell, lambda: reader.seek(0)):
        with pytest.raises(OSError, match="closed handle"):
            call()


def test_negative_seek_is_einval(tmp_path: Path) -> None:
    fs = RealFS()
    fs.open_append(f"{tmp_path}/f").close()
    reader = fs.open_read(f"{tmp_path}/f")
    with pytest.raises(OSError, match="negative seek") as info:
        reader.seek(-1)
    reader.close()
    assert info.value.errno == errno.EINVAL


def test_statistics_count_calls(tmp_path: Path) -> None:
    fs = RealFS()
    handle = fs.open_append(f"{tmp_path}/a")
    handle.write(b"12345")
    handle.write(b"6")
    handle.fsync()
    handle.close()
    fs.fsync_dir(str(tmp_path))
    fs.rename(f"{tmp_path}/a", f"{tmp_path}/b")
    fs.unlink(f"{tmp_path}/b")
    stats = fs.statistics()
    assert (stats.bytes_written, stats.writes, stats.fsyncs, stats.dir_fsyncs) == (6, 2, 1, 1)
    assert (stats.files_opened, stats.renames, stats.unlinks) == (1, 1, 1)


def test_makedirs_fsyncs_the_parent_of_every_directory_it_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new directory's name is durable only once its parent is: without these fsyncs a power
    # cut could take a new collector directory away with the fsynced file inside it.
    (tmp_path / "cap").mkdir()
    events: list[str] = []
    real_mkdir, real_fsync = os.mkdir, os.fsync

    def mkdir(path: str, mode: int = 0o777) -> None:
        real_mkdir(path, mode)
        events.append(f"mkdir {path}")

    def fsync(fd: int) -> None:
        real_fsync(fd)
        events.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "fsync", fsync)
    RealFS().makedirs(f"{tmp_path}/cap/api/name/method")
    assert events == [
        f"mkdir {tmp_path}/cap/api",
        f"fsync {tmp_path}/cap",
        f"mkdir {tmp_path}/cap/api/name",
        f"fsync {tmp_path}/cap/api",
        f"mkdir {tmp_path}/cap/api/name/method",
        f"fsync {tmp_path}/cap/api/name",
    ]
    events.clear()
    RealFS().makedirs(f"{tmp_path}/cap/api/name/method")
    assert events == []  # nothing created, nothing to make durable


def test_a_directory_that_cannot_be_listed_is_never_left_out_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a/1", "b/2", "c/3"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    deny_listing(monkeypatch, tmp_path / "b")
    fs = RealFS()
    errors: list[OSError] = []
    seen = [(d, f) for d, _, f in fs.walk(str(tmp_path), on_error=errors.append)]
    assert seen == [(str(tmp_path), []), (f"{tmp_path}/a", ["1"]), (f"{tmp_path}/c", ["3"])]
    [error] = errors
    assert (error.errno, error.filename) == (errno.EACCES, f"{tmp_path}/b")
    with pytest.raises(PermissionError) as info:
        list(fs.walk(str(tmp_path)))
    assert info.value.filename == f"{tmp_path}/b"
    assert list(fs.walk(f"{tmp_path}/missing")) == []
    assert list(fs.walk(f"{tmp_path}/a/1")) == []  # a file


def test_only_regular_files_are_opened_for_reading(tmp_path: Path) -> None:
    # Opening a FIFO waits for a writer: inspect and verify blocked forever on one.
    fifo = tmp_path / "2026-01-01T00_00_00.000000Z.capture"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def open_it() -> None:
        try:
            RealFS().open_read(str(fifo)).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(error)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    opener.join(timeout=10)
    if opener.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # let the blocked open return
        pytest.fail("opening a FIFO blocked")
    [error] = outcome
    assert isinstance(error, OSError)
    assert error.filename == str(fifo)
    assert "not a regular file (a FIFO)" in str(error)
    with pytest.raises(IsADirectoryError):
        RealFS().open_read(str(tmp_path))
