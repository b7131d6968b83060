"""DiskPolicy on the runtime port: timing, hooks, records, traces, failures, both runtimes."""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from viam.proto.app.datasync import DataType

from dmsim.errors import ConfigError, InternalError
from dmsim.runtime import RealRuntime, RngTree, SimKernel, SimRuntime, Trace
from dmsim.storage._codec import tabular_reading
from dmsim.storage._fs import DiskUsage, FileStat
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._policies import (
    RULE_BYTE_CAP,
    RULE_DISK_FULL,
    ByteCapRule,
    CaptureDirScan,
    CaptureFile,
    DeletionPlan,
    DeletionRule,
    DiskFullRule,
)
from dmsim.storage._policy_runner import DiskPolicy, readable_ids
from dmsim.storage._realfs import RealFS
from dmsim.storage._simfs import SimFS
from dmsim.storage._writer import CaptureWriter

BLOCK = 4096
CAP = "/cap"
READINGS_PER_FILE = 7  # what the data manager's hook reports for each file


@dataclass
class World:
    kernel: SimKernel
    rt: SimRuntime
    fs: SimFS
    trace: Trace
    hook_calls: list[tuple[str, str, bool]] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)

    def policy(
        self,
        rule: DeletionRule,
        read_ids: Callable[[str], Sequence[ReadingId | None]] | None = None,
        **kwargs: object,
    ) -> DiskPolicy:
        def before_delete(path: str, rule: str, ids: Sequence[ReadingId | None]) -> None:
            assert len(ids) == READINGS_PER_FILE
            self.hook_calls.append((path, rule, self.fs.exists(path)))

        return DiskPolicy(
            rt=self.rt,
            fs=self.fs.for_process(self.rt),
            capture_dir=CAP,
            rule=rule,
            in_use=self.busy.__contains__,
            before_delete=before_delete,
            read_ids=read_ids or (lambda path: (None,) * READINGS_PER_FILE),
            trace=self.trace,
            **kwargs,  # type: ignore[arg-type]
        )

    def run(self, policy: DiskPolicy, until: float) -> None:
        self.rt.spawn(policy.run(), name="disk-policy")
        self.kernel.run(until=until)


def make_world(
    *, files: int = 20, blocks: int = 40, ballast_blocks: int = 18, fs_class: type[SimFS] = SimFS
) -> World:
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    trace = Trace(kernel.now)
    fs = fs_class(
        capacity_bytes=blocks * BLOCK,
        rng=RngTree(5),
        wall_clock=kernel.wall_ns,
        initial_fill_bytes=ballast_blocks * BLOCK,
        trace=trace,
    )
    fs.makedirs(f"{CAP}/a")
    for i in range(files):
        handle = fs.open_append(f"{CAP}/a/2026-01-01T00_00_{i:02d}.000000Z.capture")
        handle.write(b"r" * BLOCK)
        handle.fsync()
        handle.close()
    fs.fsync_dir(f"{CAP}/a")
    return World(kernel, kernel.process("data-manager"), fs, trace)


def name(i: int) -> str:
    return f"{CAP}/a/2026-01-01T00_00_{i:02d}.000000Z.capture"


def test_passes_run_on_a_30_second_grid_deleting_every_fifth_file() -> None:
    world = make_world(ballast_blocks=10)  # 30 of 40 blocks used; captures are 20 of them
    policy = world.policy(DiskFullRule(disk_usage_deletion_threshold=0.5))
    world.run(policy, until=95)
    deleted = [e.fields["path"] for e in world.trace.of_kind("disk_policy.delete")]
    times = [e.time for e in world.trace.of_kind("disk_policy.delete")]
    first_pass = [name(i) for i in (0, 5, 10, 15)]
    assert deleted[:4] == first_pass
    assert times == [30.0] * 4 + [60.0] * 4 + [90.0] * 3  # 20 → 16 → 12 → 9 files
    stats = policy.statistics()
    assert (stats.checks, stats.scans, stats.files_deleted) == (3, 3, 11)
    assert stats.bytes_deleted == 11 * BLOCK
    assert world.hook_calls[:4] == [(p, RULE_DISK_FULL, True) for p in first_pass]


