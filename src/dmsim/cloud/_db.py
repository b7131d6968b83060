"""The cloud's SQLite schema, row mapping and query building.

``uploads`` holds one row per committed upload key (kept after its items are deleted by
retention or part deletion, so a late resend is still recognised and not stored again);
``items`` one row per tabular reading, binary capture or file; ``sequences`` one row per
sequence created with the data API's ``CreateSequence``. The ``readings`` view is the
read-only SQL surface over tabular readings.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from collections.abc import Sequence
from typing import Any

from ._records import CaptureFilter, DataKind, StoredItem

__all__ = [
    "ITEM_COLUMNS",
    "READINGS_COLUMNS",
    "connect",
    "filter_clause",
    "item_from_row",
    "limit_clause",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    upload_key TEXT PRIMARY KEY,
    rpc TEXT NOT NULL,
    file_id TEXT NOT NULL,
    binary_data_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    part_id TEXT NOT NULL,
    received_ns INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL UNIQUE,
    file_id TEXT NOT NULL,
    upload_key TEXT NOT NULL REFERENCES uploads(upload_key),
    kind TEXT NOT NULL CHECK (kind IN ('tabular', 'binary', 'file')),
    part_id TEXT NOT NULL,
    component_type TEXT NOT NULL,
    component_name TEXT NOT NULL,
    method_name TEXT NOT NULL,
    tags TEXT NOT NULL,
    dataset_ids TEXT NOT NULL,
    file_name TEXT,
    file_extension TEXT,
    mime_type TEXT,
    time_requested_ns INTEGER,
    time_received_ns INTEGER,
    captured_ns INTEGER NOT NULL,
    received_ns INTEGER NOT NULL,
    time_requested TEXT,
    time_received TEXT,
    captured_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    data TEXT,
    annotations TEXT,
    blob_sha256 TEXT,
    size INTEGER NOT NULL,
    reading_stream TEXT,
    reading_boot INTEGER,
    reading_seq INTEGER,
    raw BLOB
);
CREATE INDEX IF NOT EXISTS items_by_component
    ON items (part_id, component_type, component_name, method_name, captured_ns);
CREATE INDEX IF NOT EXISTS items_by_time ON items (captured_ns);
CREATE INDEX IF NOT EXISTS items_by_blob ON items (blob_sha256);
CREATE INDEX IF NOT EXISTS items_by_upload ON items (upload_key);
CREATE TABLE IF NOT EXISTS sequences (
    sequence_id TEXT PRIMARY KEY,
    upload_key TEXT NOT NULL UNIQUE REFERENCES uploads(upload_key),
    part_id TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    resources TEXT NOT NULL,
    sequence_tags TEXT NOT NULL,
    received_ns INTEGER NOT NULL
);
CREATE VIEW IF NOT EXISTS readings AS
    SELECT item_id, part_id, component_type, component_name, method_name, tags,
           time_requested, time_received, received_at, time_requested_ns, time_received_ns,
           received_ns, data, reading_stream, reading_boot, reading_seq
    FROM items WHERE kind = 'tabular';
"""

#: Columns of the ``readings`` view, in order (documented for SQL users).
READINGS_COLUMNS: tuple[str, ...] = (
    "item_id",
    "part_id",
    "component_type",
    "component_name",
    "method_name",
    "tags",
    "time_requested",
    "time_received",
    "received_at",
    "time_requested_ns",
    "time_received_ns",
    "received_ns",
    "data",
    "reading_stream",
    "reading_boot",
    "reading_seq",
)

ITEM_COLUMNS: tuple[str, ...] = (
    "item_id",
    "file_id",
    "kind",
    "part_id",
    "component_type",
    "component_name",
    "method_name",
    "tags",
    "dataset_ids",
    "file_name",
    "file_extension",
    "mime_type",
    "time_requested_ns",
    "time_received_ns",
    "captured_ns",
    "received_ns",
    "data",
    "annotations",
    "blob_sha256",
    "size",
    "reading_stream",
    "reading_boot",
    "reading_seq",
)

_EQUALITY_FILTERS = ("part_id", "component_type", "component_name", "method_name")


def connect(path: str | None, *, read_only: bool = False) -> sqlite3.Connection:
    """Open (creating) the database; ``None`` = a private temporary database (SQLite keeps
    it in a bounded page cache and spills to an unlinked file, so a long simulation's cloud
    does not grow in RAM). The connection is used from one thread at a time (the server
    serialises calls), but not always the creating one."""
    if read_only and path is not None:
        uri = f"file:{urllib.parse.quote(path)}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn = sqlite3.connect(
        "" if path is None else path, isolation_level=None, check_same_thread=False
    )
    if path is not None:
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed upload survives power loss, not only a process kill.
        conn.execute("PRAGMA synchronous=FULL")
    else:
        # A private database dies with its connection: its rollback journal need not be a
        # file (about a quarter of the cost of storing a row).
        conn.execute("PRAGMA journal_mode=MEMORY")
    conn.executescript(SCHEMA)
    return conn


def filter_clause(query: CaptureFilter) -> tuple[str, list[Any]]:
    """``WHERE`` body and parameters for ``items`` matching ``query`` (limit/offset apart)."""
    conditions: list[str] = []
    params: list[Any] = []
    for column in _EQUALITY_FILTERS:
        value = getattr(query, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if query.data_type is not None:
        conditions.append("kind = ?")
        params.append(query.data_type)
    for tag in query.tags:
        conditions.append("EXISTS (SELECT 1 FROM json_each(items.tags) WHERE value = ?)")
        params.append(tag)
    if query.since is not None:
        conditions.append("captured_ns >= ?")
        params.append(round(query.since * 1e9))
    if query.until is not None:
        conditions.append("captured_ns < ?")
        params.append(round(query.until * 1e9))
    return (" AND ".join(conditions) or "1"), params


def limit_clause(query: CaptureFilter) -> tuple[str, list[Any]]:
    return "LIMIT ? OFFSET ?", [-1 if query.limit is None else query.limit, query.offset]


def _strings(text: str) -> tuple[str, ...]:
    return tuple(str(value) for value in json.loads(text))


def item_from_row(row: Sequence[Any]) -> StoredItem:
    """Map a row selected with :data:`ITEM_COLUMNS` to a :class:`StoredItem`."""
    values = dict(zip(ITEM_COLUMNS, row, strict=True))
    kind: DataKind = values["kind"]
    return StoredItem(
        item_id=values["item_id"],
        file_id=values["file_id"],
        kind=kind,
        part_id=values["part_id"],
        component_type=values["component_type"],
        component_name=values["component_name"],
        method_name=values["method_name"],
        tags=_strings(values["tags"]),
        dataset_ids=_strings(values["dataset_ids"]),
        file_name=values["file_name"],
        file_extension=values["file_extension"],
        mime_type=values["mime_type"],
        time_requested_ns=values["time_requested_ns"],
        time_received_ns=values["time_received_ns"],
        captured_ns=values["captured_ns"],
        received_ns=values["received_ns"],
        data_json=values["data"],
        annotations_json=values["annotations"],
        blob_sha256=values["blob_sha256"],
        size=values["size"],
        reading_stream=values["reading_stream"],
        reading_boot=values["reading_boot"],
        reading_seq=values["reading_seq"],
    )
