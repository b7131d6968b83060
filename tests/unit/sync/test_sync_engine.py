"""The sync engine on simulated time: scheduling, failures, idempotency, bounds, lifecycle."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
from tests.unit.sync.sync_fakes import (
    CAPTURE_DIR,
    DROP_ACK,
    EPOCH_NS,
    LINK_DOWN,
    OK,
    World,
    capture_path,
    stored_identities,
    tabular_metadata,
    tabular_readings,
    write_capture,
    write_file,
)

from dmsim.errors import DmsimError, InternalError
from dmsim.runtime import RngTree
from dmsim.storage._naming import format_stem
from dmsim.sync import REASON_SUFFIX, SyncEngine, SyncReport, default_sync_threads
from dmsim.sync._backoff import BackoffPolicy


def fill(world: World, files: int, per_file: int = 5, name: str = "sensor-1") -> None:
    for i in range(files):
        write_capture(
            world.fs,
            capture_path(i, name),
            tabular_metadata(name),
            tabular_readings(name, per_file, start=i * per_file),
        )


def every_reading(name: str, files: int, per_file: int = 5) -> list[tuple[str, int, int]]:
    return [(name, 1, i) for i in range(files * per_file)]


def kinds(world: World, kind: str) -> list[dict[str, Any]]:
    return [{"t": e.time, **e.fields} for e in world.trace.of_kind(kind)]


def passes_after_start(world: World) -> list[dict[str, Any]]:
    """The passes after the start-up one, which ran at 0 s on an empty disk."""
    start, *later = kinds(world, "sync.pass")
    assert (start["t"], start["kind"], start["dispatched"]) == (0.0, "resume", 0)
    return later


async def start_then_fill(world: World, engine: SyncEngine, files: int) -> None:
    """Start the engine, let its start-up pass find nothing, and write at 1 s the backlog
    the interval's first tick is to find."""
    engine.start()
    await world.rt.sleep(1)
    fill(world, files)


def test_the_backlog_goes_at_start_then_passes_run_on_the_interval_and_flush_first() -> None:
    """The files a previous process left go at start, by a walk that closes no capture file
    (rdk waits a whole interval, so a restart held its backlog back up to twice the
    interval); then every tick closes the open capture files and walks."""
    world = World()
    fill(world, 3)

    async def main() -> SyncEngine:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(6.5)
        assert world.files() == []
        fill(world, 2, name="sensor-2")
        await world.rt.sleep(12)
        await engine.close()
        return engine

    engine = world.run(main())
    passes = [(p["t"], p["kind"], p["uploaded"]) for p in kinds(world, "sync.pass")]
    assert passes == [
        (0.0, "resume", 3),
        (6.0, "scheduled", 0),
        (12.0, "scheduled", 2),
        (18.0, "scheduled", 0),
    ]
    assert world.flushes == 3
    stats = engine.statistics()
    assert (stats.passes, stats.files_uploaded, stats.readings_uploaded) == (4, 5, 25)
    assert stored_identities(world.core) == every_reading("sensor-1", 3) + every_reading(
        "sensor-2", 2
    )
    assert [d["file"] for d in kinds(world, "sync.deleted")][:3] == [
        capture_path(i) for i in range(3)
    ]


