"""SimFS: power-cut semantics, space, injected faults, process binding, statistics."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest
from tests.unit.storage.storage_kit import read

from dmsim.errors import InjectedFault, ScenarioError
from dmsim.runtime import ProcessKilled, RngTree, SimKernel, Trace
from dmsim.storage._fs import FileSystem
from dmsim.storage._simfs import SimFS
from dmsim.storage._simfs_faults import CrashedFile


def make(
    *, seed: int = 1, capacity: int = 1 << 20, block: int = 4096, fill: int = 0
) -> tuple[SimFS, Trace]:
    trace = Trace(lambda: 0.0)
    fs = SimFS(
        capacity_bytes=capacity,
        rng=RngTree(seed),
        wall_clock=lambda: 1_700_000_000_000_000_000,
        block_size=block,
        initial_fill_bytes=fill,
        trace=trace,
    )
    fs.makedirs("/cap/a")
    return fs, trace


def durable_file(fs: SimFS, path: str, data: bytes) -> None:
    """A file whose data and name are both durable."""
    handle = fs.open_append(path)
    handle.write(data)
    handle.fsync()
    handle.close()
    fs.fsync_dir(path.rsplit("/", 1)[0])


def write_closed(fs: SimFS, path: str, data: bytes) -> None:
    handle = fs.open_append(path)
    handle.write(data)
    handle.close()


def test_simfs_satisfies_the_port_protocol() -> None:
    fs, _ = make()
    port: FileSystem = fs
    assert port.listdir("/cap") == ["a"]


# -- power cut -------------------------------------------------------------------------------


def test_crash_drops_data_written_after_the_last_fsync() -> None:
    fs, _ = make()
    durable_file(fs, "/cap/a/f", b"A" * 100)
    handle = fs.open_append("/cap/a/f")
    handle.write(b"B" * 50)
    report = fs.crash(tear=False)
    assert read(fs, "/cap/a/f") == b"A" * 100
    assert report.files == (CrashedFile("/cap/a/f", 100, 100, 50),)
    assert report.dropped_bytes == 50


def test_a_create_never_made_durable_vanishes_even_with_fsynced_data() -> None:
    fs, _ = make()
    handle = fs.open_append("/cap/a/new")
    handle.write(b"data")
    handle.fsync()
    report = fs.crash()
    assert not fs.exists("/cap/a/new")
    assert report.vanished == ("/cap/a/new",)


def test_unsynced_rename_is_undone() -> None:
    fs, _ = make()
    durable_file(fs, "/cap/a/x.prog", b"payload")
    fs.rename("/cap/a/x.prog", "/cap/a/x.capture")
    report = fs.crash()
    assert fs.listdir("/cap/a") == ["x.prog"]
    assert read(fs, "/cap/a/x.prog") == b"payload"
    assert report.vanished == ("/cap/a/x.capture",)
    assert report.resurrected == ("/cap/a/x.prog",)


def test_rename_is_durable_after_fsync_dir() -> None:
    fs, _ = make()
    durable_file(fs, "/cap/a/x.prog", b"payload")
    fs.rename("/cap/a/x.prog", "/cap/a/x.capture")
    fs.fsync_dir("/cap/a")
    report = fs.crash()
    assert fs.listdir("/cap/a") == ["x.capture"]
    assert read(fs, "/cap/a/x.capture") == b"payload"
    assert report == type(report)(files=(), vanished=(), resurrected=())


def test_unsynced_unlink_is_undone_and_synced_unlink_is_kept() -> None:
    fs, _ = make()
    durable_file(fs, "/cap/a/one", b"1")
    durable_file(fs, "/cap/a/two", b"2")
    fs.unlink("/cap/a/one")
    fs.crash()
    assert fs.listdir("/cap/a") == ["one", "two"]
    fs.unlink("/cap/a/one")
    fs.fsync_dir("/cap/a")
    fs.crash()
    assert fs.listdir("/cap/a") == ["two"]


def test_cross_directory_rename_without_fsync_of_the_source_leaves_two_names() -> None:
    fs, _ = make()
    fs.makedirs("/cap/failed")
    durable_file(fs, "/cap/a/x.prog", b"bad")
    fs.rename("/cap/a/x.prog", "/cap/failed/x.prog")
    fs.fsync_dir("/cap/failed")
    fs.crash()
    assert read(fs, "/cap/a/x.prog") == read(fs, "/cap/failed/x.prog") == b"bad"


def test_makedirs_is_durable_at_once() -> None:
    fs, _ = make()
    fs.makedirs("/cap/b/c")
    fs.crash()
    assert fs.is_dir("/cap/b/c")


@pytest.mark.parametrize("seed", range(12))
def test_torn_tails_are_block_aligned_and_between_durable_and_live(seed: int) -> None:
    fs, _ = make(seed=seed, block=512)
    durable_file(fs, "/cap/a/f", b"D" * 700)
    handle = fs.open_append("/cap/a/f")
    handle.write(b"P" * 3000)
    fs.crash()
    kept = fs.stat("/cap/a/f").size
    assert kept in {700, 1024, 1536, 2048, 2560, 3072, 3584, 3700}
    assert read(fs, "/cap/a/f") == (b"D" * 700 + b"P" * 3000)[:kept]


def torn_sizes(seed: int) -> list[int]:
    fs, _ = make(seed=seed, block=64)
    sizes = []
    for round_ in range(5):
        path = f"/cap/a/f{round_}"
        durable_file(fs, path, b"")
        handle = fs.open_append(path)
        handle.write(b"x" * 1000)
        fs.crash()
        sizes.append(fs.stat(path).size)
    return sizes


def test_same_seed_tears_the_same_way_and_seeds_differ() -> None:
    assert torn_sizes(3) == torn_sizes(3)
    assert len({tuple(torn_sizes(seed)) for seed in range(6)}) > 1


def test_a_power_cut_kills_every_open_handle() -> None:
    fs, _ = make()
    durable_file(fs, "/cap/a/f", b"x")
    writer = fs.open_append("/cap/a/f")
    reader = fs.open_read("/cap/a/f")
    fs.crash()
    with pytest.raises(OSError, match="before a power cut") as info:
        writer.write(b"y")
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError, match="before a power cut"):
        reader.read()
    writer.close()  # closing a dead handle is harmless
    assert read(fs, "/cap/a/f") == b"x"


def test_crash_is_traced_with_what_it_dropped() -> None:
    fs, trace = make()
    durable_file(fs, "/cap/a/f", b"x")
    fs.open_append("/cap/a/f").write(b"lost")
    fs.open_append("/cap/a/g")
    fs.crash(tear=False)
    (event,) = trace.of_kind("fs.crash")
    assert event.fields == {
        "tear": False,
        "dropped_bytes": 4,
        "files": [["/cap/a/f", 1, 4]],
        "vanished": ["/cap/a/g"],
        "resurrected": [],
    }
    assert fs.statistics().bytes_dropped_by_crashes == 4


def test_usage_is_recomputed_after_a_crash() -> None:
    fs, _ = make(block=100)
    durable_file(fs, "/cap/a/f", b"x" * 150)
    fs.open_append("/cap/a/f").write(b"y" * 500)
    fs.open_append("/cap/a/new").write(b"z" * 1000)
    fs.crash(tear=False)
    assert fs.statistics().used_bytes == 200


# -- space -----------------------------------------------------------------------------------


def test_usage_counts_whole_blocks_plus_ballast() -> None:
    fs, _ = make(capacity=100_000, block=1000, fill=5000)
    fs.open_append("/cap/a/f").write(b"x" * 1001)
    usage = fs.disk_usage("/cap")
    assert usage.total_bytes == 100_000
    assert usage.avail_bytes == 100_000 - 5000 - 2000
    fs.fill(50_000)
    assert fs.disk_usage("/").avail_bytes == 100_000 - 50_000 - 2000
    fs.set_capacity(40_000)
    assert fs.disk_usage("/").avail_bytes == 0
    assert fs.statistics().high_water_bytes == 52_000


def test_a_write_that_does_not_fit_appends_what_fits_then_raises_enospc() -> None:
    fs, trace = make(capacity=3 * 4096)
    handle = fs.open_append("/cap/a/f")
    handle.write(b"a" * 10_000)  # 3 blocks
    with pytest.raises(OSError, match="No space") as info:
        handle.write(b"b" * 5000)
    assert info.value.errno == errno.ENOSPC
    assert handle.size() == 3 * 4096  # the slack of the last block was filled
    handle.write(b"")  # nothing to add still fits
    with pytest.raises(OSError, match="No space"):
        handle.write(b"c")
    assert handle.size() == 3 * 4096
    assert fs.statistics().enospc_errors == 2
    assert len(trace.of_kind("fs.enospc")) == 1  # once per disk-full episode


def test_freeing_space_ends_the_disk_full_episode() -> None:
    fs, trace = make(capacity=2 * 4096)
    write_closed(fs, "/cap/a/big", b"x" * 4096)
    handle = fs.open_append("/cap/a/f")
    handle.write(b"y" * 4096)
    with pytest.raises(OSError, match="No space"):
        handle.write(b"z")
    fs.unlink("/cap/a/big")
    handle.write(b"z" * 4096)
    with pytest.raises(OSError, match="No space"):
        handle.write(b"z")
    assert len(trace.of_kind("fs.enospc")) == 2


def test_ballast_fills_the_disk_like_a_ballast_file() -> None:
    fs, trace = make(capacity=10 * 4096)
    fs.fill(10 * 4096 - 100)
    with pytest.raises(OSError, match="No space"):
        fs.open_append("/cap/a/f").write(b"x")
    fs.fill(0)
    fs.open_append("/cap/a/f").write(b"x")
    assert [e.fields["ballast_bytes"] for e in trace.of_kind("fs.fill")] == [10 * 4096 - 100, 0]


def test_a_ballast_holds_no_more_than_the_free_space() -> None:
    # Regression: a 30 MiB fill on a 16 MiB disk was kept whole: the report's high water
    # read 194 % of the disk.
    fs, trace = make(capacity=10 * 4096)
    fs.open_append("/cap/a/f").write(b"x" * 4096)
    fs.fill(100 * 4096)
    assert fs.statistics().used_bytes == fs.statistics().high_water_bytes == 10 * 4096
    [event] = trace.of_kind("fs.fill")
    assert (event.fields["requested"], event.fields["ballast_bytes"]) == (100 * 4096, 9 * 4096)


def test_an_unlinked_file_holds_its_space_until_closed() -> None:
    fs, _ = make(block=100)
    handle = fs.open_append("/cap/a/f")
    handle.write(b"x" * 250)
    fs.unlink("/cap/a/f")
    assert fs.statistics().used_bytes == 300
    handle.write(b"x" * 100)
    handle.close()
    assert fs.statistics().used_bytes == 0


def test_rename_over_a_file_frees_the_replaced_file() -> None:
    fs, _ = make(block=100)
    write_closed(fs, "/cap/a/old", b"x" * 500)
    write_closed(fs, "/cap/a/new", b"y" * 100)
    fs.rename("/cap/a/new", "/cap/a/old")
    stats = fs.statistics()
    assert stats.used_bytes == 100
    assert stats.files_deleted == 1


# -- injected faults -------------------------------------------------------------------------


def test_eio_for_the_next_n_writes_under_a_prefix() -> None:
    fs, trace = make()
    fs.makedirs("/capx")
    handle = fs.open_append("/cap/a/f")
    other = fs.open_append("/capx/f")  # "/capx" is not under "/cap"
    fs.inject_eio(prefix="/cap/", ops=["write"], count=2, fault_id="f1")
    for _ in range(2):
        with pytest.raises(OSError, match=r"\[f1\]") as info:
            handle.write(b"x")
        assert info.value.errno == errno.EIO
        assert isinstance(info.value.__cause__, InjectedFault)
        assert info.value.__cause__.fault_id == "f1"
        other.write(b"fine")
    handle.write(b"ok")
    assert read(fs, "/cap/a/f") == b"ok"
    assert fs.statistics().faults_fired == 2
    assert [e.fields["op"] for e in trace.of_kind("fs.fault")] == ["write", "write"]
    assert fs.active_faults() == ()


def failures(seed: int, fault_id: str) -> list[bool]:
    fs, _ = make(seed=seed)
    handle = fs.open_append("/cap/a/f")
    fs.inject_eio(prefix="/cap", ops={"write"}, probability=0.5, fault_id=fault_id)
    pattern = []
    for _ in range(200):
        try:
            handle.write(b"x")
            pattern.append(False)
        except OSError:
            pattern.append(True)
    return pattern


def test_probabilistic_eio_is_seeded_per_fault() -> None:
    pattern = failures(7, "flaky")
    assert pattern == failures(7, "flaky")
    assert pattern != failures(8, "flaky")
    assert pattern != failures(7, "other")
    assert 60 < sum(pattern) < 140


def test_probability_and_count_together_stop_after_count_failures() -> None:
    fs, _ = make()
    handle = fs.open_append("/cap/a/f")
    fs.inject_eio(prefix="/", ops={"write"}, probability=0.5, count=3, fault_id="f")
    failed = 0
    for _ in range(100):
        try:
            handle.write(b"x")
        except OSError:
            failed += 1
    assert failed == 3


@pytest.mark.parametrize("op", ["open", "read", "fsync", "rename", "unlink", "fsync_dir"])
def test_eio_on_each_operation_leaves_the_state_unchanged(op: str) -> None:
    fs, _ = make()
    durable_file(fs, "/cap/a/f", b"data")
    handle = fs.open_append("/cap/a/f")
    handle.write(b"more")
    reader = fs.open_read("/cap/a/f")
    fs.inject_eio(prefix="/cap/a", ops=[op], fault_id="e")
    calls: dict[str, Callable[[], object]] = {
        "open": lambda: fs.open_read("/cap/a/f"),
        "read": reader.read,
        "fsync": handle.fsync,
        "rename": lambda: fs.rename("/cap/a/f", "/cap/a/g"),
        "unlink": lambda: fs.unlink("/cap/a/f"),
        "fsync_dir": lambda: fs.fsync_dir("/cap/a"),
    }
    with pytest.raises(OSError, match=r"\[e\] injected I/O error") as info:
        calls[op]()
    assert info.value.errno == errno.EIO
    fs.clear_faults("e")
    assert fs.listdir("/cap/a") == ["f"]
    fs.crash(tear=False)
    assert read(fs, "/cap/a/f") == b"data"  # the failed fsync made nothing durable


def test_clear_faults_disarms_one_or_all() -> None:
    fs, trace = make()
    fs.inject_eio(prefix="/a", ops=["write"], fault_id="one")
    fs.inject_eio(prefix="/b", ops=["read"], fault_id="two")
    fs.clear_faults("one")
    assert [f.fault_id for f in fs.active_faults()] == ["two"]
    fs.clear_faults()
    assert fs.active_faults() == ()
    assert [e.fields["cleared"] for e in trace.of_kind("fs.clear_faults")] == [1, 1]


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"prefix": "rel", "ops": ["write"]}, "prefix"),
        ({"prefix": "/", "ops": ["chmod"]}, "ops"),
        ({"prefix": "/", "ops": []}, "ops"),
        ({"prefix": "/", "ops": ["write"], "count": 0}, "count"),
        ({"prefix": "/", "ops": ["write"], "probability": 1.5}, "probability"),
    ],
)
def test_bad_fault_parameters_are_named(kwargs: dict[str, object], where: str) -> None:
    fs, _ = make()
    with pytest.raises(ScenarioError, match=where):
        fs.inject_eio(fault_id="f", **kwargs)  # type: ignore[arg-type]


def test_fault_ids_are_unique_and_valid() -> None:
    fs, _ = make()
    fs.inject_eio(prefix="/", ops=["write"], fault_id="f")
    with pytest.raises(ScenarioError, match="already armed"):
        fs.inject_eio(prefix="/", ops=["write"], fault_id="f")
    with pytest.raises(ScenarioError, match="fault_id"):
        fs.inject_eio(prefix="/", ops=["write"], fault_id="a/b")


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"capacity_bytes": 0}, "capacity_bytes"),
        ({"capacity_bytes": 10, "block_size": 0}, "block_size"),
        ({"capacity_bytes": 10, "initial_fill_bytes": -1}, "initial_fill_bytes"),
    ],
)
def test_bad_disk_parameters_are_named(kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(ScenarioError, match=where):
        SimFS(rng=RngTree(1), wall_clock=lambda: 0, **kwargs)


def test_bad_runtime_changes_are_named() -> None:
    fs, _ = make()
    with pytest.raises(ScenarioError, match="ballast_bytes"):
        fs.fill(-1)
    with pytest.raises(ScenarioError, match="capacity_bytes"):
        fs.set_capacity(0)
    with pytest.raises(ValueError, match="absolute"):
        fs.exists("cap")


# -- process binding -------------------------------------------------------------------------


def test_a_dead_process_can_do_nothing_through_its_view() -> None:
    fs, _ = make()
    kernel = SimKernel(epoch_ns=0)
    rt = kernel.process("collector")
    view = fs.for_process(rt)
    handle = view.open_append("/cap/a/f")
    handle.write(b"kept in the page cache")
    reader = view.open_read("/cap/a/f")
    rt.kill()
    for call in (
        lambda: handle.write(b"x"),
        handle.fsync,
        handle.close,
        reader.read,
        lambda: view.listdir("/cap"),
        lambda: view.open_append("/cap/a/g"),
        lambda: list(view.walk("/")),
    ):
        with pytest.raises(ProcessKilled):
            call()
    # The process died, the machine did not: its bytes are still there, and still pending.
    other = fs.for_process(kernel.process("restarted"))
    assert other.listdir("/cap/a") == ["f"]
    assert fs.stat("/cap/a/f").size == len(b"kept in the page cache")
    fs.crash(tear=False)
    assert not fs.exists("/cap/a/f")


def test_closing_a_dead_process_handle_still_frees_an_unlinked_file() -> None:
    fs, _ = make(block=100)
    rt = SimKernel(epoch_ns=0).process("uploader")
    write_closed(fs, "/cap/a/f", b"x" * 300)
    handle = fs.for_process(rt).open_read("/cap/a/f")
    fs.unlink("/cap/a/f")
    rt.kill()
    assert fs.statistics().used_bytes == 300
    with pytest.raises(ProcessKilled):
        handle.close()  # the kernel closes a killed process's descriptors
    assert fs.statistics().used_bytes == 0


def test_a_killed_process_cannot_write_from_its_cleanup_code() -> None:
    fs, _ = make()
    kernel = SimKernel(epoch_ns=0)
    victim = kernel.process("victim")
    view = fs.for_process(victim)

    async def writer() -> None:
        handle = view.open_append("/cap/a/f")
        try:
            while True:
                handle.write(b"x")
                await victim.sleep(1.0)
        finally:
            handle.write(b"cleanup")

    async def killer() -> None:
        await killer_rt.sleep(3.5)
        victim.kill()

    killer_rt = kernel.process("killer")
    victim.spawn(writer(), name="writer")
    killer_rt.spawn(killer(), name="killer")
    kernel.run(until=10)
    assert read(fs, "/cap/a/f") == b"xxxx"


def test_walk_through_a_view_stops_when_the_process_dies() -> None:
    fs, _ = make()
    fs.makedirs("/cap/b")
    rt = SimKernel(epoch_ns=0).process("p")
    walk = fs.for_process(rt).walk("/cap")
    assert next(walk)[0] == "/cap"
    rt.kill()
    with pytest.raises(ProcessKilled):
        next(walk)


# -- reads, mtimes, statistics ---------------------------------------------------------------


def test_a_reader_sees_appends_made_after_it_opened() -> None:
    fs, _ = make()
    writer = fs.open_append("/cap/a/f")
    writer.write(b"one")
    reader = fs.open_read("/cap/a/f")
    assert reader.read() == b"one"
    writer.write(b"two")
    assert reader.read() == b"two"
    with pytest.raises(OSError, match="negative seek") as info:
        reader.seek(-1)
    assert info.value.errno == errno.EINVAL


def test_unclean_paths_are_normalised() -> None:
    fs, _ = make()
    handle = fs.open_append("/cap//a/./sub/../f")
    assert handle.path == "/cap/a/f"
    handle.close()
    assert fs.listdir("/cap/a/") == ["f"]
    assert [step[0] for step in fs.walk("//cap/")] == ["/cap", "/cap/a"]


def test_mtime_comes_from_the_wall_clock() -> None:
    now = [5]
    fs = SimFS(capacity_bytes=1 << 20, rng=RngTree(0), wall_clock=lambda: now[0])
    handle = fs.open_append("/f")
    now[0] = 42
    handle.write(b"x")
    assert fs.stat("/f").mtime_ns == 42


def test_statistics_count_every_kind_of_operation() -> None:
    fs, _ = make(block=10)
    handle = fs.open_append("/cap/a/f")
    handle.write(b"12345")
    handle.write(b"678")
    handle.fsync()
    handle.close()
    fs.fsync_dir("/cap/a")
    fs.rename("/cap/a/f", "/cap/a/g")
    fs.unlink("/cap/a/g")
    fs.crash()
    stats = fs.statistics()
    assert (stats.bytes_written, stats.writes, stats.fsyncs, stats.dir_fsyncs) == (8, 2, 1, 1)
    assert (stats.files_created, stats.files_deleted, stats.renames) == (1, 1, 1)
    assert (stats.crashes, stats.faults_fired, stats.enospc_errors) == (1, 0, 0)
    assert stats.used_bytes == 10  # the unsynced unlink and rename were undone
    assert stats.high_water_bytes == 10
