"""RealFS: the filesystem port over the operating system.

Thin on purpose: every method is one or two system calls with the flags the durability
contract needs. Files are opened ``O_APPEND|O_CREAT|O_WRONLY`` with mode 0600 and directories
are created 0700 (both before the umask); ``fsync`` is ``os.fsync`` and ``fsync_dir`` opens the
directory ``O_RDONLY|O_DIRECTORY`` and fsyncs it, which is what makes a create, rename or unlink
survive a power cut on Linux. ``makedirs`` fsyncs the parent of each directory it creates, so
a new directory is as durable as the port promises. ``open_read`` opens regular files only:
anything else (a FIFO, a device, a directory) raises ``OSError`` at once instead of blocking.

A write that the kernel accepts only in part (``write(2)`` may return a short count when the
disk fills) is retried for the rest, so when ``write`` raises, a prefix of the data may already
be in the file, exactly as the protocol allows.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ._fs import DiskUsage, FileStat

__all__ = ["RealFS", "RealFSStatistics"]

_APPEND_FLAGS = os.O_APPEND | os.O_CREAT | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class RealFSStatistics:
    bytes_written: int
    writes: int
    fsyncs: int
    dir_fsyncs: int
    files_opened: int
    renames: int
    unlinks: int


@dataclass(slots=True)
class _Counters:
    bytes_written: int = 0
    writes: int = 0
    fsyncs: int = 0
    dir_fsyncs: int = 0
    files_opened: int = 0
    renames: int = 0
    unlinks: int = 0


def _closed_error(path: str) -> OSError:
    return OSError(errno.EBADF, "I/O on a closed handle", path)


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _require_regular(path: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "of an unknown kind")
    raise OSError(errno.EINVAL, f"not a regular file ({kind})", path)


class RealFileHandle:
    """An ``O_APPEND`` file descriptor.

    ``size()`` is the size at open plus what this handle appended (no ``fstat`` per call):
    capture files have a single writer, and the writer asks for the size before every record.
    """

    __slots__ = ("_closed", "_counters", "_fd", "_path", "_size")

    def __init__(self, path: str, counters: _Counters) -> None:
        self._fd = os.open(path, _APPEND_FLAGS, 0o600)
        self._path = path
        self._counters = counters
        self._closed = False
        self._size = os.fstat(self._fd).st_size

    @property
    def path(self) -> str:
        return self._path

    def write(self, data: bytes) -> None:
        if self._closed:
            raise _closed_error(self._path)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._size += written
            self._counters.bytes_written += written
            view = view[written:]
        self._counters.writes += 1

    def fsync(self) -> None:
        if self._closed:
            raise _closed_error(self._path)
        os.fsync(self._fd)
        self._counters.fsyncs += 1

    def size(self) -> int:
        if self._closed:
            raise _closed_error(self._path)
        return self._size

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


class RealReadHandle:
    """A buffered binary reader of a regular file; ``seek`` is absolute."""

    __slots__ = ("_file", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, _READ_FLAGS)
        try:
            _require_regular(path, os.fstat(fd).st_mode)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        self._file: BinaryIO | None = os.fdopen(fd, "rb")

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            raise _closed_error(self._path)
        return self._file

    def read(self, n: int = -1) -> bytes:
        return self._open_file().read(n)

    def seek(self, offset: int) -> None:
        if offset < 0:
            raise OSError(errno.EINVAL, f"negative seek offset {offset}", self._path)
        self._open_file().seek(offset)

    def tell(self) -> int:
        return self._open_file().tell()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class RealFS:
    """The :class:`~dmsim.storage.FileSystem` port on the local disk."""

    def __init__(self) -> None:
        self._counters = _Counters()

    def open_append(self, path: str) -> RealFileHandle:
        handle = RealFileHandle(path, self._counters)
        self._counters.files_opened += 1
        return handle

    def open_read(self, path: str) -> RealReadHandle:
        return RealReadHandle(path)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)
        self._counters.renames += 1

    def unlink(self, path: str) -> None:
        os.unlink(path)
        self._counters.unlinks += 1

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, _DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._counters.dir_fsyncs += 1

    def makedirs(self, path: str) -> None:
        # Not os.makedirs: it applies the mode to the leaf only; every level must be 0700.
        path = os.path.normpath(path)
        parent = os.path.dirname(path)
        if parent != path and not os.path.exists(parent):
            self.makedirs(parent)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            return
        # The port promises a durable makedirs: a new name is durable once its parent is.
        self.fsync_dir(parent)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        def unlisted(error: OSError) -> None:
            if isinstance(error, FileNotFoundError | NotADirectoryError):
                return  # a missing root, or gone since its parent was listed: nothing in it
            if on_error is None:
                raise error
            on_error(error)

        # os.walk descends into the very list it yielded, so sorting it in place before the
        # caller sees it keeps the order deterministic and lets the caller prune it.
        for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted):
            dirnames.sort()
            filenames.sort()
            yield dirpath, dirnames, filenames

    def stat(self, path: str) -> FileStat:
        st = os.stat(path)
        return FileStat(size=st.st_size, mtime_ns=st.st_mtime_ns, device=st.st_dev)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def disk_usage(self, path: str) -> DiskUsage:
        st = os.statvfs(path)
        return DiskUsage(
            total_bytes=st.f_blocks * st.f_frsize, avail_bytes=st.f_bavail * st.f_frsize
        )

    def statistics(self) -> RealFSStatistics:
        c = self._counters
        return RealFSStatistics(
            bytes_written=c.bytes_written,
            writes=c.writes,
            fsyncs=c.fsyncs,
            dir_fsyncs=c.dir_fsyncs,
            files_opened=c.files_opened,
            renames=c.renames,
            unlinks=c.unlinks,
        )