class CountingFS:
    """A filesystem that counts the walks of its roots."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs
        self.walks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def walk(self, root: str, on_error: Any = None) -> Any:
        self.walks += 1
        return self._fs.walk(root, on_error)


def test_offline_means_no_flush_and_no_walk() -> None:
    world = World()
    world.online = False
    fill(world, 4)
    fs = CountingFS(world.fs)

    async def main() -> SyncEngine:
        engine = world.engine(fs=fs)
        engine.start()
        await world.rt.sleep(31)
        assert (world.flushes, fs.walks, len(world.files())) == (0, 0, 4)
        world.online = True
        await world.rt.sleep(6)
        await engine.close()
        return engine

    engine = world.run(main())
    assert engine.statistics().ticks_skipped_offline == 5
    assert world.flushes == 1
    assert world.files() == []


@pytest.mark.parametrize(
    ("online", "sync_disabled", "passes", "looks"),
    [(True, False, 101, 0), (False, False, 0, 10), (False, True, 0, 0)],
)
def test_the_backlog_is_looked_at_once_a_minute_only_while_no_pass_walks(
    online: bool, sync_disabled: bool, passes: int, looks: int
) -> None:
    """Passes every 6 s tell the backlog; offline, a walk once a minute does; with sync
    disabled nothing is warned about, so nothing walks."""
    world = World()
    world.online = online
    world.fs.makedirs(CAPTURE_DIR)
    fs = CountingFS(world.fs)

    async def main() -> None:
        engine = world.engine(world.settings(sync_disabled=sync_disabled), fs=fs)
        engine.start()
        await world.rt.sleep(10 * 60 + 1)
        await engine.close()

    world.run(main())
    assert len(kinds(world, "sync.pass")) == passes
    assert fs.walks == passes + looks


def test_slow_walks_space_the_looks_so_that_walking_takes_a_tenth_of_the_time() -> None:
    """On a slow SD card a look's walk takes 20 s (two reads of 10 s): the next look comes
    200 s after it, not a minute, and the engine says so, once, for the judge of its
    warnings and the engineer reading its event log."""
    world = World()
    world.online = False
    fill(world, 3)
    fs = CountingFS(world.fs)
    walked: list[float] = []
    run_inline = world.rt.run_blocking

    async def slow_read(fn: Any, *args: Any) -> Any:
        await world.rt.sleep(10.0)
        if fn.__name__ == "_take" and fs.walks > len(walked):
            walked.append(world.rt.monotonic())
        return await run_inline(fn, *args)

    world.rt.run_blocking = slow_read  # type: ignore[method-assign]

    async def main() -> None:
        engine = world.engine(fs=fs)
        engine.start()
        await world.rt.sleep(15 * 60)
        await engine.close()

    world.run(main())
    assert kinds(world, "sync.look_spacing") == [{"t": 80.0, "every_s": 200.0, "walk_s": 20.0}]
    assert [round(b - a) for a, b in itertools.pairwise(walked)] == [20 + 200] * (len(walked) - 1)
    assert len(walked) >= 4


def test_a_failing_file_never_blocks_the_others_and_backs_off() -> None:
    world = World()
    fill(world, 10)
    bad = capture_path(3)
    bad_keys: set[str] = set()

    def script(rpc: str, key: str) -> str:
        if not bad_keys and len(world.transport.calls) == 3:
            bad_keys.add(key)  # the 4th file (capture_path(3)) fails on every attempt
        return "INTERNAL" if key in bad_keys else OK

    world.transport.script = script

    async def main() -> SyncEngine:
        engine = world.engine(world.settings(maximum_num_sync_threads=1, sync_interval_s=0.6))
        engine.start()
        await world.rt.sleep(120)
        await engine.close()
        return engine

    engine = world.run(main())
    assert world.files() == [bad]
    assert len(stored_identities(world.core)) == 45
    attempts = [a for a in kinds(world, "upload.attempt") if a["file"] == bad]
    waits = [b["wait_s"] for b in kinds(world, "sync.backoff")]
    # Every attempt after the first waits for its backoff (a retry pass runs when it ends):
    # the gaps are the waits, which the trace rounds to the microsecond.
    times = [a["t"] for a in attempts]
    gaps = [t2 - t1 for t1, t2 in itertools.pairwise(times)]
    assert gaps == pytest.approx(waits[: len(gaps)], abs=1e-6)
    ceilings = [0.2 * 2**n for n in range(len(waits))]
    assert all(0 < w <= c + 1e-9 for w, c in zip(waits, ceilings, strict=False))
    stats = engine.statistics()
    assert stats.failures == len(attempts)
    assert stats.backing_off == 1
    assert stats.retries == len(attempts) - 1


def test_reconfigure_applies_a_new_backoff_to_the_next_failure() -> None:
    world = World()
    fill(world, 1)
    world.transport.script = lambda rpc, key: "INTERNAL"
    slow = BackoffPolicy(initial_s=50.0, cap_s=50.0, jitter=0.0)

    async def main() -> None:
        settings = world.settings(sync_interval_s=0.6)
        engine = world.engine(settings, backoff=BackoffPolicy(jitter=0.0))
        engine.start()
        await world.rt.sleep(5)
        await engine.reconfigure(settings, backoff=slow)
        await world.rt.sleep(200)
        await engine.close()

    world.run(main())
    waits = [b["wait_s"] for b in kinds(world, "sync.backoff")]
    assert waits[:3] == [0.2, 0.4, 0.8]  # the default policy, before the reconfigure
    assert waits[-3:] == [50.0, 50.0, 50.0]


def test_failing_uploads_say_why_in_the_log_once_per_reason_per_five_minutes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Regression: a machine with a wrong API key showed "failed attempts 47" and no reason.
    world = World()
    fill(world, 2)
    world.transport.script = lambda rpc, key: "UNAUTHENTICATED"

    async def main() -> None:
        engine = world.engine(world.settings(sync_interval_s=0.6))
        engine.start()
        await world.rt.sleep(9 * 60)
        await engine.close()

    with caplog.at_level(logging.WARNING, logger="dmsim.sync"):
        world.run(main())
    said = [r.getMessage() for r in caplog.records if "uploads are failing" in r.getMessage()]
    assert len(said) == 2  # at 0 and after five minutes, not once per attempt
    assert "UNAUTHENTICATED" in said[0]
    assert "retrying" in said[0]


def test_lost_ack_is_resent_with_the_same_key_and_stored_once() -> None:
    world = World()
    fill(world, 1)
    world.transport.script = lambda rpc, key: DROP_ACK if len(world.transport.calls) == 0 else OK

    async def main() -> SyncEngine:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(13)
        await engine.close()
        return engine

    engine = world.run(main())
    attempts = kinds(world, "upload.attempt")
    assert [a["outcome"] for a in attempts] == ["unknown", "ok"]
    assert attempts[0]["key"] == attempts[1]["key"]
    assert stored_identities(world.core) == every_reading("sensor-1", 1)
    assert world.core.statistics().duplicates == 1
    assert engine.statistics().resends_acknowledged == 1
    assert world.files() == []


def test_crash_between_ack_and_delete_resends_a_key_the_cloud_recognises() -> None:
    world = World()
    fill(world, 3)
    first_boot = world.rt
    fs1 = world.fs.for_process(first_boot)

    def crash_after_second_commit(rpc: str, key: str) -> str:
        if len(world.transport.calls) == 1:
            first_boot.kill()  # RAM lost right after the cloud committed; no delete runs
        return OK

    world.transport.script = crash_after_second_commit

    async def boot1() -> None:
        engine = SyncEngine(
            rt=first_boot,
            fs=fs1,
            transport=world.transport,
            settings=world.settings(),
            rng=RngTree(1),
            trace=world.trace,
            tracker=world.tracker,
            flush_capture=world.flush,
            is_online=lambda: True,
        )
        engine.start()
        await first_boot.sleep(100)

    first_boot.spawn(boot1(), name="boot1")
    world.kernel.run(until=10)
    assert not first_boot.alive
    assert len(world.files()) == 2  # the first file was deleted, the second acked but not
    world.transport.script = lambda rpc, key: OK
    second_boot = world.kernel.process("boot2")
    world.rt = second_boot
    world.tracker = type(world.tracker)()

    async def boot2() -> None:
        engine = SyncEngine(
            rt=second_boot,
            fs=world.fs.for_process(second_boot),
            transport=world.transport,
            settings=world.settings(),
            rng=RngTree(1),
            trace=world.trace,
            tracker=world.tracker,
            flush_capture=world.flush,
            is_online=lambda: True,
        )
        engine.start()
        await second_boot.sleep(7)
        await engine.close()

    world.run(boot2())
    keys = [c.key for c in world.transport.calls]
    assert keys[1] == keys[2]  # the resend carries the key the cloud already holds
    assert world.core.statistics().duplicates == 1
    assert stored_identities(world.core) == every_reading("sensor-1", 3)
    assert world.files() == []


def test_terminal_files_move_to_failed_with_the_reason_and_are_not_retried() -> None:
    world = World()
    fill(world, 2)
    garbage = capture_path(7)
    write_file(world.fs, garbage, b"\x05garbage")
    rejected_key: list[str] = []

    def reject_second(rpc: str, key: str) -> str:
        if len(world.transport.calls) == 1:
            rejected_key.append(key)
        return "INVALID_ARGUMENT" if key in rejected_key else OK

    world.transport.script = reject_second

    async def main() -> SyncEngine:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(30)
        await engine.close()
        return engine

    engine = world.run(main())
    failed_dir = f"{CAPTURE_DIR}/failed/rdk_component_sensor/sensor-1/Readings"
    assert sorted(world.files()) == sorted(
        [
            f"{failed_dir}/00000001.capture",
            f"{failed_dir}/00000001.capture{REASON_SUFFIX}",
            f"{failed_dir}/00000007.capture",
            f"{failed_dir}/00000007.capture{REASON_SUFFIX}",
        ]
    )
    handle = world.fs.open_read(f"{failed_dir}/00000001.capture{REASON_SUFFIX}")
    assert handle.read().startswith(b"INVALID_ARGUMENT")
    handle.close()
    reasons = {f["file"]: f["reason"] for f in kinds(world, "sync.failed")}
    assert set(reasons) == {capture_path(1), garbage}
    assert engine.statistics().terminal == 2
    assert len(world.transport.calls) == 2  # quarantined files are never walked again


def test_a_former_capture_dirs_files_upload_and_quarantine_there() -> None:
    """A capture dir the machine moved away from is synced like the current one, and a file
    it gives up on goes to that directory's failed/, which is never walked again."""
    world = World()
    old = "/data/old-capture"
    good, bad = f"{old}/a/Readings/1.capture", f"{old}/a/Readings/2.capture"
    fill(world, 1)
    write_file(world.fs, bad, b"\x05garbage")
    world.fs.rename(capture_path(0), good)
    settings = world.settings(former_capture_dirs=(old,))

    async def main() -> None:
        engine = world.engine(settings)
        engine.start()
        await world.rt.sleep(30)
        await engine.close()

    world.run(main())
    assert stored_identities(world.core) == every_reading("sensor-1", 1)
    assert sorted(world.files(old)) == [
        f"{old}/failed/a/Readings/2.capture",
        f"{old}/failed/a/Readings/2.capture{REASON_SUFFIX}",
    ]


