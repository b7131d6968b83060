"""Reading the cloud's database: items by filter, latest capture per component, tabular rows,
and exports as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, TextIO

from dmsim.errors import CloudError

from ._db import ITEM_COLUMNS, filter_clause, item_from_row, limit_clause
from ._records import CaptureFilter, StoredItem

__all__ = [
    "ExportFormat",
    "count_items",
    "get_item",
    "latest_items",
    "select_items",
    "tabular_rows",
    "write_export",
]

ExportFormat = Literal["jsonl", "csv"]
SELECT_ITEMS = f"SELECT {', '.join(ITEM_COLUMNS)} FROM items"

_CSV_COLUMNS = (
    "item_id", "kind", "part_id", "component_type", "component_name", "method_name", "tags",
    "time_requested", "time_received", "captured_at", "received_at", "file_name", "mime_type",
    "size", "sha256", "reading_stream", "reading_boot", "reading_seq", "data", "annotations",
)  # fmt: skip


def select_items(conn: sqlite3.Connection, query: CaptureFilter) -> list[StoredItem]:
    """Items matching ``query``, oldest capture first."""
    where, params = filter_clause(query)
    limit, limit_params = limit_clause(query)
    rows = conn.execute(
        f"{SELECT_ITEMS} WHERE {where} ORDER BY captured_ns, seq {limit}",
        (*params, *limit_params),
    )
    return [item_from_row(row) for row in rows]


def count_items(conn: sqlite3.Connection, query: CaptureFilter) -> int:
    where, params = filter_clause(query)
    return int(conn.execute(f"SELECT COUNT(*) FROM items WHERE {where}", params).fetchone()[0])


def get_item(conn: sqlite3.Connection, item_id: str) -> StoredItem:
    row = conn.execute(f"{SELECT_ITEMS} WHERE item_id = ?", (item_id,)).fetchone()
    if row is None:
        raise CloudError("NOT_FOUND", f"item {item_id!r}: not stored")
    return item_from_row(row)


def latest_items(conn: sqlite3.Connection, query: CaptureFilter) -> list[StoredItem]:
    """The most recent capture of each (part, component type, component name, method)."""
    where, params = filter_clause(query)
    limit, limit_params = limit_clause(query)
    ranked = (
        "SELECT *, ROW_NUMBER() OVER (PARTITION BY part_id, component_type,"
        " component_name, method_name ORDER BY captured_ns DESC, seq DESC) AS rank"
        f" FROM items WHERE {where}"
    )
    rows = conn.execute(
        f"SELECT {', '.join(ITEM_COLUMNS)} FROM ({ranked}) WHERE rank = 1"
        f" ORDER BY part_id, component_type, component_name, method_name {limit}",
        (*params, *limit_params),
    )
    return [item_from_row(row) for row in rows]


def tabular_rows(conn: sqlite3.Connection, query: CaptureFilter) -> list[dict[str, Any]]:
    """Tabular readings as flat rows: the metadata columns plus the reading's own fields."""
    if query.data_type not in (None, "tabular"):
        raise CloudError("INVALID_ARGUMENT", "filter.data_type: tabular rows need 'tabular'")
    rows = []
    for item in select_items(conn, replace(query, data_type="tabular")):
        row = {k: v for k, v in item.to_json().items() if k not in ("data", "annotations")}
        row.update(item.data() or {})
        rows.append(row)
    return rows


def write_export(out: TextIO, items: Sequence[StoredItem], export_format: ExportFormat) -> None:
    if export_format == "jsonl":
        for item in items:
            out.write(json.dumps(item.to_json(), sort_keys=True) + "\n")
    elif export_format == "csv":
        _write_csv(out, items)
    else:
        raise CloudError("INVALID_ARGUMENT", f"export format {export_format!r}: use jsonl or csv")


def _write_csv(out: TextIO, items: Sequence[StoredItem]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for item in items:
        record = item.to_json()
        record["tags"] = json.dumps(record["tags"])
        record["data"] = item.data_json
        record["annotations"] = item.annotations_json
        record["reading_stream"] = item.reading_stream
        record["reading_boot"] = item.reading_boot
        record["reading_seq"] = item.reading_seq
        writer.writerow(["" if record[c] is None else record[c] for c in _CSV_COLUMNS])
