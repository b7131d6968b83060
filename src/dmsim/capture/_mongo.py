"""``mongo_capture_config``: tabular readings are also written to MongoDB, after the disk write.

As the docs promise, MongoDB never affects capture: readings go through a bounded queue to one
writer task that inserts with pymongo off the event loop; a full queue drops the document
(counted), and failures are logged at most once per interval (rdk logs every failed write).
The disk stays the system of record: no retries, no ordering guarantees for MongoDB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict

from dmsim.runtime import QueueFull, Runtime, Task

from ._collector import ReadingSink, StampedReading
from ._throttle import LogThrottle

__all__ = ["MirroredSink", "MongoMirror", "MongoStatistics", "mongo_document", "pymongo_client"]

_log = logging.getLogger("dmsim.mongo")
_QUEUE = 1000
_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class MongoStatistics:
    inserted: int
    failed: int
    dropped: int


def mongo_document(reading: StampedReading, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """One tabular reading as a MongoDB document (rdk's TabularData fields)."""
    meta = reading.sensor_data.metadata
    return {
        **metadata,
        "time_requested": _utc(meta.time_requested.ToNanoseconds()),
        "time_received": _utc(meta.time_received.ToNanoseconds()),
        "data": MessageToDict(reading.sensor_data.struct),
        "reading_id": {"stream": reading.stream, "boot": reading.boot, "seq": reading.seq},
    }


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class MongoMirror:
    def __init__(
        self,
        *,
        rt: Runtime,
        client_factory: Callable[[str], Any],
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._rt = rt
        self._factory = client_factory
        self._uri = self._database = self._collection = ""
        self._log = log or _log.error
        self._queue = rt.queue(maxsize=_QUEUE)
        self._throttle = LogThrottle(interval_s=_LOG_INTERVAL_S)
        self._client: Any = None
        self._task: Task[None] | None = None
        self._inserted = self._failed = self._dropped = 0

    def configure(self, *, uri: str, database: str, collection: str) -> None:
        """Point at another server, database or collection; ``uri`` "" turns mirroring off."""
        if (uri, database, collection) != (self._uri, self._database, self._collection):
            self._uri, self._database, self._collection = uri, database, collection
            self._client, old = None, self._client
            if old is not None:
                old.close()

    def start(self) -> None:
        self._task = self._rt.spawn(self._run(), name="mongo")

    async def close(self) -> None:
        if self._task is not None:
            await self._task.stop()
        if self._client is not None:
            await self._rt.run_blocking(self._client.close)

    def offer(self, reading: StampedReading, metadata: Mapping[str, Any]) -> None:
        """Queue ``reading``'s document; with mirroring off, build nothing (it costs more than
        the disk write)."""
        if not self._uri:
            return
        try:
            self._queue.put_nowait(mongo_document(reading, metadata))
        except QueueFull:
            self._dropped += 1
            self._report("queue full; documents dropped")

    def statistics(self) -> MongoStatistics:
        return MongoStatistics(self._inserted, self._failed, self._dropped)

    async def _run(self) -> None:
        while True:
            document = await self._queue.get()
            try:
                await self._rt.run_blocking(self._insert, document)
            except Exception as error:  # any driver error: never let it reach capture
                self._failed += 1
                self._report(f"{type(error).__name__}: {error}")
            else:
                self._inserted += 1

    def _insert(self, document: dict[str, Any]) -> None:
        if self._client is None:
            self._client = self._factory(self._uri)
        self._client[self._database][self._collection].insert_one(document)

    def _report(self, what: str) -> None:
        suppressed = self._throttle.admit("mongo", what, self._rt.monotonic())
        if suppressed is not None:
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            self._log(f"MongoDB capture {self._uri}: {what}{more}")


class MirroredSink:
    """A sink that writes to disk first, then offers the reading to MongoDB."""

    def __init__(self, inner: ReadingSink, mirror: MongoMirror, metadata: Mapping[str, Any]):
        self._inner = inner
        self._mirror = mirror
        self._metadata = dict(metadata)

    def write(self, reading: StampedReading) -> None:
        self._inner.write(reading)
        self._mirror.offer(reading, self._metadata)

    def sync(self) -> None:
        self._inner.sync()

    def close_file(self) -> None:
        self._inner.close_file()

    def close(self) -> None:
        self._inner.close()


def pymongo_client(uri: str) -> Any:
    """The real client, imported lazily (the server may never be configured)."""
    import pymongo

    return pymongo.MongoClient(uri)
