"""A conformance suite for the filesystem port: every backend, and a user's own, must pass it.

``check_filesystem(make_fs)`` runs each contract check on a fresh ``(fs, root)`` from
``make_fs`` (``root``: an existing, empty directory given as an absolute path without a trailing
slash) and raises one ``AssertionError`` naming every check that failed and why. It checks
what the port promises to callers, not durability (only a power cut shows that; the simulated
side has its own crash tests).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from dmsim.storage._fs import FileSystem

__all__ = ["check_filesystem"]

Check = Callable[[FileSystem, str], None]


def _ensure(condition: bool, message: str) -> None:
    # Not ``assert``: the suite must still check under ``python -O``.
    if not condition:
        raise AssertionError(message)


def _expect_errno(code: int, fn: Callable[..., object], *args: object) -> None:
    name = errno.errorcode[code]
    try:
        fn(*args)
    except OSError as error:
        _ensure(error.errno == code, f"{fn.__name__}{args} raised errno {error.errno}, not {name}")
        return
    raise AssertionError(f"{fn.__name__}{args} did not raise OSError({name})")


def _write(fs: FileSystem, path: str, *chunks: bytes) -> None:
    handle = fs.open_append(path)
    try:
        for chunk in chunks:
            handle.write(chunk)
    finally:
        handle.close()


def _read(fs: FileSystem, path: str) -> bytes:
    handle = fs.open_read(path)
    try:
        return handle.read()
    finally:
        handle.close()


def _append_and_read_back(fs: FileSystem, root: str) -> None:
    path = f"{root}/data.bin"
    handle = fs.open_append(path)
    try:
        _ensure(handle.path == path, f"handle.path is {handle.path!r}, not {path!r}")
        _ensure(handle.size() == 0, f"a new file has size {handle.size()}")
        handle.write(b"hello ")
        handle.write(b"world")
        _ensure(handle.size() == 11, f"size() is {handle.size()} after 11 bytes")
        handle.fsync()
    finally:
        handle.close()
    _ensure(_read(fs, path) == b"hello world", "read back differs from what was written")


def _reopen_appends(fs: FileSystem, root: str) -> None:
    path = f"{root}/log"
    _write(fs, path, b"one")
    handle = fs.open_append(path)
    try:
        _ensure(handle.size() == 3, f"reopened size() is {handle.size()}, not 3")
        handle.write(b"two")
    finally:
        handle.close()
    _ensure(_read(fs, path) == b"onetwo", "reopening for append truncated or overwrote")


def _read_seek_tell(fs: FileSystem, root: str) -> None:
    path = f"{root}/r"
    _write(fs, path, b"0123456789")
    handle = fs.open_read(path)
    try:
        _ensure(handle.read(3) == b"012", "read(3) from the start")
        _ensure(handle.tell() == 3, f"tell() after read(3) is {handle.tell()}")
        handle.seek(7)
        _ensure(handle.read() == b"789", "read() after seek(7)")
        _ensure(handle.read(5) == b"", "read at end of file must return b''")
        handle.seek(2)
        _ensure(handle.read(4) == b"2345", "read(4) after seek(2)")
    finally:
        handle.close()


def _closed_handles_refuse(fs: FileSystem, root: str) -> None:
    path = f"{root}/c"
    handle = fs.open_append(path)
    handle.close()
    handle.close()  # closing twice is harmless
    _expect_errno(errno.EBADF, handle.write, b"x")
    reader = fs.open_read(path)
    reader.close()
    _expect_errno(errno.EBADF, reader.read)


def _rename_replaces(fs: FileSystem, root: str) -> None:
    src, dst = f"{root}/new.prog", f"{root}/old.capture"
    _write(fs, src, b"new")
    _write(fs, dst, b"old")
    reader = fs.open_read(dst)
    try:
        fs.rename(src, dst)
        _ensure(reader.read() == b"old", "a reader of the replaced file must keep its bytes")
    finally:
        reader.close()
    _ensure(_read(fs, dst) == b"new", "rename did not replace the destination")
    _ensure(not fs.exists(src), "the source still exists after rename")
    _ensure(fs.listdir(root) == ["old.capture"], f"listdir after rename: {fs.listdir(root)}")
    _expect_errno(errno.ENOENT, fs.rename, f"{root}/missing", dst)


def _handle_follows_rename(fs: FileSystem, root: str) -> None:
    src, dst = f"{root}/a.prog", f"{root}/a.capture"
    handle = fs.open_append(src)
    try:
        handle.write(b"before ")
        fs.rename(src, dst)
        handle.write(b"after")
    finally:
        handle.close()
    _ensure(_read(fs, dst) == b"before after", "an open handle must follow its file's rename")


def _unlink(fs: FileSystem, root: str) -> None:
    path = f"{root}/gone"
    _write(fs, path, b"x")
    fs.unlink(path)
    _ensure(not fs.exists(path), "file still exists after unlink")
    _expect_errno(errno.ENOENT, fs.unlink, path)
    fs.makedirs(f"{root}/d")
    _expect_errno(errno.EISDIR, fs.unlink, f"{root}/d")
    handle = fs.open_append(f"{root}/open")
    try:
        fs.unlink(f"{root}/open")
        handle.write(b"still writable")  # POSIX: an unlinked open file lives on
    finally:
        handle.close()
    _ensure(fs.listdir(root) == ["d"], f"listdir after unlinks: {fs.listdir(root)}")


def _listdir_sorted(fs: FileSystem, root: str) -> None:
    for name in ("zeta", "Alpha", "beta.capture", "_x", "10", "9"):
        _write(fs, f"{root}/{name}")
    fs.makedirs(f"{root}/m")
    expected = sorted(["zeta", "Alpha", "beta.capture", "_x", "10", "9", "m"])
    _ensure(fs.listdir(root) == expected, f"listdir is {fs.listdir(root)}, not {expected}")
    _expect_errno(errno.ENOENT, fs.listdir, f"{root}/missing")
    _expect_errno(errno.ENOTDIR, fs.listdir, f"{root}/zeta")


def _walk_order_and_pruning(fs: FileSystem, root: str) -> None:
    for d in ("b/sub", "a", "skip/inner"):
        fs.makedirs(f"{root}/{d}")
    for f in ("b/z", "c", "b/a", "b/sub/f", "a/x", "skip/inner/deep"):
        _write(fs, f"{root}/{f}")
    seen = []
    for dirpath, dirnames, filenames in fs.walk(root):
        seen.append((dirpath, list(dirnames), list(filenames)))
        if "skip" in dirnames:
            dirnames.remove("skip")
    expected = [
        (root, ["a", "b", "skip"], ["c"]),
        (f"{root}/a", [], ["x"]),
        (f"{root}/b", ["sub"], ["a", "z"]),
        (f"{root}/b/sub", [], ["f"]),
    ]
    _ensure(seen == expected, f"walk gave {seen}, not {expected} (sorted, top-down, pruned)")
    _ensure(list(fs.walk(f"{root}/missing")) == [], "walking a missing root must yield nothing")


def _stat(fs: FileSystem, root: str) -> None:
    path = f"{root}/s"
    _write(fs, path, b"12345")
    first = fs.stat(path)
    _ensure(first.size == 5, f"stat size is {first.size}, not 5")
    _ensure(isinstance(first.mtime_ns, int), "mtime_ns must be an int")
    _ensure(first.mtime_ns >= 0, "mtime_ns must not be negative")
    _write(fs, path, b"678")
    second = fs.stat(path)
    _ensure(second.size == 8, f"stat size is {second.size} after appending, not 8")
    _ensure(second.mtime_ns >= first.mtime_ns, "mtime went backwards after a write")
    _expect_errno(errno.ENOENT, fs.stat, f"{root}/missing")


def _open_errors(fs: FileSystem, root: str) -> None:
    fs.makedirs(f"{root}/dir")
    _expect_errno(errno.ENOENT, fs.open_read, f"{root}/missing")
    _expect_errno(errno.ENOENT, fs.open_append, f"{root}/no/such/dir/file")
    _expect_errno(errno.EISDIR, fs.open_append, f"{root}/dir")
    _expect_errno(errno.EISDIR, fs.open_read, f"{root}/dir")


def _makedirs(fs: FileSystem, root: str) -> None:
    deep = f"{root}/x/y/z"
    fs.makedirs(deep)
    fs.makedirs(deep)  # idempotent
    fs.makedirs(f"{root}/x")
    _ensure(fs.is_dir(deep), "makedirs did not create the leaf")
    _ensure(fs.listdir(f"{root}/x") == ["y"], "makedirs created something unexpected")
    _write(fs, f"{root}/file")
    _expect_errno(errno.EEXIST, fs.makedirs, f"{root}/file")
    _expect_errno(errno.ENOTDIR, fs.makedirs, f"{root}/file/sub")


def _exists_and_is_dir(fs: FileSystem, root: str) -> None:
    fs.makedirs(f"{root}/d")
    _write(fs, f"{root}/f")
    cases = {f"{root}/d": (True, True), f"{root}/f": (True, False), f"{root}/m": (False, False)}
    for path, (exists, is_dir) in cases.items():
        _ensure(fs.exists(path) == exists, f"exists({path!r}) should be {exists}")
        _ensure(fs.is_dir(path) == is_dir, f"is_dir({path!r}) should be {is_dir}")
    _ensure(not fs.exists(f"{root}/f/under-a-file"), "a path under a file cannot exist")


def _syncs(fs: FileSystem, root: str) -> None:
    handle = fs.open_append(f"{root}/f")
    try:
        handle.write(b"x")
        handle.fsync()
        handle.fsync()
    finally:
        handle.close()
    fs.fsync_dir(root)
    _expect_errno(errno.ENOENT, fs.fsync_dir, f"{root}/missing")


def _disk_usage(fs: FileSystem, root: str) -> None:
    usage = fs.disk_usage(root)
    _ensure(usage.total_bytes > 0, f"total_bytes is {usage.total_bytes}")
    _ensure(0 <= usage.avail_bytes <= usage.total_bytes, f"avail_bytes is {usage.avail_bytes}")
    _ensure(0.0 <= usage.used_fraction <= 1.0, f"used_fraction is {usage.used_fraction}")
    _expect_errno(errno.ENOENT, fs.disk_usage, f"{root}/missing")


_CHECKS: tuple[tuple[str, Check], ...] = (
    ("append and read back", _append_and_read_back),
    ("reopen appends", _reopen_appends),
    ("read, seek, tell", _read_seek_tell),
    ("closed handles refuse", _closed_handles_refuse),
    ("rename replaces", _rename_replaces),
    ("open handle follows rename", _handle_follows_rename),
    ("unlink", _unlink),
    ("listdir sorted", _listdir_sorted),
    ("walk order and pruning", _walk_order_and_pruning),
    ("stat size and mtime", _stat),
    ("open errors", _open_errors),
    ("makedirs", _makedirs),
    ("exists and is_dir", _exists_and_is_dir),
    ("fsync and fsync_dir", _syncs),
    ("disk_usage sane", _disk_usage),
)


def check_filesystem(make_fs: Callable[[], tuple[FileSystem, str]]) -> None:
    """Run every contract check, each on a fresh ``make_fs()``; raise on any failure.

    The ``AssertionError`` lists each failed check by name with the reason (an unexpected
    exception counts as a failure too), so one run shows everything a backend gets wrong.
    """
    failures = []
    for name, check in _CHECKS:
        fs, root = make_fs()
        try:
            check(fs, root)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
        except Exception as error:  # a backend bug must be reported, not crash the suite
            failures.append(f"{name}: unexpected {type(error).__name__}: {error}")
    if failures:
        listing = "\n".join(f"  - {failure}" for failure in failures)
        raise AssertionError(f"filesystem conformance: {len(failures)} check(s) failed:\n{listing}")
