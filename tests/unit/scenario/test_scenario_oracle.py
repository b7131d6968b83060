"""The delivery oracle on hand-built traces with known ground truth."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.scenario.scenario_kit import TraceBuilder

from dmsim.scenario import (
    CLASSES,
    Expectations,
    OracleOptions,
    build_ledger,
    classify_all,
    judge,
)
from dmsim.scenario._expect import check_arbitrary_files, check_sequences
from dmsim.scenario._ledger import ArbitraryFileTally, FilesOnDisk, SequenceTally

WINDOW = 1.0
CRASH_AT = 2000.0
RESTART_AT = 2001.0
END = 5000.0
DRAIN = 100.0
LATE = 50.0

# fate → the class the oracle must give it
FATES = {
    "delivered": "delivered",
    "delivered_reacked": "delivered",
    "late": "late",
    "duplicated": "duplicated",
    "corrupted": "corrupted",
    "policy": "deleted_by_policy",
    "quarantined": "quarantined",
    "dropped": "dropped",
    "dropped_unexplained": "lost",
    "removed_unstored": "lost",
    "crash_in_window": "lost_in_window",
    "crash_beyond_window": "lost",
    "recovered_then_delivered": "delivered",
    "pending": "pending",
    "stuck": "lost",
}


@dataclass
class Ev:
    t: float
    order: int
    kind: str
    fields: dict[str, object]


def history(fates: list[str], data: st.DataObject) -> tuple[list[Ev], list[tuple[str, int, int]]]:
    """Events realising each reading's fate (one stream per reading, boot 0)."""
    events: list[Ev] = []
    ids = []

    def add(t: float, kind: str, **fields: object) -> None:
        events.append(Ev(t, len(events), kind, fields))

    for i, fate in enumerate(fates):
        stream = f"s{i}"
        rid = [stream, 0, 0]
        ids.append((stream, 0, 0))
        path = f"/c/{stream}.capture"
        t = 2.0 * i
        if fate == "crash_in_window":
            t = CRASH_AT - data.draw(st.floats(0.0, WINDOW * 0.99))
        elif fate in ("crash_beyond_window", "recovered_then_delivered"):
            t = CRASH_AT - 5 - data.draw(st.floats(0.0, 30.0))
        elif fate == "pending":
            t = END - data.draw(st.floats(1.0, DRAIN - 1))
        elif fate == "stuck":
            t = 3000.0 + i
        add(t, "reading.captured", stream=stream, boot=0, seq=0, digest=f"d{i}")
        in_file = fate not in (
            "dropped",
            "dropped_unexplained",
            "crash_in_window",
            "crash_beyond_window",
            "recovered_then_delivered",
        )
        if in_file and not (fate == "pending" and data.draw(st.booleans())):
            add(t + 0.5, "file.completed", path=path, ids=[rid])
        store = {"stream": stream, "boot": 0, "seq": 0, "digest": f"d{i}", "duplicate_key": False}
        latency = data.draw(st.floats(1.0, LATE - 1))
        if fate in ("delivered", "delivered_reacked"):
            add(t + latency, "cloud.stored", key=f"k{i}", **store)
            if fate == "delivered_reacked":
                add(
                    t + latency + 1, "cloud.stored", key=f"k{i}", **{**store, "duplicate_key": True}
                )
        elif fate == "late":
            add(t + LATE + latency, "cloud.stored", key=f"k{i}", **store)
        elif fate == "duplicated":
            add(t + latency, "cloud.stored", key=f"k{i}", **store)
            add(t + latency + 3, "cloud.stored", key=f"k{i}/again", **store)
        elif fate == "corrupted":
            add(t + latency, "cloud.stored", key=f"k{i}", **{**store, "digest": "garbage"})
        elif fate == "policy":
            add(t + 2, "file.deleted_by_policy", path=path, rule="every_5th", ids=[rid])
        elif fate == "quarantined":
            add(t + 2, "file.quarantined", path=path, reason="bad header", ids=[rid])
        elif fate == "dropped":  # at a close that waited out a disk refusing writes
            eio = {"fault_id": f"eio{i}", "fault_kind": "disk_eio"}
            add(t + 0.1, "fault.start", **eio)
            add(t + 0.5, "reading.dropped", reason="disk unwritable at close", ids=[rid])
            add(t + 0.6, "fault.end", **eio)
        elif fate == "dropped_unexplained":  # long after any disk fault
            add(3500.0 + i, "reading.dropped", reason="disk unwritable at close", ids=[rid])
        elif fate == "removed_unstored":
            add(t + 2, "sync.deleted", file=path)
        elif fate == "recovered_then_delivered":
            prog = f"/c/{stream}.prog"
            add(RESTART_AT + 0.1, "recovery.torn", path=prog, dropped_bytes=7, ids_kept=[rid])
            add(RESTART_AT + 5, "cloud.stored", key=f"k{i}", **store)
    add(CRASH_AT, "process.crash")
    add(RESTART_AT, "process.restart", boot=1)
    events.sort(key=lambda e: (e.t, e.order))
    return events, ids


