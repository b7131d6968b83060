"""The ``data_manager`` service's attributes: every one, with its type, default and range.

:data:`DATA_MANAGER_ATTRIBUTES` is the documents' attribute table plus rdk's
``capture_control_sensor``; the parser in :mod:`._data_manager` is driven by it. Attributes
marked *dmsim extension* are ignored by Viam's implementation:

- ``durability_window_ms`` (1000): captured data is fsynced at least this often, so a power
  cut loses at most this much of each collector's data; 0 fsyncs after every write.
- ``disk_check_interval_secs`` (30): how often the disk-full deletion rule is evaluated.
- ``capture_dir_max_bytes`` (0 = off): a byte cap on the capture directory; the oldest
  completed files are deleted until it holds.
- ``sync_backoff_initial_ms`` (200), ``sync_backoff_max_ms`` (3600000): per-file retry backoff,
  doubling from the first to the cap (rdk's constants).
- ``sync_offline_wait_secs`` (60): the fixed retry wait after an "offline" (UNAVAILABLE) error.
- ``sync_backoff_jitter`` (0.1): each retry wait is scaled by a seeded factor in
  [1 - jitter, 1] (never above the cap), so a fleet coming back online does not retry in
  lockstep.
- ``stale_data_warning_secs`` (default: rdk's rule, ``max(10 × sync interval, 180 s)``; 0 =
  off): warn when the oldest unsynced data is older.
- ``max_upload_message_bytes`` (1 MiB): a tabular upload that would be larger is split into
  several requests. A quarter of gRPC's default 4 MiB receive limit, leaving room for metadata;
  rdk sends a whole file in one request and fails forever with RESOURCE_EXHAUSTED past it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ._jsonpos import JsonValue

__all__ = ["ATTRIBUTE_SPECS", "DATA_MANAGER_ATTRIBUTES", "TAG_PATTERN", "AttributeSpec"]

Kind = Literal["bool", "int", "number", "string", "strings", "tags", "object"]

#: What a tag may contain (the documents: alphanumerics, underscores and dashes).
TAG_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One ``data_manager`` attribute: its JSON type, default, allowed range and meaning."""

    name: str
    kind: Kind
    default: JsonValue
    doc: str
    extension: bool = False  # a dmsim extension, ignored by Viam's implementation
    low: float | None = None
    low_open: bool = False  # the low bound itself is not allowed
    high: float | None = None
    high_open: bool = False
    zero_is_unset: bool = False  # rdk substitutes the default for 0 (warned)
    unset_below: float | None = None  # ... and for positive values below this (warned)

    def range_problem(self, value: float) -> str | None:
        """Why ``value`` is out of range, or None."""
        low_bad = self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        )
        high_bad = self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        )
        if not (low_bad or high_bad):
            return None
        if self.high is None:
            if self.low == 0:
                return "can't be negative" if value < 0 else "must be positive"
            return f"must be at least {self.low:g}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"must be in {left}{self.low:g}, {self.high:g}{right}"


def _spec(name: str, kind: Kind, default: JsonValue, doc: str, **kw: object) -> AttributeSpec:
    return AttributeSpec(name, kind, default, doc, **kw)  # type: ignore[arg-type]


