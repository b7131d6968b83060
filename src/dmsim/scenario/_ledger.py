"""The ledger: one record per captured reading, following it from capture to the cloud.

Built in one pass over the trace (pure: events in, frozen records out). It records facts only
(when a reading was captured, which files held it, what happened to those files, when and
under which key the cloud stored it); :mod:`._oracle` decides what the facts mean.

Trace vocabulary read here (event kind → fields):

- ``reading.captured`` {stream, boot, seq, digest}; ``capture.skipped`` {count};
  ``reading.dropped`` {ids, reason} (the core gave a reading up and said so);
- ``file.completed`` {path, ids}; ``file.preloaded`` {path, ids} (on the disk before the
  run, see :mod:`._preload`; a preloaded ``.prog`` is expected to be recovered as
  ``.capture``); ``recovery.torn`` {path, dropped_bytes, ids_kept,
  recovered_as} (a ``.prog`` recovered at start-up; it lives on as ``recovered_as``, by
  default the same name with ``.capture``);
- ``file.deleted_by_policy`` {path, rule, ids, unnamed} (recorded before the unlink, so a
  kill cannot lose it; ``disk_policy.delete_failed`` {path} after it says the file stayed;
  ``unnamed`` counts readings without an identity, which the ledger names from the file's
  own, as the preload did);
  ``file.quarantined`` {path, reason, ids};
  ``sync.deleted`` {file} (removed after its upload was acknowledged; after a policy deleted
  it, an anomaly, as below);
- ``process.crash``; ``process.stop`` (clean shutdown); ``process.restart`` {boot};
- ``upload.attempt`` {file, key, outcome: ok|fail|unknown, code} (a request for a file a
  policy deleted, with no crash since that may have undone the unlink, is an anomaly);
- ``net.transport.attempt`` {outcome, cloud} (the simulated link's record of a call: the
  harness's, not the machine's account; ``cloud`` is ``error:<CODE>`` when the cloud answered
  with a status);
- ``world.promise`` {durability_window_s, offline_wait_s, sync_disabled, sync_interval_s,
  stale_warning_s} (what the config the world gave the machine promises, from then on: at
  the start; at a reconfigure the looser of the old and new while the machine applies it,
  then the new; ``sync_disabled`` is absent from older traces: scheduled sync; the last two
  too: the stale-data warning is then not judged);
- ``sync.stale`` {oldest_age_s, threshold_s} (the machine warned that its oldest unsynced
  data is that old: :mod:`._stale` judges the claim); ``sync.look_spacing`` {every_s} (slow
  walks spaced the engine's looks at its backlog further apart than a minute and an
  interval: the judge allows for the longest);
- ``cloud.stored`` {stream, boot, seq, key, digest, duplicate_key}; ``cloud.recognised``
  {key, readings} (a resend of the readings first stored under a key: it stores nothing; a
  resend carrying other readings under a known key is traced reading by reading instead);
- ``fault.start`` / ``fault.end`` {fault_id, kind, params} (``fault_kind`` is read too: a
  field named ``kind`` needs ``Trace.record``'s first parameter to be positional-only);
- sequences (a capture control sensor's): ``sequence.opened`` {id}, ``sequence.closed``
  {path, fingerprint}, ``sequence.orphaned`` (open at a crash: quarantined, as rdk does),
  ``sequence.lost`` {fingerprint}, ``cloud.sequence_stored`` {fingerprint, duplicate_key}.
  A sequence stored as new twice is *duplicated*; one stored but never closed is an anomaly.
- files other programs wrote into additional_sync_paths (the world's file writers):
  ``file.written`` {path, size, digest, writing_s} (complete; ``writing_s`` since the writer
  created it, absent from older traces), ``cloud.file_stored`` {path, digest, key,
  duplicate_key}; their fates are :class:`ArbitraryFileTally`'s.
- ``sync.manual`` {dispatched, uploaded, failed, terminal, deferred, gone, ...}: an operator's
  Sync() returned; a report that does not account for each file it dispatched exactly once
  (uploaded, failed, moved to failed/, deferred or gone) is an anomaly.

Anything inconsistent (a stored reading that was never captured, an identity captured twice,
a malformed event) is an *anomaly*: the trace itself cannot be trusted, and the run fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dmsim.faults import KINDS
from dmsim.runtime import TraceEvent
from dmsim.sync import OFFLINE_CODES

from ._model import ARBITRARY_FILE_COUNTS

__all__ = [
    "REFUSING_DISK_KINDS",
    "ArbitraryFileTally",
    "FaultWindow",
    "FileSpan",
    "FileTally",
    "FilesOnDisk",
    "Ledger",
    "Promise",
    "ReadingId",
    "ReadingRecord",
    "SequenceTally",
    "StaleWarning",
    "Store",
    "UploadTally",
    "build_ledger",
    "format_id",
]

ReadingId = tuple[str, int, int]
#: Disk faults that may refuse writes (EIO, a full or shrunk disk).
REFUSING_DISK_KINDS = frozenset({"disk_eio", "disk_fill", "disk_capacity"})


def format_id(rid: ReadingId) -> str:
    stream, boot, seq = rid
    return f"{stream}@{boot}#{seq}"


@dataclass(frozen=True, slots=True)
class Store:
    """The cloud stored a reading: when, under which key, with which digest."""

    t: float
    key: str
    digest: str
    duplicate_key: bool


@dataclass(frozen=True, slots=True)
class ReadingRecord:
    rid: ReadingId
    captured_at: float
    digest: str
    durable_at: float | None = None  # first time a completed or recovered file held it
    files: tuple[str, ...] = ()
    removed_files: tuple[tuple[str, float], ...] = ()  # deleted after upload: (path, time)
    stores: tuple[Store, ...] = ()
    policy_deleted: tuple[str, float] | None = None  # (rule, time)
    quarantined: tuple[str, float] | None = None  # (reason, time)
    dropped: tuple[str, float] | None = None  # (reason, time)
    preloaded: bool = False  # on the disk before the run: captured at an unknown time


@dataclass(frozen=True, slots=True)
class UploadTally:
    """Upload attempts by outcome; ``recovered``: unknown attempts whose data did land."""

    ok: int = 0
    fail: int = 0
    unknown: int = 0
    recovered: int = 0
    by_code: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileTally:
    completed: int = 0
    preloaded: int = 0
    deleted_by_policy: int = 0
    quarantined: int = 0
    recovered: int = 0
    torn_bytes: int = 0
    deleted_after_upload: int = 0


@dataclass(frozen=True, slots=True)
class SequenceTally:
    """Sequences by fate (see :data:`~._model.SEQUENCE_COUNTS`); ``pending``: closed and
    not stored by the end of the run."""

    opened: int = 0
    closed: int = 0
    stored: int = 0
    pending: int = 0
    orphaned: int = 0
    lost: int = 0
    duplicated: int = 0


@dataclass(frozen=True, slots=True)
class ArbitraryFileTally:
    """The files other programs wrote into additional_sync_paths, by fate (see
    :data:`~._model.ARBITRARY_FILE_COUNTS`): ``stored`` once with the bytes written;
    ``pending`` still on the machine; ``lost`` deleted without being stored; ``duplicated``
    stored twice; ``corrupted`` stored with other bytes (uploaded before it was complete)."""

    written: int = 0
    stored: int = 0
    pending: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0

    @property
    def followed(self) -> bool:
        """Whether the run had any such file (one stored but never written counts)."""
        return bool(self.written or self.corrupted)


@dataclass(frozen=True, slots=True)
class FaultWindow:
    fault_id: str
    kind: str
    start: float
    end: float | None  # None: still active when the run ended, or instant


@dataclass(frozen=True, slots=True)
class Promise:
    """What the machine's config promised from ``since`` on: its durability window, its
    offline interval (how long an answer that pauses every upload holds the backlog),
    whether only a manual Sync uploads (``sync_disabled``), its sync interval and its
    stale-data warning threshold (0: off; ``None``: a trace that does not say)."""

    since: float
    durability_window_s: float
    offline_wait_s: float
    sync_disabled: bool = False
    sync_interval_s: float | None = None
    stale_warning_s: float | None = None


@dataclass(frozen=True, slots=True)
class StaleWarning:
    """The machine warned at ``t`` that its oldest unsynced data was ``age_s`` old."""

    t: float
    age_s: float


@dataclass(frozen=True, slots=True)
class FileSpan:
    """A file other than a capture file that held unsynced data (a closed sequence, a file
    another program wrote): from ``since`` (``-inf``: before the run) until sync deleted it
    (``None``: never)."""

    path: str
    since: float
    until: float | None


@dataclass(frozen=True, slots=True)
class Ledger:
    readings: tuple[ReadingRecord, ...]
    skipped: int
    uploads: UploadTally
    files: FileTally
    crashes: tuple[float, ...]
    restarts: tuple[float, ...]
    stops: tuple[float, ...]  # clean shutdowns
    faults: tuple[FaultWindow, ...]
    anomalies: tuple[str, ...]
    sequences: SequenceTally = field(default_factory=SequenceTally)
    arbitrary_files: ArbitraryFileTally = field(default_factory=ArbitraryFileTally)
    # when the pauses the cloud asked for end: each answer that pauses every upload
    # (OFFLINE_CODES) plus the offline interval promised when it came; None: no such answer
    pause_end: float | None = None
    promises: tuple[Promise, ...] = ()
    stale_warnings: tuple[StaleWarning, ...] = ()
    file_spans: tuple[FileSpan, ...] = ()
    longest_look_spacing_s: float = 0.0  # the longest ``sync.look_spacing`` told

    def down_intervals(self, end: float) -> list[tuple[float, float]]:
        """When the process was down: each crash or clean stop until the next restart (or
        ``end``)."""
        intervals = []
        for down in sorted((*self.crashes, *self.stops)):
            restart = next((r for r in self.restarts if r >= down), end)
            intervals.append((down, restart))
        return intervals

    def last_fault_end(self) -> float:
        """When the last fault stopped acting (a crash ends when the process is back); 0 when
        there were none, ``inf`` when a windowed fault was still active at the end."""
        return max([*(_window_end(w) for w in self.faults), *self.restarts], default=0.0)

    def disk_refusals(self) -> tuple[tuple[float, float], ...]:
        """When a disk fault may have refused writes (EIO, a full or shrunk disk): each such
        fault's (start, end), in start order; one still active at the end runs to ``inf``."""
        return tuple(
            (w.start, math.inf if w.end is None else w.end)
            for w in self.faults
            if w.kind in REFUSING_DISK_KINDS
        )

    def drain_from(self) -> float:
        """When the backlog can start draining: :meth:`last_fault_end`, or later when the
        machine received an answer that pauses every upload (:data:`~dmsim.sync.OFFLINE_CODES`):
        the pause it began, as long as the offline interval promised then, holds the backlog
        by design. Only answers that reached the machine count: a window of such rejections
        the machine made no call in paused nothing."""
        end = self.last_fault_end()
        return end if self.pause_end is None else max(end, self.pause_end)

    def sync_off_since(self) -> float | None:
        """Since when scheduled sync has been off for good (the config in force at the end
        says ``sync_disabled``), or ``None``: then only a manual Sync uploads, and no backlog
        is bound to drain."""
        since = None
        for promise in self.promises:
            if not promise.sync_disabled:
                since = None
            elif since is None:
                since = promise.since
        return since


