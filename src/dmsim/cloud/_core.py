"""The cloud core: ingest, deduplicate, store, query, retain and delete — synchronous, no
network and no wall clock of its own, so the same core runs in-process under simulation and
behind the gRPC server.

**Deduplication.** An upload with an idempotency key is stored once per key: a key seen before
is acknowledged again with the same ids and nothing is stored (even if the resend's content
differs: that is counted as a ``key_conflict`` in :meth:`CloudCore.statistics`). An upload
*without* a key is deduplicated by its content fingerprint (see :mod:`dmsim.cloud._keys` for
exactly what it covers: part, component, method, data type and each ``SensorData``'s bytes
including unknown fields; for files the file name and bytes). Its limit: a keyless client
that uploads two genuinely identical requests (same readings, same timestamps, same bytes)
sees the second collapse into the first. Keys are remembered after the data is deleted by
retention or part deletion, so a late resend is never stored again.

**Atomicity.** One upload = one SQLite transaction; blobs are written and fsynced before the
transaction starts, so a crash (SIGKILL, power loss) leaves the upload entirely visible or not
at all. A blob written by an upload that never committed is unreferenced and removed when the
core next opens the data directory (see :mod:`dmsim.cloud._store`). A large file or streamed
payload can reach the core as a blob staged on disk while it was received
(:meth:`CloudCore.stage_blob`): it is committed with the upload, and discarded otherwise.
Under load, :meth:`CloudCore.group_commit` puts several uploads in one transaction (one fsync
for all; each upload still atomic in its own savepoint); their acknowledgements must wait
until the group has committed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from viam.proto.app.data import CreateSequenceRequest
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    SensorData,
    UploadMetadata,
)

from dmsim.errors import CloudError
from dmsim.storage._fs import FileSystem

from . import _keys
from ._blobs import StagedBlob
from ._db import item_from_row
from ._ingest import NewItems, Payload, data_capture_items, file_items, streaming_items
from ._queries import (
    SELECT_ITEMS,
    ExportFormat,
    count_items,
    get_item,
    latest_items,
    select_items,
    tabular_rows,
    write_export,
)
from ._records import (
    CaptureFilter,
    CloudStatistics,
    IngestResult,
    StoredFile,
    StoredItem,
    StoredReading,
    StoredSequence,
    ns_from_seconds,
)
from ._retention import RetentionDeletion, RetentionPolicy, plan_retention
from ._sql import SqlResult, run_readonly_sql
from ._store import Store
from ._validate import (
    CloudLimits,
    validate_data_capture,
    validate_file,
    validate_key,
    validate_streaming,
)

__all__ = ["CloudCore"]


def _validate_sequence(request: CreateSequenceRequest) -> None:
    problems = []
    if not request.part_id:
        problems.append("part_id is required")
    if not request.resources:
        problems.append("resources: at least one resource is required")
    for index, resource in enumerate(request.resources):
        if not resource.resource_name or not resource.method_name:
            problems.append(f"resources[{index}]: resource_name and method_name are required")
    if not request.HasField("start_time") or not request.HasField("end_time"):
        problems.append("start_time and end_time are required")
    elif request.end_time.ToNanoseconds() < request.start_time.ToNanoseconds():
        problems.append("end_time is before start_time")
    if problems:
        raise CloudError("INVALID_ARGUMENT", "CreateSequence: " + "; ".join(problems))


@contextmanager
def _disposing(data: bytes | StagedBlob) -> Iterator[None]:
    """A staged blob handed to ingest is the core's: committed with the upload, else dropped."""
    try:
        yield
    finally:
        if not isinstance(data, bytes):
            data.discard()  # a no-op once committed