def test_no_scan_while_the_disk_is_below_the_threshold() -> None:
    world = make_world(ballast_blocks=0)  # 50 % used
    policy = world.policy(DiskFullRule())
    world.run(policy, until=65)
    stats = policy.statistics()
    assert (stats.checks, stats.scans, stats.files_deleted, stats.warnings) == (2, 0, 0, 0)


def test_every_deletion_is_recorded_with_its_readings_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # On a real machine there is no trace: the log is the record a person can read.
    world = make_world()
    policy = world.policy(DiskFullRule())
    with caplog.at_level(logging.WARNING, logger="dmsim.storage._policy_runner"):
        records = world.kernel.run_main(policy.check())
    assert [r.readings for r in records] == [READINGS_PER_FILE] * 4
    assert policy.statistics().readings_deleted == 4 * READINGS_PER_FILE
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [
        f"disk policy {RULE_DISK_FULL}: deleted {r.path} ({BLOCK} bytes, 7 readings)"
        for r in records
    ]
    events = world.trace.of_kind("disk_policy.delete")
    assert [e.fields["readings"] for e in events] == [READINGS_PER_FILE] * 4


def test_deletions_are_made_durable() -> None:
    world = make_world()
    records = world.kernel.run_main(world.policy(DiskFullRule()).check())
    assert [r.path for r in records] == [name(i) for i in (0, 5, 10, 15)]
    assert all(r.rule == RULE_DISK_FULL and r.size_bytes == BLOCK for r in records)
    world.fs.crash()
    assert not any(world.fs.exists(r.path) for r in records)
    assert len(world.fs.listdir(f"{CAP}/a")) == 16


def test_a_full_disk_with_few_captures_only_warns() -> None:
    world = make_world(files=4, ballast_blocks=33)  # 37 of 40 used; captures 4 of 37
    policy = world.policy(DiskFullRule())
    world.run(policy, until=65)
    warnings = world.trace.of_kind("disk_policy.warn")
    assert len(warnings) == 2
    assert "deleting nothing" in warnings[0].fields["message"]
    assert policy.statistics().warnings == 2
    assert world.trace.of_kind("disk_policy.delete") == []
    assert len(world.fs.listdir(f"{CAP}/a")) == 4


def test_files_in_use_are_left_alone() -> None:
    world = make_world()
    world.busy.add(name(5))
    policy = world.policy(DiskFullRule())
    records = world.kernel.run_main(policy.check())
    assert [r.path for r in records] == [name(i) for i in (0, 10, 15)]
    assert world.fs.exists(name(5))
    assert policy.statistics().skipped_in_use == 1


def test_a_failed_unlink_is_counted_and_traced_and_the_pass_goes_on() -> None:
    world = make_world()
    world.fs.inject_eio(prefix=name(0), ops=["unlink"], fault_id="stuck")
    policy = world.policy(DiskFullRule())
    records = world.kernel.run_main(policy.check())
    assert [r.path for r in records] == [name(i) for i in (5, 10, 15)]
    (failure,) = world.trace.of_kind("disk_policy.delete_failed")
    assert failure.fields["path"] == name(0)
    assert "[stuck]" in failure.fields["error"]
    assert policy.statistics().delete_failures == 1


def test_a_failed_directory_fsync_is_counted() -> None:
    world = make_world()
    world.fs.inject_eio(prefix=f"{CAP}/a", ops=["fsync_dir"], fault_id="dir")
    policy = world.policy(DiskFullRule())
    assert len(world.kernel.run_main(policy.check())) == 4
    assert policy.statistics().delete_failures == 1
    assert len(world.trace.of_kind("disk_policy.fsync_failed")) == 1