def test_manual_sync_works_when_disabled_and_returns_with_counts() -> None:
    world = World()
    fill(world, 6)
    write_capture(world.fs, capture_path(99), tabular_metadata(), [])  # header only
    world.transport.script = lambda rpc, key: "INTERNAL" if len(world.transport.calls) == 2 else OK

    async def main() -> tuple[SyncReport, SyncReport, SyncEngine]:
        engine = world.engine(world.settings(sync_disabled=True))
        engine.start()
        await world.rt.sleep(60)
        assert len(world.files()) == 7  # no scheduled pass
        first = await engine.sync_now()
        second = await engine.sync_now()  # manual sync ignores backoff: tries at once
        await engine.close()
        return first, second, engine

    first, second, engine = world.run(main())
    assert (first.dispatched, first.uploaded, first.failed, first.terminal) == (7, 6, 1, 0)
    assert first.complete
    assert not first.all_uploaded
    assert (second.dispatched, second.uploaded) == (1, 1)
    assert second.all_uploaded
    stats = engine.statistics()
    assert stats.header_only_deleted == 1
    assert stats.ticks_skipped_disabled == 10
    assert stats.manual_passes == 2
    assert world.files() == []


def test_manual_sync_while_offline_defers_what_it_cannot_send() -> None:
    world = World()
    fill(world, 5)
    world.online = False
    world.transport.script = lambda rpc, key: LINK_DOWN

    async def main() -> SyncReport:
        engine = world.engine(world.settings(maximum_num_sync_threads=2))
        engine.start()
        report = await engine.sync_now()
        await engine.close()
        return report

    report = world.run(main())
    assert report.uploaded == 0
    assert report.failed >= 1
    assert not report.complete
    assert report.dispatched == report.failed + report.deferred
    assert len(world.files()) == 5


def test_offline_error_pauses_every_upload_for_the_jittered_interval() -> None:
    world = World()
    fill(world, 8)
    down = {"until": 40.0}
    world.transport.script = lambda rpc, key: (
        LINK_DOWN if world.kernel.now() < down["until"] else OK
    )

    async def main() -> SyncEngine:
        engine = world.engine(world.settings(maximum_num_sync_threads=3))
        engine.start()
        await world.rt.sleep(200)
        await engine.close()
        return engine

    engine = world.run(main())
    pauses = kinds(world, "sync.paused")
    assert pauses
    assert all(0 < p["seconds"] <= 60.0 for p in pauses)
    attempts = kinds(world, "upload.attempt")
    failed_times = sorted({a["t"] for a in attempts if a["outcome"] != "ok"})
    # After a pause starts, nothing is attempted until it ends.
    first_pause = pauses[0]
    resumed = [a["t"] for a in attempts if a["t"] > first_pause["t"]]
    assert all(t >= first_pause["t"] + first_pause["seconds"] - 1e-9 for t in resumed)
    assert failed_times[0] == 0.0  # the start-up pass meets the outage first
    assert world.files() == []
    assert len(stored_identities(world.core)) == 40
    stats = engine.statistics()
    assert stats.offline_pauses >= 1
    assert stats.ticks_skipped_offline >= 1


def bounded_run(threads: int) -> tuple[World, SyncEngine]:
    world = World()
    fill(world, 40)
    world.transport.latency = 0.5

    async def main() -> SyncEngine:
        engine = world.engine(world.settings(maximum_num_sync_threads=threads))
        engine.start()
        await world.rt.sleep(60)
        await engine.close()
        return engine

    return world, world.run(main())


@pytest.mark.parametrize("threads", [default_sync_threads(1), 3])
def test_one_cpu_still_gets_a_worker_and_in_flight_files_never_exceed_the_pool(
    threads: int,
) -> None:
    assert default_sync_threads(1) == 1
    world, engine = bounded_run(threads)
    assert world.files() == []
    assert world.transport.max_active == threads
    assert engine.statistics().in_flight_high_water == threads
    assert world.tracker.statistics().high_water == threads