def build(events: list[Ev]) -> TraceBuilder:
    tb = TraceBuilder()
    for e in events:
        tb.at(e.t).event(e.kind, **e.fields)
    return tb


OPTIONS = OracleOptions(
    durability_window_s=WINDOW,
    run_end=END,
    late_after_s=LATE,
    drain_within_s=DRAIN,
    drain_from=RESTART_AT,
)


@settings(max_examples=150)
@given(st.lists(st.sampled_from(sorted(FATES)), max_size=40), st.data())
def test_every_reading_lands_in_exactly_its_class(fates: list[str], data: st.DataObject) -> None:
    events, ids = history(fates, data)
    ledger = build_ledger(build(events).trace)
    assert ledger.anomalies == ()
    assert ledger.last_fault_end() == RESTART_AT
    classified = classify_all(ledger, OPTIONS)
    assert sorted(c.rid for c in classified) == sorted(ids)  # one verdict per reading
    assert {c.rid: c.cls for c in classified} == {
        rid: FATES[fate] for rid, fate in zip(ids, fates, strict=True)
    }
    counts = Counter(c.cls for c in classified)
    assert sum(counts.values()) == len(fates)
    assert set(counts) <= set(CLASSES)
    for c in classified:
        assert (c.violation is not None) == (c.cls in ("lost", "duplicated", "corrupted", "late"))
        assert c.why


@given(st.lists(st.sampled_from(sorted(FATES)), max_size=30), st.data())
def test_judge_counts_add_up(fates: list[str], data: st.DataObject) -> None:
    events, _ = history(fates, data)
    expect = Expectations(late_after_s=LATE, drain_within_s=DRAIN)
    verdict = judge(build(events).result(end=END, window=WINDOW), expect)
    assert sum(verdict.counts.values()) == verdict.captured == len(fates)
    bad = sum(n for cls, n in verdict.counts.items() if cls not in expect.allowed | {"delivered"})
    assert verdict.violation_total == bad
    allowed = next(e for e in verdict.expectations if e.name == "allowed_classes")
    assert allowed.ok == (bad == 0)


def test_unknown_attempts_that_landed_are_recovered() -> None:
    tb = TraceBuilder().captured("s", 0, 0).captured("s", 0, 1)
    tb.at(1).event("file.completed", path="/a.capture", ids=[["s", 0, 0], ["s", 0, 1]])
    tb.at(2).stored("s", 0, 0, "K").stored("s", 0, 1, "K")
    tb.event(
        "upload.attempt",
        file="/a.capture",
        key="K",
        rpc="DataCaptureUpload",
        outcome="unknown",
        code="DEADLINE_EXCEEDED",
    )
    tb.at(3).event(
        "upload.attempt", file="/b.capture", key="L", rpc="FileUpload", outcome="unknown", code=""
    )
    tb.at(4).event(
        "upload.attempt", file="/a.capture", key="K", rpc="DataCaptureUpload", outcome="ok", code=""
    )
    tb.event(
        "upload.attempt",
        file="/c.capture",
        key="M",
        rpc="DataCaptureUpload",
        outcome="fail",
        code="UNAVAILABLE",
    )
    ledger = build_ledger(tb.trace)
    assert (ledger.uploads.ok, ledger.uploads.fail, ledger.uploads.unknown) == (1, 1, 2)
    assert ledger.uploads.recovered == 1
    assert dict(ledger.uploads.by_code) == {"DEADLINE_EXCEEDED": 1, "OK": 2, "UNAVAILABLE": 1}