def _window_end(window: FaultWindow) -> float:
    if window.end is not None:
        return window.end
    spec = KINDS.get(window.kind)
    instant = spec is None or spec.window == "forbidden"
    return window.start if instant else math.inf


class _Builder:
    def __init__(self) -> None:
        self.readings: dict[ReadingId, dict[str, Any]] = {}
        self.files: dict[str, list[ReadingId]] = {}
        self.file_tally: dict[str, int] = dict.fromkeys(FileTally.__dataclass_fields__, 0)
        self.uploads: dict[str, int] = {"ok": 0, "fail": 0, "unknown": 0}
        self.codes: dict[str, int] = {}
        self.unknown_keys: list[str] = []
        self.stored_keys: set[str] = set()
        self.skipped = 0
        self.crashes: list[float] = []
        self.restarts: list[float] = []
        self.stops: list[float] = []
        self.fault_starts: dict[str, tuple[str, float]] = {}
        self.pause_end: float | None = None
        self.promises: list[Promise] = []
        self.faults: list[FaultWindow] = []
        self.anomalies: list[str] = []
        # path → (rule, time, readings) of files a policy deleted, until a crash may bring
        # them back (or the unlink turns out to have failed)
        self.policy_deleted: dict[str, tuple[str, float, list[ReadingId]]] = {}
        self.sequence_counts: dict[str, int] = {"opened": 0, "orphaned": 0, "lost": 0}
        self.sequences_closed: set[str] = set()
        self.sequences_stored: dict[str, int] = {}  # fingerprint → times stored as new
        self.arbitrary_written: dict[str, str] = {}  # path → digest of the complete file
        self.arbitrary_stored: dict[str, list[str]] = {}  # path → digests stored as new
        self.arbitrary_deleted: set[str] = set()  # by sync (written before it is uploaded)
        self.stale_warnings: list[StaleWarning] = []
        self.longest_look_spacing_s = 0.0
        self.file_spans: dict[str, FileSpan] = {}  # sequences and arbitrary files, by path

    def anomaly(self, event: TraceEvent, message: str) -> None:
        self.anomalies.append(
            f"event #{event.index} ({event.kind} at {event.time:.3f}s): {message}"
        )

    def ids(self, event: TraceEvent, name: str) -> list[ReadingId]:
        out = []
        for item in event.fields.get(name) or ():
            rid = _rid(item)
            if rid is None:
                self.anomaly(event, f"malformed reading id {item!r} in {name!r}")
            elif rid not in self.readings:
                self.anomaly(event, f"{format_id(rid)} was never captured")
            else:
                out.append(rid)
        return out

    def hold(self, rids: list[ReadingId], path: str, t: float) -> None:
        self.files.setdefault(path, []).extend(rids)
        for rid in rids:
            record = self.readings[rid]
            record["files"].append(path)
            if record["durable_at"] is None:
                record["durable_at"] = t

    def mark(self, rids: list[ReadingId], name: str, value: tuple[str, float]) -> None:
        for rid in rids:
            self.readings[rid][name] = self.readings[rid][name] or value

    def feed(self, event: TraceEvent) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)