def test_policy_claims_and_policy_deletions_are_respected() -> None:
    world = World()
    fill(world, 4)
    held = capture_path(1)
    doomed = capture_path(2)
    world.transport.latency = 1.0

    async def main() -> SyncReport:
        engine = world.engine(world.settings(maximum_num_sync_threads=1))
        engine.start()
        assert world.tracker.try_claim(held)  # a policy is deleting this one

        async def policy() -> None:
            await world.rt.sleep(0.5)  # while the first file uploads
            if not world.tracker.in_use(doomed):
                world.fs.unlink(doomed)

        world.rt.spawn(policy(), name="policy")
        report = await engine.sync_now()
        await engine.close()
        return report

    report = world.run(main())
    assert report.skipped_in_use == 1
    assert report.dispatched == report.uploaded + report.gone == 3
    uploaded_files = {a["file"] for a in kinds(world, "upload.attempt")}
    assert held not in uploaded_files
    assert doomed not in uploaded_files
    assert world.files() == [held]


def test_stale_data_warning_at_most_every_five_minutes() -> None:
    world = World()
    fill(world, 1)
    world.transport.script = lambda rpc, key: "INTERNAL"

    async def main() -> SyncEngine:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(20 * 60)
        await engine.close()
        return engine

    engine = world.run(main())
    warnings = kinds(world, "sync.stale")
    assert [w["t"] for w in warnings][:2] == [186.0, 486.0]
    assert all(w["threshold_s"] == 180.0 for w in warnings)
    assert engine.statistics().stale_warnings == len(warnings) == 4


@pytest.mark.parametrize(
    ("threshold_s", "warned_at"),
    [(None, [186.0, 486.0, 786.0]), (600.0, [606.0]), (0.0, [])],
)
def test_stale_data_warning_secs_replaces_rdks_threshold_and_zero_turns_it_off(
    threshold_s: float | None, warned_at: list[float]
) -> None:
    world = World()
    fill(world, 1)
    world.transport.script = lambda rpc, key: "INTERNAL"

    async def main() -> None:
        settings = world.settings(stale_data_warning_s=threshold_s)
        engine = world.engine(settings)
        engine.start()
        await world.rt.sleep(15 * 60)
        await engine.close()

    world.run(main())
    assert [w["t"] for w in kinds(world, "sync.stale")] == warned_at


def test_a_reconfigured_threshold_applies_from_the_next_check() -> None:
    """The fuzzer's reconfigure sets the threshold mid-run; the judge holds each warning to
    the config in force, so the engine must take the new one at once, not at its next start."""
    world = World()
    fill(world, 1)
    world.transport.script = lambda rpc, key: "INTERNAL"

    async def main() -> None:
        engine = world.engine(world.settings())
        engine.start()
        await world.rt.sleep(60)  # rdk's threshold (three minutes): no warning yet
        await engine.reconfigure(world.settings(stale_data_warning_s=30.0))
        await world.rt.sleep(60)
        await engine.close()

    world.run(main())
    first, *_ = kinds(world, "sync.stale")
    assert 60 <= first["t"] <= 60 + 6  # the next pass's check (every 6 s)
    assert first["threshold_s"] == 30.0


def test_an_outage_is_warned_about_as_data_waits_for_it_to_end() -> None:
    """Offline, no pass walks; the backlog is still looked at once a minute (rdk's disk
    summary), so twenty minutes without a link warn with the age of the oldest file and the
    files waiting."""
    world = World()

    async def main() -> None:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(30)
        world.online = False
        for i in range(20):
            fill(world, 1, name=f"sensor-{i}")
            await world.rt.sleep(60)
        await engine.close()

    world.run(main())
    warnings = kinds(world, "sync.stale")
    # the first file was written at 30 s; a minute's look found 3 files by 210 s
    assert [w["t"] for w in warnings] == [216.0, 516.0, 816.0, 1116.0]
    assert all(w["oldest_age_s"] == w["t"] - 30 for w in warnings)
    assert [w["files"] for w in warnings] == [3, 8, 13, 18]
    assert [w["bytes"] for w in warnings] == sorted({w["bytes"] for w in warnings})


def test_a_pass_draining_an_old_backlog_over_a_slow_link_still_warns() -> None:
    """A pass lasts until every file it dispatched is done: over a slow link, the hours a
    backlog takes to drain. The minute's look goes on beside it (rdk's disk summary is its
    own loop), so data waiting there is still warned about, and its age falls as it drains."""
    world = World()
    world.transport.latency = 60.0  # each upload takes a minute

    async def main() -> None:
        engine = world.engine(world.settings(maximum_num_sync_threads=1))
        await start_then_fill(world, engine, 20)
        await world.rt.sleep(25 * 60)
        await engine.close()

    world.run(main())
    (drain,) = [p for p in kinds(world, "sync.pass") if p["dispatched"]]
    assert (drain["dispatched"], drain["t"]) == (20, 1206.0)  # one pass, twenty minutes long
    warnings = kinds(world, "sync.stale")
    assert [w["t"] for w in warnings] == [186.0, 486.0, 786.0, 1086.0]
    assert all(w["oldest_age_s"] == w["t"] - 1 for w in warnings)
    assert [w["files"] for w in warnings] == [17, 12, 7, 2]


def test_a_capture_file_is_aged_from_its_name_s_time_when_it_began_as_rdk() -> None:
    """A slow sensor's file took 50 minutes to fill: its first reading is 50 minutes old,
    though the file was last written a moment ago (rdk ages it by its name, too)."""
    world = World()
    world.transport.script = lambda rpc, key: "INTERNAL"
    began_us = (world.kernel.wall_ns() - 50 * 60 * 10**9) // 1000
    path = f"{CAPTURE_DIR}/rdk_component_sensor/slow/Readings/{format_stem(began_us)}.capture"
    write_capture(world.fs, path, tabular_metadata("slow"), tabular_readings("slow", 5))

    async def main() -> None:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(10)
        await engine.close()

    world.run(main())
    first, *_ = kinds(world, "sync.stale")
    assert first["oldest_age_s"] == pytest.approx(50 * 60 + first["t"])


