"""The capture-file writer for one collector.

Theory of operation. A :class:`CaptureWriter` owns at most one open ``.prog`` file. Tabular
readings are appended to it until it is over ``max_file_size_bytes`` (checked before each
write, as rdk does, so a file overshoots by at most one reading); each binary reading gets a
file of its own, completed at once. Records are encoded at once and buffered (``buffer_bytes``,
4 KiB like rdk's ``bufio.Writer``); the buffer is written when full and at every sync.

Durability: the oldest reading not yet fsynced is never older than ``durability_window_s``
when its deadline is served (a window of 0 fsyncs every write as it is made). ``write``
syncs when the deadline has passed; between writes the caller calls
:meth:`CaptureWriter.maybe_sync` by :meth:`CaptureWriter.sync_deadline` (the writer has no
timer of its own). The first sync of a new file also fsyncs its directory, or a
power cut could drop the file's name with its synced data. Completing a file is flush → fsync
→ rename ``.prog`` → ``.capture`` → fsync of the directory; then ``on_file_closed`` receives
the identities of the readings the file holds (the oracle follows readings with it). A file
completed while capture goes on (a rotation, a binary reading) stops after its fsync; its
rename and the directory fsync come with the next sync, within the window, where one directory
fsync covers every such file and the open file's name (group commit). Until then it is a
``.prog`` in :meth:`CaptureWriter.live_paths`, and a power cut leaves it for recovery with all
its data. :meth:`CaptureWriter.flush_and_close` and :meth:`CaptureWriter.close` complete
everything at once.

Failures. An ``OSError`` while writing ends the file: it is completed as it is (a torn record
left by a short write is dropped by every reader), and the next reading starts a new file. The
writer never appends after a torn record. Readings the failed write did land stay in the
ended file; earlier buffered readings that did not land are kept and go into the next file;
the reading being written when the error struck is *not* kept and is handed back in
:class:`CaptureWriteError` (an ``OSError`` with the original errno, so callers can back off and
retry it without duplicates). A completion step that fails (fsync, rename, directory fsync)
is retried at the next :meth:`flush_and_close`/:meth:`close`; until then the file stays in
:meth:`live_paths` so recovery and disk policies leave it alone.
"""

from __future__ import annotations

import contextlib
import math
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from viam.proto.app.datasync import DataCaptureMetadata, DataType, SensorData

from dmsim.config import MIME_EXTENSIONS
from dmsim.errors import ConfigError, Problem, StorageError

from ._codec import (
    build_metadata,
    encode_metadata,
    frame,
    serialize_deterministic,
)
from ._creation import CreationStamp
from ._fs import FileHandle, FileSystem
from ._identity import IdentityEncoder, ReadingId
from ._naming import CAPTURE_EXT, PROG_EXT, CollectorKey, format_stem, next_stem_time
from ._naming import parse_capture_name as _parse_name

__all__ = [
    "CaptureWriteError",
    "CaptureWriter",
    "ClosedFile",
    "WriterStatistics",
    "landed_count",
    "sync_deadline_after",
]

DEFAULT_DURABILITY_WINDOW_S = 1.0
DEFAULT_MAX_FILE_SIZE_BYTES = 256 * 1024
DEFAULT_BUFFER_BYTES = 4096
_NEVER = math.inf


# -- decisions ------------------------------------------------------------------------------


def sync_deadline_after(first_unsynced_at: float, window: float) -> float:
    """The durability promise: the oldest unsynced reading is fsynced one window after it."""
    return first_unsynced_at + window


def landed_count(lengths: Sequence[int], landed_bytes: int) -> int:
    """How many leading records of ``lengths`` fit whole in ``landed_bytes``."""
    total = 0
    for count, length in enumerate(lengths):
        total += length
        if total > landed_bytes:
            return count
    return len(lengths)


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedFile:
    """A completed capture file and the readings it holds, in file order."""

    path: str
    reading_ids: tuple[ReadingId | None, ...]
    size_bytes: int
    ended_by_error: bool

    @property
    def readings(self) -> int:
        return len(self.reading_ids)


@dataclass(frozen=True, slots=True)
class WriterStatistics:
    files_opened: int
    files_closed: int
    files_discarded: int
    readings_written: int
    readings_rejected: int
    bytes_written: int
    fsyncs: int
    dir_fsyncs: int
    write_errors: int
    rotations: int
    pending_readings: int
    files_awaiting_rename: int