class CloudCore:
    """Stores uploads exactly once. ``clock`` gives the receive time (seconds since the epoch).

    ``data_dir=None`` keeps nothing on disk past the run (simulation: blobs in memory, or
    with ``keep_blob_contents=False`` only each blob's digest and size, when
    :meth:`read_blob` refuses; the database in SQLite's private temporary file). Otherwise
    the database is ``<data_dir>/cloud.sqlite3`` and blobs live under ``<data_dir>/blobs``
    (written through ``fs``, the filesystem port; the real one by default).
    ``capacity_bytes`` bounds what may be stored (RESOURCE_EXHAUSTED "storage full" beyond
    it). ``read_only`` opens an existing data directory for queries while a server may be
    writing to it: nothing is cleaned up and every write is refused with FAILED_PRECONDITION.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        data_dir: str | None = None,
        fs: FileSystem | None = None,
        limits: CloudLimits | None = None,
        capacity_bytes: int | None = None,
        read_only: bool = False,
        keep_blob_contents: bool = True,
    ) -> None:
        if data_dir is not None and not keep_blob_contents:
            raise ValueError("keep_blob_contents=False is for an in-memory cloud (data_dir=None)")
        self._clock = clock
        self._limits = limits or CloudLimits()
        self._capacity = capacity_bytes
        self._store = Store(
            data_dir=data_dir, fs=fs, read_only=read_only, keep_blob_contents=keep_blob_contents
        )
        self._counts: Counter[str] = Counter()
        self._rejects: Counter[str] = Counter()

    @property
    def limits(self) -> CloudLimits:
        return self._limits

    # -- ingest -------------------------------------------------------------------------

    def ingest_data_capture(
        self, request: DataCaptureUploadRequest, *, key: str | None, storage_full: bool = False
    ) -> IngestResult:
        """DataCaptureUpload. ``storage_full`` refuses new data (duplicates still acked)."""
        return self._ingest(
            "DataCaptureUpload",
            key,
            storage_full=storage_full,
            validate=lambda: validate_data_capture(request, self._limits),
            fingerprint_of=lambda: _keys.data_capture_fingerprint(request),
            build=lambda file_id, now: data_capture_items(request, file_id, now),
            part_id=request.metadata.part_id,
        )

    def stage_blob(self) -> StagedBlob:
        """A blob to write a file or streamed payload into as it arrives, then hand to
        :meth:`ingest_file` or :meth:`ingest_streaming` (which commit or discard it); whoever
        drops it before that must discard it. It may be taken and written on another thread
        than the core's (the server writes chunks on its event loop as they arrive)."""
        self._store.refuse_if_read_only()
        return self._store.blobs.stage()

    def ingest_file(
        self,
        metadata: UploadMetadata,
        data: bytes | StagedBlob,
        *,
        key: str | None,
        storage_full: bool = False,
    ) -> IngestResult:
        """FileUpload: the metadata packet and the file (its bytes, or a staged blob)."""
        payload = Payload.of(data)
        with _disposing(data):
            return self._ingest(
                "FileUpload",
                key,
                storage_full=storage_full,
                validate=lambda: validate_file(metadata, payload.size, self._limits),
                fingerprint_of=lambda: _keys.file_fingerprint(metadata, payload.sha256),
                build=lambda file_id, now: file_items(metadata, payload, file_id, now),
                part_id=metadata.part_id,
            )

    def ingest_streaming(
        self,
        metadata: DataCaptureUploadMetadata,
        data: bytes | StagedBlob,
        *,
        key: str | None,
        storage_full: bool = False,
    ) -> IngestResult:
        """StreamingDataCaptureUpload: the metadata packet and the payload (its bytes, or a
        staged blob)."""
        payload = Payload.of(data)
        with _disposing(data):
            return self._ingest(
                "StreamingDataCaptureUpload",
                key,
                storage_full=storage_full,
                validate=lambda: validate_streaming(metadata, payload.size, self._limits),
                fingerprint_of=lambda: _keys.streaming_fingerprint(metadata, payload.sha256),
                build=lambda file_id, now: streaming_items(metadata, payload, file_id, now),
                part_id=metadata.upload_metadata.part_id,
            )

    def create_sequence(
        self, request: CreateSequenceRequest, *, key: str | None, storage_full: bool = False
    ) -> IngestResult:
        """The data API's CreateSequence; the sequence's id is the result's ``file_id``. A key
        (or, without one, the same request) already stored answers with the same id."""
        self._store.refuse_if_read_only()
        try:
            validate_key(key, self._limits)
            _validate_sequence(request)
            fingerprint = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
            upload_key, known = self._resend(key, fingerprint)
            if known is not None:
                return known
            self._check_capacity(0, storage_full)
            sequence_id = _keys.file_id_for(upload_key)
            resources = [[r.resource_name, r.method_name] for r in request.resources]
            self._store.insert_sequence(
                upload_key,
                fingerprint=fingerprint,
                part_id=request.part_id,
                row={
                    "sequence_id": sequence_id,
                    "start_ns": request.start_time.ToNanoseconds(),
                    "end_ns": request.end_time.ToNanoseconds(),
                    "resources": json.dumps(resources),
                    "sequence_tags": json.dumps(list(request.sequence_tags)),
                    "received_ns": ns_from_seconds(self._clock()),
                },
            )
        except CloudError as error:
            self._rejects[error.code] += 1
            raise
        return IngestResult(sequence_id, "", duplicate=False)

    def stored_files(self) -> Iterator[StoredFile]:
        """Every file stored by ``FileUpload``, in store order (what ``dmsim judge`` follows
        from the programs that wrote them)."""
        rows = self._store.conn.execute(
            "SELECT file_name, blob_sha256, upload_key, received_ns FROM items"
            " WHERE kind = 'file' ORDER BY seq"
        )
        for name, sha256, key, received_ns in rows:
            yield StoredFile(name or "", sha256, key, received_ns)

    def sequences(self) -> list[StoredSequence]:
        """Every sequence created, oldest first."""
        rows = self._store.conn.execute(
            "SELECT sequence_id, upload_key, part_id, start_ns, end_ns, resources, sequence_tags,"
            " received_ns FROM sequences ORDER BY received_ns, sequence_id"
        )
        return [
            StoredSequence(
                sequence_id, key, part_id, start, end,
                tuple((str(r), str(m)) for r, m in json.loads(resources)),
                tuple(json.loads(tags)), received,
            )
            for sequence_id, key, part_id, start, end, resources, tags, received in rows
        ]  # fmt: skip

    def _ingest(
        self,
        rpc: str,
        key: str | None,
        *,
        storage_full: bool,
        validate: Callable[[], None],
        fingerprint_of: Callable[[], str],
        build: Callable[[str, int], NewItems],
        part_id: str,
    ) -> IngestResult:
        self._store.refuse_if_read_only()
        try:
            validate_key(key, self._limits)
            validate()
            fingerprint = fingerprint_of()
            upload_key, known = self._resend(key, fingerprint)
            if known is not None:
                return known
            file_id = _keys.file_id_for(upload_key)
            items = build(file_id, ns_from_seconds(self._clock()))
            self._check_capacity(items.size, storage_full)
            self._store.insert(
                rpc, upload_key, fingerprint=fingerprint, part_id=part_id, items=items
            )
        except CloudError as error:
            self._rejects[error.code] += 1
            raise
        self._counts["uploads"] += 1
        self._counts["bytes_ingested"] += items.size
        self._counts.update(row["kind"] for row in items.rows)
        binary_id = items.rows[0]["item_id"] if items.rows[0]["kind"] != "tabular" else ""
        return IngestResult(file_id, binary_id, duplicate=False)

    def _resend(self, key: str | None, fingerprint: str) -> tuple[str, IngestResult | None]:
        """The upload key (the client's, else the content's) and, when that key is stored
        already, the answer it got: a resend is acknowledged again and stores nothing."""
        if key is None:
            upload_key = _keys.content_upload_key(fingerprint)
        else:
            upload_key = _keys.client_upload_key(key)
        known = self._store.known(upload_key)
        if known is None:
            return upload_key, None
        self._counts["duplicates"] += 1
        if known[2] != fingerprint:
            self._counts["key_conflicts"] += 1
        return upload_key, IngestResult(known[0], known[1], duplicate=True)

    def _check_capacity(self, size: int, storage_full: bool) -> None:
        if storage_full:
            raise CloudError("RESOURCE_EXHAUSTED", "storage full (injected)")
        used = self._store.bytes
        if self._capacity is not None and used + size > self._capacity:
            raise CloudError(
                "RESOURCE_EXHAUSTED",
                f"storage full: {used} of {self._capacity} bytes used, upload needs {size}",
            )

    @contextmanager
    def group_commit(self) -> Iterator[None]:
        """Commit every upload ingested inside the block in one transaction. Nothing ingested
        in the block is durable (nor may be acknowledged) before the block exits; if the final
        commit fails it raises :class:`CloudError` and none of the block's uploads is stored."""
        counts = Counter(self._counts)
        try:
            with self._store.group():
                yield
        except BaseException:
            self._counts = counts
            raise

    # -- query --------------------------------------------------------------------------

    def query(self, query: CaptureFilter | None = None) -> list[StoredItem]:
        """Stored items matching ``query``, oldest capture first."""
        return select_items(self._store.conn, query or CaptureFilter())

    def count(self, query: CaptureFilter | None = None) -> int:
        return count_items(self._store.conn, query or CaptureFilter())

    def get_item(self, item_id: str) -> StoredItem:
        return get_item(self._store.conn, item_id)

    def read_blob(self, item_id: str) -> bytes:
        """The bytes of a binary capture or file."""
        item = get_item(self._store.conn, item_id)
        if item.blob_sha256 is None:
            raise CloudError("INVALID_ARGUMENT", f"item {item_id!r}: a tabular reading has no blob")
        return self._store.blobs.get(item.blob_sha256)

    def stored_readings(self) -> Iterator[StoredReading]:
        """Every stored reading that carries a dmsim identity, in store order, with its
        ``SensorData`` as received (payload included): what an oracle compares with what was
        captured (``dmsim judge``). Lazy: one payload in memory at a time."""
        rows = self._store.conn.execute(
            "SELECT reading_stream, reading_boot, reading_seq, upload_key, received_ns, raw,"
            " blob_sha256 FROM items WHERE reading_stream IS NOT NULL ORDER BY seq"
        )
        for stream, boot, seq, key, received_ns, raw, blob in rows:
            reading = SensorData.FromString(raw or b"")
            if blob is not None:
                reading.binary = self._store.blobs.get(blob)
            yield StoredReading(stream, boot, seq, key, received_ns, reading)

    def latest(self, query: CaptureFilter | None = None) -> list[StoredItem]:
        """The most recent capture of each (part, component type, component name, method)."""
        return latest_items(self._store.conn, query or CaptureFilter())

    def tabular_rows(self, query: CaptureFilter | None = None) -> list[dict[str, Any]]:
        """Tabular readings as flat rows: metadata columns plus the reading's fields."""
        return tabular_rows(self._store.conn, query or CaptureFilter())

    def sql(
        self,
        statement: str,
        params: Sequence[Any] = (),
        *,
        max_rows: int = 10_000,
        max_steps: int = 50_000_000,
    ) -> SqlResult:
        """Read-only SQL over the ``readings`` view (see :mod:`dmsim.cloud._sql`); at most
        ``max_rows`` rows, and at most ``max_steps`` SQLite VM steps of work."""
        return run_readonly_sql(
            self._store.conn, statement, params, max_rows=max_rows, max_steps=max_steps
        )

    def export(
        self, out: TextIO, *, format: ExportFormat, query: CaptureFilter | None = None
    ) -> int:
        """Write matching items as JSON lines or CSV; returns the number written."""
        items = self.query(query)
        write_export(out, items, format)
        return len(items)

    # -- deletion -----------------------------------------------------------------------

    def apply_retention(
        self, policies: Sequence[RetentionPolicy], now: float
    ) -> list[RetentionDeletion]:
        """Delete what the policies say is due at ``now`` (seconds since the epoch)."""
        self._store.refuse_if_read_only()
        rows = self._store.conn.execute(f"{SELECT_ITEMS} ORDER BY received_ns, seq")
        items = [item_from_row(row) for row in rows]
        deletions = plan_retention(items, policies, ns_from_seconds(now))
        self._store.delete_items([d.item.item_id for d in deletions])
        self._counts["retention_deleted"] += len(deletions)
        return deletions

    def delete_part(self, part_id: str) -> int:
        """Delete every item of a machine part (Viam's ``delete_data_on_part_deletion``)."""
        self._store.refuse_if_read_only()
        rows = self._store.conn.execute("SELECT item_id FROM items WHERE part_id = ?", (part_id,))
        ids = [str(r[0]) for r in rows]
        self._store.delete_items(ids)
        self._counts["part_deleted"] += len(ids)
        return len(ids)

    # -- lifecycle ----------------------------------------------------------------------

    def statistics(self) -> CloudStatistics:
        c = self._counts
        return CloudStatistics(
            uploads=c["uploads"],
            duplicates=c["duplicates"],
            key_conflicts=c["key_conflicts"],
            readings=c["tabular"],
            binary_items=c["binary"],
            files=c["file"],
            bytes_ingested=c["bytes_ingested"],
            rejects=dict(sorted(self._rejects.items())),
            retention_deleted=c["retention_deleted"],
            part_deleted=c["part_deleted"],
            stored_items=self._store.items,
            stored_bytes=self._store.bytes,
        )

    def close(self) -> None:
        self._store.close()