def test_data_in_a_capture_file_still_being_written_is_warned_about() -> None:
    """Offline, capture files are not closed (rdk DATA-2652): a slow sensor's data sits in one
    ``.prog`` file for most of an hour. The backlog counts it, aged from its name's time, so
    a 15-minute outage warns while it lasts; and it is never uploaded."""
    world = World()
    began_us = (world.kernel.wall_ns() + 30 * 10**9) // 1000
    path = f"{CAPTURE_DIR}/rdk_component_sensor/slow/Readings/{format_stem(began_us)}.prog"

    async def main() -> None:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(30)
        world.online = False
        write_capture(world.fs, path, tabular_metadata("slow"), tabular_readings("slow", 5))
        await world.rt.sleep(15 * 60)
        world.online = True
        await world.rt.sleep(60)
        await engine.close()

    world.run(main())
    warnings = kinds(world, "sync.stale")
    assert [w["t"] for w in warnings] == [216.0, 516.0, 816.0]
    assert all(w["oldest_age_s"] == w["t"] - 30 for w in warnings)
    assert {(w["files"], w["bytes"]) for w in warnings} == {(1, world.fs.stat(path).size)}
    assert world.files() == [path]
    assert not world.transport.calls


def stuck_file_warnings(
    world: World, steps: list[tuple[float, float]], written_at: float
) -> list[dict[str, Any]]:
    """Stale warnings over 20 minutes for one file written at ``written_at`` (or before the
    start, when negative) that never uploads, while the wall clock is set by ``steps``
    ((when, by how many seconds))."""
    world.transport.script = lambda rpc, key: "INTERNAL"

    async def clock() -> None:
        for at, seconds in steps:
            await world.rt.sleep(at - world.rt.monotonic())
            world.kernel.step_wall_clock(seconds)

    async def main() -> None:
        engine = world.engine()
        engine.start()
        world.rt.spawn(clock(), name="clock")
        if written_at >= 0:
            await world.rt.sleep(written_at)
            fill(world, 1)
        await world.rt.sleep(20 * 60 - world.rt.monotonic())
        await engine.close()

    world.run(main())
    return kinds(world, "sync.stale")


UNSET_S = -EPOCH_NS / 1e9  # the real-time clock forgot the time: back to 1970
TWO_DAYS_S = 2 * 86_400.0


@pytest.mark.parametrize(
    ("booted_by", "why"),
    [(UNSET_S, "no real-time clock: 1970"), (-TWO_DAYS_S, "fake-hwclock: the last shutdown")],
)
def test_data_written_before_ntp_sets_the_clock_is_aged_by_when_it_was_written(
    booted_by: float, why: str
) -> None:
    """A Pi boots with its clock wrong, writes, and NTP sets the clock at 60 s: the file is
    5 s younger than the engine, not 56 years or two days old (rdk ages it by its mtime)."""
    world = World()
    world.kernel.step_wall_clock(booted_by)
    warnings = stuck_file_warnings(world, [(60.0, -booted_by)], written_at=5.0)
    assert [w["t"] for w in warnings] == [186.0, 486.0, 786.0, 1086.0], why
    assert all(w["oldest_age_s"] == pytest.approx(w["t"] - 5.0) for w in warnings), why


def test_data_written_while_the_rtc_read_1970_between_two_looks_is_no_older_than_the_engine() -> (
    None
):
    """The clock read 1970 for 0.8 s, set right again before the engine looked: the file's
    time is one no clock of this process was seen to show, so it is as old as the engine."""
    world = World()
    unset = -(world.kernel.wall_ns() / 1e9 + 7.2)
    warnings = stuck_file_warnings(world, [(7.2, unset), (8.0, -unset)], written_at=7.5)
    assert warnings
    assert all(w["t"] - 7.5 <= w["oldest_age_s"] <= w["t"] for w in warnings)


def test_data_older_than_the_engine_is_aged_by_its_time() -> None:
    """Backlog of an earlier run, two days old: its mtime is all there is, and it is right."""
    world = World()
    fill(world, 1)
    world.kernel.step_wall_clock(TWO_DAYS_S)  # the machine was off for two days
    warnings = stuck_file_warnings(world, [], written_at=-1.0)
    assert warnings[0]["t"] < 1.0
    assert all(w["oldest_age_s"] == pytest.approx(TWO_DAYS_S + w["t"]) for w in warnings)


def test_an_empty_file_never_counts_as_stale_data() -> None:
    # Empty files are never synced (as rdk): they hold no data to warn about.
    world = World()
    write_file(world.fs, "/extra/placeholder.lock", b"")

    async def main() -> SyncEngine:
        engine = world.engine(world.settings(additional_sync_paths=("/extra",)))
        engine.start()
        await world.rt.sleep(30 * 60)
        await engine.close()
        return engine

    engine = world.run(main())
    assert world.fs.exists("/extra/placeholder.lock")
    assert engine.statistics().stale_warnings == 0


def test_selective_sync_gates_scheduled_passes_only() -> None:
    world = World()
    fill(world, 2)
    answers: list[object] = [False, False, RuntimeError("sensor down"), True]

    async def should_sync() -> bool:
        answer = answers.pop(0) if answers else True
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    async def main() -> SyncEngine:
        engine = world.engine(selective_sync=should_sync)
        engine.start()
        await world.rt.sleep(13)
        assert len(world.files()) == 2
        await world.rt.sleep(6)
        await engine.close()
        return engine

    engine = world.run(main())
    assert engine.statistics().ticks_skipped_selective == 2  # the start-up pass is no tick
    assert world.files() == []


def test_reconfigure_changes_interval_and_pool() -> None:
    world = World()
    world.transport.latency = 0.5

    async def main() -> SyncEngine:
        engine = world.engine(world.settings(maximum_num_sync_threads=1, sync_interval_s=60))
        engine.start()
        await world.rt.sleep(10)
        fill(world, 12)
        await engine.reconfigure(world.settings(maximum_num_sync_threads=4, sync_interval_s=30))
        await world.rt.sleep(25)
        assert world.transport.max_active == 4
        assert world.files() == []
        await engine.reconfigure(world.settings(maximum_num_sync_threads=2, sync_interval_s=30))
        world.transport.max_active = 0
        fill(world, 12, name="sensor-2")
        await world.rt.sleep(60)
        await engine.close()
        return engine

    world.run(main())
    # The first pass starts 0.5 min after the start, not 1 min (each RPC takes 0.5 s).
    assert kinds(world, "upload.attempt")[0]["t"] == 30.5
    assert world.transport.max_active == 2
    assert world.files() == []


def test_close_leaves_a_file_mid_upload_on_disk_and_unclaimed() -> None:
    world = World()
    world.transport.latency = 5.0

    async def main() -> SyncEngine:
        engine = world.engine()
        await start_then_fill(world, engine, 3)
        await world.rt.sleep(7)
        await engine.close()
        await engine.close()  # idempotent
        with pytest.raises(DmsimError):
            await engine.sync_now()
        return engine

    world.run(main())
    assert len(world.files()) == 3
    assert len(world.tracker) == 0
    assert world.core.count() == 0