def test_inconsistent_traces_are_anomalies() -> None:
    tb = TraceBuilder().captured("s", 0, 0).captured("s", 0, 0)
    tb.stored("ghost", 0, 9, "K")
    tb.event("file.completed", path="/x", ids=[["s", 0, 0], ["nope"], ["s", 0, 5]])
    tb.event("upload.attempt", key="K", outcome="maybe")
    tb.event("reading.captured", stream="s")
    anomalies = build_ledger(tb.trace).anomalies
    assert len(anomalies) == 6
    assert "captured twice" in anomalies[0]
    assert "never captured" in anomalies[1]
    verdict = judge(tb.result(end=10), Expectations())
    consistent = next(e for e in verdict.expectations if e.name == "trace_consistent")
    assert not consistent.ok
    assert not verdict.passed


def test_a_resend_recognised_under_a_key_never_stored_is_an_anomaly() -> None:
    tb = TraceBuilder().captured("s", 0, 0).stored("s", 0, 0, "K")
    tb.event("cloud.recognised", key="K", readings=1)
    tb.event("cloud.recognised", key="L", readings=1)
    ledger = build_ledger(tb.trace)
    (anomaly,) = ledger.anomalies
    assert "recognised key L, which it never stored" in anomaly
    ((store,),) = [r.stores for r in ledger.readings]
    assert store.key == "K"


def test_an_upload_of_a_file_a_policy_deleted_is_an_anomaly() -> None:
    """A file being uploaded is never deleted by policy, and one deleted is never uploaded:
    a request for it after the deletion breaks that, unless a crash before the directory
    fsync brought the file back."""
    tb = TraceBuilder().at(1).captured("s", 0, 0).captured("s", 0, 1)
    tb.at(2).event("file.completed", path="/a.capture", ids=[["s", 0, 0]])
    tb.event("file.completed", path="/b.capture", ids=[["s", 0, 1]])
    tb.at(3).event("file.deleted_by_policy", path="/a.capture", rule="byte_cap", ids=[["s", 0, 0]])
    tb.event("file.deleted_by_policy", path="/b.capture", rule="byte_cap", ids=[["s", 0, 1]])
    tb.at(4).event("upload.attempt", file="/a.capture", key="A", outcome="ok", code="")
    tb.event("sync.deleted", file="/a.capture")  # its upload ran while the rule deleted it
    tb.at(5).event("process.crash").at(6).event("process.restart", boot=1)
    tb.at(7).event("upload.attempt", file="/b.capture", key="B", outcome="ok", code="")
    tb.event("sync.deleted", file="/b.capture")
    first, second = build_ledger(tb.trace).anomalies
    assert "upload of /a.capture after rule 'byte_cap' deleted it at 3.000s" in first
    assert "sync deleted /a.capture after rule 'byte_cap' deleted it at 3.000s" in second


