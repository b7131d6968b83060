"""Summaries and integrity checks of capture files (``dmsim capture inspect`` / ``verify``).

Both walk a file or directory through the filesystem port and never raise for what is in the
files: damage becomes a :class:`FileProblem` (file, byte offset, what), and so does a directory
that cannot be listed (nothing under it could be checked), a directory named like a capture
file (``*.capture``/``*.prog`` holding no directory), and anything named so that is not a
regular file (a FIFO would block the read: the filesystem port refuses to open it).
``failed/`` at the top of a capture directory holds quarantined files and is skipped (counted,
their reason files not). A file is *intact* when it has a header, every record reads, there is
no torn tail, and no reading identity appears twice in the directory. Every problem of a file
is listed, in file order: its duplicates (as one problem), then the damage that ended the read
or its torn tail. A ``.prog`` file (open, or orphaned by a crash) is checked the same way:
verify is about integrity, and a clean ``.prog`` is intact so far.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from google.protobuf import wrappers_pb2
from google.protobuf.message import DecodeError
from viam.proto.app.datasync import DataCaptureMetadata, DataType

from dmsim.errors import StorageError

from ._codec import CaptureFormatError
from ._creation import CreationStamp
from ._fs import FileSystem
from ._identity import ReadingId
from ._naming import CAPTURE_EXT, FAILED_DIR, PROG_EXT
from ._quarantine import REASON_SUFFIX
from ._reader import CaptureReader

__all__ = [
    "CaptureListing",
    "FileProblem",
    "FileReport",
    "VerifyReport",
    "capture_files",
    "inspect_file",
    "inspect_path",
    "method_parameters_of",
    "problem_report",
    "read_failed_problem",
    "torn_tail_problem",
    "unopenable_problem",
    "verify_dir",
]


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: str
    offset: int | None
    what: str

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.path}{where}: {self.what}"


@dataclass(frozen=True, slots=True)
class FileReport:
    """What ``inspect`` shows for one file."""

    path: str
    size_bytes: int
    component_type: str
    component_name: str
    method_name: str
    data_type: str
    tags: tuple[str, ...]
    mime_type: str
    file_extension: str
    method_parameters: tuple[tuple[str, str], ...]
    readings: int
    first_time_requested_ns: int | None
    last_time_requested_ns: int | None
    torn_tail_bytes: int
    problems: tuple[FileProblem, ...]  # in file order
    creation: CreationStamp | None = None  # when dmsim began it (rdk's files: none)

    @property
    def is_prog(self) -> bool:
        return self.path.endswith(PROG_EXT)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "component_type": self.component_type,
            "component_name": self.component_name,
            "method_name": self.method_name,
            "data_type": self.data_type,
            "tags": list(self.tags),
            "mime_type": self.mime_type,
            "file_extension": self.file_extension,
            "method_parameters": dict(self.method_parameters),
            "readings": self.readings,
            "first_time_requested_ns": self.first_time_requested_ns,
            "last_time_requested_ns": self.last_time_requested_ns,
            "torn_tail_bytes": self.torn_tail_bytes,
            "problems": [{"offset": p.offset, "what": p.what} for p in self.problems],
            "creation": None if self.creation is None else asdict(self.creation),
        }


def _data_type_name(value: int) -> str:
    try:
        return str(DataType.Name(value)).removeprefix("DATA_TYPE_").removesuffix("_SENSOR").lower()
    except ValueError:
        return f"unknown({value})"


def method_parameters_of(metadata: DataCaptureMetadata) -> tuple[tuple[str, str], ...]:
    """``additional_params`` back from the header (rdk packs each as an Any(StringValue))."""
    out = []
    for key, value in sorted(metadata.method_parameters.items()):
        text = wrappers_pb2.StringValue()
        try:
            shown = text.value if value.Unpack(text) else f"<{value.type_url}>"
        except DecodeError:
            shown = f"<undecodable {value.type_url}>"
        out.append((str(key), str(shown)))
    return tuple(out)


def unopenable_problem(path: str, error: StorageError) -> FileProblem:
    # The reader's message starts with the path, which the problem prints itself.
    return FileProblem(path, None, str(error).removeprefix(f"{path}: "))


def read_failed_problem(path: str, error: OSError) -> FileProblem:
    return FileProblem(path, None, f"read failed: {error.strerror or error}")


def torn_tail_problem(reader: CaptureReader) -> FileProblem:
    return FileProblem(
        reader.path, reader.valid_end, f"torn tail of {reader.torn_tail_bytes} bytes"
    )


@dataclass(slots=True)
class _Tally:
    readings: int = 0
    first: int | None = None
    last: int | None = None
    first_duplicate: FileProblem | None = None
    duplicates: int = 0

    def duplicates_problem(self) -> FileProblem | None:
        """One problem for all of a file's duplicates: a recovered copy repeats every reading,
        and a line per reading would bury the file's other problems."""
        first = self.first_duplicate
        more = self.duplicates - 1
        if first is None or more == 0:
            return first
        also = "reading of this file appears" if more == 1 else "readings of this file appear"
        return FileProblem(first.path, first.offset, f"{first.what}; {more} more {also} twice")


def problem_report(path: str, size: int, problem: FileProblem) -> FileReport:
    """The report of a file (or place) that shows nothing but ``problem``."""
    return FileReport(path, size, "", "", "", "", (), "", "", (), 0, None, None, 0, (problem,))


def _duplicate(
    seen: dict[ReadingId, str], rid: ReadingId, path: str, offset: int
) -> FileProblem | None:
    other = seen.get(rid)
    if other is None:
        seen[rid] = path
        return None
    where = "earlier in this file" if other == path else f"also in {other}"
    return FileProblem(path, offset, f"reading {rid} appears twice ({where})")


