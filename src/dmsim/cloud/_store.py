"""Where the cloud keeps things: SQLite for metadata and readings, a blob store for binary
data and files, written so that a crash leaves each upload entirely there or not at all.

Blobs are written and fsynced before the rows that point at them commit; a blob whose upload
never committed is unreferenced and removed the next time the store opens the directory;
blobs are deleted only after the rows that used them are gone.
"""

from __future__ import annotations

import errno
import operator
import posixpath
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dmsim.errors import CloudError, InternalError
from dmsim.storage._fs import FileSystem

from ._blobs import BlobStore, FsBlobStore, MemoryBlobStore
from ._db import connect
from ._ingest import NewItems

__all__ = ["Store", "storage_error"]

_INSERT_UPLOAD = (
    "INSERT INTO uploads (upload_key, rpc, file_id, binary_data_id, fingerprint, part_id,"
    " received_ns, item_count, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def storage_error(error: OSError | sqlite3.Error) -> CloudError:
    """A failed write as the client should see it: disk full → RESOURCE_EXHAUSTED."""
    if isinstance(error, OSError):
        code = "RESOURCE_EXHAUSTED" if error.errno == errno.ENOSPC else "INTERNAL"
        return CloudError(code, f"blob storage: {error}")
    full = "full" in str(error)
    return CloudError("RESOURCE_EXHAUSTED" if full else "INTERNAL", f"database: {error}")


class Store:
    """The database connection and blob store of one cloud, and the stored totals."""

    def __init__(
        self,
        *,
        data_dir: str | None,
        fs: FileSystem | None,
        read_only: bool,
        keep_blob_contents: bool = True,
    ) -> None:
        self.read_only = read_only
        self.blobs: BlobStore
        self._in_group = False
        if data_dir is None:
            self.conn = connect(None)
            self.blobs = MemoryBlobStore(keep_contents=keep_blob_contents)
        else:
            if fs is None:
                from dmsim.storage._realfs import RealFS

                fs = RealFS()
            database = posixpath.join(data_dir, "cloud.sqlite3")
            blobs = posixpath.join(data_dir, "blobs")
            if read_only:
                if not fs.exists(database):
                    raise CloudError("NOT_FOUND", f"{data_dir}: no cloud data (no cloud.sqlite3)")
                self.conn = connect(database, read_only=True)
                self.blobs = FsBlobStore(fs, blobs, clean=False)
            else:
                fs.makedirs(data_dir)
                self.conn = connect(database)
                self.blobs = FsBlobStore(fs, blobs, clean=True)
                self._collect_orphan_blobs()
        row = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items").fetchone()
        self.items, self.bytes = int(row[0]), int(row[1])

    def refuse_if_read_only(self) -> None:
        if self.read_only:
            raise CloudError("FAILED_PRECONDITION", "this cloud core was opened read-only")

    def known(self, upload_key: str) -> tuple[str, str, str] | None:
        """(file_id, binary_data_id, fingerprint) of a stored upload key."""
        row = self.conn.execute(
            "SELECT file_id, binary_data_id, fingerprint FROM uploads WHERE upload_key = ?",
            (upload_key,),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), str(row[2]))

    def insert(
        self, rpc: str, upload_key: str, *, fingerprint: str, part_id: str, items: NewItems
    ) -> None:
        """Store one upload atomically (blobs durable first); raises :class:`CloudError`."""
        self.refuse_if_read_only()
        first = items.rows[0]
        binary_id = first["item_id"] if first["kind"] != "tabular" else ""
        upload = (upload_key, rpc, first["file_id"], binary_id, fingerprint, part_id)
        for row in items.rows:
            row["upload_key"] = upload_key
        columns = list(first)
        try:
            for sha256, content in items.blobs.items():
                if isinstance(content, bytes):
                    self.blobs.put(sha256, content)
                else:
                    content.commit()
            with self._transaction():
                self.conn.execute(
                    _INSERT_UPLOAD, (*upload, first["received_ns"], len(items.rows), items.size)
                )
                self.conn.executemany(
                    f"INSERT INTO items ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' for _ in columns)})",
                    list(map(operator.itemgetter(*columns), items.rows)),
                )
        except (OSError, sqlite3.Error) as error:
            raise storage_error(error) from error
        self.items += len(items.rows)
        self.bytes += items.size

    def insert_sequence(
        self, upload_key: str, *, fingerprint: str, part_id: str, row: dict[str, Any]
    ) -> None:
        """Store one ``CreateSequence`` atomically under its upload key."""
        self.refuse_if_read_only()
        upload = (upload_key, "CreateSequence", row["sequence_id"], "", fingerprint, part_id)
        try:
            with self._transaction():
                self.conn.execute(_INSERT_UPLOAD, (*upload, row["received_ns"], 0, 0))
                self.conn.execute(
                    "INSERT INTO sequences (sequence_id, upload_key, part_id, start_ns, end_ns,"
                    " resources, sequence_tags, received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (row["sequence_id"], upload_key, part_id, row["start_ns"], row["end_ns"],
                     row["resources"], row["sequence_tags"], row["received_ns"]),
                )  # fmt: skip
        except (OSError, sqlite3.Error) as error:
            raise storage_error(error) from error

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One upload's writes: its own transaction, or a savepoint inside a group."""
        if self._in_group:
            self.conn.execute("SAVEPOINT upload")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK TO upload")
                self.conn.execute("RELEASE upload")
                raise
            self.conn.execute("RELEASE upload")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def group(self) -> Iterator[None]:
        """Every insert inside the block commits together at its end (one fsync)."""
        if self._in_group:
            raise InternalError("group commits do not nest")
        self.refuse_if_read_only()
        totals = (self.items, self.bytes)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # e.g. the database is locked or its disk failed
            raise storage_error(error) from error
        self._in_group = True
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException as error:
            self.conn.execute("ROLLBACK")
            self.items, self.bytes = totals
            if isinstance(error, sqlite3.Error):
                raise storage_error(error) from error
            raise
        finally:
            self._in_group = False

    def delete_items(self, item_ids: Sequence[str]) -> None:
        self.refuse_if_read_only()
        if self._in_group:
            raise InternalError("deletions cannot run inside a group commit")
        if not item_ids:
            return
        shas: set[str] = set()
        freed = 0
        with self._transaction():
            for item_id in item_ids:
                sha, size = self.conn.execute(
                    "SELECT blob_sha256, size FROM items WHERE item_id = ?", (item_id,)
                ).fetchone()
                if sha is not None:
                    shas.add(sha)
                freed += size
                self.conn.execute("DELETE FROM items WHERE item_id = ?", (item_id,))
        self.items -= len(item_ids)
        self.bytes -= freed
        for sha in sorted(shas):  # after the commit: a crash here leaves only orphans
            still_used = self.conn.execute(
                "SELECT 1 FROM items WHERE blob_sha256 = ?", (sha,)
            ).fetchone()
            if still_used is None:
                self.blobs.delete(sha)

    def _collect_orphan_blobs(self) -> None:
        referenced = {
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT blob_sha256 FROM items WHERE blob_sha256 IS NOT NULL"
            )
        }
        for name in self.blobs.names():
            if name not in referenced:
                self.blobs.delete(name)

    def close(self) -> None:
        self.conn.close()