class VanishingFS(SimFS):
    """A file is uploaded and deleted by sync right after the policy's scan saw it."""

    def stat(self, path: str) -> FileStat:
        result = super().stat(path)
        if path == name(5):
            self.unlink(path)
        return result


def test_a_file_gone_since_the_scan_is_skipped_without_calling_the_hook() -> None:
    world = make_world(fs_class=VanishingFS)
    policy = world.policy(DiskFullRule())
    records = world.kernel.run_main(policy.check())
    assert [r.path for r in records] == [name(i) for i in (0, 10, 15)]
    assert name(5) not in [call[0] for call in world.hook_calls]
    assert policy.statistics().vanished == 1


class BrokenWalkFS(SimFS):
    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        raise OSError(errno.EIO, "walk failed", root)


class UnlistableFS(SimFS):
    """``/cap/b`` cannot be listed, as a directory without read permission on a real disk."""

    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        for dirpath, dirnames, filenames in super().walk(root, on_error):
            if dirpath == CAP and "b" in dirnames:
                dirnames.remove("b")
                denied = OSError(errno.EACCES, "Permission denied", f"{CAP}/b")
                if on_error is None:
                    raise denied
                on_error(denied)
            yield dirpath, dirnames, filenames


def test_a_directory_that_cannot_be_listed_is_reported_and_the_rule_still_runs() -> None:
    world = make_world(fs_class=UnlistableFS)
    world.fs.makedirs(f"{CAP}/b")
    records = world.kernel.run_main(world.policy(DiskFullRule()).check())
    assert [r.path for r in records] == [name(i) for i in (0, 5, 10, 15)]
    [event] = world.trace.of_kind("disk_policy.unlisted_dir")
    assert event.fields == {"path": f"{CAP}/b", "error": "Permission denied"}


def test_a_failing_check_is_counted_and_the_next_one_still_runs() -> None:
    world = make_world(fs_class=BrokenWalkFS)
    policy = world.policy(DiskFullRule())
    world.run(policy, until=65)
    assert policy.statistics().check_failures == 2
    assert len(world.trace.of_kind("disk_policy.check_failed")) == 2


def test_a_missing_capture_directory_is_not_an_error() -> None:
    world = make_world()
    policy = DiskPolicy(
        rt=world.rt,
        fs=world.fs,
        capture_dir="/nowhere",
        rule=DiskFullRule(),
        in_use=lambda p: False,
        before_delete=lambda p, r, ids: None,
    )
    assert world.kernel.run_main(policy.check()) == ()
    assert policy.statistics().scans == 0


@dataclass(frozen=True)
class RogueRule:
    """A buggy rule that picks a file outside the capture directory."""

    @property
    def name(self) -> str:
        return "rogue"

    def wants_scan(self, usage: DiskUsage) -> bool:
        return True

    def plan(
        self, scan: CaptureDirScan, usage: DiskUsage, *, in_use: Callable[[str], bool]
    ) -> DeletionPlan:
        return DeletionPlan("rogue", (CaptureFile("/etc/x.capture", 1, 0),))


def test_a_rule_can_never_delete_outside_the_capture_directory() -> None:
    world = make_world()
    world.fs.makedirs("/etc")
    world.fs.open_append("/etc/x.capture").close()
    policy = world.policy(RogueRule())
    with pytest.raises(InternalError, match="outside"):
        world.kernel.run_main(policy.check())
    assert world.fs.exists("/etc/x.capture")
    assert world.hook_calls == []


def test_interval_must_be_positive() -> None:
    world = make_world()
    with pytest.raises(ConfigError, match="interval_s"):
        world.policy(DiskFullRule(), interval_s=0)


def real_capture_files(capture_dir: Path, count: int) -> Path:
    """``count`` completed 100-byte capture files, one per second from midnight, in one
    stream directory on the real disk; returns that directory."""
    stream = capture_dir / "rdk_component_sensor" / "s" / "Readings"
    stream.mkdir(parents=True)
    for second in range(count):
        (stream / f"2026-01-01T00_00_{second:02d}.000000Z.capture").write_bytes(b"x" * 100)
    return stream