def _size(fs: FileSystem, path: str) -> int:
    try:
        return fs.stat(path).size
    except OSError:
        return 0


def inspect_file(
    fs: FileSystem, path: str, *, seen: dict[ReadingId, str] | None = None
) -> FileReport:
    """Summarize one file; ``seen`` (identity → path) makes duplicates across files a problem."""
    try:
        reader = CaptureReader(fs, path)
    except CaptureFormatError as error:
        size = _size(fs, path)
        return problem_report(path, size, FileProblem(path, error.offset, error.what))
    except StorageError as error:
        return problem_report(path, 0, unopenable_problem(path, error))
    except OSError as error:
        return problem_report(path, _size(fs, path), read_failed_problem(path, error))
    tally = _Tally()
    damage: FileProblem | None = None
    with reader:
        try:
            for record in reader.records():
                t = record.time_requested_ns
                tally.readings += 1
                tally.first = t if tally.first is None else tally.first
                tally.last = t
                if seen is not None and record.reading_id is not None:
                    duplicate = _duplicate(seen, record.reading_id, path, record.offset)
                    if duplicate is not None:
                        tally.duplicates += 1
                        tally.first_duplicate = tally.first_duplicate or duplicate
        except CaptureFormatError as error:
            damage = FileProblem(path, error.offset, error.what)
        except OSError as error:
            damage = read_failed_problem(path, error)
        torn = reader.torn_tail_bytes
        if torn:
            damage = torn_tail_problem(reader)
        creation = stamp_damage = None
        try:
            creation = reader.creation
        except CaptureFormatError as error:  # the readings are no less readable
            stamp_damage = FileProblem(path, error.offset, error.what)
        found = (stamp_damage, tally.duplicates_problem(), damage)
        problems = tuple(p for p in found if p is not None)
        md = reader.metadata
        return FileReport(
            path=path,
            size_bytes=reader.size,
            component_type=md.component_type,
            component_name=md.component_name,
            method_name=md.method_name,
            data_type=_data_type_name(md.type),
            tags=tuple(md.tags),
            mime_type=md.mime_type,
            file_extension=md.file_extension,
            method_parameters=method_parameters_of(md),
            readings=tally.readings,
            first_time_requested_ns=tally.first,
            last_time_requested_ns=tally.last,
            torn_tail_bytes=torn,
            problems=problems,
            creation=creation,
        )


@dataclass(frozen=True, slots=True)
class CaptureListing:
    """What :func:`capture_files` found: the capture files, how many files are quarantined in
    ``failed/``, each directory it could not list, and each directory named like a capture
    file (nothing in it is missed: its files are listed like any other's)."""

    files: tuple[str, ...]
    quarantined: int
    unlisted: tuple[FileProblem, ...] = ()
    misnamed: tuple[FileProblem, ...] = ()

    @property
    def problems(self) -> tuple[FileProblem, ...]:
        return self.unlisted + self.misnamed


def _unlisted(problems: list[FileProblem]) -> Callable[[OSError], None]:
    def note(error: OSError) -> None:
        what = f"cannot list this directory: {error.strerror or error}"
        problems.append(FileProblem(str(error.filename), None, what))

    return note


def capture_files(fs: FileSystem, path: str) -> CaptureListing:
    """``.prog``/``.capture`` files at ``path`` (a file or a directory, walked in sorted order).
    Raises :class:`StorageError` if ``path`` is missing."""
    if not fs.exists(path):
        raise StorageError(f"{path}: no such file or directory")
    if not fs.is_dir(path):
        return CaptureListing((path,), 0, ())
    root = posixpath.normpath(path)
    files: list[str] = []
    unlisted: list[FileProblem] = []
    misnamed: list[FileProblem] = []
    quarantined = 0
    for dirpath, dirnames, filenames in fs.walk(root, _unlisted(unlisted)):
        if dirpath == root and FAILED_DIR in dirnames:
            dirnames.remove(FAILED_DIR)
            quarantined = sum(
                not name.endswith(REASON_SUFFIX)
                for _, _, names in fs.walk(posixpath.join(root, FAILED_DIR), _unlisted(unlisted))
                for name in names
            )
        # A component or method directory may end so too, but always holds directories.
        if dirpath != root and dirpath.endswith((CAPTURE_EXT, PROG_EXT)) and not dirnames:
            misnamed.append(FileProblem(dirpath, None, "a directory, not a capture file"))
        files.extend(
            posixpath.join(dirpath, name)
            for name in filenames
            if name.endswith((CAPTURE_EXT, PROG_EXT))
        )
    return CaptureListing(tuple(files), quarantined, tuple(unlisted), tuple(misnamed))


def inspect_path(fs: FileSystem, path: str) -> Iterator[FileReport]:
    """One report per capture file at ``path`` (see :func:`capture_files`), then one per place
    that could not be looked into (a report with only ``problems`` set)."""
    listing = capture_files(fs, path)
    for file in listing.files:
        yield inspect_file(fs, file)
    for problem in listing.problems:
        yield problem_report(problem.path, 0, problem)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    files_checked: int
    readings: int
    open_files: tuple[str, ...]
    quarantined_files: int
    problems: tuple[FileProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def verify_dir(fs: FileSystem, path: str) -> VerifyReport:
    """Check every capture file under ``path``; intact only if no problem is found."""
    listing = capture_files(fs, path)
    seen: dict[ReadingId, str] = {}
    problems = list(listing.problems)
    readings = 0
    for file in listing.files:
        report = inspect_file(fs, file, seen=seen)
        readings += report.readings
        problems.extend(report.problems)
    open_files = tuple(f for f in listing.files if f.endswith(PROG_EXT))
    return VerifyReport(
        len(listing.files), readings, open_files, listing.quarantined, tuple(problems)
    )
