"""A preloaded disk: a capture directory copied into the simulated machine before it boots.

This is how a field device's disk enters a simulation (``dmsim replay``): every file is copied
byte for byte under the machine's ``capture_dir`` and made durable (data and names), so a
power cut in the run cannot undo it; ``.prog`` files stay ``.prog`` for start-up recovery to
settle, ``failed/`` stays quarantined, torn tails and garbage stay where they were.

The oracle follows the preloaded readings like captured ones. For each readable record of a
``.capture`` or ``.prog`` file outside ``failed/`` the trace gets, at time 0, a
``reading.captured`` event (its dmsim identity; a reading written without one, by Viam's rdk
say, gets ``field:<file path>`` as its stream and its index in the file as its sequence; the
same content in two files is one reading, stored twice if both files are uploaded) and, per
file, a ``file.preloaded`` event {path, ids}: the file held them durably from the start. The
cloud recognises an identity-less reading by its digest (:meth:`PreloadedDisk.identity_of`).
A closed sequence waiting in ``sequences/`` gets a ``sequence.closed`` event: it is expected in
the cloud too.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dmsim.capture import sensor_data_digest
from dmsim.errors import StorageError
from dmsim.runtime import Trace
from dmsim.storage import (
    CAPTURE_EXT,
    FAILED_DIR,
    PROG_EXT,
    CaptureReader,
    RealFS,
    SimFS,
    append_durably,
)
from dmsim.storage._sequences import CLOSED_SUFFIX, SEQUENCES_DIR, parse_sequence_file

__all__ = ["PreloadedDisk", "preload_disk", "preload_files"]

_BOOT_COUNTER = ".dmsim/boot"


def preload_files(root: Path) -> Iterator[tuple[str, int]]:
    """(path relative to ``root`` in POSIX form, size) of every regular file, in sorted order.
    Raises ``OSError`` when a directory cannot be listed."""

    def fail(error: OSError) -> None:
        raise error

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            path = base / name
            if path.is_file():
                yield path.relative_to(root).as_posix(), path.stat().st_size


@dataclass(slots=True)
class PreloadedDisk:
    """What was preloaded: files, followed readings, and the identity-less readings by digest."""

    files: int = 0
    bytes: int = 0
    readings: int = 0
    unreadable: list[str] = field(default_factory=list)  # capture files with no readable record
    max_boot: int = -1  # the highest boot in an identity or the boot counter; -1: none
    _foreign: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # digest → id

    def identity_of(self, digest: str) -> tuple[str, int, int] | None:
        """The preloaded identity-less reading with ``digest``, which the cloud just stored."""
        return self._foreign.get(digest)


def preload_disk(source: Path, *, fs: SimFS, capture_dir: str, trace: Trace) -> PreloadedDisk:
    """Copy ``source`` under ``capture_dir`` on ``fs`` (durably) and trace its readings."""
    result = PreloadedDisk()
    captured: set[tuple[str, int, int]] = set()
    directories = {capture_dir}
    fs.makedirs(capture_dir)
    for relative, _ in preload_files(source):
        data = (source / relative).read_bytes()
        target = posixpath.join(capture_dir, relative)
        parent = posixpath.dirname(target)
        fs.makedirs(parent)
        directories.add(parent)
        append_durably(fs, target, data)
        result.files += 1
        result.bytes += len(data)
        if relative == _BOOT_COUNTER:
            text = data.decode("ascii", errors="replace").strip()
            if text.isdecimal():
                result.max_boot = max(result.max_boot, int(text))
        elif _is_closed_sequence(relative):
            _follow_sequence(data, relative, trace)
        elif _is_followed(relative):
            _follow_file(
                source / relative,
                target=target,
                relative=relative,
                result=result,
                captured=captured,
                trace=trace,
            )
    for directory in sorted(directories):
        fs.fsync_dir(directory)
    return result


def _is_closed_sequence(relative: str) -> bool:
    return posixpath.dirname(relative) == SEQUENCES_DIR and relative.endswith(CLOSED_SUFFIX)


def _follow_sequence(data: bytes, relative: str, trace: Trace) -> None:
    """A sequence the device closed and had not uploaded: the oracle expects it in the cloud.
    One that does not parse is left to sync, which quarantines it."""
    try:
        sequence = parse_sequence_file(data, relative)
    except StorageError:
        return
    trace.record("sequence.closed", id=relative, path=relative, fingerprint=sequence.fingerprint)


def _is_followed(relative: str) -> bool:
    return relative.endswith((CAPTURE_EXT, PROG_EXT)) and not relative.startswith(f"{FAILED_DIR}/")


def _follow_file(
    local: Path,
    *,
    target: str,
    relative: str,
    result: PreloadedDisk,
    captured: set[tuple[str, int, int]],
    trace: Trace,
) -> None:
    ids: list[list[object]] = []
    stem = relative.rsplit(".", 1)[0]
    try:
        with CaptureReader(RealFS(), str(local)) as reader:
            for record in reader.records():
                reading = reader.reading(record)
                digest = sensor_data_digest(reading)
                if record.reading_id is not None:
                    rid = (record.reading_id.stream, record.reading_id.boot, record.reading_id.seq)
                    result.max_boot = max(result.max_boot, rid[1])
                else:  # its content is its identity: the same bytes twice are one reading
                    rid = result._foreign.setdefault(digest, (f"field:{stem}", 0, record.index))
                if rid not in captured:  # the same reading in two files is one reading
                    captured.add(rid)
                    result.readings += 1
                    trace.record(
                        "reading.captured",
                        stream=rid[0],
                        boot=rid[1],
                        seq=rid[2],
                        digest=digest,
                        preloaded=True,
                    )
                ids.append(list(rid))
    except (StorageError, OSError):
        pass  # what is readable is followed; recovery or sync deals with the rest in the run
    if not ids:
        result.unreadable.append(relative)
    trace.record("file.preloaded", path=target, ids=ids)