#: Every ``data_manager`` attribute, in documentation order, then dmsim's extensions.
DATA_MANAGER_ATTRIBUTES: tuple[AttributeSpec, ...] = (
    _spec(
        "capture_dir",
        "string",
        "",
        'where capture files go; "" = $VIAM_HOME/capture or ~/.viam/capture; ~ is expanded',
    ),
    _spec("tags", "tags", [], "tags on every capture file (letters, digits, _ and -)"),
    _spec("capture_disabled", "bool", False, "turn capture off for the whole part"),
    _spec("sync_disabled", "bool", False, "turn scheduled sync off (manual Sync still works)"),
    _spec("additional_sync_paths", "strings", [], "more directories whose files are synced"),
    _spec(
        "sync_interval_mins",
        "number",
        0.1,
        "minutes between sync passes, truncated to whole milliseconds; below 0.0001 the "
        "default is used (as in rdk); at most 525600 (one year)",
        low=0,
        low_open=True,
        # One year is beyond any real schedule (sync_disabled turns scheduled sync off);
        # unbounded, 1e308 minutes is an infinite interval that cannot be truncated to ms.
        high=365 * 24 * 60,
        zero_is_unset=True,
        unset_below=0.0001,
    ),
    _spec(
        "file_last_modified_millis",
        "int",
        10000,
        "an arbitrary file is synced once unmodified this long",
        low=0,
        low_open=True,
        zero_is_unset=True,
    ),
    _spec(
        "maximum_num_sync_threads",
        "int",
        None,
        "upload workers; default half the CPUs, at least 1",
        low=1,
        zero_is_unset=True,
    ),
    _spec(
        "maximum_capture_file_size_bytes",
        "int",
        262144,
        "a tabular capture file is closed once bigger than this",
        low=0,
        low_open=True,
    ),
    _spec(
        "delete_every_nth_when_disk_full",
        "int",
        5,
        "when the disk is full, delete every Nth capture file",
        low=1,
        zero_is_unset=True,
    ),
    _spec(
        "disk_usage_deletion_threshold",
        "number",
        0.9,
        "disk usage fraction from which the disk-full rule applies",
        low=0,
        low_open=True,
        high=1,
    ),
    _spec(
        "capture_dir_deletion_threshold",
        "number",
        0.5,
        "share of the used disk the capture directory must take before deleting",
        low=0,
        low_open=True,
        high=1,
    ),
    _spec(
        "selective_syncer_name",
        "string",
        "",
        "a sensor whose reading (should_sync) decides whether a sync pass runs",
    ),
    _spec(
        "mongo_capture_config",
        "object",
        {"uri": "", "database": "sensorData", "collection": "readings"},
        "also write tabular readings to MongoDB when uri is set",
    ),
    _spec(
        "capture_control_sensor",
        "object",
        {"name": "", "key": ""},
        "a sensor polled at 10 Hz whose reading under key overrides capture frequencies and "
        "tags, and can enable unconfigured methods (capture on demand)",
    ),
    _spec(
        "delete_data_on_part_deletion",
        "bool",
        False,
        "the cloud deletes this part's data when the part is deleted",
    ),
    _spec(
        "cache_size_kb",
        "number",
        1.0,
        "viam-micro-server: storage per collector, in KB",
        low=0,
        low_open=True,
    ),
    _spec(
        "durability_window_ms",
        "int",
        1000,
        "data is fsynced at least this often",
        extension=True,
        low=0,
    ),
    _spec(
        "disk_check_interval_secs",
        "number",
        30.0,
        "how often the disk-full rule runs",
        extension=True,
        low=0,
        low_open=True,
    ),
    _spec(
        "capture_dir_max_bytes",
        "int",
        0,
        "byte cap on the capture directory (0 = off)",
        extension=True,
        low=0,
    ),
    _spec(
        "sync_backoff_initial_ms",
        "int",
        200,
        "first retry wait of a failed upload",
        extension=True,
        low=0,
        low_open=True,
    ),
    _spec(
        "sync_backoff_max_ms",
        "int",
        3_600_000,
        "longest retry wait of a failed upload",
        extension=True,
        low=0,
        low_open=True,
    ),
    _spec(
        "sync_offline_wait_secs",
        "number",
        60.0,
        "retry wait after an offline error",
        extension=True,
        low=0,
        low_open=True,
    ),
    _spec(
        "sync_backoff_jitter",
        "number",
        0.1,
        "relative random spread of retry waits",
        extension=True,
        low=0,
        high=1,
        high_open=True,
    ),
    _spec(
        "stale_data_warning_secs",
        "number",
        None,
        "warn when unsynced data is older than this (0 = off; default: rdk's "
        "max(10 x sync interval, 180 s))",
        extension=True,
        low=0,
    ),
    _spec(
        "max_upload_message_bytes",
        "int",
        1024 * 1024,
        "tabular uploads bigger than this are split (at least 1024)",
        extension=True,
        # the sync engine's floor: a smaller request cannot hold its metadata and a reading
        low=1024,
    ),
)

#: The table by attribute name.
ATTRIBUTE_SPECS = {spec.name: spec for spec in DATA_MANAGER_ATTRIBUTES}
