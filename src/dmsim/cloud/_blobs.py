"""Content-addressed storage for binary captures and files.

A blob is named by the SHA-256 of its bytes and nothing else, so whatever a client puts in
file names or metadata, nothing is written outside the blob directory (the client's file
name is kept only as metadata in the database). ``put`` is durable when it returns: the bytes
go to ``tmp/<sha>.part``, are fsynced, renamed to ``<sha[:2]>/<sha>`` and the directory is
fsynced — so the database row that points at a blob can only commit after the blob is safe.
"""

from __future__ import annotations

import errno
import posixpath
from typing import Protocol

from dmsim.storage._fs import FileSystem

__all__ = ["BlobStore", "FsBlobStore", "MemoryBlobStore"]

_HEX = frozenset("0123456789abcdef")


def _check_name(sha256: str) -> None:
    # The name comes from our own hashing; this guard makes a path escape impossible anyway.
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")


class BlobStore(Protocol):
    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under its digest; durable on return; storing twice is a no-op."""

    def get(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> None:
        """Remove a blob (missing is fine)."""

    def names(self) -> list[str]:
        """Every stored digest, sorted."""


class MemoryBlobStore:
    """Blobs in RAM, for simulation speed (``data_dir=None``)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, sha256: str, data: bytes) -> None:
        _check_name(sha256)
        self._blobs.setdefault(sha256, bytes(data))

    def get(self, sha256: str) -> bytes:
        _check_name(sha256)
        try:
            return self._blobs[sha256]
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, "no such blob", sha256) from None

    def delete(self, sha256: str) -> None:
        self._blobs.pop(sha256, None)

    def names(self) -> list[str]:
        return sorted(self._blobs)


class FsBlobStore:
    """Blobs in a directory, through the filesystem port."""

    def __init__(self, fs: FileSystem, root: str, *, clean: bool) -> None:
        """``clean``: remove leftovers of a crash mid-put (only the writer may do this)."""
        self._fs = fs
        self._root = root
        self._tmp = posixpath.join(root, "tmp")
        if not clean:
            return
        fs.makedirs(self._tmp)
        # Never renamed, so no row can point at them.
        for name in fs.listdir(self._tmp):
            fs.unlink(posixpath.join(self._tmp, name))

    def _path(self, sha256: str) -> str:
        _check_name(sha256)
        return posixpath.join(self._root, sha256[:2], sha256)

    def put(self, sha256: str, data: bytes) -> None:
        final = self._path(sha256)
        if self._fs.exists(final):
            return
        directory = posixpath.dirname(final)
        self._fs.makedirs(directory)
        part = posixpath.join(self._tmp, f"{sha256}.part")
        if self._fs.exists(part):
            self._fs.unlink(part)
        handle = self._fs.open_append(part)
        try:
            handle.write(data)
            handle.fsync()
        except OSError:
            handle.close()
            self._fs.unlink(part)  # a torn prefix must not keep the space (or the name)
            raise
        handle.close()
        self._fs.rename(part, final)
        self._fs.fsync_dir(directory)

    def get(self, sha256: str) -> bytes:
        handle = self._fs.open_read(self._path(sha256))
        try:
            return handle.read()
        finally:
            handle.close()

    def delete(self, sha256: str) -> None:
        path = self._path(sha256)
        if self._fs.exists(path):
            self._fs.unlink(path)
            self._fs.fsync_dir(posixpath.dirname(path))

    def names(self) -> list[str]:
        found: list[str] = []
        if not self._fs.exists(self._root):
            return found
        for directory, dirnames, filenames in self._fs.walk(self._root):
            if directory == self._root:
                dirnames[:] = [d for d in dirnames if len(d) == 2]
                continue
            found.extend(name for name in filenames if len(name) == 64)
        return sorted(found)
