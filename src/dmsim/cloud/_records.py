"""Values the fake cloud hands out: ingest results, stored items, query filters, counters.

Times inside the cloud are integer nanoseconds since the Unix epoch (protobuf ``Timestamp``
precision); the public query API takes seconds as floats, like the rest of the simulation API,
and renders times as ISO-8601 UTC strings with nanoseconds (``2024-05-01T12:00:00.000000001Z``)
so that lexical order is time order.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from viam.proto.app.datasync import SensorData

from dmsim.errors import CloudError

__all__ = [
    "DATA_KINDS",
    "CaptureFilter",
    "CloudStatistics",
    "DataKind",
    "IngestResult",
    "StoredItem",
    "StoredReading",
    "iso_from_ns",
    "ns_from_seconds",
    "parse_count",
    "parse_time",
]

DataKind = Literal["tabular", "binary", "file"]
DATA_KINDS: tuple[DataKind, ...] = ("tabular", "binary", "file")

# The latest time a query may name (2262-04-11T23:47:16Z): the last whole second whose
# nanoseconds since the epoch fit SQLite's 64-bit integers. The earliest is the epoch itself.
_LATEST_SECONDS = 9_223_372_036
_LATEST_ISO = datetime.fromtimestamp(_LATEST_SECONDS, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
# The largest limit or offset: SQLite's largest integer.
_MAX_COUNT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A stored reading with a dmsim identity: under which upload key, when, and as received."""

    stream: str
    boot: int
    seq: int
    upload_key: str
    received_ns: int
    reading: SensorData


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file stored by ``FileUpload``: its name as sent (the machine's path), the SHA-256 of
    its bytes, under which upload key, and when."""

    file_name: str
    sha256: str
    upload_key: str
    received_ns: int


@dataclass(frozen=True, slots=True)
class StoredSequence:
    """A sequence created with ``CreateSequence``: its window, (resource, method) pairs, tags."""

    sequence_id: str
    upload_key: str
    part_id: str
    start_ns: int
    end_ns: int
    resources: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]
    received_ns: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What the cloud acknowledges for one upload; ``duplicate`` = the key was already stored."""

    file_id: str
    binary_data_id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class CaptureFilter:
    """Which stored items a query returns. ``None`` / empty = no constraint on that field.

    ``tags``: every listed tag must be present. ``since`` (inclusive) and ``until`` (exclusive)
    are seconds since the Unix epoch compared with the item's capture time (see
    :class:`StoredItem`).
    """

    part_id: str | None = None
    component_type: str | None = None
    component_name: str | None = None
    method_name: str | None = None
    data_type: DataKind | None = None
    tags: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    limit: int | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.data_type is not None and self.data_type not in DATA_KINDS:
            raise CloudError(
                "INVALID_ARGUMENT",
                f"filter.data_type: {self.data_type!r} is not one of {', '.join(DATA_KINDS)}",
            )
        if self.limit is not None:
            _check_count(self.limit, "filter.limit")
        _check_count(self.offset, "filter.offset")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                _check_seconds(value, repr(value), f"filter.{name}")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise CloudError(
                "INVALID_ARGUMENT",
                f"filter: until ({self.until}) is before since ({self.since})",
            )


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One stored reading (tabular), binary capture, or file.

    ``captured_ns`` orders items in time: the reading's ``time_requested``, else its
    ``time_received``, else (files) the file's creation or modification time, else the
    moment the cloud received it (``received_ns``).
    """

    item_id: str
    file_id: str
    kind: DataKind
    part_id: str
    component_type: str
    component_name: str
    method_name: str
    tags: tuple[str, ...]
    dataset_ids: tuple[str, ...]
    file_name: str | None
    file_extension: str | None
    mime_type: str | None
    time_requested_ns: int | None
    time_received_ns: int | None
    captured_ns: int
    received_ns: int
    data_json: str | None
    annotations_json: str | None
    blob_sha256: str | None
    size: int
    reading_stream: str | None
    reading_boot: int | None
    reading_seq: int | None

    def data(self) -> dict[str, Any] | None:
        """The tabular reading as a dict (``None`` for binary data and files)."""
        return None if self.data_json is None else dict(json.loads(self.data_json))

    def annotations(self) -> dict[str, Any] | None:
        """Bounding boxes and classifications of a binary capture, if any."""
        return None if self.annotations_json is None else dict(json.loads(self.annotations_json))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with ISO-8601 times (what ``query --json`` and exports print)."""
        reading = None
        if self.reading_stream is not None:
            reading = {
                "stream": self.reading_stream,
                "boot": self.reading_boot,
                "seq": self.reading_seq,
            }
        return {
            "item_id": self.item_id,
            "file_id": self.file_id,
            "kind": self.kind,
            "part_id": self.part_id,
            "component_type": self.component_type,
            "component_name": self.component_name,
            "method_name": self.method_name,
            "tags": list(self.tags),
            "dataset_ids": list(self.dataset_ids),
            "file_name": self.file_name,
            "file_extension": self.file_extension,
            "mime_type": self.mime_type,
            "time_requested": _iso_or_none(self.time_requested_ns),
            "time_received": _iso_or_none(self.time_received_ns),
            "captured_at": iso_from_ns(self.captured_ns),
            "received_at": iso_from_ns(self.received_ns),
            "data": self.data(),
            "annotations": self.annotations(),
            "sha256": self.blob_sha256,
            "size": self.size,
            "reading": reading,
        }


@dataclass(frozen=True, slots=True)
class CloudStatistics:
    """Counters of a :class:`~dmsim.cloud.CloudCore`.

    ``uploads`` … ``rejects`` count calls since the core was opened; ``stored_items`` and
    ``stored_bytes`` describe what is in storage now (including earlier runs on the same
    data directory).
    """

    uploads: int
    duplicates: int
    key_conflicts: int
    readings: int
    binary_items: int
    files: int
    bytes_ingested: int
    rejects: Mapping[str, int]
    retention_deleted: int
    part_deleted: int
    stored_items: int
    stored_bytes: int


def ns_from_seconds(seconds: float) -> int:
    return round(seconds * 1_000_000_000)


def iso_from_ns(ns: int) -> str:
    """``2024-05-01T12:00:00.123456789Z`` (UTC, fixed 9-digit fraction, sortable)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return f"{_iso_second(seconds)}.{nanos:09d}Z"


# Every stored reading gets four stamps, mostly within the same few seconds: formatting each
# second once saves most of their cost (strftime was 7 % of a busy simulation).
@functools.lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _iso_or_none(ns: int | None) -> str | None:
    return None if ns is None else iso_from_ns(ns)


# Seconds are ASCII digits only: float() would also read "nan", "1_000" and other scripts'
# digits. ISO-8601 must start with a dashed date, so that 20231114 is always seconds.
_SECONDS = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_COUNT = re.compile(r"\d+", re.ASCII)


def parse_time(text: str, where: str) -> float:
    """Seconds since the epoch from a plain number (``1714564800.5``; ``20231114`` is seconds
    too) or ISO-8601 with a dashed date (``2024-05-01``, ``2024-05-01T12:00:00Z``; no zone =
    UTC), between 1970-01-01 and 2262-04-11. ``where`` names the option in errors."""
    seconds = float(text) if _SECONDS.fullmatch(text) else _iso_seconds(text, where)
    _check_seconds(seconds, repr(text), where)
    return seconds


def _iso_seconds(text: str, where: str) -> float:
    try:
        moment = datetime.fromisoformat(text) if _ISO_DATE.match(text) else None
    except ValueError:
        moment = None
    if moment is None:
        raise CloudError(
            "INVALID_ARGUMENT",
            f"{where}: {text!r} is neither seconds since the epoch nor an ISO-8601 time"
            " (e.g. 1700000000 or 2023-11-14T22:13:20Z)",
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_count(text: str, where: str) -> int:
    """A limit, offset or call number: ASCII digits, at most 2^63 - 1."""
    if not _COUNT.fullmatch(text):
        raise CloudError("INVALID_ARGUMENT", f"{where}: {text!r} is not a whole number")
    count = int(text)
    _check_count(count, where)
    return count


def _check_seconds(seconds: float, shown: str, where: str) -> None:
    if not 0 <= seconds <= _LATEST_SECONDS:  # also false for NaN
        raise CloudError(
            "INVALID_ARGUMENT",
            f"{where}: {shown} is not a time between 1970-01-01T00:00:00Z and {_LATEST_ISO}",
        )


def _check_count(count: int, where: str) -> None:
    if count < 0:
        raise CloudError("INVALID_ARGUMENT", f"{where}: {count} is negative")
    if count > _MAX_COUNT:
        raise CloudError("INVALID_ARGUMENT", f"{where}: {count} is more than 2^63 - 1")