def test_a_policy_deletion_whose_unlink_failed_explains_nothing() -> None:
    """Regression (fuzz, esp32-remote seed 2222): the core records a deletion before its
    unlink (so a kill in between cannot lose the record) and says so when the unlink fails;
    the judge kept the readings "deleted by policy" and called the file's later upload an
    anomaly. A file still on disk explains no loss."""
    tb = TraceBuilder().at(1).captured("s", 0, 0).captured("s", 0, 1)
    tb.at(2).event("file.completed", path="/a.capture", ids=[["s", 0, 0]])
    tb.event("file.completed", path="/b.capture", ids=[["s", 0, 1]])
    for path, seq in (("/a.capture", 0), ("/b.capture", 1)):
        tb.at(3).event("file.deleted_by_policy", path=path, rule="byte_cap", ids=[["s", 0, seq]])
    tb.event("disk_policy.delete_failed", path="/a.capture", rule="byte_cap", error="EIO")
    tb.at(4).event("upload.attempt", file="/a.capture", key="A", outcome="fail", code="INTERNAL")
    ledger = build_ledger(tb.trace)
    assert ledger.anomalies == ()
    assert ledger.files.deleted_by_policy == 1
    options = OracleOptions(durability_window_s=1.0, run_end=10)
    assert [c.cls for c in classify_all(ledger, options)] == ["pending", "deleted_by_policy"]
    held = FilesOnDisk()
    for event in tb.trace.of_kind("file.completed", "file.deleted_by_policy",
                                  "disk_policy.delete_failed"):  # fmt: skip
        held.follow(event.kind, event.fields)
    quarantined = held.follow("sync.failed", {"file": "/a.capture", "reason": "bad"})
    assert quarantined == {"path": "/a.capture", "reason": "bad", "ids": [["s", 0, 0]]}


@pytest.mark.parametrize(
    ("preloaded", "synced"), [("/f.capture", "/f.capture"), ("/g.prog", "/g.capture")]
)
def test_a_preloaded_file_sync_gives_up_on_quarantines_its_readings(
    preloaded: str, synced: str
) -> None:
    """Regression: a replayed field file the cloud refused (a reading dated 2570) was moved
    to failed/, but its readings were judged lost ("still on the machine"): the world followed
    the files it completed, not the ones preloaded onto its disk."""
    tb = TraceBuilder().at(0).event("file.preloaded", path=preloaded, ids=[["s", 0, 0]])
    held = FilesOnDisk()
    for event in tb.trace.of_kind("file.preloaded"):
        held.follow(event.kind, event.fields)
    quarantined = held.follow("sync.failed", {"file": synced, "reason": "INVALID_ARGUMENT"})
    assert quarantined == {"path": synced, "reason": "INVALID_ARGUMENT", "ids": [["s", 0, 0]]}


def test_durable_before_the_crash_survives_it_and_queue_drain_widens_the_window() -> None:
    tb = TraceBuilder().at(10).captured("s", 0, 0).at(10.5).captured("s", 0, 1)
    tb.at(11).event("file.completed", path="/f", ids=[["s", 0, 0]])
    tb.at(11.8).event("process.crash").at(12).event("process.restart", boot=1)
    ledger = build_ledger(tb.trace)
    tight = OracleOptions(durability_window_s=1.0, run_end=20)
    assert [c.cls for c in classify_all(ledger, tight)] == ["pending", "lost"]
    loose = OracleOptions(durability_window_s=1.0, queue_drain_s=0.5, run_end=20)
    assert [c.cls for c in classify_all(ledger, loose)] == ["pending", "lost_in_window"]


def test_a_crash_takes_what_the_window_promised_at_capture_allows() -> None:
    """Each reading is held to the durability window promised when it was captured (a
    reconfigure changes it); before the first promise, the options' window."""
    tb = TraceBuilder().at(0).event("world.promise", durability_window_s=5.0, offline_wait_s=60)
    tb.at(10).captured("s", 0, 0)  # 5 s window: a crash at 14 s may take it
    tb.at(12).event("world.promise", durability_window_s=1.0, offline_wait_s=60)
    tb.at(12).captured("s", 0, 1)  # 1 s window from 12 s on: not 2 s later
    tb.at(14).event("process.crash").at(15).event("process.restart", boot=1)
    ledger = build_ledger(tb.trace)
    options = OracleOptions(durability_window_s=9, run_end=20, promises=ledger.promises)
    classes = [c.cls for c in classify_all(ledger, options)]
    assert classes == ["lost_in_window", "lost"]
    before_any = OracleOptions(durability_window_s=9, run_end=20, promises=ledger.promises[1:])
    assert before_any.crash_window_at(10) == 9
    assert before_any.crash_window_at(12) == 1