def test_byte_cap_on_the_real_disk_under_the_real_runtime(tmp_path: Path) -> None:
    stream = real_capture_files(tmp_path, 5)
    (stream / "2026-01-01T00_00_09.000000Z.prog").write_bytes(b"x" * 100)
    hook: list[str] = []
    rt = RealRuntime()
    policy = DiskPolicy(
        rt=rt,
        fs=RealFS(),
        capture_dir=str(tmp_path),
        rule=ByteCapRule(cap_bytes=350),
        in_use=lambda p: False,
        before_delete=lambda p, r, ids: hook.append(p),
    )
    records = rt.run_main(policy.check())
    assert [Path(r.path).name[17:19] for r in records] == ["00", "01", "02"]
    assert all(r.rule == RULE_BYTE_CAP for r in records)
    assert hook == [r.path for r in records]
    assert sorted(p.name[17:19] for p in stream.iterdir()) == ["03", "04", "09"]


def test_reading_the_chosen_files_does_not_stall_the_event_loop(tmp_path: Path) -> None:
    # Parsing a 256 KiB capture file takes tens of ms; on the event loop, a disk-full pass
    # deleting hundreds of them stopped every collector for seconds (a minute on a Pi).
    real_capture_files(tmp_path, 4)
    rt = RealRuntime()

    def slow_read(path: str) -> tuple[None, ...]:
        time.sleep(0.1)  # a slow SD card
        return (None,) * 3

    policy = DiskPolicy(
        rt=rt,
        fs=RealFS(),
        capture_dir=str(tmp_path),
        rule=ByteCapRule(cap_bytes=100),
        in_use=lambda p: False,
        before_delete=lambda p, r, ids: None,
        read_ids=slow_read,
    )
    ticks: list[float] = []

    async def main() -> tuple[int, int]:
        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await rt.sleep(0.01)

        task = rt.spawn(ticker(), name="capture")
        await rt.sleep(0.05)
        before = len(ticks)
        records = await policy.check()  # reads three files: 0.3 s
        during = len(ticks) - before
        await task.stop()
        return len(records), during

    deleted, ticks_during_the_pass = rt.run_main(main())
    assert deleted == 3
    assert policy.statistics().readings_deleted == 9
    assert ticks_during_the_pass >= 5  # about 30 at 10 ms; none if the reads held the loop


def test_a_file_sync_claims_while_the_pass_reads_it_is_left_to_sync() -> None:
    world = make_world(ballast_blocks=10)
    claimed = name(5)

    def read_and_race(path: str) -> tuple[None, ...]:
        if path == claimed:
            world.busy.add(path)  # an upload began while the pass was reading files
        return (None,) * READINGS_PER_FILE

    policy = world.policy(DiskFullRule(disk_usage_deletion_threshold=0.5), read_ids=read_and_race)
    records = world.kernel.run_main(policy.check())
    assert [r.path for r in records] == [name(0), name(10), name(15)]
    assert world.fs.exists(claimed)
    assert policy.statistics().skipped_in_use == 1


def write_five_readings(fs: SimFS) -> str:
    writer = CaptureWriter(
        fs,
        capture_dir=CAP,
        key=CollectorKey.of("rdk:component:sensor", "s", "Readings"),
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: 0,
    )
    for seq in range(5):
        reading = tabular_reading({"v": seq}, time_requested_ns=seq, time_received_ns=seq)
        writer.write(reading, reading_id=ReadingId("s", 0, seq))
    writer.close()
    [path] = [f"{d}/{n}" for d, _, names in fs.walk(CAP) for n in names]
    return path


def test_the_default_reader_counts_the_readings_before_any_damage() -> None:
    fs = SimFS(capacity_bytes=1 << 20, rng=RngTree(1), wall_clock=lambda: 0)
    path = write_five_readings(fs)
    assert readable_ids(fs, path) == tuple(ReadingId("s", 0, seq) for seq in range(5))
    handle = fs.open_append(path)
    handle.write(b"\x05garbage")  # a length prefix, then not a SensorData
    handle.close()
    assert len(readable_ids(fs, path)) == 5
    assert readable_ids(fs, f"{CAP}/missing.capture") == ()


