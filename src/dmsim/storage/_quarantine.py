"""Quarantine: moving a file nobody can use into ``failed/``, shared by start-up recovery (a
``.prog`` it cannot read) and sync (a file the cloud refuses).

Places (as rdk ``moveFailedData``): a file under the capture directory at
``<capture_dir>/failed/<path relative to capture_dir>``; any other file at
``<its directory>/failed/<name>``. A name already taken there, by a file or by a reason file,
gets ``-1``, ``-2``... before its extension, so nothing quarantined is ever overwritten or
appended to. The reason is written next to it as ``<quarantined name>.reason.txt``.

Order: rename first (needs no free space, so it works on a full disk), fsync the destination
directory, then the source's (a crash between leaves the file under both names, never under
none), then the reason file, best effort: a disk too full for the reason must not keep the file
where it was.
"""

from __future__ import annotations

import itertools
import posixpath

from ._fs import FileSystem, append_durably
from ._naming import FAILED_DIR

__all__ = ["REASON_SUFFIX", "failed_destination", "move_to_failed"]

REASON_SUFFIX = ".reason.txt"


def failed_destination(path: str, capture_dir: str) -> str:
    """Where ``path`` goes in quarantine (before resolving a name clash)."""
    capture_dir = posixpath.normpath(capture_dir)
    if path.startswith(capture_dir + "/"):
        return posixpath.join(capture_dir, FAILED_DIR, posixpath.relpath(path, capture_dir))
    head, name = posixpath.split(path)
    return posixpath.join(head, FAILED_DIR, name)


def _unused_name(fs: FileSystem, destination: str) -> str:
    stem, ext = posixpath.splitext(destination)
    numbered = (f"{stem}-{n}{ext}" for n in itertools.count(1))
    return next(
        name
        for name in itertools.chain([destination], numbered)
        if not fs.exists(name) and not fs.exists(name + REASON_SUFFIX)
    )


def move_to_failed(fs: FileSystem, path: str, capture_dir: str, reason: str) -> tuple[str, bool]:
    """Quarantine ``path``; return where it went and whether the reason file was written."""
    destination = failed_destination(path, capture_dir)
    fs.makedirs(posixpath.dirname(destination))
    destination = _unused_name(fs, destination)
    fs.rename(path, destination)
    fs.fsync_dir(posixpath.dirname(destination))
    fs.fsync_dir(posixpath.dirname(path))
    try:
        append_durably(fs, destination + REASON_SUFFIX, reason.encode() + b"\n")
        fs.fsync_dir(posixpath.dirname(destination))
    except OSError:
        return destination, False
    return destination, True