@pytest.mark.parametrize(
    ("crash_at", "cls"),
    [(15.0, "lost_in_window"), (24.0, "lost_in_window"), (24.1, "lost")],
    ids=["while-refused", "two-windows-after", "later"],
)
def test_a_disk_that_refused_writes_extends_what_a_crash_may_take(
    crash_at: float, cls: str
) -> None:
    """Writes refused from 5 to 20 s: a reading captured at 10 s cannot be durable before
    then; it may be lost until two crash windows (2 s each here) after the refusal ends."""
    tb = (
        TraceBuilder()
        .at(5)
        .event("fault.start", fault_id="f1", fault_kind="disk_eio", params={"ops": ["write"]})
    )
    tb.at(10).captured("s", 0, 0).at(20).event("fault.end", fault_id="f1", fault_kind="disk_eio")
    tb.at(crash_at).event("process.crash").at(crash_at + 1).event("process.restart", boot=1)
    ledger = build_ledger(tb.trace)
    assert ledger.disk_refusals() == ((5.0, 20.0),)
    options = OracleOptions(durability_window_s=1.0, queue_drain_s=1.0, run_end=100)
    (classified,) = classify_all(ledger, options)
    assert classified.cls == cls
    if cls == "lost_in_window":
        assert "the disk refused writes to 20.000s" in classified.why


def test_a_refusal_long_over_or_after_the_crash_changes_nothing() -> None:
    tb = TraceBuilder().at(1).event("fault.start", fault_id="f1", fault_kind="disk_fill")
    tb.at(2).event("fault.end", fault_id="f1", fault_kind="disk_fill")
    tb.at(10).captured("s", 0, 0)
    tb.at(13).event("process.crash").at(14).event("process.restart", boot=1)
    tb.at(15).event("fault.start", fault_id="f2", fault_kind="disk_eio")
    ledger = build_ledger(tb.trace)
    assert ledger.disk_refusals() == ((1.0, 2.0), (15.0, math.inf))
    options = OracleOptions(durability_window_s=1.0, queue_drain_s=1.0, run_end=100)
    assert classify_all(ledger, options)[0].cls == "lost"


def test_a_manual_sync_that_loses_count_of_a_file_it_dispatched_is_an_anomaly() -> None:
    ends = {"uploaded": 2, "failed": 1, "terminal": 0, "deferred": 1, "gone": 0}
    tb = TraceBuilder().at(10).event("sync.manual", dispatched=4, **ends)
    tb.at(20).event("sync.manual", dispatched=5, **ends)
    tb.at(30).event("sync.manual", dispatched=1)
    anomalies = build_ledger(tb.trace).anomalies
    assert len(anomalies) == 2
    assert "a manual Sync() dispatched 5 file(s) but says how 4 ended" in anomalies[0]
    assert "a manual Sync()'s report without its counts" in anomalies[1]


def test_a_promise_without_its_numbers_is_an_anomaly() -> None:
    tb = TraceBuilder().at(0).event("world.promise", durability_window_s=1.0)
    ledger = build_ledger(tb.trace)
    assert ledger.promises == ()
    assert "a promise without a durability window and an offline interval" in ledger.anomalies[0]


def test_liveness_waits_for_faults_still_active() -> None:
    tb = TraceBuilder().at(1).event("fault.start", fault_id="f1", fault_kind="link_down")
    tb.at(2).captured("s", 0, 0)
    ledger = build_ledger(tb.trace)
    assert math.isinf(ledger.last_fault_end())
    options = OracleOptions(
        durability_window_s=1, run_end=1000, drain_within_s=10, drain_from=math.inf
    )
    assert classify_all(ledger, options)[0].cls == "pending"
    tb.at(3).event("fault.start", fault_id="f2", fault_kind="crash")
    assert math.isinf(build_ledger(tb.trace).last_fault_end())  # f1 still open, crash instant
    closed = TraceBuilder().at(3).event("fault.start", fault_id="f2", fault_kind="crash")
    assert build_ledger(closed.trace).last_fault_end() == 3


