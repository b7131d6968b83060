"""Recorded connectivity traces: (time, up/down, bandwidth, latency) rows that drive a link.

A trace is what a modem or Wi-Fi log says about the link over time. Each row holds from its
time until the next row; the last row holds for ever. A field left empty falls back to the
link's base profile, so a log with only up/down columns keeps the profile's bandwidth.

Formats:

- CSV with a header. Columns: ``time`` (required), ``state`` (``up``/``down``, also
  ``1``/``0``, ``true``/``false``, ``online``/``offline``; required), ``bandwidth`` (bytes/s,
  both directions), ``bandwidth_up``, ``bandwidth_down`` (override ``bandwidth`` per
  direction), ``latency`` (one-way seconds), ``loss`` (probability). Lines starting with ``#``
  are comments.
- JSON: a list of objects with the same keys (or ``{"rows": [...]}``); ``state`` may also be a
  boolean.

``time`` is either seconds (absolute simulated time) or ISO-8601 timestamps, which are made
relative to the first row. ``time_offset`` shifts every row, e.g. to start a modem log at 0.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dmsim.errors import Problem, ScenarioError

__all__ = ["ConnectivityRow", "load_connectivity_trace", "parse_connectivity_trace"]

_STATES = {
    "up": True,
    "1": True,
    "true": True,
    "online": True,
    "down": False,
    "0": False,
    "false": False,
    "offline": False,
}
_COLUMNS = ("time", "state", "bandwidth", "bandwidth_up", "bandwidth_down", "latency", "loss")


@dataclass(frozen=True, slots=True)
class ConnectivityRow:
    """The link from ``time`` on; ``None`` fields keep the base profile's value."""

    time: float
    up: bool
    bandwidth_up: float | None = None
    bandwidth_down: float | None = None
    latency: float | None = None
    loss: float | None = None