def _rid(item: Any) -> ReadingId | None:
    if isinstance(item, list | tuple) and len(item) == 3:
        stream, boot, seq = item
        if isinstance(stream, str) and isinstance(boot, int) and isinstance(seq, int):
            return (stream, boot, seq)
    return None


def _event_rid(e: TraceEvent) -> ReadingId | None:
    return _rid([e.fields.get("stream"), e.fields.get("boot"), e.fields.get("seq")])


def _captured(b: _Builder, e: TraceEvent) -> None:
    rid = _event_rid(e)
    if rid is None:
        b.anomaly(e, "missing stream/boot/seq")
    elif rid in b.readings:
        b.anomaly(e, f"{format_id(rid)} captured twice (identity reused)")
    else:
        b.readings[rid] = {
            "rid": rid,
            "captured_at": e.time,
            "digest": str(e.fields.get("digest", "")),
            "durable_at": None,
            "files": [],
            "removed_files": [],
            "stores": [],
            "policy_deleted": None,
            "quarantined": None,
            "dropped": None,
            "preloaded": False,
        }


def _skipped(b: _Builder, e: TraceEvent) -> None:
    b.skipped += int(e.fields.get("count", 1))


def _dropped(b: _Builder, e: TraceEvent) -> None:
    if "ids" in e.fields:
        rids = b.ids(e, "ids")
    else:  # one reading: {stream, boot, seq, reason}
        single = _event_rid(e)
        rids = [single] if single is not None and single in b.readings else []
    b.mark(rids, "dropped", (str(e.fields.get("reason", "")), e.time))