def test_violations_name_the_reading_and_why() -> None:
    tb = TraceBuilder().at(5).captured("cam/ReadImage", 2, 41)
    tb.at(6).event("file.completed", path="/x.capture", ids=[["cam/ReadImage", 2, 41]])
    tb.at(7).event("sync.deleted", file="/x.capture")
    verdict = judge(tb.result(end=100), Expectations())
    (violation,) = verdict.violations
    assert violation.cls == "lost"
    assert violation.reading == "cam/ReadImage@2#41"
    assert "/x.capture was deleted at 7.000s" in violation.why
    assert violation.kind == "safety"
    assert not verdict.passed


@pytest.mark.parametrize("allowed", [frozenset({"lost"}), frozenset()])
def test_allowed_classes_decide(allowed: frozenset[str]) -> None:
    tb = TraceBuilder().at(5).captured("s", 0, 0)
    tb.at(5.5).event("fault.start", fault_id="f1", fault_kind="disk_eio")
    tb.at(6).event("reading.dropped", stream="s", boot=0, seq=0, reason="x")
    tb.at(6.5).event("fault.end", fault_id="f1", fault_kind="disk_eio")
    tb.at(7).captured("s", 0, 1).at(8).stored("s", 0, 1, "k")
    verdict = judge(tb.result(end=100), Expectations(allowed=allowed))
    assert verdict.counts["dropped"] == 1
    assert verdict.counts["delivered"] == 1  # delivered is always allowed
    assert verdict.violation_total == 1
    assert not verdict.passed


def test_recovered_files_are_followed_under_their_new_name() -> None:
    tb = TraceBuilder().at(1).captured("s", 0, 0).captured("s", 0, 1)
    tb.at(5).event("process.crash").at(6).event("process.restart", boot=1)
    tb.at(6.5).event(
        "recovery.torn",
        path="/c/a.prog",
        dropped_bytes=10,
        ids_kept=[["s", 0, 0], ["s", 0, 1]],
        recovered_as="/c/a-recovered.capture",
    )
    tb.at(7).stored("s", 0, 0, "k").event("sync.deleted", file="/c/a-recovered.capture")
    ledger = build_ledger(tb.trace)
    assert ledger.files.recovered == 1
    assert ledger.files.torn_bytes == 10
    classes = [c.cls for c in classify_all(ledger, OracleOptions(durability_window_s=1, run_end=9))]
    assert classes == ["delivered", "lost"]  # the second was deleted with its file, never stored


def test_clean_stops_are_downtime_and_must_keep_every_reading() -> None:
    tb = TraceBuilder().at(1).captured("s", 0, 0).captured("s", 0, 1)
    tb.at(1.5).event("file.completed", path="/f", ids=[["s", 0, 0]])
    tb.at(2).event("process.stop").at(50).event("process.restart", boot=1)
    tb.at(51).captured("s", 1, 0)
    ledger = build_ledger(tb.trace)
    assert ledger.down_intervals(60) == [(2, 50)]
    assert ledger.crashes == ()
    kept, forgotten, _ = classify_all(ledger, OracleOptions(durability_window_s=5, run_end=60))
    assert kept.cls == "pending"
    assert forgotten.cls == "lost"  # even inside the durability window: nobody pulled the plug
    assert forgotten.violation == "safety"
    assert "shut down cleanly at 2.000s" in forgotten.why