class CaptureWriteError(StorageError, OSError):
    """Writing failed; ``errno`` is the disk's. ``rejected`` readings were not kept."""

    def __init__(
        self,
        cause: OSError,
        *,
        path: str,
        operation: str,
        rejected: tuple[tuple[ReadingId | None, SensorData], ...] = (),
    ) -> None:
        OSError.__init__(self, cause.errno, cause.strerror or str(cause))
        self.path = path
        self.operation = operation
        self.rejected = rejected
        self.cause = cause

    def __str__(self) -> str:
        lost = f"; {len(self.rejected)} reading(s) not kept" if self.rejected else ""
        return f"{self.path}: {self.operation} failed: {self.strerror}{lost}"


# A reading accepted but not yet in a file: its identity, the reading and its framed bytes.
# A plain tuple because one is built per reading (a class instance costs five times more).
_Record = tuple[ReadingId | None, SensorData, bytes]


@dataclass(slots=True)
class _File:
    prog: str
    handle: FileHandle | None
    size: int
    reading_ids: list[ReadingId | None] = field(default_factory=list)
    dir_synced: bool = False
    ended_by_error: bool = False

    @property
    def capture(self) -> str:
        return self.prog[: -len(PROG_EXT)] + CAPTURE_EXT


@dataclass(slots=True)
class _Counters:
    files_opened: int = 0
    files_closed: int = 0
    files_discarded: int = 0
    readings_written: int = 0
    readings_rejected: int = 0
    bytes_written: int = 0
    fsyncs: int = 0
    dir_fsyncs: int = 0
    write_errors: int = 0
    rotations: int = 0


def _check_options(window: float, max_size: int, buffer_bytes: int) -> None:
    problems = []
    if not (math.isfinite(window) and window >= 0):
        problems.append(
            Problem("durability_window_s", f"must be a number >= 0 (0: every write), not {window}")
        )
    if max_size < 0:
        problems.append(Problem("maximum_capture_file_size_bytes", f"negative ({max_size})"))
    if buffer_bytes < 0:
        problems.append(Problem("buffer_bytes", f"negative ({buffer_bytes})"))
    if problems:
        raise ConfigError(problems, source="CaptureWriter")


# -- the writer -----------------------------------------------------------------------------


