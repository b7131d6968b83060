"""SimFS handles and the per-process view.

Handles hold their inode, not their path, so writes after a rename or an unlink reach the same
file (POSIX semantics). A handle dies with the power cut it was opened before (``EBADF``), and a
handle opened through a process view dies with that process (:class:`ProcessKilled`), so a
crashed process cannot write from its cleanup code. (There is no descriptor table: a handle a
dead process never closes keeps an unlinked file's space until the next power cut.)
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from dmsim.runtime import ProcessKilled

from ._fs import DiskUsage, FileStat

if TYPE_CHECKING:
    from dmsim.runtime import SimRuntime

    from ._simfs import SimFS, SimFSStatistics
    from ._simfs_tree import File

__all__ = ["ProcessView", "SimFileHandle", "SimReadHandle"]


def _refuse_dead(rt: SimRuntime | None) -> None:
    if rt is not None and not rt.alive:
        raise ProcessKilled(rt.name)


class _Handle:
    __slots__ = ("_closed", "_file", "_fs", "_generation", "_owner", "_path")

    def __init__(self, fs: SimFS, file: File, path: str, owner: SimRuntime | None) -> None:
        self._fs = fs
        self._file = file
        self._path = path
        self._owner = owner
        self._generation = fs._generation
        self._closed = False
        file.opens += 1

    def _live(self) -> File:
        _refuse_dead(self._owner)
        if self._closed:
            raise OSError(errno.EBADF, "I/O on a closed handle", self._path)
        if self._generation != self._fs._generation:
            raise OSError(errno.EBADF, "handle opened before a power cut", self._path)
        return self._file

    @property
    def path(self) -> str:
        return self._path

    def close(self) -> None:
        # Release first: the kernel closes a killed process's descriptors, so an unlinked
        # file's space comes back; the dead process still gets ProcessKilled.
        if not self._closed:
            self._closed = True
            if self._generation == self._fs._generation:
                self._fs._release(self._file)
        _refuse_dead(self._owner)


class SimFileHandle(_Handle):
    """An append handle on a :class:`~dmsim.storage.SimFS` file."""

    __slots__ = ()

    def write(self, data: bytes) -> None:
        self._fs._append(self._live(), self._path, data)

    def fsync(self) -> None:
        self._fs._fsync(self._live(), self._path)

    def size(self) -> int:
        return len(self._live().data)


class SimReadHandle(_Handle):
    """A read handle; it sees the live bytes, including appends made after it was opened."""

    __slots__ = ("_pos",)

    def __init__(self, fs: SimFS, file: File, path: str, owner: SimRuntime | None) -> None:
        super().__init__(fs, file, path, owner)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        file = self._live()
        self._fs._check_fault("read", self._path)
        end = len(file.data) if n < 0 else self._pos + n
        chunk = bytes(file.data[self._pos : end])
        self._pos += len(chunk)
        return chunk

    def seek(self, offset: int) -> None:
        self._live()
        if offset < 0:
            raise OSError(errno.EINVAL, f"negative seek offset {offset}", self._path)
        self._pos = offset

    def tell(self) -> int:
        self._live()
        return self._pos


class ProcessView:
    """The :class:`~dmsim.storage.FileSystem` port as one simulated process sees it."""

    __slots__ = ("_fs", "_rt")

    def __init__(self, fs: SimFS, rt: SimRuntime) -> None:
        self._fs = fs
        self._rt = rt

    def _live(self) -> SimFS:
        _refuse_dead(self._rt)
        return self._fs

    def open_append(self, path: str) -> SimFileHandle:
        return self._live()._open_append(path, self._rt)

    def open_read(self, path: str) -> SimReadHandle:
        return self._live()._open_read(path, self._rt)

    def rename(self, src: str, dst: str) -> None:
        self._live().rename(src, dst)

    def unlink(self, path: str) -> None:
        self._live().unlink(path)

    def fsync_dir(self, path: str) -> None:
        self._live().fsync_dir(path)

    def makedirs(self, path: str) -> None:
        self._live().makedirs(path)

    def listdir(self, path: str) -> list[str]:
        return self._live().listdir(path)

    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        # Checked before every step: a walk the crash interrupted must not go on.
        for step in self._live().walk(root, on_error):
            _refuse_dead(self._rt)
            yield step

    def stat(self, path: str) -> FileStat:
        return self._live().stat(path)

    def exists(self, path: str) -> bool:
        return self._live().exists(path)

    def is_dir(self, path: str) -> bool:
        return self._live().is_dir(path)

    def disk_usage(self, path: str) -> DiskUsage:
        return self._live().disk_usage(path)

    def statistics(self) -> SimFSStatistics:
        return self._fs.statistics()
