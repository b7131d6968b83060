"""Which capture directories hold a part's data on this host, kept outside all of them.

A new ``capture_dir`` leaves the old directory's files behind: rdk walks only the current
directory (and its legacy default), so a backlog captured before the change is never
uploaded. dmsim keeps syncing every former capture directory like the current one. It
records them in ``<state_dir>/capture-dirs/<part>.json`` (the state directory is
``$VIAM_HOME/dmsim``): the directory in use, then the former ones, newest first. The record
is outside the capture directories because the config may name a new one the running machine
never applied (edited while the machine was off, or a second edit asked while the first one
waits for a failing disk): the next boot then learns from the record where the part wrote
last. It is keyed by the part, so the dmsim processes of two parts on one host never adopt
each other's backlog. The record is written whole or not at all
(:func:`~._fs.write_whole`). One that cannot be read (a hand edit gone wrong, a bad sector) is
renamed aside for a person (:func:`set_aside`) and a new one begun: the directories it names
wait for that person, but the ones used from then on are recorded again.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass

from dmsim.errors import StorageError

from ._fs import FileSystem, write_whole

__all__ = [
    "CaptureDirs",
    "capture_dirs_path",
    "read_capture_dirs",
    "set_aside",
    "write_capture_dirs",
]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True, slots=True)
class CaptureDirs:
    """A part's capture directory in use and its former ones, newest first."""

    part_id: str
    current: str
    former: tuple[str, ...] = ()

    def formers_of(self, capture_dir: str) -> tuple[str, ...]:
        """The directories that are former ones for a machine now capturing in
        ``capture_dir`` (the recorded current one too, if the config names another)."""
        return tuple(d for d in dict.fromkeys((self.current, *self.former)) if d != capture_dir)


def capture_dirs_path(state_dir: str, part_id: str) -> str:
    """The part's record: named after the part id when that is a safe file name (Viam's are
    UUIDs), else after its digest."""
    safe = _SAFE_NAME.fullmatch(part_id)
    name = part_id if safe else hashlib.sha256(part_id.encode()).hexdigest()
    return posixpath.join(state_dir, "capture-dirs", f"{name}.json")


def read_capture_dirs(fs: FileSystem, state_dir: str, part_id: str) -> CaptureDirs | None:
    """The part's record, or ``None`` if it has none yet.

    Raises :class:`StorageError` naming the file when it cannot be read or is not a record of
    this part.
    """
    path = capture_dirs_path(state_dir, part_id)
    if not fs.exists(path):
        return None
    try:
        handle = fs.open_read(path)
        try:
            raw = handle.read()
        finally:
            handle.close()
    except OSError as error:
        raise StorageError(f"{path}: cannot read the capture directories: {error}") from error
    try:
        document = json.loads(raw.decode())
        if not isinstance(document["former_capture_dirs"], list):
            raise TypeError("former_capture_dirs is not a list")
        recorded = CaptureDirs(
            document["part_id"], document["capture_dir"], tuple(document["former_capture_dirs"])
        )
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        raise StorageError(
            f"{path}: expected {{'part_id': ..., 'capture_dir': an absolute path, "
            f"'former_capture_dirs': [absolute paths]}} ({type(error).__name__}: {error})"
        ) from error
    if recorded.part_id != part_id:
        raise StorageError(f"{path}: records part {recorded.part_id!r}, not {part_id!r}")
    for directory in (recorded.current, *recorded.former):
        if not (isinstance(directory, str) and posixpath.isabs(directory)):
            raise StorageError(f"{path}: {directory!r} is not an absolute path")
    return recorded


def write_capture_dirs(fs: FileSystem, state_dir: str, record: CaptureDirs) -> None:
    """Record ``record`` durably, replacing the part's earlier record."""
    document = {
        "part_id": record.part_id,
        "capture_dir": record.current,
        "former_capture_dirs": list(record.former),
    }
    path = capture_dirs_path(state_dir, record.part_id)
    write_whole(fs, path, json.dumps(document, indent=2).encode() + b"\n")


def set_aside(fs: FileSystem, path: str) -> str:
    """Rename the record at ``path`` to the first free ``<path>.damaged[.N]`` (one set aside
    before is never replaced); the name it now has."""
    aside, n = f"{path}.damaged", 0
    while fs.exists(aside):
        n += 1
        aside = f"{path}.damaged.{n}"
    fs.rename(path, aside)
    fs.fsync_dir(posixpath.dirname(path))
    return aside
