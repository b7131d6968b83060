"""Which files are ready to sync (rdk ``readyToSyncFile``, made explicit).

================================================  ==========================================
file                                              ready
================================================  ==========================================
``<capture_dir>/failed/``, or a ``failed/`` at     never (quarantine; the walk prunes it)
  any depth of an additional path
``*.prog``                                        never (still being written); the walk
                                                  yields those of the capture directory
                                                  (``OPEN``): their data waits, unsynced
``*.capture`` (capture dir or additional path)    always
``<capture_dir>/sequences/*.seq``                 always (a closed sequence: CreateSequence);
                                                  never ``*.progseq``, still open
other file under ``capture_dir``                  never: the capture directory holds only
                                                  capture files; strays (temp files of a
                                                  recovery) are not ours to upload
other file under an ``additional_sync_paths``     once unmodified for ``file_last_modified_
  entry                                           millis`` and non-empty (a future mtime after
                                                  a wall-clock step counts as age 0, as rdk),
                                                  and not while :class:`QuietClock` holds
                                                  them after a clock set
claimed in the in-use tracker, or backing off     skipped by the engine, not here
================================================  ==========================================

Roots are the capture directory first, then each additional path in config order, with
duplicates dropped. A root nested inside another is pruned from the outer walk and walked on
its own, so every file is visited once, under the rules of its nearest root.

The walk is a generator over the filesystem port's sorted walk: memory depends on one
directory's listing, never on the size of the backlog.

A capture file's name dates its data (the stale-data warning's age), except a name the
wall clock showed twice, after a step back (:class:`~dmsim.sync._clock_steps.RepeatedTimes`):
the walk then reads the file's header for the monotonic time dmsim began it
(:class:`~dmsim.storage._creation.CreationStamp`). Rare (the files of a step's size of time),
and one header each.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Container, Generator, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dmsim.errors import StorageError
from dmsim.runtime import Clocks
from dmsim.storage._creation import CreationStamp
from dmsim.storage._fs import FileSystem
from dmsim.storage._naming import parse_capture_name
from dmsim.storage._reader import CaptureReader
from dmsim.storage._sequences import CLOSED_SUFFIX, SEQUENCES_DIR

__all__ = [
    "FAILED_DIR",
    "Candidate",
    "FileKind",
    "QuietClock",
    "SyncRoot",
    "file_kind",
    "is_ready",
    "sync_roots",
    "walk_candidates",
]

FAILED_DIR = "failed"
CAPTURE_SUFFIX = ".capture"
_HEADER_READ = 4096  # a header is some hundred bytes: no need for the reader's 64 KiB
PROG_SUFFIX = ".prog"


class FileKind(StrEnum):
    CAPTURE = "capture"  # a completed capture file: DataCaptureUpload / streaming
    ARBITRARY = "arbitrary"  # any other file in an additional sync path: FileUpload
    SEQUENCE = "sequence"  # a closed sequence under <capture_dir>/sequences: CreateSequence
    OPEN = "open"  # a capture file still being written: unsynced data, never uploaded


@dataclass(frozen=True, slots=True)
class SyncRoot:
    path: str
    is_capture_dir: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file the walk found that may be uploaded (``is_ready`` decides whether now)."""

    path: str
    kind: FileKind
    root: SyncRoot
    size: int
    mtime_ns: int
    creation: CreationStamp | None = None  # read only for a name the clock showed twice

    @property
    def created_ns(self) -> int | None:
        """A capture file's creation, on the wall clock, as its name says (rdk ages unsynced
        data by it); ``None`` for other files and names that say nothing."""
        if self.kind not in (FileKind.CAPTURE, FileKind.OPEN):
            return None
        return _name_time_ns(self.path)


def _name_time_ns(path: str) -> int | None:
    name = parse_capture_name(posixpath.basename(path))
    return None if name is None else name.time_ns


def _creation(fs: FileSystem, path: str) -> CreationStamp | None:
    """The creation stamp in a capture file's header; ``None`` for rdk's files, and a header
    not yet written or damaged (then its name dates it, as any other)."""
    try:
        with CaptureReader(fs, path, chunk_size=_HEADER_READ) as reader:
            return reader.creation
    except (StorageError, OSError):
        return None


def sync_roots(
    capture_dir: str,
    additional_sync_paths: Sequence[str],
    former_capture_dirs: Sequence[str] = (),
) -> tuple[SyncRoot, ...]:
    """The directories to walk, normalised, duplicates dropped: the capture directory, the
    capture directories of earlier configs (walked like it), then the additional paths."""
    roots: list[SyncRoot] = []
    seen: set[str] = set()
    for path, is_capture_dir in [
        (capture_dir, True),
        *((p, True) for p in former_capture_dirs),
        *((p, False) for p in additional_sync_paths),
    ]:
        norm = posixpath.normpath(path)
        if norm not in seen:
            seen.add(norm)
            roots.append(SyncRoot(norm, is_capture_dir))
    return tuple(roots)


def file_kind(name: str, *, in_capture_dir: bool) -> FileKind | None:
    """What kind of upload a file name calls for, or ``None`` if it is never synced."""
    if name.endswith(PROG_SUFFIX):
        return None
    if name.endswith(CAPTURE_SUFFIX):
        return FileKind.CAPTURE
    return None if in_capture_dir else FileKind.ARBITRARY


