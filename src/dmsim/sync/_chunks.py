"""Disk-backed upload bodies: 64 KiB chunks read through the FS port, never a whole payload.

A :class:`ChunkSource` is the ``AsyncIterator[bytes]`` handed to the streaming RPCs. Each read
goes through ``Runtime.run_blocking`` (a thread on the real runtime, inline in simulation).
It is a class with an explicit :meth:`close` rather than an async generator, so the read
handle is closed deterministically by the uploader whatever the transport did with the
iterator (an abandoned async generator would be finalised at the garbage collector's whim).

With ``verify`` set, the source hashes what it sends and, at the end of the file, compares
with the digest taken by the hashing pass: a mismatch raises
:class:`~._classify.FileChangedError` *inside* the stream, before it is half-closed, so the
cloud never commits bytes other than the ones the idempotency key names. A local read error
is raised as a :class:`~dmsim.errors.StorageError` caused by the ``OSError`` (classified as that
``OSError``), never as a bare ``OSError`` a transport could take for a network failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmsim.errors import StorageError
from dmsim.runtime import Runtime
from dmsim.storage._fs import FileSystem, ReadHandle

from ._classify import FileChangedError
from ._plan import UPLOAD_CHUNK_BYTES, ContentHasher

__all__ = ["READ_BLOCK_BYTES", "ChunkSource", "Verify", "hash_file", "read_range"]

# Disk reads are 1 MiB blocks, handed on as 64 KiB chunks: 16 times fewer trips to the
# blocking-I/O thread, memory still bounded (one block per upload in flight).
READ_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Verify:
    part_id: str
    digest: str


class ChunkSource:
    """Chunks of ``path`` from ``offset``: ``length`` bytes, or to the end when ``None``."""

    def __init__(
        self,
        rt: Runtime,
        fs: FileSystem,
        path: str,
        *,
        offset: int = 0,
        length: int | None = None,
        verify: Verify | None = None,
    ) -> None:
        self._rt = rt
        self._fs = fs
        self._path = path
        self._offset = offset
        self._remaining = length
        self._verify = verify
        self._hasher = ContentHasher(verify.part_id) if verify is not None else None
        self._handle: ReadHandle | None = None
        self._block = memoryview(b"")
        self._finished = False
        self.bytes_read = 0

    def __aiter__(self) -> ChunkSource:
        return self

    async def __anext__(self) -> bytes:
        if not self._block:
            await self._refill()
        if not self._block:
            self._finish()
            raise StopAsyncIteration
        # Hand out 64 KiB slices of the block read from disk (zero-copy until bytes()).
        chunk = bytes(self._block[:UPLOAD_CHUNK_BYTES])
        self._block = self._block[UPLOAD_CHUNK_BYTES:]
        return chunk

    async def _refill(self) -> None:
        if self._finished:
            return
        want = READ_BLOCK_BYTES
        if self._remaining is not None:
            want = min(want, self._remaining)
        try:
            if self._handle is None:
                self._handle = await self._rt.run_blocking(self._open)
            block = await self._rt.run_blocking(self._handle.read, want) if want else b""
        except OSError as error:
            # Not an OSError any more: a transport must not mistake a local disk error for a
            # network one (a gRPC client maps OSError to ConnectionError, i.e. "offline").
            raise StorageError(f"{self._path}: cannot read: {error}") from error
        self.bytes_read += len(block)
        if self._remaining is not None:
            self._remaining -= len(block)
        if self._hasher is not None:
            self._hasher.update(block)
        self._block = memoryview(block)

    def _open(self) -> ReadHandle:
        handle = self._fs.open_read(self._path)
        if self._offset:
            handle.seek(self._offset)
        return handle

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._remaining:  # the range ran past the end of the file: it shrank
            raise FileChangedError(self._path)
        verify, hasher = self._verify, self._hasher
        if verify is not None and hasher is not None and hasher.hexdigest() != verify.digest:
            raise FileChangedError(self._path)

    def close(self) -> None:
        """Close the read handle (idempotent; blocking but cheap)."""
        self._finished = True
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()


def hash_file(
    fs: FileSystem, path: str, part_id: str, *, length: int | None = None
) -> tuple[str, int]:
    """The idempotency digest of a file's first ``length`` bytes (all of it when ``None``)
    and how many were hashed (blocking: use ``run_blocking``)."""
    hasher = ContentHasher(part_id)
    size = 0
    handle = fs.open_read(path)
    try:
        while length is None or size < length:
            want = READ_BLOCK_BYTES if length is None else min(READ_BLOCK_BYTES, length - size)
            chunk = handle.read(want)
            if not chunk:
                break
            hasher.update(chunk)
            size += len(chunk)
    finally:
        handle.close()
    return hasher.hexdigest(), size


def read_range(fs: FileSystem, path: str, offset: int, length: int) -> bytes:
    """Exactly ``length`` bytes at ``offset`` (blocking); a short file is a changed file."""
    handle = fs.open_read(path)
    try:
        handle.seek(offset)
        parts: list[bytes] = []
        got = 0
        while got < length:
            chunk = handle.read(length - got)
            if not chunk:
                raise FileChangedError(path)
            parts.append(chunk)
            got += len(chunk)
    finally:
        handle.close()
    return b"".join(parts)