def test_sequences_are_tallied_by_fate_and_a_duplicate_fails_the_check() -> None:
    tb = TraceBuilder()
    tb.at(1).event("sequence.opened", id="a").event("sequence.opened", id="b")
    tb.at(2).event("sequence.closed", id="a", path="a.seq", fingerprint="fa")
    tb.at(3).event("sequence.closed", id="b", path="b.seq", fingerprint="fb")
    tb.at(4).event("sequence.opened", id="c").event("sequence.orphaned", path="c", reason="crash")
    tb.at(5).event("cloud.sequence_stored", fingerprint="fa", key="k", duplicate_key=False)
    tb.at(6).event("cloud.sequence_stored", fingerprint="fa", key="k", duplicate_key=True)
    ledger = build_ledger(tb.trace)
    assert ledger.sequences == SequenceTally(opened=3, closed=2, stored=1, pending=1, orphaned=1)
    assert ledger.anomalies == ()
    assert check_sequences(ledger.sequences).ok  # a pending one is still on disk
    tb.at(7).event("cloud.sequence_stored", fingerprint="fa", key="k2", duplicate_key=False)
    tb.at(8).event("cloud.sequence_stored", fingerprint="zz", key="k3", duplicate_key=False)
    again = build_ledger(tb.trace)
    assert again.sequences.duplicated == 1
    assert not check_sequences(again.sequences).ok
    (anomaly,) = again.anomalies
    assert "sequence zz stored but never recorded as closed" in anomaly


def test_files_written_into_sync_paths_are_tallied_by_fate() -> None:
    tb = TraceBuilder()
    for path in ("once", "twice", "half", "gone", "waiting"):
        tb.at(1).event("file.written", path=path, size=10, digest=f"d-{path}")
    tb.at(2).event("cloud.file_stored", path="once", digest="d-once", key="k1", duplicate_key=False)
    tb.at(3).event("cloud.file_stored", path="once", digest="d-once", key="k1", duplicate_key=True)
    for key in ("k2", "k3"):  # two keys for one file: the cloud shows it twice
        tb.at(4).event("cloud.file_stored", path="twice", digest="d-twice", key=key,
                       duplicate_key=False)  # fmt: skip
    tb.at(5).event(
        "cloud.file_stored", path="half", digest="partial", key="k4", duplicate_key=False
    )
    tb.at(6).event("sync.deleted", file="gone")
    ledger = build_ledger(tb.trace)
    assert ledger.arbitrary_files == ArbitraryFileTally(
        written=5, stored=1, pending=1, lost=1, duplicated=1, corrupted=1
    )
    result = check_arbitrary_files(ledger.arbitrary_files)
    assert not result.ok
    assert result.detail == "5 written: 1 stored, 1 pending; 1 lost, 1 duplicated, 1 corrupted"


FILE_FATES = ("stored", "pending", "lost", "duplicated", "corrupted")


@given(st.lists(st.sampled_from(FILE_FATES), max_size=12), st.integers(0, 3))
def test_every_file_written_or_stored_has_exactly_one_fate(fates: list[str], strays: int) -> None:
    """Each file ends in one class; bytes stored under a path no writer completed (a file sent
    while being written, the writer then stopped) count as corrupted."""
    tb = TraceBuilder().at(1)
    for n, fate in enumerate(fates):
        path, digest = f"f{n}", f"d{n}"
        tb.event("file.written", path=path, size=1, digest=digest)
        stores = {"stored": [digest], "duplicated": [digest, digest], "corrupted": ["x", digest],
                  "lost": [], "pending": []}[fate]  # fmt: skip
        for i, stored in enumerate(stores):
            tb.event("cloud.file_stored", path=path, digest=stored, key=f"{path}-{i}",
                     duplicate_key=False)  # fmt: skip
        if fate == "lost":
            tb.event("sync.deleted", file=path)
    for n in range(strays):
        tb.event("cloud.file_stored", path=f"stray{n}", digest="x", key=f"s{n}",
                 duplicate_key=False)  # fmt: skip
    tally = build_ledger(tb.trace).arbitrary_files
    expected = Counter(fates)
    expected["corrupted"] += strays
    assert {fate: getattr(tally, fate) for fate in FILE_FATES} == {
        f: expected[f] for f in FILE_FATES
    }
    assert tally.written == len(fates)
    violations = set(fates) & {"lost", "duplicated", "corrupted"}
    assert check_arbitrary_files(tally).ok == (not violations and not strays)