def _completed(b: _Builder, e: TraceEvent) -> None:
    b.file_tally["completed"] += 1
    path = str(e.fields.get("path", ""))
    b.policy_deleted.pop(path, None)  # a new file under that name
    b.hold(b.ids(e, "ids"), path, e.time)


def _preloaded(b: _Builder, e: TraceEvent) -> None:
    path = str(e.fields.get("path", ""))
    b.file_tally["preloaded"] += 1
    rids = b.ids(e, "ids")
    b.hold(rids, path, e.time)
    for rid in rids:
        b.readings[rid]["preloaded"] = True
    if path.endswith(".prog"):  # recovery renames it; identity-less readings are not named
        b.files.setdefault(path[: -len(".prog")] + ".capture", []).extend(rids)


def _recovered(b: _Builder, e: TraceEvent) -> None:
    path = str(e.fields.get("path", ""))
    b.file_tally["recovered"] += 1
    b.file_tally["torn_bytes"] += int(e.fields.get("dropped_bytes", 0))
    rids = b.ids(e, "ids_kept")
    b.hold(rids, path, e.time)
    # the recovered file lives on under its new name (given, or .prog → .capture)
    renamed = e.fields.get("recovered_as")
    if not renamed and path.endswith(".prog"):
        renamed = path[: -len(".prog")] + ".capture"
    if renamed:
        held = b.files.setdefault(str(renamed), [])
        known = set(held)  # a preloaded .prog's readings are already listed under the new name
        held.extend(rid for rid in rids if rid not in known)


