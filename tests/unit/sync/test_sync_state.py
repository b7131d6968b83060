"""The retry book, the in-use tracker, settings validation and the stale-data rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ConfigError
from dmsim.sync import (
    BackoffPolicy,
    Candidate,
    ErrorClass,
    FileKind,
    InUseTracker,
    RetryBook,
    SyncRoot,
    SyncSettings,
    backlog_look_every_s,
    default_sync_threads,
    stale_threshold_s,
    stale_warning_due,
)


class Fixed:
    def random(self) -> float:
        return 0.0


def book() -> RetryBook:
    return RetryBook(rng=Fixed(), policy=BackoffPolicy(jitter=0.0))


def candidate(path: str) -> Candidate:
    return Candidate(path, FileKind.CAPTURE, SyncRoot("/", True), 10, 0)


def fail(
    b: RetryBook,
    path: str,
    now: float,
    cls: ErrorClass = ErrorClass.RETRYABLE,
    *,
    answered: bool = False,
) -> float:
    return b.record_failure(
        candidate(path),
        cls,
        code="X",
        acked=frozenset({"a"}),
        unknown=frozenset({"u"}),
        now=now,
        cloud_answered=answered,
    )


def test_retries_come_due_in_order_and_the_next_one_is_known() -> None:
    b = book()
    fail(b, "/b", 10.0)  # due at 10.2
    fail(b, "/a", 10.1)  # due at 10.3
    fail(b, "/c", 10.0, ErrorClass.OFFLINE)  # paused, not backing off: no retry of its own
    assert b.next_retry_after(0.0) == pytest.approx(10.2)
    assert b.next_retry_after(10.2) == pytest.approx(10.3)
    assert b.next_retry_after(10.3) is None
    assert [c.path for c in b.due_retries(10.25)] == ["/b"]
    assert [c.path for c in b.due_retries(10.3)] == ["/a", "/b"]  # path order
    assert b.due_retries(10.3)[0] == candidate("/a")  # as attempted: kind and root kept


def test_a_failing_file_waits_and_doubles() -> None:
    b = book()
    assert b.due("/f", 0.0)
    assert fail(b, "/f", 10.0) == pytest.approx(0.2)
    assert not b.due("/f", 10.1)
    assert b.due("/f", 10.2)
    assert fail(b, "/f", 11.0) == pytest.approx(0.4)
    state = b.get("/f")
    assert state is not None
    assert state.attempts == 2
    assert state.acked_keys == {"a"}
    assert state.unknown_keys == {"u"}
    assert b.due("/other", 10.1)  # one file's backoff holds nobody else


def test_offline_pauses_everyone_without_counting_as_the_files_failure() -> None:
    b = book()
    assert fail(b, "/f", 5.0, ErrorClass.OFFLINE) == 60.0
    assert b.paused(64.9)
    assert not b.paused(65.0)
    state = b.get("/f")
    assert state is not None
    assert state.attempts == 0
    assert b.due("/f", 6.0)
    assert b.offline_pauses == 1


def test_only_a_pause_for_an_unreachable_cloud_ends_when_the_link_is_back() -> None:
    b = book()
    fail(b, "/f", 0.0, ErrorClass.OFFLINE)
    assert b.paused_unreachable(10.0)
    b.end_pause(10.0)
    assert not b.paused(10.0)
    fail(b, "/f", 20.0, ErrorClass.OFFLINE, answered=True)  # the cloud answered: it was reachable
    assert b.paused(30.0)
    assert not b.paused_unreachable(30.0)
    b.end_pause(30.0)
    assert b.paused(79.9)  # runs its course
    fail(b, "/f", 40.0, ErrorClass.OFFLINE)  # silence inside a pause the cloud asked for
    assert not b.paused_unreachable(50.0)  # the cloud's pause runs: nothing for a probe to end
    assert b.paused(99.9)  # silence alone holds it past the cloud's pause...
    assert b.paused_unreachable(80.0)
    b.end_pause(50.0)  # ...until the link is back, which leaves the cloud's pause alone
    assert b.paused(79.9)
    assert not b.paused(80.0)
    fail(b, "/f", 100.0, ErrorClass.OFFLINE)  # a new pause, for silence alone
    assert b.paused_unreachable(110.0)
    b.end_pause(110.0)
    assert not b.paused(110.0)


def test_acked_keys_leave_the_unknown_set() -> None:
    b = book()
    fail(b, "/f", 0.0)
    b.record_progress("/f", acked=frozenset({"a", "u"}))
    state = b.get("/f")
    assert state is not None
    assert state.unknown_keys == frozenset()


def test_a_complete_walk_drops_entries_of_files_it_did_not_find() -> None:
    b = book()
    fail(b, "/kept", 0.0)
    fail(b, "/deleted", 0.0)
    b.begin_walk()
    b.saw("/kept")
    assert b.end_walk() == 1
    assert b.get("/kept") is not None
    assert b.get("/deleted") is None
    assert len(b) == 1


def test_tracker_claims_are_exclusive_and_released() -> None:
    tracker = InUseTracker()
    assert tracker.try_claim("/a")
    assert not tracker.try_claim("/a")
    assert tracker.in_use("/a")
    assert "/a" in tracker
    assert len(tracker) == 1
    with tracker.hold("/a") as mine:
        assert not mine
    tracker.release("/a")
    with tracker.hold("/a") as mine:
        assert mine
        assert tracker.in_use("/a")
    assert not tracker.in_use("/a")
    stats = tracker.statistics()
    assert (stats.claims, stats.conflicts, stats.in_use, stats.high_water) == (2, 2, 0, 1)
    with pytest.raises(KeyError):
        tracker.release("/never")


def test_default_threads_never_zero() -> None:
    assert [default_sync_threads(n) for n in (None, 1, 2, 3, 8)] == [1, 1, 1, 1, 4]


def test_settings_defaults_follow_viam() -> None:
    s = SyncSettings(capture_dir="/c", part_id="p")
    assert (s.sync_interval_s, s.file_last_modified_millis, s.max_request_bytes) == (
        6.0,
        10_000,
        1 << 20,
    )


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"capture_dir": "relative/dir"}, "capture_dir"),
        ({"additional_sync_paths": ("/ok", "rel")}, "additional_sync_paths[1]"),
        ({"part_id": ""}, "part_id"),
        ({"sync_interval_s": 0}, "sync_interval_mins"),
        ({"sync_interval_s": float("nan")}, "sync_interval_mins"),
        ({"file_last_modified_millis": -1}, "file_last_modified_millis"),
        ({"maximum_num_sync_threads": 0}, "maximum_num_sync_threads"),
        ({"maximum_num_sync_threads": True}, "maximum_num_sync_threads"),
        ({"max_request_bytes": 10}, "max_upload_message_bytes"),
        ({"tags": ("a", "")}, "tags[1]"),
    ],
)
def test_bad_settings_name_the_attribute(overrides: dict[str, object], where: str) -> None:
    values: dict[str, object] = {"capture_dir": "/c", "part_id": "p", **overrides}
    with pytest.raises(ConfigError) as caught:
        SyncSettings(**values)  # type: ignore[arg-type]
    assert f"services.data_manager.attributes.{where}" in str(caught.value)


def test_stale_threshold_is_ten_intervals_but_at_least_three_minutes() -> None:
    assert stale_threshold_s(6.0) == 180.0
    assert stale_threshold_s(60.0) == 600.0


def test_the_backlog_is_looked_at_each_minute_or_interval_walks_taking_a_tenth_at_most() -> None:
    assert backlog_look_every_s(6.0) == 60.0
    assert backlog_look_every_s(300.0) == 300.0
    assert backlog_look_every_s(6.0, last_walk_s=2.0) == 60.0
    assert backlog_look_every_s(6.0, last_walk_s=30.0) == 300.0  # a million files on a Pi


@given(
    st.one_of(st.none(), st.floats(0, 10_000)),
    st.one_of(st.none(), st.floats(0, 10_000)),
    st.floats(0, 20_000),
)
def test_stale_warning_rule(age: float | None, last: float | None, now: float) -> None:
    due = stale_warning_due(oldest_age_s=age, threshold_s=180.0, last_warned_at=last, now=now)
    expected = age is not None and age > 180.0 and (last is None or now - last >= 300.0)
    assert due is expected


PATHS = ("/a", "/b", "/c", "/d")


@given(
    st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["fail", "forget"])), max_size=40),
    st.floats(0.0, 30.0),
)
def test_the_retry_heap_answers_as_a_scan_of_every_entry_would(
    steps: list[tuple[str, str]], query: float
) -> None:
    # waits begun, superseded by a later failure, or ended by forget(): the heap keeps stale
    # items, and the answers must still be those of the entries themselves
    b = book()
    for tick, (path, action) in enumerate(steps):
        if action == "fail":
            fail(b, path, float(tick))
        else:
            b.forget(path)
    waiting = {p: s.next_attempt_at for p in PATHS if (s := b.get(p))}
    later = [t for t in waiting.values() if t > query]
    assert b.next_retry_after(query) == min(later, default=None)
    assert [c.path for c in b.due_retries(query)] == sorted(
        p for p, t in waiting.items() if b.due(p, query)
    )
