"""Sequence files: a window of time a capture control sensor recorded, waiting for the cloud.

Layout and format as rdk (``data/sequence_file.go``, ``capture/sequence_files.go``):
``<capture_dir>/sequences/<id>.progseq`` while the sequence is open, ``<id>.seq`` once it is
closed, each JSON::

    {"start_time": "2026-05-04T08:02:00.1Z", "end_time": "2026-05-04T08:04:00Z",
     "resources": [{"resource_name": "cam", "method_name": "GetImages"}],
     "sequence_tags": ["run-1"]}

An open sequence's ``end_time`` is Go's zero time, as rdk writes it. Each file is written to
``<name>.tmp`` and renamed, so no reader sees half of one; unlike rdk, dmsim fsyncs the file and
then the directory, so a closed sequence survives a power cut as its readings do.

Start-up (rdk ``handleOrphanedOpenSequences``): a ``.tmp`` is a write cut short and is removed;
a ``.progseq`` whose ``.seq`` exists was closed just before the crash and is removed; any other
``.progseq`` was open when the machine stopped, so its end is unknown: it moves to
``failed/sequences/`` with that reason.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dmsim.errors import StorageError

from ._fs import TMP_SUFFIX, FileSystem, write_whole
from ._quarantine import move_to_failed

__all__ = [
    "CLOSED_SUFFIX",
    "OPEN_SUFFIX",
    "SEQUENCES_DIR",
    "SequenceFile",
    "SequenceRecovery",
    "parse_sequence_file",
    "recover_sequences",
    "rfc3339_ns",
    "sequence_fingerprint",
    "write_sequence_file",
]

SEQUENCES_DIR = "sequences"
OPEN_SUFFIX = ".progseq"
CLOSED_SUFFIX = ".seq"
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z"
)
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SequenceFile:
    """One sequence; ``end_ns`` is ``None`` while it is open."""

    start_ns: int
    end_ns: int | None
    resources: tuple[tuple[str, str], ...]  # (resource_name, method_name)
    tags: tuple[str, ...]

    def to_json_bytes(self) -> bytes:
        document = {
            "start_time": rfc3339_ns(self.start_ns),
            "end_time": _GO_ZERO_TIME if self.end_ns is None else rfc3339_ns(self.end_ns),
            "resources": [{"resource_name": r, "method_name": m} for r, m in self.resources],
        }
        if self.tags:
            document["sequence_tags"] = list(self.tags)
        return json.dumps(document, indent=2).encode()

    @property
    def fingerprint(self) -> str:
        return sequence_fingerprint(self.start_ns, self.end_ns, self.resources, self.tags)


def sequence_fingerprint(
    start_ns: int, end_ns: int | None, resources: Sequence[tuple[str, str]], tags: Sequence[str]
) -> str:
    """What identifies a closed sequence on both sides of sync: its window, resources and
    tags, order-free (the cloud sees a request, not the file or its name)."""
    canonical = json.dumps([start_ns, end_ns, sorted(resources), sorted(tags)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def rfc3339_ns(ns: int) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds without trailing zeros."""
    seconds, nanos = divmod(ns, _NS)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z"


def _parse_time(value: object, where: str) -> int | None:
    if value == _GO_ZERO_TIME:
        return None
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise StorageError(f"{where}: not an RFC 3339 time: {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(
            f"{year}-{month}-{day}T{hour}:{minute}:{second}{'+00:00' if zone == 'Z' else zone}"
        )
    except ValueError as error:
        raise StorageError(f"{where}: not a valid time: {value!r} ({error})") from None
    return int(moment.timestamp()) * _NS + int((fraction or "").ljust(9, "0"))


def parse_sequence_file(data: bytes, path: str) -> SequenceFile:
    """A sequence file's content; :class:`StorageError` names the file and what is wrong."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StorageError(f"{path}: not JSON: {error}") from None
    if not isinstance(document, dict):
        raise StorageError(f"{path}: expected a JSON object")
    start = _parse_time(document.get("start_time"), f"{path}: start_time")
    if start is None:
        raise StorageError(f"{path}: start_time is the zero time")
    end = _parse_time(document.get("end_time", _GO_ZERO_TIME), f"{path}: end_time")
    if end is not None and end < start:
        raise StorageError(f"{path}: end_time is before start_time")
    raw = document.get("resources")
    if not isinstance(raw, list) or not raw:
        raise StorageError(f"{path}: resources: expected a non-empty list")
    resources = []
    for index, item in enumerate(raw):
        entry = item if isinstance(item, dict) else {}
        names = (entry.get("resource_name"), entry.get("method_name"))
        if not all(isinstance(n, str) and n for n in names):
            raise StorageError(f"{path}: resources[{index}]: needs resource_name and method_name")
        resources.append((str(names[0]), str(names[1])))
    tags = document.get("sequence_tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise StorageError(f"{path}: sequence_tags: expected a list of strings")
    return SequenceFile(start, end, tuple(resources), tuple(tags))


def write_sequence_file(fs: FileSystem, path: str, sequence: SequenceFile) -> None:
    """Write ``path`` whole or not at all, durably (:func:`~._fs.write_whole`)."""
    write_whole(fs, path, sequence.to_json_bytes())


@dataclass(frozen=True, slots=True)
class SequenceRecovery:
    removed: tuple[str, ...]  # stray .tmp files and .progseq files already closed
    quarantined: tuple[tuple[str, str], ...]  # (where it went, why)
    errors: tuple[tuple[str, str], ...] = ()  # (path, error): left as they were


def recover_sequences(fs: FileSystem, capture_dir: str) -> SequenceRecovery:
    """Tidy ``sequences/`` after a stop (see the module doc). Run before recording starts;
    a disk error is reported and leaves that file alone, never stops the start."""
    directory = posixpath.join(capture_dir, SEQUENCES_DIR)
    removed: list[str] = []
    quarantined: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []
    try:
        names = set(fs.listdir(directory)) if fs.is_dir(directory) else set()
    except OSError as error:
        return SequenceRecovery((), (), ((directory, str(error)),))
    for name in sorted(names):
        path = posixpath.join(directory, name)
        closed = name.removesuffix(OPEN_SUFFIX) + CLOSED_SUFFIX in names
        try:
            if name.endswith(TMP_SUFFIX) or (name.endswith(OPEN_SUFFIX) and closed):
                fs.unlink(path)
                removed.append(path)
            elif name.endswith(OPEN_SUFFIX):
                reason = "the sequence was open when the machine stopped: its end time is unknown"
                destination, _ = move_to_failed(fs, path, capture_dir, reason)
                quarantined.append((destination, reason))
        except OSError as error:
            errors.append((path, str(error)))
    if removed:
        try:
            fs.fsync_dir(directory)
        except OSError as error:
            errors.append((directory, str(error)))
    return SequenceRecovery(tuple(removed), tuple(quarantined), tuple(errors))