def _policy(b: _Builder, e: TraceEvent) -> None:
    b.file_tally["deleted_by_policy"] += 1
    path, rule, rids = str(e.fields.get("path", "")), str(e.fields.get("rule", "")), b.ids(e, "ids")
    if e.fields.get("unnamed"):  # readings rdk wrote: the core cannot name them, the ledger can
        named = set(rids)
        rids += [rid for rid in b.files.get(path, ()) if rid not in named]
    b.policy_deleted[path] = (rule, e.time, rids)
    b.mark(rids, "policy_deleted", (rule, e.time))


def _policy_failed(b: _Builder, e: TraceEvent) -> None:
    """The unlink of a deletion just recorded failed: the file and its readings stay."""
    deleted = b.policy_deleted.pop(str(e.fields.get("path", "")), None)
    if deleted is None:
        return
    rule, at, rids = deleted
    b.file_tally["deleted_by_policy"] -= 1
    for rid in rids:
        if b.readings[rid]["policy_deleted"] == (rule, at):
            b.readings[rid]["policy_deleted"] = None


def _quarantined(b: _Builder, e: TraceEvent) -> None:
    b.file_tally["quarantined"] += 1
    b.mark(b.ids(e, "ids"), "quarantined", (str(e.fields.get("reason", "")), e.time))


def _after_policy(b: _Builder, e: TraceEvent, what: str, path: str) -> None:
    """A file a policy deleted is never uploaded, and one being uploaded is never deleted."""
    if path in b.policy_deleted:
        rule, at, _ = b.policy_deleted[path]
        b.anomaly(e, f"{what} {path} after rule {rule!r} deleted it at {at:.3f}s")


def _sync_deleted(b: _Builder, e: TraceEvent) -> None:
    path = str(e.fields.get("file", e.fields.get("path", "")))
    _after_policy(b, e, "sync deleted", path)
    b.file_tally["deleted_after_upload"] += 1
    if path in b.arbitrary_written:
        b.arbitrary_deleted.add(path)
    if (span := b.file_spans.get(path)) is not None:
        b.file_spans[path] = FileSpan(path, span.since, e.time)
    for rid in b.files.get(path, ()):
        b.readings[rid]["removed_files"].append((path, e.time))


def _crash(b: _Builder, e: TraceEvent) -> None:
    b.crashes.append(e.time)
    b.policy_deleted.clear()  # an unlink not yet made durable by a directory fsync is undone


