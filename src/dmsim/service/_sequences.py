"""Sequences a capture control sensor opens and closes, recorded as rdk records them.

The data manager hands :meth:`SequenceRecorder.set_active` the sensor's open sequences at
every poll (rdk ``SetActiveSequences``): an entry seen for the first time opens a sequence
(``<id>.progseq``, its start time now); an open sequence whose entry is gone is closed
(``<id>.seq`` with its end time, then the ``.progseq`` removed). Entries are matched order-free
by their resources and tags, so the same entry keeps one sequence open. A shutdown closes
every open sequence (rdk ``flushOpenSequences``: :meth:`end_all`), so a clean stop leaves
``.seq`` files, not orphans; so does a reconfigure that ends the sensor. Sync uploads ``.seq``
files with ``CreateSequence``.

A file that cannot be written (a full disk) is retried at the next poll and by the data
manager while the machine runs (:meth:`retry`), and a shutdown gives it as long as its queues
to find the disk again (:meth:`settle`). A closed sequence that still cannot be written then
is reported (``sequence.lost``), never dropped silently.

Trace: ``sequence.opened`` {id}, ``sequence.closed`` {id, path, fingerprint},
``sequence.lost`` {id, fingerprint, reason}, ``sequence.orphaned`` {path, reason}.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace

from dmsim.config import SequenceReading
from dmsim.runtime import RngTree, Runtime, Trace
from dmsim.storage._fs import FileSystem
from dmsim.storage._sequences import (
    CLOSED_SUFFIX,
    OPEN_SUFFIX,
    SEQUENCES_DIR,
    SequenceFile,
    SequenceRecovery,
    recover_sequences,
    write_sequence_file,
)

from ._retry import retry_within

__all__ = ["SequenceRecorder"]

_Identity = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]


class SequenceRecorder:
    def __init__(
        self,
        *,
        fs: FileSystem,
        capture_dir: str,
        wall_ns: Callable[[], int],
        rng: RngTree,  # ids: distinct per boot, or a new sequence could take a pending one's
        trace: Trace | None,
        log: Callable[[str], None],
    ) -> None:
        self._fs = fs
        self.retarget(capture_dir)
        self._wall_ns = wall_ns
        self._ids = rng.random()
        self._trace = trace
        self._log = log
        self._open: dict[_Identity, tuple[str, SequenceFile]] = {}
        self._unwritten: dict[str, tuple[str, SequenceFile]] = {}  # path → (id, sequence)
        self.closed = 0

    def retarget(self, capture_dir: str) -> None:
        """Record into another capture directory from now on (close everything first)."""
        self._capture_dir = capture_dir

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def unwritten(self) -> tuple[str, ...]:
        """The files the disk refused, waiting for :meth:`retry`."""
        return tuple(self._unwritten)

    def recover(self) -> SequenceRecovery:
        """Tidy what a stop left in ``sequences/`` (before any sequence opens)."""
        report = recover_sequences(self._fs, self._capture_dir)
        for path, error in report.errors:
            self._log(f"start-up recovery of sequences: {path}: {error}")
        for path, reason in report.quarantined:
            self._log(f"moved {path} to failed/: {reason}")
            self._record("sequence.orphaned", path=path, reason=reason)
        return report

    def set_active(self, active: Sequence[SequenceReading]) -> None:
        """Open the entries not open yet, close the open ones no longer listed."""
        now = self._wall_ns()
        wanted = {reading.identity: reading for reading in active}
        for identity, reading in wanted.items():
            if identity not in self._open:
                self._start(identity, reading, now)
        for identity in [i for i in self._open if i not in wanted]:
            self._end(identity, now)
        self._write_pending()

    def end_all(self) -> None:
        """Close every open sequence now; a file the disk refuses is retried later."""
        now = self._wall_ns()
        for identity in list(self._open):
            self._end(identity, now)
        self._write_pending()

    def retry(self) -> None:
        """Write the files the disk refused so far (said when they first failed)."""
        self._write_pending(say=False)

    async def settle(self, rt: Runtime, *, within_s: float) -> None:
        """Retry the files the disk refused for up to ``within_s``, then report what still
        cannot be written."""
        await retry_within(rt, lambda: bool(self._unwritten), self.retry, within_s=within_s)
        self._report_unwritten()

    def _report_unwritten(self) -> None:
        for path, (sequence_id, sequence) in self._unwritten.items():
            reason = f"{path} could not be written"
            self._log(f"sequence {sequence_id} lost: {reason}")
            self._record(
                "sequence.lost", id=sequence_id, fingerprint=sequence.fingerprint, reason=reason
            )
        self._unwritten.clear()

    def _start(self, identity: _Identity, reading: SequenceReading, now: int) -> None:
        sequence_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        sequence = SequenceFile(now, None, reading.resources, reading.tags)
        self._open[identity] = (sequence_id, sequence)
        self._record("sequence.opened", id=sequence_id)
        self._unwritten[self._path(sequence_id, OPEN_SUFFIX)] = (sequence_id, sequence)

    def _end(self, identity: _Identity, now: int) -> None:
        sequence_id, sequence = self._open.pop(identity)
        closed = replace(sequence, end_ns=max(now, sequence.start_ns))
        self._unwritten.pop(self._path(sequence_id, OPEN_SUFFIX), None)  # never needed now
        self._unwritten[self._path(sequence_id, CLOSED_SUFFIX)] = (sequence_id, closed)
        self.closed += 1

    def _write_pending(self, *, say: bool = True) -> None:
        for path, (sequence_id, sequence) in list(self._unwritten.items()):
            try:
                write_sequence_file(self._fs, path, sequence)
                if path.endswith(CLOSED_SUFFIX):
                    self._remove_open_file(sequence_id, path)
            except OSError as error:
                if say:
                    self._log(f"sequence {sequence_id}: could not write {path}: {error}; retrying")
                continue
            del self._unwritten[path]
            if path.endswith(CLOSED_SUFFIX):
                self._record(
                    "sequence.closed", id=sequence_id, path=path, fingerprint=sequence.fingerprint
                )

    def _remove_open_file(self, sequence_id: str, closed_path: str) -> None:
        # beside the .seq, which stays in the directory the sequence was recorded in
        try:
            self._fs.unlink(closed_path.removesuffix(CLOSED_SUFFIX) + OPEN_SUFFIX)
        except FileNotFoundError:
            pass  # it was never written (a full disk), or a recovery took it
        except OSError as error:  # start-up recovery removes it: a .seq exists
            self._log(f"sequence {sequence_id}: could not remove its .progseq: {error}")

    def _path(self, sequence_id: str, suffix: str) -> str:
        return posixpath.join(self._capture_dir, SEQUENCES_DIR, sequence_id + suffix)

    def _record(self, kind: str, **fields: object) -> None:
        if self._trace is not None:
            self._trace.record(kind, **fields)