class QuietClock:
    """The wall-clock time an arbitrary file's quiet period is judged by (its mtime is a
    wall-clock time), guarded against clock sets.

    A file written while the wall clock was wrong carries a wrong mtime: after a step forward
    (NTP setting a Pi without a real-time clock), or once an unset RTC (1970) is set again, a
    file still being written looks long unmodified, and rdk then uploads it half written. So
    whenever the wall clock was set since the last look (:meth:`Clocks.wall_clock_sets`: every
    set, however brief), no arbitrary file counts as quiet for one quiet period of monotonic
    time: by then each file still being written has been written to since, under the right
    time. A set just before this clock was created cannot be told (the kernel counts from
    the moment one asks; a Pi's clock is set at boot, around when the machine starts), so the
    creation holds them too: arbitrary files wait one quiet period after a start. A step back
    alone only makes files look younger (a future mtime counts as age 0).
    """

    def __init__(self, clocks: Clocks) -> None:
        self._clocks = clocks
        self._sets = clocks.wall_clock_sets()  # at the last look
        self._held_since = clocks.monotonic()  # the last set seen, or the creation

    def now_ns(self, quiet_ms: int) -> int | None:
        """The time to judge by, or ``None`` while a set holds every arbitrary file."""
        sets, monotonic = self._clocks.wall_clock_sets(), self._clocks.monotonic()
        if sets != self._sets:
            self._held_since, self._sets = monotonic, sets
        quiet = monotonic - self._held_since >= quiet_ms / 1000
        return self._clocks.wall_ns() if quiet else None

    def hold_left_s(self, quiet_ms: int) -> float:
        """How long the last set (or the creation) still holds every arbitrary file, as of
        the last :meth:`now_ns`; 0 when it holds none."""
        return max(0.0, self._held_since + quiet_ms / 1000 - self._clocks.monotonic())

    def ready(self, candidate: Candidate, *, file_last_modified_millis: int) -> bool:
        """:func:`is_ready` at this clock's time (read for arbitrary files only)."""
        if candidate.kind is not FileKind.ARBITRARY:
            return candidate.kind is not FileKind.OPEN
        quiet_ms = file_last_modified_millis
        return is_ready(candidate, now_ns=self.now_ns(quiet_ms), file_last_modified_millis=quiet_ms)


def is_ready(candidate: Candidate, *, now_ns: int | None, file_last_modified_millis: int) -> bool:
    """Capture and sequence files always; arbitrary files once old enough and non-empty
    (never while ``now_ns`` is ``None``: :meth:`QuietClock.now_ns` holds them); a capture file
    still being written never."""
    if candidate.kind is not FileKind.ARBITRARY:
        return candidate.kind is not FileKind.OPEN
    if now_ns is None:
        return False
    age_ns = max(0, now_ns - candidate.mtime_ns)
    return candidate.size > 0 and age_ns >= file_last_modified_millis * 1_000_000


def walk_candidates(
    fs: FileSystem,
    roots: Sequence[SyncRoot],
    *,
    on_error: Callable[[str, OSError], None] | None = None,
    read_creation_if_named: Container[int] | None = None,
) -> Generator[Candidate, None, None]:
    """Every syncable file under ``roots``, lazily, in sorted order, with its size and mtime,
    and the capture files still being written (``FileKind.OPEN``: never sent, but their data
    is unsynced and ages like the rest). A capture file named at a time among
    ``read_creation_if_named`` carries its header's creation stamp.

    A root that does not exist is skipped; a file that vanishes between listing and ``stat``
    is skipped; a directory that cannot be listed goes to ``on_error`` (its path) and the rest
    of its root is still walked; any other ``OSError`` from the walk ends that root and goes to
    ``on_error`` (the root's path).
    """
    report = on_error or _ignore
    root_paths = {root.path for root in roots}
    for root in roots:
        if not fs.is_dir(root.path):
            continue
        try:
            yield from _walk_root(fs, root, root_paths, report, read_creation_if_named)
        except OSError as error:
            report(root.path, error)


def _ignore(_path: str, _error: OSError) -> None:
    pass


def _walk_root(
    fs: FileSystem,
    root: SyncRoot,
    root_paths: set[str],
    on_error: Callable[[str, OSError], None],
    read_creation_if_named: Container[int] | None,
) -> Iterator[Candidate]:
    def unlisted(error: OSError) -> None:
        on_error(str(error.filename), error)

    sequences_dir = posixpath.join(root.path, SEQUENCES_DIR)

    for dirpath, dirnames, filenames in fs.walk(root.path, unlisted):
        # Prune in place: quarantine, and nested roots (walked on their own). Quarantine is
        # <capture_dir>/failed only (a component may be named "failed"), but a failed/ next to
        # an arbitrary file at any depth of another root.
        at_quarantine_level = not root.is_capture_dir or dirpath == root.path
        dirnames[:] = [
            d
            for d in dirnames
            if not (d == FAILED_DIR and at_quarantine_level)
            and posixpath.join(dirpath, d) not in root_paths
        ]
        in_sequences = root.is_capture_dir and dirpath == sequences_dir
        for name in filenames:
            if in_sequences and name.endswith(CLOSED_SUFFIX):
                kind: FileKind | None = FileKind.SEQUENCE
            elif root.is_capture_dir and name.endswith(PROG_SUFFIX):
                kind = FileKind.OPEN
            else:
                kind = file_kind(name, in_capture_dir=root.is_capture_dir)
            if kind is None:
                continue
            path = posixpath.join(dirpath, name)
            try:
                stat = fs.stat(path)
            except FileNotFoundError:
                continue
            creation = None
            if (
                read_creation_if_named is not None
                and kind in (FileKind.CAPTURE, FileKind.OPEN)
                and _name_time_ns(path) in read_creation_if_named
            ):
                creation = _creation(fs, path)
            yield Candidate(path, kind, root, stat.size, stat.mtime_ns, creation)