def test_arbitrary_files_sync_once_old_enough() -> None:
    world = World()
    write_file(world.fs, "/extra/notes.txt", b"hello")

    async def main() -> None:
        engine = world.engine(world.settings(additional_sync_paths=("/extra",)))
        engine.start()
        await world.rt.sleep(7)
        assert world.fs.exists("/extra/notes.txt")  # 6 s old: not yet
        await world.rt.sleep(6)
        await engine.close()

    world.run(main())
    assert not world.fs.exists("/extra/notes.txt")
    [item] = world.core.query()
    assert item.kind == "file"
    assert world.core.read_blob(item.item_id) == b"hello"


def test_arbitrary_files_with_the_same_content_are_each_stored() -> None:
    # Two robots' status files (or one file recreated a day later) say the same thing; each is
    # a file of its own. A content-only key made the cloud keep one and sync delete both.
    world = World()
    write_file(world.fs, "/extra/robot-a/status.json", b'{"ok": true}')
    write_file(world.fs, "/extra/robot-b/status.json", b'{"ok": true}')

    async def main() -> None:
        engine = world.engine(world.settings(additional_sync_paths=("/extra",)))
        engine.start()
        await world.rt.sleep(13)
        write_file(world.fs, "/extra/robot-a/status.json", b'{"ok": true}')  # recreated
        await world.rt.sleep(13)
        await engine.close()

    world.run(main())
    assert world.files("/extra") == []
    stored = sorted(item.file_name for item in world.core.query())
    assert stored == [
        "/extra/robot-a/status.json",
        "/extra/robot-a/status.json",
        "/extra/robot-b/status.json",
    ]
    assert world.core.statistics().duplicates == 0


def test_an_arbitrary_file_modified_after_the_walk_waits_for_its_quiet_period() -> None:
    # One worker is busy with a slow upload while the walk's other file is appended to: when
    # the worker gets to it, it has been quiet for less than file_last_modified_millis.
    world = World()
    world.kernel.run(until=100)
    write_file(world.fs, "/extra/a.log", b"A" * 100)
    write_file(world.fs, "/extra/b.log", b"first line\n")
    world.kernel.run(until=200)
    world.transport.latency = 20.0
    settings = world.settings(
        additional_sync_paths=("/extra",),
        file_last_modified_millis=30_000,
        maximum_num_sync_threads=1,
        sync_interval_s=600,
    )
    deleted_at: dict[str, float] = {}

    async def main() -> tuple[SyncReport, SyncEngine]:
        engine = world.engine(settings)
        engine.start()
        await world.rt.sleep(30)  # a start holds arbitrary files one quiet period

        async def append() -> None:
            await world.rt.sleep(10)
            handle = world.fs.open_append("/extra/b.log")
            handle.write(b"second line\n")
            handle.fsync()
            handle.close()

        world.rt.spawn(append(), name="writer")
        report = await engine.sync_now()
        for event in world.trace.of_kind("sync.deleted"):
            deleted_at[event.fields["file"]] = event.time
        await engine.close()
        return report, engine

    report, engine = world.run(main())
    assert "/extra/b.log" not in deleted_at  # not sent: modified 10 s before its turn
    assert world.fs.exists("/extra/b.log")
    assert report.deferred == 1
    assert engine.statistics().not_ready == 1
    [a] = world.core.query()
    assert a.file_name == "/extra/a.log"
    assert engine.statistics().bytes_uploaded == 100


def test_a_manual_sync_says_which_files_wait_and_how_long_a_start_still_holds_them() -> None:
    # A Sync() just after a start sent the capture file and said nothing of the arbitrary
    # file the start holds for a quiet period: a user saw every file "uploaded" and one left.
    world = World()
    write_file(world.fs, "/extra/old.log", b"written yesterday\n")
    world.kernel.run(until=3_600)
    fill(world, 1)
    settings = world.settings(additional_sync_paths=("/extra",), sync_interval_s=600)

    async def main() -> tuple[SyncReport, SyncReport, SyncReport]:
        engine = world.engine(settings)
        engine.start()
        await world.rt.sleep(4)
        just_started = await engine.sync_now()
        await world.rt.sleep(7)
        write_file(world.fs, "/extra/new.log", b"a line\n")
        quiet_again = await engine.sync_now()
        await world.rt.sleep(10)
        all_sent = await engine.sync_now()
        await engine.close()
        return just_started, quiet_again, all_sent

    just_started, quiet_again, all_sent = world.run(main())
    assert (just_started.uploaded, just_started.waiting) == (0, 1)  # start-up pass sent it
    assert just_started.hold_left_s == pytest.approx(6.0)  # 10 s quiet period, 4 s gone
    assert "1 file waiting" in just_started.line()
    assert "a start or a clock set holds arbitrary files 6.0 s more" in just_started.line()
    assert (quiet_again.uploaded, quiet_again.waiting, quiet_again.hold_left_s) == (1, 1, 0.0)
    assert "1 file waiting (written to too recently" in quiet_again.line()  # new.log: no hold
    assert (all_sent.uploaded, all_sent.waiting) == (1, 0)
    assert sorted(item.file_name for item in world.core.query() if item.file_name) == [
        "/extra/new.log",
        "/extra/old.log",
    ]


def test_a_manual_sync_a_close_cuts_short_accounts_for_every_file_it_sent() -> None:
    """Regression (found by the fuzzer's manual_sync): close() stopped the workers mid-upload
    and the Sync() then returned with those files in no count: 2 sent, none ended."""
    world = World()
    world.transport.latency = 20.0
    settings = world.settings(maximum_num_sync_threads=2, sync_interval_s=600)

    async def main() -> SyncReport:
        engine = world.engine(settings)
        engine.start()
        await world.rt.sleep(1)  # the start-up pass found nothing
        fill(world, 4)
        manual = world.rt.spawn(engine.sync_now(), name="manual")
        await world.rt.sleep(10)  # two files each 10 s into their 20 s upload
        await engine.close()
        return await manual.join()

    report = world.run(main())
    ended = report.uploaded + report.failed + report.terminal + report.deferred + report.gone
    assert report.dispatched > report.uploaded
    assert ended == report.dispatched, report
    assert report.deferred == 2


