"""Start-up recovery of ``.prog`` files left by a crash.

Every ``.prog`` under the capture directory that no live writer owns (``live``) is settled:

============================================  ================================================
what the scan finds                           what recovery does
============================================  ================================================
readings, clean end                           fsync, rename to ``.capture``, fsync the dir
readings, then a torn tail                    copy the readable prefix to ``<stem>.recovering``,
                                              fsync, rename it to ``.capture``, fsync the dir,
                                              unlink the ``.prog`` (the torn bytes are counted)
readings, then damage mid-file (including a   as above for the prefix; the whole original moves
length that runs past the end over readings)  to ``failed/`` with the reason (byte offset)
no readings (header only, maybe a torn tail)  unlink: nothing to keep (torn bytes counted)
no bytes, or only zero bytes                  unlink: created just before the crash
no readable header                            move to ``failed/<relative path>`` (a name
                                              never reused) with a ``.reason.txt`` beside it
a ``.capture`` of the same name exists        unlink if it holds exactly the readable prefix
                                              (an earlier run's copy), else move to ``failed/``
============================================  ================================================

Torn tail or damage: a crash only cuts a file short, so only its last record can be torn, and
the bytes of a torn tail read as the start of that one record. The reader checks exactly that
(see ``_reader``): a record that runs past the end of the file over bytes that are not one
record cut short (a bit flip in a length prefix makes the following readings look like a
"tail") is damage, and the whole original is kept in ``failed/``. Only a tail that is one
record cut short is dropped and counted, so an ordinary crash never fills ``failed/``. A size
rule (a tail longer than the longest complete record is damage) was not taken: a binary file
holds one record, so it has nothing to compare with, and tabular readings vary in size.

The port has no truncate, hence the copy. Every step is ordered so a crash at any point leaves a
state the next run settles the same way (idempotent): a ``.recovering`` file is always a stale
copy and is removed first; a ``.prog`` whose ``.capture`` already exists was already copied (the
rename happens only after the copy is fsynced), so it is only unlinked (reported as removed),
or moved to ``failed/`` if it is damaged mid-file. Only if the ``.capture`` holds exactly the
``.prog``'s readable prefix, byte for byte: anything else is not that copy, so the ``.prog``
moves to ``failed/`` and the ``.capture`` is left as it is.

Moves into ``failed/`` are the quarantine sync uses too (``_quarantine``): the file's data is
fsynced first, the destination directory before the source's, so a crash between them leaves
the file under both names, never under none (the next run then quarantines a second copy under
a new name); nothing there is ever overwritten. ``failed/`` itself is never entered. An
``OSError`` on one file, or a directory that cannot be listed, is reported and left for
later (:func:`recover_progs` settles such files once the disk lets it; the data manager tries
at every sync pass); the others are still recovered.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any

from dmsim.errors import StorageError

from ._codec import CaptureFormatError, NoMetadataError
from ._fs import FileSystem
from ._identity import ReadingId
from ._naming import CAPTURE_EXT, FAILED_DIR, PROG_EXT
from ._quarantine import move_to_failed
from ._reader import CaptureReader

__all__ = [
    "FailedFile",
    "RecoveredFile",
    "RecoveryIssue",
    "RecoveryReport",
    "RemovedFile",
    "recover_capture_dir",
]

TEMP_EXT = ".recovering"
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class RecoveredFile:
    """A ``.prog`` that became ``path``; ``rewritten`` if only its prefix was kept."""

    source: str
    path: str
    reading_ids: tuple[ReadingId | None, ...]
    torn_bytes: int
    rewritten: bool
    damage: str | None

    @property
    def readings(self) -> int:
        return len(self.reading_ids)


@dataclass(frozen=True, slots=True)
class FailedFile:
    """``reason_recorded`` is false if the disk had no room for the reason file."""

    source: str
    moved_to: str
    reason: str
    reason_recorded: bool


@dataclass(frozen=True, slots=True)
class RemovedFile:
    path: str
    torn_bytes: int
    reason: str


@dataclass(frozen=True, slots=True)
class RecoveryIssue:
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    scanned: int
    recovered: tuple[RecoveredFile, ...]
    failed: tuple[FailedFile, ...]
    removed: tuple[RemovedFile, ...]
    skipped_live: tuple[str, ...]
    stale_temp_removed: tuple[str, ...]
    errors: tuple[RecoveryIssue, ...]

    @property
    def readings_kept(self) -> int:
        return sum(f.readings for f in self.recovered)

    @property
    def torn_bytes_dropped(self) -> int:
        return sum(f.torn_bytes for f in self.recovered) + sum(f.torn_bytes for f in self.removed)

    @property
    def changed_anything(self) -> bool:
        return bool(self.recovered or self.failed or self.removed or self.stale_temp_removed)

    def lines(self) -> list[str]:
        """What recovery did, a line per file (and its detail), then a summary line."""
        out: list[str] = []
        for f in self.recovered:
            if f.damage:
                how = "before the damage"
            elif f.rewritten:
                how = f"(prefix kept, {f.torn_bytes} torn byte(s) dropped)"
            else:
                how = "(whole file)"
            out.append(f"recovered {f.source} -> {f.path}: {f.readings} reading(s) {how}")
            if f.damage:
                out.append(f"  DAMAGED: the whole original is kept in failed/: {f.damage}")
        for failed in self.failed:
            out.append(f"failed    {failed.source} -> {failed.moved_to}: {failed.reason}")
            if not failed.reason_recorded:
                out.append(
                    "  the reason file could not be written (disk full?): the reason is here"
                )
        out += [f"removed   {removed.path}: {removed.reason}" for removed in self.removed]
        out += [
            f"removed   {path}: stale copy from an interrupted recovery"
            for path in self.stale_temp_removed
        ]
        out += [f"ERROR     {issue.path}: {issue.message}" for issue in self.errors]
        out.append(
            f"{self.scanned} .prog file(s): {len(self.recovered)} recovered "
            f"({self.readings_kept} reading(s), {self.torn_bytes_dropped} torn byte(s) dropped), "
            f"{len(self.failed)} to failed/, {len(self.removed)} removed, "
            f"{len(self.errors)} error(s)"
        )
        return out

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        for item in doc["recovered"]:
            ids = item.pop("reading_ids")
            item["readings"] = len(ids)
        doc["readings_kept"] = self.readings_kept
        doc["torn_bytes_dropped"] = self.torn_bytes_dropped
        return doc


@dataclass(frozen=True, slots=True)
class _Scan:
    reading_ids: tuple[ReadingId | None, ...]
    valid_end: int
    torn_bytes: int
    damage: CaptureFormatError | None


class _Recovery:
    def __init__(self, fs: FileSystem, capture_dir: str, live: Collection[str]) -> None:
        self.fs = fs
        self.root = posixpath.normpath(capture_dir)
        self.live = frozenset(posixpath.normpath(p) for p in live)
        self.scanned = 0
        self.recovered: list[RecoveredFile] = []
        self.failed: list[FailedFile] = []
        self.removed: list[RemovedFile] = []
        self.skipped: list[str] = []
        self.stale: list[str] = []
        self.errors: list[RecoveryIssue] = []

    def run(self) -> RecoveryReport:
        for dirpath, dirnames, filenames in self.fs.walk(self.root, self._unlisted):
            if dirpath == self.root and FAILED_DIR in dirnames:
                dirnames.remove(FAILED_DIR)
            for name in filenames:
                if name.endswith(TEMP_EXT):
                    self._guard(posixpath.join(dirpath, name), self._remove_stale)
            for name in filenames:
                if name.endswith(PROG_EXT):
                    self._guard(posixpath.join(dirpath, name), self._settle)
        return self.report()

    def settle(self, progs: Collection[str]) -> RecoveryReport:
        for prog in progs:
            if self.fs.exists(prog):  # else settled meanwhile (or removed by hand)
                self._guard(prog, self._settle)
        return self.report()

    def report(self) -> RecoveryReport:
        return RecoveryReport(
            self.scanned,
            tuple(self.recovered),
            tuple(self.failed),
            tuple(self.removed),
            tuple(self.skipped),
            tuple(self.stale),
            tuple(self.errors),
        )

    def _unlisted(self, error: OSError) -> None:
        what = f"cannot list this directory: {error.strerror or error}"
        self.errors.append(RecoveryIssue(str(error.filename), f"{what} (nothing under it seen)"))

    def _guard(self, path: str, action: Callable[[str], None]) -> None:
        try:
            action(path)
        except OSError as error:
            self.errors.append(RecoveryIssue(path, f"{error.strerror or error} (left for later)"))
        except StorageError as error:
            what = str(error).removeprefix(f"{path}: ")  # the issue names the path already
            self.errors.append(RecoveryIssue(path, f"{what} (left for later)"))

    def _remove_stale(self, path: str) -> None:
        self.fs.unlink(path)
        self.fs.fsync_dir(posixpath.dirname(path))
        self.stale.append(path)

    # -- one .prog -----------------------------------------------------------------------

    def _settle(self, prog: str) -> None:
        if prog in self.live:
            self.skipped.append(prog)
            return
        self.scanned += 1
        try:
            scan = self._scan(prog)
        except NoMetadataError as error:
            if error.empty:
                self._remove(prog, 0, error.what)
            else:
                self._to_failed(prog, f"no readable header: {error.what} (byte {error.offset})")
            return
        capture = prog[: -len(PROG_EXT)] + CAPTURE_EXT
        if self.fs.exists(capture):
            self._beside_capture(prog, capture, scan)
        elif not scan.reading_ids:
            if scan.damage is not None:
                self._to_failed(prog, _describe(scan.damage))
            else:
                self._remove(prog, scan.torn_bytes, "no complete reading")
        elif scan.damage is None and scan.torn_bytes == 0:
            self._rename_whole(prog, capture, scan)
        else:
            self._copy_prefix(prog, capture, scan)

    def _scan(self, path: str) -> _Scan:
        ids: list[ReadingId | None] = []
        with CaptureReader(self.fs, path) as reader:
            damage: CaptureFormatError | None = None
            try:
                for record in reader.records():
                    ids.append(record.reading_id)
            except CaptureFormatError as error:
                damage = error
            torn = reader.torn_tail_bytes if damage is None else 0
            return _Scan(tuple(ids), reader.valid_end, torn, damage)

    def _beside_capture(self, prog: str, capture: str, scan: _Scan) -> None:
        # A previous run crashed after the prefix became the .capture: only the source remains,
        # and it may go only if the .capture holds every byte of its prefix.
        if scan.damage is not None:
            self._to_failed(prog, _describe(scan.damage))
        elif self._holds_prefix(capture, prog, scan.valid_end):
            self._remove(prog, scan.torn_bytes, f"its readable prefix is already {capture}")
        else:
            self._to_failed(prog, f"{capture} exists and is not this file's readable prefix")

    def _holds_prefix(self, capture: str, prog: str, length: int) -> bool:
        if self.fs.stat(capture).size != length:
            return False
        ours, theirs = self.fs.open_read(prog), self.fs.open_read(capture)
        try:
            remaining = length
            while remaining:
                chunk = ours.read(min(_COPY_CHUNK, remaining))
                if not chunk or theirs.read(len(chunk)) != chunk:
                    return False
                remaining -= len(chunk)
            return True
        finally:
            ours.close()
            theirs.close()

    def _rename_whole(self, prog: str, capture: str, scan: _Scan) -> None:
        self._fsync(prog)
        self.fs.rename(prog, capture)
        self.fs.fsync_dir(posixpath.dirname(prog))
        self.recovered.append(RecoveredFile(prog, capture, scan.reading_ids, 0, False, None))

    def _copy_prefix(self, prog: str, capture: str, scan: _Scan) -> None:
        directory = posixpath.dirname(prog)
        temp = prog[: -len(PROG_EXT)] + TEMP_EXT
        if self.fs.exists(temp):
            self.fs.unlink(temp)
        self._copy(prog, temp, scan.valid_end)
        self.fs.rename(temp, capture)
        self.fs.fsync_dir(directory)
        damage = _describe(scan.damage) if scan.damage is not None else None
        if damage is not None:
            self._to_failed(prog, damage)
        else:
            self.fs.unlink(prog)
            self.fs.fsync_dir(directory)
        self.recovered.append(
            RecoveredFile(prog, capture, scan.reading_ids, scan.torn_bytes, True, damage)
        )

    def _copy(self, src: str, dst: str, length: int) -> None:
        reader = self.fs.open_read(src)
        try:
            writer = self.fs.open_append(dst)
            try:
                remaining = length
                while remaining:
                    data = reader.read(min(_COPY_CHUNK, remaining))
                    if not data:
                        raise StorageError(f"{src}: file shrank while being copied")
                    writer.write(data)
                    remaining -= len(data)
                writer.fsync()
            finally:
                writer.close()
        finally:
            reader.close()

    def _remove(self, prog: str, torn_bytes: int, reason: str) -> None:
        self.fs.unlink(prog)
        self.fs.fsync_dir(posixpath.dirname(prog))
        self.removed.append(RemovedFile(prog, torn_bytes, reason))

    def _fsync(self, path: str) -> None:
        # The data may still be only in the page cache (a process crash, not a power cut).
        handle = self.fs.open_append(path)
        try:
            handle.fsync()
        finally:
            handle.close()

    def _to_failed(self, path: str, reason: str) -> None:
        self._fsync(path)
        rel = posixpath.relpath(path, self.root)
        moved_to, recorded = move_to_failed(
            self.fs, path, self.root, f"source: {rel}\nreason: {reason}"
        )
        self.failed.append(FailedFile(path, moved_to, reason, recorded))


def _describe(error: CaptureFormatError) -> str:
    return f"{error.what} (byte {error.offset})"


def recover_capture_dir(
    fs: FileSystem, capture_dir: str, *, live: Collection[str] = ()
) -> RecoveryReport:
    """Settle every orphaned ``.prog`` under ``capture_dir`` (see the module doc)."""
    if not fs.is_dir(capture_dir):
        raise StorageError(f"{capture_dir}: not a directory")
    return _Recovery(fs, capture_dir, live).run()


def recover_progs(fs: FileSystem, capture_dir: str, progs: Collection[str]) -> RecoveryReport:
    """Settle the orphaned ``.prog`` files ``progs`` under ``capture_dir`` that an earlier
    recovery left for later (its :attr:`RecoveryReport.errors`); a path gone meanwhile is
    skipped. Orphans only: no live writer may own any of them."""
    return _Recovery(fs, capture_dir, live=()).settle(progs)
