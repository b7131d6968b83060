"""Where capture files live and what they are called.

Layout (as rdk): ``<capture_dir>/<api>/<name>/<method>/<stem>.prog|.capture`` with every ``:``
in the three directory parts replaced by ``_`` (``rdk:component:camera`` →
``rdk_component_camera``). A part that is empty, ``.``/``..`` or contains ``/`` or NUL is
refused rather than silently creating another directory.

File stem: ``YYYY-MM-DDTHH_MM_SS.ffffffZ`` — rdk's Go layout
``2006-01-02T15:04:05.000000Z07:00`` rendered in UTC (Go prints ``Z`` for a zero offset) with
``:`` → ``_``, so a dmsim name is also a valid rdk name. dmsim always names in UTC, so names do
not jump at DST changes as rdk's local-time names do. Two additions, both documented choices:

- **additional_params:** a collector with non-empty ``additional_params`` appends
  ``_<hash>``, six hex digits of BLAKE2b over the canonical JSON of the sorted params, so
  board ``Analogs`` A1 and A2 (same api/name/method directory) never share a name.
- **same microsecond / clock steps:** instead of a sequence suffix, the writer bumps the
  timestamp: a new file's time is ``max(wall clock, previous file's time + 1 µs)`` (see
  :func:`next_stem_time`), and bumps again while the name exists. Names of one collector
  therefore strictly increase, lexical order is creation order, even after the wall clock
  steps backwards (the name may then run ahead of the wall clock, by design).

Parsing accepts rdk's names too (any UTC offset ``±HH_MM``, 0–9 fraction digits), so disk
policies and ``inspect`` can order files of a field device's capture directory.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dmsim.errors import StorageError

__all__ = [
    "CAPTURE_EXT",
    "FAILED_DIR",
    "PROG_EXT",
    "CaptureLocation",
    "CaptureName",
    "CollectorKey",
    "format_stem",
    "next_stem_time",
    "params_hash",
    "parse_capture_name",
    "parse_capture_path",
    "safe_part",
]

PROG_EXT = ".prog"
CAPTURE_EXT = ".capture"
FAILED_DIR = "failed"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2})_(?P<m>\d{2})_(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<zone>Z|[+-]\d{2}_\d{2})"
    r"(?:_(?P<hash>[0-9a-f]{6}))?"
    r"(?P<ext>\.prog|\.capture)$"
)


def safe_part(part: str, *, what: str) -> str:
    """One directory part of the layout, with ``:`` → ``_``; refuses what would escape it."""
    if not part or part in (".", "..") or "/" in part or "\0" in part:
        raise StorageError(f"{what} {part!r} cannot be a capture directory name")
    return part.replace(":", "_")


def params_hash(params: Mapping[str, str]) -> str | None:
    """Six hex digits identifying a collector's ``additional_params`` (``None`` if empty)."""
    if not params:
        return None
    canonical = json.dumps(sorted(params.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=3, person=b"dmsim-params").hexdigest()


@dataclass(frozen=True, slots=True)
class CollectorKey:
    """Which collector a file belongs to: api, resource name, method and its params."""

    component_type: str
    component_name: str
    method_name: str
    additional_params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        component_type: str,
        component_name: str,
        method_name: str,
        additional_params: Mapping[str, str] | None = None,
    ) -> CollectorKey:
        params = tuple(sorted((additional_params or {}).items()))
        return cls(component_type, component_name, method_name, params)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.additional_params)

    @property
    def params_hash(self) -> str | None:
        return params_hash(self.params)

    def directory(self, capture_dir: str) -> str:
        return posixpath.join(
            capture_dir,
            safe_part(self.component_type, what="component type"),
            safe_part(self.component_name, what="component name"),
            safe_part(self.method_name, what="method name"),
        )


def next_stem_time(wall_us: int, previous_us: int | None) -> int:
    """The microsecond a new file is named after: never at or before the previous file's."""
    if previous_us is None or wall_us > previous_us:
        return wall_us
    return previous_us + 1


def format_stem(time_us: int, hash_: str | None = None) -> str:
    """``2026-06-17T17_04_32.032650Z`` (+ ``_<hash>``) for a UTC time in microseconds."""
    try:
        when = _EPOCH + timedelta(microseconds=time_us)
    except OverflowError:
        raise StorageError(f"wall-clock time {time_us} µs is outside years 1-9999") from None
    stem = when.strftime("%Y-%m-%dT%H_%M_%S.%fZ")
    if len(stem) != 27:  # strftime pads years < 1000 inconsistently across platforms
        stem = f"{when.year:04d}" + stem[stem.index("-") :]
    return f"{stem}_{hash_}" if hash_ else stem


@dataclass(frozen=True, slots=True)
class CaptureName:
    """A parsed file name: its UTC time, params hash and extension."""

    name: str
    time_ns: int
    params_hash: str | None
    extension: str

    @property
    def stem(self) -> str:
        return self.name[: -len(self.extension)]

    @property
    def time_us(self) -> int:
        return self.time_ns // 1000

    @property
    def is_prog(self) -> bool:
        return self.extension == PROG_EXT


def parse_capture_name(name: str) -> CaptureName | None:
    """Parse a ``.prog``/``.capture`` name written by dmsim or rdk; ``None`` if it is not one."""
    match = _NAME_RE.match(name)
    if match is None:
        return None
    year, month, date = match["date"].split("-")
    try:  # not strptime: a sync walk parses every unsynced file's name, and this is 6× faster
        day = datetime(int(year), int(month), int(date), tzinfo=UTC)
    except ValueError:
        return None
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"])
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    frac = match["frac"] or ""
    nanos = int(frac.ljust(9, "0")) if frac else 0
    offset_s = 0
    zone = match["zone"]
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset_s = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    whole_s = (day - _EPOCH) // timedelta(seconds=1) + hours * 3600 + minutes * 60 + seconds
    time_ns = (whole_s - offset_s) * 1_000_000_000 + nanos
    return CaptureName(name, time_ns, match["hash"], match["ext"])


@dataclass(frozen=True, slots=True)
class CaptureLocation:
    """A capture file's place in the layout (directory parts as they are on disk)."""

    path: str
    api_dir: str
    name_dir: str
    method_dir: str
    file: CaptureName


def parse_capture_path(capture_dir: str, path: str) -> CaptureLocation | None:
    """Split ``path`` under ``capture_dir`` into layout parts; ``None`` if it does not fit."""
    rel = posixpath.relpath(path, capture_dir)
    parts = rel.split("/")
    if len(parts) != 4 or parts[0] in ("..", FAILED_DIR):
        return None
    parsed = parse_capture_name(parts[3])
    if parsed is None:
        return None
    return CaptureLocation(path, parts[0], parts[1], parts[2], parsed)