class CaptureWriter:
    """Writes one collector's readings into ``.prog``/``.capture`` files (see module doc)."""

    def __init__(
        self,
        fs: FileSystem,
        *,
        capture_dir: str,
        key: CollectorKey,
        data_type: DataType.ValueType,
        now: Callable[[], float],
        wall_ns: Callable[[], int],
        tags: Sequence[str] = (),
        file_extension: str = "",
        mime_type: str = "",
        durability_window_s: float = DEFAULT_DURABILITY_WINDOW_S,
        max_file_size_bytes: int = DEFAULT_MAX_FILE_SIZE_BYTES,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        on_file_closed: Callable[[ClosedFile], None] | None = None,
        clock_id: str | None = None,
    ) -> None:
        """``now`` is the monotonic clock named ``clock_id``; with one, each file's header
        says when ``now`` began it (:class:`CreationStamp`), which no wall-clock set moves."""
        _check_options(durability_window_s, max_file_size_bytes, buffer_bytes)
        self._fs = fs
        self._key = key
        self._dir = key.directory(capture_dir)
        self._hash = key.params_hash
        self._now = now
        self._clock_id = clock_id
        self._wall_ns = wall_ns
        self._window = durability_window_s
        self._max_size = max_file_size_bytes
        self._buffer_limit = buffer_bytes
        self._on_closed = on_file_closed
        self._binary = data_type == DataType.DATA_TYPE_BINARY_SENSOR
        self._metadata = build_metadata(
            component_type=key.component_type,
            component_name=key.component_name,
            method_name=key.method_name,
            data_type=data_type,
            method_parameters=key.params,
            tags=tags,
            file_extension=file_extension,
            mime_type=mime_type,
        )
        self._file: _File | None = None
        self._pending: list[_Record] = []
        self._pending_bytes = 0
        self._deadline = _NEVER  # when the oldest unsynced reading must be fsynced
        self._unrenamed: list[_File] = []
        self._last_us: int | None = None
        self._encoders: dict[tuple[str, int], IdentityEncoder] = {}
        self._encoder: IdentityEncoder | None = None  # the last one used: a writer has one stream
        self._closed = False
        self._c = _Counters()

    # -- public API ----------------------------------------------------------------------

    @property
    def directory(self) -> str:
        return self._dir

    def write(
        self, reading: SensorData, *, reading_id: ReadingId | None = None, mime_type: str = ""
    ) -> None:
        """Accept one reading; raise :class:`CaptureWriteError` only if it was not kept.

        ``mime_type`` overrides the header's, and the file extension with it, for this binary
        reading's file (rdk sets it per write: one camera can return JPEG and PNG). An error
        after the reading reached the file (a failed fsync or rename) is counted and retried
        later, not raised: raising would make the caller write the reading twice.
        """
        if self._closed:
            raise StorageError(f"writer for {self._dir} is closed")
        body = serialize_deterministic(reading)
        if reading_id is None:
            data = frame(body)
        else:
            encoder = self._encoder
            if (
                encoder is None
                or encoder.boot != reading_id.boot
                or encoder.stream != reading_id.stream
            ):
                encoder = self._encoder_for(reading_id)
            data = encoder.frame(body, reading_id.seq)
        record = (reading_id, reading, data)
        if self._binary:
            self._write_binary(record, mime_type)
            return
        # Tabular, inline: this runs for every reading, and a method call costs 6 % of it.
        now = self._now()
        file = self._file
        try:
            # rdk's rule: a file over the limit is cut before the next write (never an empty one)
            if (
                file is not None
                and file.size + self._pending_bytes > self._max_size
                and (file.reading_ids or self._pending)
            ):
                self._c.rotations += 1
                self._complete_open_file(now=now)
            if self._file is None:
                self._open(self._metadata)  # named now: a file is named after its first reading
        except CaptureWriteError as error:
            raise self._rejection(error, record) from error
        self._pending.append(record)
        self._pending_bytes += len(data)
        if self._deadline == _NEVER:
            self._deadline = sync_deadline_after(now, self._window)
        try:
            if self._pending_bytes >= self._buffer_limit:
                self._flush()
            if now >= self._deadline:
                self.sync()
        except CaptureWriteError as error:
            if self._unqueue(record):
                raise self._rejection(error, record) from error
            # else it reached the file: keeping it is what the caller must see

    def _unqueue(self, record: _Record) -> bool:
        """Take ``record`` back out of the buffer; ``False`` if it already landed in a file."""
        for index, pending in enumerate(self._pending):
            if pending is record:
                del self._pending[index]
                self._pending_bytes -= len(record[2])
                return True
        return False

    def _rejection(self, error: CaptureWriteError, record: _Record) -> CaptureWriteError:
        self._c.readings_rejected += 1
        return CaptureWriteError(
            error.cause, path=error.path, operation=error.operation, rejected=(record[:2],)
        )

    def sync_deadline(self) -> float | None:
        """When the oldest unsynced reading must be fsynced (``None``: nothing pending)."""
        return None if self._deadline == _NEVER else self._deadline

    def maybe_sync(self) -> bool:
        """Sync if the durability deadline has passed; return whether it synced."""
        due = self._now() >= self._deadline
        if due:
            self.sync()
        return due

    def sync(self) -> None:
        """Write the buffer and fsync the open file (and its directory, the first time)."""
        if self._pending:
            self._flush()
        file = self._file
        if file is not None and file.handle is not None:
            try:
                file.handle.fsync()
                self._c.fsyncs += 1
                if not file.dir_synced and not self._unrenamed:  # else the renames' fsync_dir
                    self._fs.fsync_dir(self._dir)
                    self._c.dir_fsyncs += 1
                    file.dir_synced = True
            except OSError as error:
                self._c.write_errors += 1
                self._end_file_after_error(file)
                raise CaptureWriteError(error, path=file.prog, operation="fsync") from error
        if self._unrenamed:
            try:
                self._rename_waiting()
            except CaptureWriteError:
                # retried at the next sync, one window on, rather than at every write
                self._deadline = sync_deadline_after(self._now(), self._window)
                raise
            if file is not None and file.handle is not None:
                file.dir_synced = True  # its name went with the renames' fsync_dir
        if not self._pending:
            self._deadline = _NEVER

    def flush_and_close(self) -> ClosedFile | None:
        """Complete the open file and every file waiting for its rename (each sync pass
        calls this: the walk that follows must find them all)."""
        if self._file is None and self._pending:
            self._flush()  # readings kept from a failed file get a file of their own
        if self._file is not None:
            return self._complete_open_file()
        self._rename_waiting()
        return None

    def close(self) -> None:
        """Complete everything; pending readings that cannot be written are reported lost."""
        if self._closed:
            return
        try:
            self.flush_and_close()
        except CaptureWriteError as error:
            lost = tuple(record[:2] for record in self._pending)
            self._c.readings_rejected += len(lost)
            self._pending, self._pending_bytes = [], 0
            for file in self._unrenamed:  # left as .prog for recovery
                self._close_handle(file)
            self._closed = True
            raise CaptureWriteError(
                error.cause, path=error.path, operation=error.operation, rejected=lost
            ) from error
        self._closed = True

    def live_paths(self) -> frozenset[str]:
        """The ``.prog`` files this writer owns: never recover or delete these."""
        paths = {f.prog for f in self._unrenamed}
        if self._file is not None:
            paths.add(self._file.prog)
        return frozenset(paths)

    def statistics(self) -> WriterStatistics:
        c = self._c
        return WriterStatistics(
            files_opened=c.files_opened,
            files_closed=c.files_closed,
            files_discarded=c.files_discarded,
            readings_written=c.readings_written,
            readings_rejected=c.readings_rejected,
            bytes_written=c.bytes_written,
            fsyncs=c.fsyncs,
            dir_fsyncs=c.dir_fsyncs,
            write_errors=c.write_errors,
            rotations=c.rotations,
            pending_readings=len(self._pending),
            files_awaiting_rename=len(self._unrenamed),
        )

    # -- encoding and naming -------------------------------------------------------------

    def _encoder_for(self, reading_id: ReadingId) -> IdentityEncoder:
        key = (reading_id.stream, reading_id.boot)
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = self._encoders[key] = IdentityEncoder(*key)
        self._encoder = encoder
        return encoder

    def _last_existing_us(self) -> int | None:
        try:
            names = self._fs.listdir(self._dir)
        except FileNotFoundError:
            return None
        times = [
            parsed.time_us
            for parsed in map(_parse_name, names)
            if parsed is not None and parsed.params_hash == self._hash
        ]
        return max(times, default=None)

    def _new_path(self) -> str:
        if self._last_us is None:
            self._last_us = self._last_existing_us()
        time_us = next_stem_time(self._wall_ns() // 1000, self._last_us)
        while True:
            base = posixpath.join(self._dir, format_stem(time_us, self._hash))
            if not self._fs.exists(base + PROG_EXT) and not self._fs.exists(base + CAPTURE_EXT):
                break
            time_us += 1
        self._last_us = time_us
        return base + PROG_EXT

    # -- files ---------------------------------------------------------------------------

    def _open(self, metadata: DataCaptureMetadata) -> _File:
        path = self._dir
        try:
            self._fs.makedirs(self._dir)
            path = self._new_path()
            handle = self._fs.open_append(path)
        except OSError as error:
            self._c.write_errors += 1
            raise CaptureWriteError(error, path=path, operation="open") from error
        self._c.files_opened += 1
        file = _File(path, handle, 0)
        self._file = file
        creation = None
        if self._clock_id is not None:
            creation = CreationStamp(self._clock_id, round(self._now() * 1e9))
        header = encode_metadata(metadata, creation)
        try:
            handle.write(header)
        except OSError as error:
            self._c.write_errors += 1
            self._end_file_after_error(file)
            raise CaptureWriteError(error, path=path, operation="write") from error
        file.size = len(header)
        self._c.bytes_written += len(header)
        return file

    def _flush(self) -> None:
        """Write the buffer to the open file (opening one if needed)."""
        file = self._file
        if file is None or file.handle is None:
            file = self._open(self._metadata)
        assert file.handle is not None
        data = b"".join([record[2] for record in self._pending])
        try:
            file.handle.write(data)
        except OSError as error:
            self._c.write_errors += 1
            lengths = [len(record[2]) for record in self._pending]
            count = landed_count(lengths, self._landed_after_error(file))
            self._land(file, count, sum(lengths[:count]))
            self._end_file_after_error(file)
            raise CaptureWriteError(error, path=file.prog, operation="write") from error
        file.size += len(data)
        self._land(file, len(self._pending), len(data))

    def _land(self, file: _File, count: int, size: int) -> None:
        """The first ``count`` pending records (``size`` bytes) are now in ``file``."""
        landed, self._pending = self._pending[:count], self._pending[count:]
        file.reading_ids.extend([record[0] for record in landed])
        self._pending_bytes -= size
        self._c.bytes_written += size
        self._c.readings_written += count

    def _landed_after_error(self, file: _File) -> int:
        """Bytes of the failed write that reached the file (a short write keeps a prefix)."""
        assert file.handle is not None
        try:
            size = file.handle.size()
        except OSError:
            try:
                size = self._fs.stat(file.prog).size
            except OSError:
                return 0  # unknowable: count nothing as landed
        return max(0, size - file.size)

    def _write_binary(self, record: _Record, mime_type: str) -> None:
        metadata = self._metadata
        if mime_type:
            metadata = DataCaptureMetadata()
            metadata.CopyFrom(self._metadata)
            metadata.mime_type = mime_type
            # One collector can return several types (GetImages: JPEG colour, PNG depth).
            metadata.file_extension = MIME_EXTENSIONS.get(mime_type, "")
        try:
            self._open(metadata)
        except CaptureWriteError as error:
            raise self._rejection(error, record) from error
        self._pending.append(record)
        self._pending_bytes += len(record[2])
        now = self._now()
        try:
            self._flush()
            self._complete_open_file(now=now)
            if now >= self._deadline:
                self.sync()
        except CaptureWriteError as error:
            if self._unqueue(record):
                raise self._rejection(error, record) from error
            # else it reached the file: keeping it is what the caller must see

    def _end_file_after_error(self, file: _File) -> None:
        """Stop appending to ``file``; complete it if it holds readings (once its data is
        durable: its handle stays open for the fsync), else discard it."""
        file.ended_by_error = True
        if self._file is file:
            self._file = None
        if not file.reading_ids:
            self._close_handle(file)
            self._discard(file)
            return
        self._unrenamed.append(file)
        with contextlib.suppress(CaptureWriteError):  # else retried at the next sync or close
            self._rename_waiting()

    @staticmethod
    def _close_handle(file: _File) -> None:
        if file.handle is not None:
            handle, file.handle = file.handle, None
            with contextlib.suppress(OSError):  # the descriptor is released either way
                handle.close()

    def _discard(self, file: _File) -> None:
        # A file without a complete reading has nothing to keep; if the unlink fails too,
        # start-up recovery removes it.
        try:
            self._fs.unlink(file.prog)
            self._fs.fsync_dir(self._dir)
        except OSError:
            return
        self._c.files_discarded += 1

    def _complete_open_file(self, *, now: float | None = None) -> ClosedFile | None:
        """flush → fsync → close → rename → fsync dir for the open file.

        Given ``now`` (a rotation or a binary reading, while capture goes on), the rename and
        the directory fsync wait for the next :meth:`sync`, due within the durability window:
        the data is durable already, a crash leaves a ``.prog`` that recovery completes, and
        one directory fsync then covers every file completed in the window (group commit).
        A 30 Hz camera otherwise pays 30 directory fsyncs a second.
        """
        if self._pending:
            self._flush()
        file = self._file
        assert file is not None
        assert file.handle is not None
        self._file = None
        try:
            file.handle.fsync()
            self._c.fsyncs += 1
        except OSError as error:
            self._c.write_errors += 1
            file.ended_by_error = True
            self._unrenamed.append(file)  # with its handle: the fsync is retried first
            raise CaptureWriteError(error, path=file.prog, operation="fsync") from error
        self._close_handle(file)
        self._unrenamed.append(file)
        if now is not None:
            if self._deadline == _NEVER:
                self._deadline = sync_deadline_after(now, self._window)
            return None
        self._deadline = _NEVER
        return self._rename_waiting(file)

    def _rename_waiting(self, wanted: _File | None = None) -> ClosedFile | None:
        """Rename every waiting file, fsync the directory once, then report each closed;
        return ``wanted``'s record."""
        if not self._unrenamed:
            return None
        for file in self._unrenamed:
            operation = "fsync"
            try:
                if file.handle is not None:  # ended by an error before its data was durable
                    file.handle.fsync()
                    self._c.fsyncs += 1
                    self._close_handle(file)
                operation = "rename"
                if self._fs.exists(file.prog):  # else renamed by an earlier attempt
                    self._fs.rename(file.prog, file.capture)
            except OSError as error:
                self._c.write_errors += 1
                raise CaptureWriteError(error, path=file.prog, operation=operation) from error
        try:
            self._fs.fsync_dir(self._dir)
        except OSError as error:
            self._c.write_errors += 1
            path = self._unrenamed[0].prog
            raise CaptureWriteError(error, path=path, operation="fsync_dir") from error
        self._c.dir_fsyncs += 1
        done, self._unrenamed = self._unrenamed, []
        result: ClosedFile | None = None
        for file in done:
            self._c.files_closed += 1
            closed = ClosedFile(
                file.capture, tuple(file.reading_ids), file.size, file.ended_by_error
            )
            if self._on_closed is not None:
                self._on_closed(closed)
            if file is wanted:
                result = closed
        return result