def test_delete_failure_keeps_progress_and_needs_no_resend() -> None:
    world = World()
    fill(world, 1)
    world.fs.inject_eio(prefix=CAPTURE_DIR, ops=["unlink"], fault_id="f1", count=1)

    async def main() -> SyncEngine:
        engine = world.engine()
        engine.start()
        await world.rt.sleep(13)
        await engine.close()
        return engine

    engine = world.run(main())
    assert engine.statistics().delete_errors == 1
    assert len(world.transport.calls) == 1  # the second pass knew the key was acknowledged
    assert world.files() == []


def test_same_seed_same_trace() -> None:
    def run(seed: int) -> str:
        world = World(seed=seed)
        fill(world, 6)
        calls = {"n": 0}

        def flaky(rpc: str, key: str) -> str:
            calls["n"] += 1
            return ("INTERNAL", LINK_DOWN, DROP_ACK, OK)[calls["n"] % 4]

        world.transport.script = flaky

        async def main() -> None:
            engine = world.engine(world.settings(maximum_num_sync_threads=2))
            engine.start()
            await world.rt.sleep(300)
            await engine.close()

        world.run(main())
        return world.trace.digest()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_deletions_are_group_committed_one_fsync_per_directory() -> None:
    world = World()
    fill(world, 300)  # one directory
    fill(world, 2, name="sensor-2")
    synced: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(world.fs, name)

        def fsync_dir(self, path: str) -> None:
            synced.append(path)
            world.fs.fsync_dir(path)

    async def main() -> None:
        engine = SyncEngine(
            rt=world.rt,
            fs=Counting(),  # type: ignore[arg-type]
            transport=world.transport,
            settings=world.settings(),
            rng=RngTree(1),
            trace=world.trace,
            tracker=world.tracker,
            flush_capture=world.flush,
            is_online=lambda: True,
        )
        engine.start()
        await engine.sync_now()
        await engine.close()

    world.run(main())
    assert world.files() == []
    one = capture_path(0).rsplit("/", 1)[0]
    two = capture_path(0, "sensor-2").rsplit("/", 1)[0]
    # 256 deletions commit a group; the pass's end commits the rest, once per directory.
    assert synced == [one, one, two]
    world.fs.crash()
    assert world.files() == []  # every deletion was durable


def test_a_broken_promise_raised_by_a_trace_listener_is_never_taken_for_an_upload_error() -> None:
    world = World()
    fill(world, 1)

    def oracle(event: Any) -> None:
        if event.kind == "upload.attempt":
            raise InternalError("reading stored twice")

    world.trace.subscribe(oracle)

    async def main() -> None:
        engine = world.engine()
        engine.start()
        await engine.sync_now()

    with pytest.raises(InternalError, match="stored twice"):
        world.run(main())


def run_without_jitter(world: World, *, sync_interval_s: float, seconds: float, files: int) -> None:
    """Run the engine for ``seconds`` with the default backoff made exact (no jitter), with
    ``files`` capture files written after the start-up pass."""

    async def main() -> None:
        engine = world.engine(
            world.settings(sync_interval_s=sync_interval_s), backoff=BackoffPolicy(jitter=0.0)
        )
        await start_then_fill(world, engine, files)
        await world.rt.sleep(seconds - 1)
        await engine.close()

    world.run(main())


def test_a_failed_upload_is_retried_after_its_backoff_not_at_the_next_pass() -> None:
    """rdk retries a failing file 200 ms later (doubling) whatever the sync interval; dmsim
    retried it only at the next pass, so with a 5-minute interval one transient error held a
    file back 5 minutes (found by fuzzing the esp32-remote scenario: a drain bound broken by
    the flaky link's lost messages). A retry pass uploads and does not close capture files."""
    world = World()
    world.transport.script = lambda rpc, key: "INTERNAL" if len(world.transport.calls) < 2 else OK

    run_without_jitter(world, sync_interval_s=300.0, seconds=310, files=1)
    attempts = [round(a["t"], 3) for a in kinds(world, "upload.attempt")]
    assert attempts == [300.0, 300.2, 300.6]
    assert world.files() == []
    assert world.flushes == 1  # the scheduled pass; retries leave open capture files alone
    assert [p["kind"] for p in passes_after_start(world)] == ["scheduled", "retry", "retry"]


def test_retries_keep_to_the_backoff_between_scheduled_passes() -> None:
    world = World()
    world.transport.script = lambda rpc, key: "INTERNAL"

    run_without_jitter(world, sync_interval_s=10.0, seconds=95, files=1)
    attempts = [round(a["t"], 1) for a in kinds(world, "upload.attempt")]
    assert attempts == [10.0, 10.2, 10.6, 11.4, 13.0, 16.2, 22.6, 35.4, 61.0]
    passes = passes_after_start(world)
    assert [round(p["t"]) for p in passes if p["kind"] != "retry"] == list(range(10, 100, 10))
    assert world.flushes == 9  # scheduled passes only


def test_a_tick_missed_offline_runs_when_the_link_is_back_and_restarts_the_interval() -> None:
    """rdk skips a tick that finds the machine offline and waits a whole interval: with a
    5-minute interval, a 20 s outage over the tick held every file back 5 minutes (found by
    fuzzing esp32-remote: the flaky Wi-Fi's outages covered two ticks in a row). The missed
    tick runs when the link is back, and the next one an interval after it, so a late pass
    is never followed at once by another that would close capture files early."""
    world = World()

    async def main() -> SyncEngine:
        engine = world.engine(world.settings(sync_interval_s=300.0))
        await start_then_fill(world, engine, 3)
        await world.rt.sleep(289)
        world.online = False
        await world.rt.sleep(30)  # the tick at 300 s finds the link down
        assert world.files() != []
        world.online = True
        engine.notify_online()
        await world.rt.sleep(1)
        assert world.files() == []
        await world.rt.sleep(400)
        await engine.close()
        return engine

    engine = world.run(main())
    passes = passes_after_start(world)
    assert [(p["t"], p["kind"]) for p in passes] == [(320.0, "late"), (620.0, "scheduled")]
    assert world.flushes == 2
    assert engine.statistics().ticks_skipped_offline == 1


