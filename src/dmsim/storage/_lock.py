"""A directory's owner lock: one running dmsim writes to a directory at a time.

Two directories have one owner each:

- a capture directory: ``dmsim machine`` holds the lock for as long as it runs; ``dmsim capture
  recover`` takes it before touching any ``.prog``. Without it, recovery run beside a live
  machine renamed the file being written, and sync could then upload and delete a file whose
  later readings went to an unlinked inode. A second ``dmsim machine`` is refused likewise.
- a cloud data directory: ``dmsim cloud serve`` holds it for as long as it serves. A second
  server there would remove the first one's blobs in flight when it cleans up at start-up.

The lock is ``flock`` on ``<directory>/.dmsim/lock``: the kernel releases it when the holder
exits or dies, so a crash never leaves a stale lock behind (the next start-up's recovery is the
normal path after a crash). It is advisory: only dmsim takes it. The holder's pid is written
into the file so a refusal can say who holds it. Simulation needs none: a simulated world runs
one dmsim process at a time by construction.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from dmsim.errors import StorageError

__all__ = ["DirectoryBusy", "directory_lock"]

_LOCK_DIR = ".dmsim"
_LOCK_NAME = "lock"


class DirectoryBusy(StorageError):
    """Another process holds the directory."""


@contextlib.contextmanager
def directory_lock(directory: str, *, purpose: str) -> Iterator[None]:
    """Hold the lock for the ``with`` block, or raise :class:`DirectoryBusy` naming the
    holder; ``purpose`` says what the refused caller wanted to do. Creates ``directory`` if
    missing (``OSError`` if it cannot, e.g. the path is a file)."""
    path = os.path.join(directory, _LOCK_DIR, _LOCK_NAME)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip() or "unknown"
            raise DirectoryBusy(
                f"{directory}: in use by a running dmsim (pid {holder}); cannot {purpose} "
                "while it writes there"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # the pid is a courtesy; the lock is the fd's
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
