"""Content-addressed storage for binary captures and files.

A blob is named by the SHA-256 of its bytes and nothing else, so whatever a client puts in
file names or metadata, nothing is written outside the blob directory (the client's file
name is kept only as metadata in the database). ``put`` is durable when it returns: the bytes
go to ``tmp/<sha>.part``, are fsynced, renamed to ``<sha[:2]>/<sha>`` and the directory is
fsynced — so the database row that points at a blob can only commit after the blob is safe.

A large upload is not held in memory: ``stage`` opens ``tmp/upload-<n>.part``, the receiver
appends each chunk as it arrives (hashing it on the way), and ``commit`` makes it durable under
its digest like ``put``. A staged blob never committed is never renamed, so no row can point at
it; it is removed by ``discard``, or with the rest of ``tmp/`` when the store next opens.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import posixpath
from typing import Protocol

from dmsim.errors import CloudError
from dmsim.storage._fs import FileHandle, FileSystem

__all__ = ["BlobStore", "FsBlobStore", "MemoryBlobStore", "StagedBlob"]

_HEX = frozenset("0123456789abcdef")


def _check_name(sha256: str) -> None:
    # The name comes from our own hashing; this guard makes a path escape impossible anyway.
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")


class StagedBlob(Protocol):
    """A blob being received, named by its digest only once committed."""

    @property
    def sha256(self) -> str:
        """The digest of what was written so far."""

    @property
    def size(self) -> int: ...

    def write(self, data: bytes) -> None:
        """Append ``data`` (``OSError`` if the disk refuses it)."""

    def commit(self) -> None:
        """Store it under its digest; durable on return; a blob already stored stays as is."""

    def discard(self) -> None:
        """Drop it unless committed; calling it again is a no-op."""


class BlobStore(Protocol):
    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under its digest; durable on return; storing twice is a no-op."""

    def stage(self) -> StagedBlob:
        """A new blob to write chunk by chunk, then commit or discard."""

    def get(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> None:
        """Remove a blob (missing is fine)."""

    def names(self) -> list[str]:
        """Every stored digest, sorted."""


class MemoryBlobStore:
    """Blobs in RAM, for simulation speed (``data_dir=None``).

    With ``keep_contents=False`` only each blob's digest is kept: nothing reads a simulated
    run's blobs back (the oracle follows readings by identity and digest), and a simulated week
    of camera images would not fit in RAM. ``get`` then says so.
    """

    def __init__(self, *, keep_contents: bool = True) -> None:
        self.keeps_contents = keep_contents
        self._blobs: dict[str, bytes | None] = {}

    def put(self, sha256: str, data: bytes) -> None:
        _check_name(sha256)
        self._blobs.setdefault(sha256, bytes(data) if self.keeps_contents else None)

    def stage(self) -> StagedBlob:
        return _MemoryStagedBlob(self)

    def get(self, sha256: str) -> bytes:
        _check_name(sha256)
        try:
            blob = self._blobs[sha256]
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, "no such blob", sha256) from None
        if blob is None:
            raise CloudError(
                "FAILED_PRECONDITION",
                f"blob {sha256}: this simulated cloud keeps digests, not contents",
            )
        return blob

    def delete(self, sha256: str) -> None:
        self._blobs.pop(sha256, None)

    def names(self) -> list[str]:
        return sorted(self._blobs)


class _MemoryStagedBlob:
    def __init__(self, store: MemoryBlobStore) -> None:
        self._store = store
        self._chunks: list[bytes] = []
        self._hash = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if self._store.keeps_contents:
            self._chunks.append(bytes(data))
        self._hash.update(data)
        self.size += len(data)

    def commit(self) -> None:
        self._store.put(self.sha256, b"".join(self._chunks))
        self._chunks = []

    def discard(self) -> None:
        self._chunks = []


class FsBlobStore:
    """Blobs in a directory, through the filesystem port."""

    def __init__(self, fs: FileSystem, root: str, *, clean: bool) -> None:
        """``clean``: remove leftovers of a crash mid-put (only the writer may do this)."""
        self._fs = fs
        self._root = root
        self._tmp = posixpath.join(root, "tmp")
        self._staged = itertools.count()
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
        self._move_in(part, final)

    def stage(self) -> StagedBlob:
        part = posixpath.join(self._tmp, f"upload-{next(self._staged)}.part")
        return _FsStagedBlob(self, self._fs, part)

    def _move_in(self, part: str, final: str) -> None:
        """Give the fsynced ``part`` its blob name, durably."""
        directory = posixpath.dirname(final)
        self._fs.makedirs(directory)
        self._fs.rename(part, final)
        self._fs.fsync_dir(directory)

    def _commit_staged(self, part: str, handle: FileHandle, sha256: str) -> None:
        final = self._path(sha256)
        if self._fs.exists(final):  # the same bytes are stored already
            handle.close()
            self._fs.unlink(part)
            return
        handle.fsync()
        handle.close()
        self._move_in(part, final)

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


class _FsStagedBlob:
    def __init__(self, store: FsBlobStore, fs: FileSystem, part: str) -> None:
        self._store = store
        self._fs = fs
        self._part = part
        self._handle: FileHandle | None = fs.open_append(part)
        self._hash = hashlib.sha256()
        self._committed = False
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        self._open_handle().write(data)
        self._hash.update(data)
        self.size += len(data)

    def commit(self) -> None:
        self._store._commit_staged(self._part, self._open_handle(), self.sha256)
        self._handle = None
        self._committed = True

    def discard(self) -> None:
        if self._committed:
            return
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._fs.exists(self._part):
            self._fs.unlink(self._part)

    def _open_handle(self) -> FileHandle:
        if self._handle is None:
            raise ValueError(f"{self._part}: the staged blob was committed or discarded")
        return self._handle