def test_a_missed_tick_waits_for_the_link_not_only_for_a_notification() -> None:
    """An ``is_online`` that sends no notification still gets its tick at the next interval;
    a notification while the link is still down runs nothing."""
    world = World()
    fill(world, 2)

    async def main() -> None:
        engine = world.engine(world.settings(sync_interval_s=300.0))
        engine.start()
        world.online = False
        await world.rt.sleep(350)
        engine.notify_online()  # a spurious one: the link is still down
        await world.rt.sleep(10)
        world.online = True
        await world.rt.sleep(300)
        await engine.close()

    world.run(main())
    assert [(p["t"], p["kind"]) for p in kinds(world, "sync.pass")] == [(600.0, "scheduled")]
    assert world.files() == []


def test_a_pass_stopped_by_an_offline_error_resumes_when_the_pause_ends() -> None:
    """An offline error pauses uploads for 60 s and stops the pass; the files it did not
    reach used to wait for the next tick (5 minutes here), and now go when the pause ends."""
    world = World()
    world.transport.script = lambda rpc, key: LINK_DOWN if world.kernel.now() < 301.0 else OK

    run_without_jitter(world, sync_interval_s=300.0, seconds=400, files=6)
    pause = kinds(world, "sync.paused")[0]
    assert (pause["t"], pause["seconds"]) == (300.0, 60.0)
    passes = passes_after_start(world)
    assert [(p["t"], p["kind"], p["complete"]) for p in passes] == [
        (300.0, "scheduled", False),
        (360.0, "resume", True),
    ]
    assert world.flushes == 1  # the resumed walk leaves open capture files alone
    assert world.files() == []
    assert len(stored_identities(world.core)) == 30


def test_an_unreachable_cloud_closes_capture_files_once_per_interval_not_at_each_resume() -> None:
    """A machine that cannot tell it is offline (``dmsim machine``) meets the outage as
    failed uploads: each pause's end resumes the walk, and only the interval's ticks close
    capture files, so a long outage is no flood of tiny files (rdk DATA-2652)."""
    world = World()
    world.transport.script = lambda rpc, key: LINK_DOWN if world.kernel.now() < 850.0 else OK

    run_without_jitter(world, sync_interval_s=300.0, seconds=1000, files=3)
    passes = [(p["t"], p["kind"]) for p in passes_after_start(world)]
    assert passes[:3] == [(300.0, "scheduled"), (360.0, "resume"), (420.0, "resume")]
    assert (600.0, "scheduled") in passes
    assert passes[-1] == (900.0, "scheduled")  # every file went at 900 s: no pass after it
    assert world.flushes == 3  # at 300, 600 and 900 s
    assert world.files() == []


def told_online_at_320(failure: str) -> tuple[list[tuple[float, str]], bool]:
    """Uploads fail with ``failure`` until 320 s (the tick at 300 s pauses them); at 320 s
    the engine is told the link is up. The passes, and whether the pause was one for an
    unreachable cloud when told."""
    world = World()
    world.transport.script = lambda rpc, key: failure if world.kernel.now() < 320.0 else OK
    unreachable = []

    async def main() -> None:
        engine = world.engine(
            world.settings(sync_interval_s=300.0), backoff=BackoffPolicy(jitter=0.0)
        )
        await start_then_fill(world, engine, 4)
        await world.rt.sleep(319)
        assert engine.statistics().offline_pauses == 1
        unreachable.append(engine.paused_unreachable())
        engine.notify_online()
        await world.rt.sleep(100)
        await engine.close()

    world.run(main())
    assert world.files() == []
    return [(p["t"], p["kind"]) for p in passes_after_start(world)], unreachable[0]


@pytest.mark.parametrize("code", ["UNAVAILABLE", "UNAUTHENTICATED"])
def test_the_link_coming_back_does_not_end_a_pause_the_cloud_asked_for(code: str) -> None:
    """A cloud that answered UNAVAILABLE (overloaded, draining) or refused the credentials
    was reachable: the link being up says nothing about it, so the pause runs its 60 s.
    Ending it early would send a storm of retries to a cloud that asked for quiet (and a
    machine probing the cloud would find it reachable every few seconds)."""
    passes, unreachable = told_online_at_320(code)
    assert not unreachable  # nothing for a probe to end
    assert passes == [(300.0, "scheduled"), (360.0, "resume")]


def test_silence_inside_a_pause_the_cloud_asked_for_ends_when_the_link_is_back() -> None:
    """Two uploads in flight from the 300 s tick: the cloud answers one UNAVAILABLE at 301 s
    (a 60 s pause it asked for), and the other's link drops at 320 s. That silence extended
    the cloud's pause, which the link's return cannot end, to 380 s; now it is a pause of its
    own that ends when the engine is told the link is up (330 s), and uploads resume when the
    cloud's pause is over, at 361 s."""
    world = World()
    answers = ["UNAVAILABLE", LINK_DOWN]
    world.transport.script = lambda rpc, key: answers.pop(0) if answers else OK
    world.transport.delays = {"UNAVAILABLE": 1.0, LINK_DOWN: 20.0}
    asked = []

    async def main() -> None:
        engine = world.engine(
            world.settings(sync_interval_s=300.0, maximum_num_sync_threads=2),
            backoff=BackoffPolicy(jitter=0.0),
        )
        await start_then_fill(world, engine, 2)
        await world.rt.sleep(329)
        asked.append(engine.paused_unreachable())
        engine.notify_online()
        await world.rt.sleep(100)
        await engine.close()

    world.run(main())
    assert [(p["t"], p["seconds"]) for p in kinds(world, "sync.paused")] == [
        (301.0, 60.0),
        (320.0, 60.0),
    ]
    assert asked == [False]  # the cloud's pause still runs: nothing for a probe to end
    passes = [(p["t"], p["kind"]) for p in passes_after_start(world)]
    assert passes == [(320.0, "scheduled"), (361.0, "resume")]  # a pass's event: at its end
    assert world.files() == []


def test_the_link_coming_back_ends_the_offline_pause() -> None:
    """The 60 s pause stands in for not knowing when the link returns; a machine that is told
    (the simulated link, here the world) resumes at once instead of waiting the pause out."""
    passes, unreachable = told_online_at_320(LINK_DOWN)
    assert unreachable
    assert passes == [(300.0, "scheduled"), (320.0, "resume")]