def test_a_file_that_cannot_be_read_is_not_deleted_until_its_readings_can_be_named() -> None:
    """Regression (fuzz, clock-step-backwards and four more, seed 2121): with opens failing,
    the policy read no reading identities from a file and deleted it anyway, 69 readings
    recorded as none ("9438 bytes, 0 readings"): deletion no one could tell from loss."""
    world = make_world(ballast_blocks=10)
    world.fs.inject_eio(prefix=name(5), ops=("open",), fault_id="f1")

    def read_ids(path: str) -> tuple[ReadingId | None, ...] | None:
        held = readable_ids(world.fs, path)  # () for these files of filler, None if unreadable
        return None if held is None else (None,) * READINGS_PER_FILE

    policy = world.policy(DiskFullRule(disk_usage_deletion_threshold=0.5), read_ids=read_ids)
    world.run(policy, until=35)
    deleted = [e.fields["path"] for e in world.trace.of_kind("disk_policy.delete")]
    assert deleted == [name(0), name(10), name(15)]
    assert world.fs.exists(name(5))
    assert policy.statistics().unreadable == 1
    (unreadable,) = world.trace.of_kind("disk_policy.unreadable")
    assert unreadable.fields["path"] == name(5)


def test_readable_ids_is_none_when_an_io_error_hides_the_readings() -> None:
    fs = SimFS(capacity_bytes=1 << 24, rng=RngTree(2), wall_clock=lambda: 0)
    path = write_five_readings(fs)
    fs.inject_eio(prefix=path, ops=("open",), fault_id="f1")
    assert readable_ids(fs, path) is None


class TwoDisksFS(SimFS):
    """``/usb`` is another filesystem, as a USB drive mounted there."""

    def stat(self, path: str) -> FileStat:
        result = super().stat(path)
        return replace(result, device=1) if path.startswith("/usb") else result


def world_with_former_dirs() -> tuple[World, dict[str, list[str]]]:
    """Five one-block files in each of the capture dir, a former one on its disk (older
    names) and a former one on the USB drive."""
    world = make_world(files=0, ballast_blocks=0, fs_class=TwoDisksFS)
    files: dict[str, list[str]] = {}
    for directory, minute in (("/old", 10), ("/usb", 20), (CAP, 30)):
        world.fs.makedirs(f"{directory}/a")
        files[directory] = []
        for i in range(5):
            path = f"{directory}/a/2026-01-01T00_{minute}_{i:02d}.000000Z.capture"
            handle = world.fs.open_append(path)
            handle.write(b"r" * BLOCK)
            handle.close()
            files[directory].append(path)
    return world, files


@pytest.mark.parametrize("rule", ["byte_cap", "disk_full"])
def test_former_capture_dirs_on_the_same_disk_count_and_go_first(rule: str) -> None:
    """After capture_dir moves, the old directory's backlog is part of what the policies
    weigh and delete (oldest first); one on another disk is left alone."""
    world, files = world_with_former_dirs()
    policy = world.policy(
        ByteCapRule(cap_bytes=6 * BLOCK)
        if rule == "byte_cap"
        else DiskFullRule(disk_usage_deletion_threshold=0.3),  # 15 of 40 blocks used
        former_dirs=lambda: ("/usb", "/old"),  # newest first, as the data manager keeps them
    )
    world.run(policy, until=31)
    deleted = [e.fields["path"] for e in world.trace.of_kind("disk_policy.delete")]
    if rule == "byte_cap":  # ten blocks on this disk, six kept: the four oldest go
        assert deleted == files["/old"][:4]
    else:  # every fifth over the old directory, then the current one
        assert deleted == [files["/old"][0], files[CAP][0]]
