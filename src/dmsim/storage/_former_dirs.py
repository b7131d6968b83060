"""Capture directories the machine moved away from, remembered in the one it moved to.

A reconfigure to a new ``capture_dir`` leaves the old directory's files behind: rdk walks only
the current directory (and its legacy default), so a backlog captured before the change is
never uploaded. dmsim keeps syncing every former capture directory like the current one, and
writes their list to ``<capture_dir>/former-capture-dirs.json`` so that a restart under the
new config still knows where that backlog is. The file is written whole or not at all
(:func:`~._fs.write_whole`); sync never uploads it (the capture directory holds only capture
files and sequences for sync) and disk policies never delete it.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence

from dmsim.errors import StorageError

from ._fs import FileSystem, write_whole

__all__ = ["FORMER_DIRS_FILE", "read_former_dirs", "write_former_dirs"]

FORMER_DIRS_FILE = "former-capture-dirs.json"
_KEY = "former_capture_dirs"


def read_former_dirs(fs: FileSystem, capture_dir: str) -> tuple[str, ...]:
    """The former capture directories listed in ``capture_dir`` (none if it lists none).

    Raises :class:`StorageError` naming the file when it cannot be read or is not such a list.
    """
    path = posixpath.join(capture_dir, FORMER_DIRS_FILE)
    if not fs.exists(path):
        return ()
    try:
        handle = fs.open_read(path)
        try:
            raw = handle.read()
        finally:
            handle.close()
    except OSError as error:
        raise StorageError(
            f"{path}: cannot read the former capture directories: {error}"
        ) from error
    try:
        dirs = json.loads(raw.decode())[_KEY]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        raise StorageError(
            f"{path}: expected {{{_KEY!r}: [absolute paths]}} ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(dirs, list) or not all(
        isinstance(d, str) and posixpath.isabs(d) for d in dirs
    ):
        raise StorageError(f"{path}: {_KEY} must be a list of absolute paths, got {dirs!r}")
    return tuple(dirs)


def write_former_dirs(fs: FileSystem, capture_dir: str, dirs: Sequence[str]) -> None:
    """List ``dirs`` in ``capture_dir``, durably, replacing any earlier list."""
    document = json.dumps({_KEY: list(dirs)}, indent=2).encode() + b"\n"
    write_whole(fs, posixpath.join(capture_dir, FORMER_DIRS_FILE), document)
