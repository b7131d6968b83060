"""The collector's sink over the capture-file writer, reporting completed files to the trace."""

from __future__ import annotations

from dmsim.capture import StampedReading
from dmsim.runtime import Trace
from dmsim.storage._identity import ReadingId
from dmsim.storage._writer import CaptureWriter, ClosedFile

__all__ = ["WriterSink", "record_closed_file"]


class WriterSink:
    def __init__(self, writer: CaptureWriter) -> None:
        self._writer = writer

    def write(self, reading: StampedReading) -> None:
        # CaptureWriteError is an OSError: the collector backs off and retries the same reading.
        self._writer.write(
            reading.sensor_data,
            reading_id=ReadingId(reading.stream, reading.boot, reading.seq),
            mime_type=reading.mime_type,
        )

    def sync(self) -> None:
        self._writer.sync()

    def close_file(self) -> None:
        self._writer.flush_and_close()

    def close(self) -> None:
        self._writer.close()


def record_closed_file(trace: Trace | None, closed: ClosedFile) -> None:
    if trace is not None:
        trace.record(
            "file.completed",
            path=closed.path,
            ids=[[r.stream, r.boot, r.seq] for r in closed.reading_ids if r is not None],
            ended_by_error=closed.ended_by_error,
        )