def _stop(b: _Builder, e: TraceEvent) -> None:
    b.stops.append(e.time)


def _restart(b: _Builder, e: TraceEvent) -> None:
    b.restarts.append(e.time)


def _attempt(b: _Builder, e: TraceEvent) -> None:
    outcome = e.fields.get("outcome")
    if outcome not in b.uploads:
        b.anomaly(e, f"unknown upload outcome {outcome!r}")
        return
    b.uploads[outcome] += 1
    _after_policy(b, e, "upload of", str(e.fields.get("file", "")))
    code = str(e.fields.get("code") or "OK")
    b.codes[code] = b.codes.get(code, 0) + 1
    if outcome == "unknown":
        b.unknown_keys.append(str(e.fields.get("key", "")))


def _stored(b: _Builder, e: TraceEvent) -> None:
    key = str(e.fields.get("key", ""))
    b.stored_keys.add(key)
    rid = _event_rid(e)
    if rid is None or rid not in b.readings:
        shown = format_id(rid) if rid else "a reading without identity"
        b.anomaly(e, f"the cloud stored {shown}, which was never captured")
        return
    store = Store(e.time, key, str(e.fields.get("digest", "")), bool(e.fields.get("duplicate_key")))
    b.readings[rid]["stores"].append(store)


def _recognised(b: _Builder, e: TraceEvent) -> None:
    key = str(e.fields.get("key", ""))
    if key not in b.stored_keys:
        b.anomaly(e, f"the cloud recognised key {key}, which it never stored")


def _fault_kind(e: TraceEvent) -> str:
    return str(e.fields.get("kind", e.fields.get("fault_kind", "")))


def _transport_attempt(b: _Builder, e: TraceEvent) -> None:
    # "fail" only: an answer lost on its way back ("unknown") never reached the machine
    answer = str(e.fields.get("cloud", ""))
    if e.fields.get("outcome") == "fail" and answer.removeprefix("error:") in OFFLINE_CODES:
        wait = b.promises[-1].offline_wait_s if b.promises else 0.0
        b.pause_end = max(e.time + wait, b.pause_end or 0.0)


def _promise(b: _Builder, e: TraceEvent) -> None:
    try:
        window = float(e.fields["durability_window_s"])
        wait = float(e.fields["offline_wait_s"])
    except (KeyError, TypeError, ValueError):
        b.anomaly(e, "a promise without a durability window and an offline interval")
        return
    disabled = e.fields.get("sync_disabled", False)
    if not isinstance(disabled, bool):
        b.anomaly(e, f"a promise whose sync_disabled is not true or false: {disabled!r}")
        return
    try:
        interval, stale = (
            None if e.fields.get(name) is None else float(e.fields[name])
            for name in ("sync_interval_s", "stale_warning_s")
        )
    except (TypeError, ValueError):
        b.anomaly(e, "a promise whose sync interval or stale-data warning is not a number")
        return
    b.promises.append(Promise(e.time, window, wait, disabled, interval, stale))


def _stale(b: _Builder, e: TraceEvent) -> None:
    try:
        age = float(e.fields["oldest_age_s"])
    except (KeyError, TypeError, ValueError):
        b.anomaly(e, "a stale-data warning without the age it warned about")
        return
    b.stale_warnings.append(StaleWarning(e.time, age))


def _manual_sync(b: _Builder, e: TraceEvent) -> None:
    ends = ("uploaded", "failed", "terminal", "deferred", "gone")
    try:
        dispatched, ended = int(e.fields["dispatched"]), sum(int(e.fields[k]) for k in ends)
    except (KeyError, TypeError, ValueError):
        b.anomaly(e, "a manual Sync()'s report without its counts")
        return
    if ended != dispatched:
        b.anomaly(e, f"a manual Sync() dispatched {dispatched} file(s) but says how {ended} ended")


def _look_spacing(b: _Builder, e: TraceEvent) -> None:
    try:
        every = float(e.fields["every_s"])
    except (KeyError, TypeError, ValueError):
        b.anomaly(e, "a look spacing without the seconds between looks")
        return
    b.longest_look_spacing_s = max(b.longest_look_spacing_s, every)


