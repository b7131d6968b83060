"""Helpers the storage tests share: put bytes into a simulated disk and read them back."""

from __future__ import annotations

import posixpath

from dmsim.storage._simfs import SimFS


def put(fs: SimFS, path: str, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` as the file ``path`` (parents made); ``durable`` fsyncs it, so a
    simulated crash keeps it."""
    fs.makedirs(posixpath.dirname(path))
    handle = fs.open_append(path)
    handle.write(data)
    if durable:
        handle.fsync()
    handle.close()


def read(fs: SimFS, path: str) -> bytes:
    handle = fs.open_read(path)
    try:
        return handle.read()
    finally:
        handle.close()
