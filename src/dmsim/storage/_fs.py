"""The filesystem port: everything the core does to a disk goes through :class:`FileSystem`.

Durability contract (what a crash keeps), shared by every implementation:

- File *data* is durable once ``FileHandle.fsync()`` returns; data written after the last
  fsync may be lost or torn (a prefix at block granularity) by a crash.
- Directory *entries* (create, rename, unlink) are durable once ``fsync_dir`` of the parent
  directory returns; before that a crash may undo them.
- ``makedirs`` is durable at once (directories are created rarely; modelled as synced).

Errors are ``OSError`` with a real errno (``ENOSPC``, ``EIO``, ``ENOENT``...). Paths are
absolute POSIX strings. Listings are sorted, so walks are deterministic.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "TMP_SUFFIX",
    "DiskUsage",
    "FileHandle",
    "FileStat",
    "FileSystem",
    "ReadHandle",
    "append_durably",
    "write_whole",
]

#: What :func:`write_whole` writes before its rename; one left by a crash holds nothing kept.
TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class FileStat:
    size: int
    mtime_ns: int
    device: int = 0  # which filesystem holds it (st_dev; a SimFS is one filesystem)


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """``statvfs`` in bytes; ``used_fraction`` counts root-reserved blocks as used (like rdk)."""

    total_bytes: int
    avail_bytes: int

    @property
    def used_fraction(self) -> float:
        return 1.0 - self.avail_bytes / self.total_bytes if self.total_bytes else 1.0


class FileHandle(Protocol):
    """An append-only handle (capture files are only ever appended)."""

    @property
    def path(self) -> str: ...

    def write(self, data: bytes) -> None:
        """Append all of ``data`` or raise ``OSError`` (a short write still appends a prefix)."""

    def fsync(self) -> None: ...

    def size(self) -> int: ...

    def close(self) -> None: ...


class ReadHandle(Protocol):
    def read(self, n: int = -1) -> bytes: ...

    def seek(self, offset: int) -> None: ...

    def tell(self) -> int: ...

    def close(self) -> None: ...


class FileSystem(Protocol):
    def open_append(self, path: str) -> FileHandle:
        """Open for appending, creating the file (mode 0600) if missing."""

    def open_read(self, path: str) -> ReadHandle:
        """A regular file; anything else (a directory, a FIFO, a device) raises ``OSError`` at
        once, never waits."""

    def rename(self, src: str, dst: str) -> None:
        """Atomically replace ``dst`` with ``src``."""

    def unlink(self, path: str) -> None: ...

    def fsync_dir(self, path: str) -> None: ...

    def makedirs(self, path: str) -> None:
        """``mkdir -p`` with mode 0700."""

    def listdir(self, path: str) -> list[str]:
        """Sorted entry names; ``ENOENT`` if missing."""

    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """Top-down like ``os.walk``, names sorted; the caller may prune ``dirnames`` in place.

        A missing root, or one that is a file, yields nothing, and so does a directory that
        vanished since its parent was listed. A directory that cannot be listed (permission,
        I/O error) is skipped and its ``OSError`` (``filename`` names it) goes to ``on_error``,
        or is raised if there is none: a walk never leaves a directory out silently.
        """

    def stat(self, path: str) -> FileStat: ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def disk_usage(self, path: str) -> DiskUsage: ...


def append_durably(fs: FileSystem, path: str, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it; the handle is closed
    whatever fails. The directory entry of a new file is the caller's to fsync."""
    handle = fs.open_append(path)
    try:
        handle.write(data)
        handle.fsync()
    finally:
        handle.close()


def write_whole(fs: FileSystem, path: str, data: bytes) -> None:
    """Write ``path`` whole or not at all, durably: ``.tmp`` (one a crash left is replaced),
    fsync, rename, directory fsync."""
    directory = posixpath.dirname(path)
    fs.makedirs(directory)
    tmp = path + TMP_SUFFIX
    if fs.exists(tmp):  # a write a crash cut short: appending to it would corrupt the file
        fs.unlink(tmp)
    append_durably(fs, tmp, data)
    fs.rename(tmp, path)
    fs.fsync_dir(directory)