def _fault_start(b: _Builder, e: TraceEvent) -> None:
    b.fault_starts[str(e.fields.get("fault_id"))] = (_fault_kind(e), e.time)


def _fault_end(b: _Builder, e: TraceEvent) -> None:
    fault_id = str(e.fields.get("fault_id"))
    kind, start = b.fault_starts.pop(fault_id, (_fault_kind(e), e.time))
    b.faults.append(FaultWindow(fault_id, kind, start, e.time))


def _sequence_counted(b: _Builder, e: TraceEvent) -> None:
    b.sequence_counts[e.kind.removeprefix("sequence.")] += 1


def _sequence_closed(b: _Builder, e: TraceEvent) -> None:
    b.sequences_closed.add(str(e.fields.get("fingerprint")))
    path = str(e.fields.get("path", ""))
    preloaded = not path.startswith("/")  # the preload names it relative to the capture dir
    b.file_spans[path] = FileSpan(path, -math.inf if preloaded else e.time, None)


def _sequence_stored(b: _Builder, e: TraceEvent) -> None:
    fingerprint = str(e.fields.get("fingerprint"))
    if fingerprint not in b.sequences_closed:
        b.anomaly(e, f"sequence {fingerprint} stored but never recorded as closed")
    if not e.fields.get("duplicate_key"):
        b.sequences_stored[fingerprint] = b.sequences_stored.get(fingerprint, 0) + 1


def _sequence_tally(b: _Builder) -> SequenceTally:
    stored = b.sequences_stored
    return SequenceTally(
        **b.sequence_counts,
        closed=len(b.sequences_closed),
        stored=len(stored),
        pending=len(b.sequences_closed - set(stored)),
        duplicated=sum(1 for times in stored.values() if times > 1),
    )


def _arbitrary_written(b: _Builder, e: TraceEvent) -> None:
    path = str(e.fields.get("path"))
    if path in b.arbitrary_written:
        b.anomaly(e, f"{path} written twice")
    b.arbitrary_written[path] = str(e.fields.get("digest"))
    try:
        writing_s = float(e.fields.get("writing_s", 0.0))
    except (TypeError, ValueError):
        b.anomaly(e, f"{path}: a writing time that is not a number")
        writing_s = 0.0
    b.file_spans[path] = FileSpan(path, e.time - writing_s, None)


def _arbitrary_stored(b: _Builder, e: TraceEvent) -> None:
    if not e.fields.get("duplicate_key"):
        b.arbitrary_stored.setdefault(str(e.fields.get("path")), []).append(
            str(e.fields.get("digest"))
        )


def _arbitrary_tally(b: _Builder) -> ArbitraryFileTally:
    fates = dict.fromkeys((c for c in ARBITRARY_FILE_COUNTS if c != "written"), 0)
    for path in b.arbitrary_written.keys() | b.arbitrary_stored.keys():
        stored = b.arbitrary_stored.get(path, [])
        whole = stored.count(b.arbitrary_written.get(path, ""))
        if whole < len(stored):  # bytes no writer completed: a file sent half written
            fates["corrupted"] += 1
        elif whole > 1:
            fates["duplicated"] += 1
        elif whole:
            fates["stored"] += 1
        else:
            fates["lost" if path in b.arbitrary_deleted else "pending"] += 1
    return ArbitraryFileTally(written=len(b.arbitrary_written), **fates)