def load_connectivity_trace(path: Path, *, time_offset: float = 0.0) -> list[ConnectivityRow]:
    """Read a ``.csv`` or ``.json`` connectivity trace."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ScenarioError(
            Problem("", f"connectivity trace must be .csv or .json, got {suffix or 'no suffix'!r}"),
            source=str(path),
        )
    text = path.read_text(encoding="utf-8")
    return parse_connectivity_trace(text, fmt=suffix[1:], source=str(path), time_offset=time_offset)


def parse_connectivity_trace(
    text: str, *, fmt: str, source: str = "<connectivity trace>", time_offset: float = 0.0
) -> list[ConnectivityRow]:
    if fmt == "csv":
        records = _csv_records(text, source)
    elif fmt == "json":
        records = _json_records(text, source)
    else:
        raise ScenarioError(Problem("", f"unknown format {fmt!r}; use csv or json"), source=source)
    problems: list[Problem] = []
    rows = _rows(records, time_offset, problems)
    if not rows and not problems:
        problems.append(Problem("", "the trace has no rows"))
    if problems:
        raise ScenarioError(problems, source=source)
    return rows


# A record: (path used in messages, line number or None, raw fields).
_Record = tuple[str, int | None, Mapping[str, Any]]


def _csv_records(text: str, source: str) -> list[_Record]:
    numbered = [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if not line.startswith("#")
    ]
    numbered = [(n, line) for n, line in numbered if line.strip()]
    if not numbered:
        raise ScenarioError(Problem("", "empty connectivity trace"), source=source)
    reader = csv.reader(io.StringIO("\n".join(line for _, line in numbered)))
    lines = list(reader)
    header = [h.strip().lower() for h in lines[0]]
    unknown = [h for h in header if h not in _COLUMNS]
    missing = [c for c in ("time", "state") if c not in header]
    problems = [
        Problem("header", f"unknown column {h!r}; known: {', '.join(_COLUMNS)}", numbered[0][0])
        for h in unknown
    ] + [Problem("header", f"missing column {c!r}", numbered[0][0]) for c in missing]
    if problems:
        raise ScenarioError(problems, source=source)
    records: list[_Record] = []
    for i, (cells, (line_no, _)) in enumerate(zip(lines[1:], numbered[1:], strict=True)):
        if len(cells) != len(header):
            raise ScenarioError(
                Problem(f"rows[{i}]", f"expected {len(header)} cells, got {len(cells)}", line_no),
                source=source,
            )
        fields = {h: c.strip() for h, c in zip(header, cells, strict=True) if c.strip() != ""}
        records.append((f"rows[{i}]", line_no, fields))
    return records


def _json_records(text: str, source: str) -> list[_Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            Problem("", f"invalid JSON: {error.msg}", error.lineno, error.colno), source=source
        ) from None
    if isinstance(data, dict) and "rows" in data:
        data = data["rows"]
    if not isinstance(data, list):
        raise ScenarioError(Problem("", "expected a list of rows"), source=source)
    records: list[_Record] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ScenarioError(Problem(f"rows[{i}]", "expected an object"), source=source)
        unknown = sorted(k for k in item if k not in _COLUMNS)
        if unknown:
            raise ScenarioError(
                Problem(f"rows[{i}]", f"unknown key(s) {unknown}; known: {', '.join(_COLUMNS)}"),
                source=source,
            )
        records.append((f"rows[{i}]", None, {k: v for k, v in item.items() if v is not None}))
    return records


def _rows(
    records: Sequence[_Record], offset: float, problems: list[Problem]
) -> list[ConnectivityRow]:
    times = _times(records, problems)
    rows: list[ConnectivityRow] = []
    previous: float | None = None
    for (path, line, fields), t in zip(records, times, strict=True):
        if t is None:
            continue
        if previous is not None and t <= previous:
            problems.append(
                Problem(f"{path}.time", f"times must increase ({t} <= {previous})", line)
            )
        previous = t
        up = _state(fields, path, line, problems)
        both = _number(fields, "bandwidth", path, line, problems, positive=True)
        row = ConnectivityRow(
            time=t + offset,
            up=bool(up),
            bandwidth_up=_number(fields, "bandwidth_up", path, line, problems, positive=True)
            or both,
            bandwidth_down=_number(fields, "bandwidth_down", path, line, problems, positive=True)
            or both,
            latency=_number(fields, "latency", path, line, problems),
            loss=_number(fields, "loss", path, line, problems, at_most=1.0),
        )
        if row.time < 0:
            problems.append(
                Problem(f"{path}.time", f"is {row.time} s after the offset; must be >= 0", line)
            )
        rows.append(row)
    return rows


def _times(records: Sequence[_Record], problems: list[Problem]) -> list[float | None]:
    """Seconds per record: numbers as given, ISO timestamps relative to the first row."""
    stamps = [_stamp(fields.get("time")) for _, _, fields in records]
    kinds = {type(s) for s in stamps if s is not None}
    if len(kinds) > 1:
        problems.append(Problem("rows", "mix of ISO-8601 and numeric times; use one kind"))
        return [None] * len(records)
    out: list[float | None] = []
    first: datetime | None = None
    for (path, line, fields), stamp in zip(records, stamps, strict=True):
        value = fields.get("time")
        if stamp is None:
            why = "missing" if value is None else f"not seconds or an ISO-8601 time: {value!r}"
            problems.append(Problem(f"{path}.time", why, line))
            out.append(None)
        elif isinstance(stamp, datetime):
            if first is not None and (stamp.tzinfo is None) != (first.tzinfo is None):
                problems.append(Problem(f"{path}.time", "mixes timezone-aware and naive", line))
                out.append(None)
                continue
            first = first or stamp
            out.append((stamp - first).total_seconds())
        else:
            out.append(_number({"time": value}, "time", path, line, problems))
    return out


def _stamp(value: object) -> float | datetime | None:
    """A time cell as a number or a datetime; ``None`` if it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _state(
    fields: Mapping[str, Any], path: str, line: int | None, problems: list[Problem]
) -> bool | None:
    value = fields.get("state")
    if isinstance(value, bool):
        return value
    if value is None:
        problems.append(Problem(f"{path}.state", "missing", line))
        return None
    state = _STATES.get(str(value).strip().lower())
    if state is None:
        problems.append(
            Problem(
                f"{path}.state", f"must be up or down (or 1/0, online/offline), got {value!r}", line
            )
        )
    return state


def _number(
    fields: Mapping[str, Any],
    key: str,
    path: str,
    line: int | None,
    problems: list[Problem],
    *,
    positive: bool = False,
    at_most: float | None = None,
) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    bad = not math.isfinite(number) or number < 0 or (positive and number == 0)
    if bad or (at_most is not None and number > at_most):
        need = "> 0" if positive else ">= 0"
        if at_most is not None:
            need += f" and <= {at_most:g}"
        problems.append(Problem(f"{path}.{key}", f"must be a number {need}, got {value!r}", line))
        return None
    return number