_HANDLERS = {
    "reading.captured": _captured,
    "capture.skipped": _skipped,
    "reading.dropped": _dropped,
    "file.completed": _completed,
    "file.preloaded": _preloaded,
    "recovery.torn": _recovered,
    "file.deleted_by_policy": _policy,
    "disk_policy.delete_failed": _policy_failed,
    "file.quarantined": _quarantined,
    "sync.deleted": _sync_deleted,
    "process.crash": _crash,
    "process.stop": _stop,
    "process.restart": _restart,
    "upload.attempt": _attempt,
    "net.transport.attempt": _transport_attempt,
    "world.promise": _promise,
    "sync.stale": _stale,
    "sync.look_spacing": _look_spacing,
    "sync.manual": _manual_sync,
    "cloud.stored": _stored,
    "cloud.recognised": _recognised,
    "fault.start": _fault_start,
    "fault.end": _fault_end,
    "sequence.opened": _sequence_counted,
    "sequence.orphaned": _sequence_counted,
    "sequence.lost": _sequence_counted,
    "sequence.closed": _sequence_closed,
    "cloud.sequence_stored": _sequence_stored,
    "file.written": _arbitrary_written,
    "cloud.file_stored": _arbitrary_stored,
}


class FilesOnDisk:
    """Which readings each file on the machine holds, to name the readings of a file sync gave
    up on: ``sync.failed`` {file, reason} carries no reading ids, so the world (simulated or
    judged from a real trace) records a ``file.quarantined`` with the ids this follows."""

    def __init__(self) -> None:
        self._held: dict[str, list[Any]] = {}
        self._policy_deleted: dict[str, list[Any]] = {}  # back if the unlink failed

    def follow(self, kind: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """Update from one event; for ``sync.failed``, the ``file.quarantined`` fields."""
        if kind in ("file.completed", "file.preloaded"):
            path = str(fields.get("path"))
            if path.endswith(".prog"):  # a preloaded open file: recovery renames it
                path = path[: -len(".prog")] + ".capture"
            self._held[path] = list(fields.get("ids") or ())
        elif kind == "recovery.torn":
            self._held[str(fields.get("recovered_as"))] = list(fields.get("ids_kept") or ())
        elif kind == "sync.deleted":
            self._held.pop(str(fields.get("file")), None)
        elif kind == "file.deleted_by_policy":
            path = str(fields.get("path"))
            self._policy_deleted[path] = self._held.pop(path, [])
        elif kind == "disk_policy.delete_failed":
            path = str(fields.get("path"))
            if path in self._policy_deleted:
                self._held[path] = self._policy_deleted.pop(path)
        elif kind == "sync.failed":
            path = str(fields.get("file", ""))
            reason = fields.get("reason", "")
            return {"path": path, "reason": reason, "ids": self._held.pop(path, [])}
        return None


def build_ledger(events: Iterable[TraceEvent]) -> Ledger:
    """The ledger of one run's trace."""
    b = _Builder()
    for event in events:
        b.feed(event)
    readings = tuple(
        ReadingRecord(
            rid=r["rid"],
            captured_at=r["captured_at"],
            digest=r["digest"],
            durable_at=r["durable_at"],
            files=tuple(r["files"]),
            removed_files=tuple(r["removed_files"]),
            stores=tuple(r["stores"]),
            policy_deleted=r["policy_deleted"],
            quarantined=r["quarantined"],
            dropped=r["dropped"],
            preloaded=r["preloaded"],
        )
        for r in b.readings.values()
    )
    open_faults = [
        FaultWindow(fault_id, kind, start, None)
        for fault_id, (kind, start) in b.fault_starts.items()
    ]
    recovered = sum(1 for key in b.unknown_keys if key in b.stored_keys)
    return Ledger(
        readings=readings,
        skipped=b.skipped,
        uploads=UploadTally(
            **b.uploads, recovered=recovered, by_code=dict(sorted(b.codes.items()))
        ),
        files=FileTally(**b.file_tally),
        crashes=tuple(b.crashes),
        restarts=tuple(b.restarts),
        stops=tuple(b.stops),
        faults=tuple(sorted([*b.faults, *open_faults], key=lambda w: (w.start, w.fault_id))),
        anomalies=tuple(b.anomalies),
        sequences=_sequence_tally(b),
        arbitrary_files=_arbitrary_tally(b),
        pause_end=b.pause_end,
        promises=tuple(b.promises),
        stale_warnings=tuple(b.stale_warnings),
        file_spans=tuple(b.file_spans.values()),
        longest_look_spacing_s=b.longest_look_spacing_s,
    )
