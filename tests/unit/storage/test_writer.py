"""CaptureWriter: layout, names, rotation, binary files, durability window, close protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from viam.proto.app.datasync import DataType

from dmsim.errors import ConfigError, StorageError
from dmsim.runtime import RngTree
from dmsim.storage._codec import binary_reading, encode_metadata, tabular_reading
from dmsim.storage._fs import FileHandle, FileSystem
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey, parse_capture_name
from dmsim.storage._reader import read_capture_file
from dmsim.storage._simfs import SimFS
from dmsim.storage._writer import (
    DEFAULT_DURABILITY_WINDOW_S,
    CaptureWriter,
    ClosedFile,
    landed_count,
    sync_deadline_after,
)

T0_NS = 1_781_715_872_032_650_000  # 2026-06-17T17:04:32.032650Z
SENSOR = CollectorKey.of("rdk:component:sensor", "remote:imu", "Readings")


@dataclass
class OpLog:
    """A FileSystem wrapper recording every mutating call, to check the order of steps."""

    inner: FileSystem
    ops: list[tuple[str, str]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_append(self, path: str) -> FileHandle:
        self.ops.append(("open", path))
        return _LoggedHandle(self.inner.open_append(path), self.ops)

    def rename(self, src: str, dst: str) -> None:
        self.ops.append(("rename", f"{src} -> {dst}"))
        self.inner.rename(src, dst)

    def unlink(self, path: str) -> None:
        self.ops.append(("unlink", path))
        self.inner.unlink(path)

    def fsync_dir(self, path: str) -> None:
        self.ops.append(("fsync_dir", path))
        self.inner.fsync_dir(path)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.ops]


@dataclass
class _LoggedHandle:
    inner: FileHandle
    ops: list[tuple[str, str]]

    @property
    def path(self) -> str:
        return self.inner.path

    def write(self, data: bytes) -> None:
        self.ops.append(("write", self.inner.path))
        self.inner.write(data)

    def fsync(self) -> None:
        self.ops.append(("fsync", self.inner.path))
        self.inner.fsync()

    def size(self) -> int:
        return self.inner.size()

    def close(self) -> None:
        self.inner.close()


class Rig:
    def __init__(
        self,
        *,
        data_type: DataType.ValueType = DataType.DATA_TYPE_TABULAR_SENSOR,
        key: CollectorKey = SENSOR,
        **options: Any,
    ) -> None:
        self.sim = SimFS(capacity_bytes=1 << 30, rng=RngTree(3), wall_clock=lambda: 0)
        self.fs = OpLog(self.sim)
        self.now = 0.0
        self.wall_ns = T0_NS
        self.closed: list[ClosedFile] = []
        self.writer = CaptureWriter(
            self.fs,
            capture_dir="/cap",
            key=key,
            data_type=data_type,
            now=lambda: self.now,
            wall_ns=lambda: self.wall_ns,
            on_file_closed=self.closed.append,
            **options,
        )
        self.seq = 0

    def tabular(self, **values: Any) -> None:
        reading = tabular_reading(
            values or {"v": self.seq}, time_requested_ns=self.seq, time_received_ns=self.seq
        )
        self.writer.write(reading, reading_id=ReadingId("s", 1, self.seq))
        self.seq += 1

    def files(self) -> list[str]:
        return self.sim.listdir(self.writer.directory)


def test_layout_replaces_colons_and_names_in_utc() -> None:
    rig = Rig()
    rig.tabular()
    [live] = rig.writer.live_paths()
    assert live == "/cap/rdk_component_sensor/remote_imu/Readings/2026-06-17T17_04_32.032650Z.prog"
    rig.writer.close()
    assert rig.files() == ["2026-06-17T17_04_32.032650Z.capture"]
    assert rig.writer.live_paths() == frozenset()


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "nul\0"])
def test_layout_refuses_parts_that_escape_their_directory(bad: str) -> None:
    with pytest.raises(StorageError, match="cannot be a capture directory name"):
        Rig(key=CollectorKey.of("rdk:component:sensor", bad, "Readings"))


def test_collectors_differing_only_in_params_never_share_a_name() -> None:
    a1 = Rig(key=CollectorKey.of("rdk:component:board", "b", "Analogs", {"reader_name": "A1"}))
    a2_key = CollectorKey.of("rdk:component:board", "b", "Analogs", {"reader_name": "A2"})
    a2 = CaptureWriter(
        a1.fs,
        capture_dir="/cap",
        key=a2_key,
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: T0_NS,
    )
    a1.tabular()
    a2.write(tabular_reading({}, time_requested_ns=0, time_received_ns=0))
    a1.writer.close()
    a2.close()
    names = a1.files()
    assert len(names) == 2
    hashes = {parse_capture_name(n).params_hash for n in names}  # type: ignore[union-attr]
    assert len(hashes) == 2
    assert None not in hashes


def test_same_microsecond_and_backwards_clock_still_give_increasing_unique_names() -> None:
    rig = Rig(data_type=DataType.DATA_TYPE_BINARY_SENSOR)
    for step in (0, 0, -(10**12), 0, 5_000):  # same µs twice, then a step back 1000 s
        rig.wall_ns += step
        rig.writer.write(binary_reading(b"x", time_requested_ns=0, time_received_ns=0))
    rig.writer.sync()
    names = rig.files()
    assert len(names) == 5
    times = [parse_capture_name(n).time_us for n in names]  # type: ignore[union-attr]
    assert times == sorted(times)
    assert times[:4] == [T0_NS // 1000 + i for i in range(4)]
    assert [c.path.rsplit("/", 1)[1] for c in rig.closed] == names  # creation order = lexical


def test_a_new_writer_continues_after_existing_files_and_never_reuses_a_name() -> None:
    rig = Rig()
    rig.tabular()
    rig.writer.close()
    again = CaptureWriter(
        rig.fs,
        capture_dir="/cap",
        key=SENSOR,
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: T0_NS - 10**9,
    )
    again.write(tabular_reading({}, time_requested_ns=0, time_received_ns=0))
    [live] = again.live_paths()
    assert live.endswith("2026-06-17T17_04_32.032651Z.prog")
    again.close()


def test_tabular_rotation_happens_before_a_write_and_overshoots_by_one_reading_at_most() -> None:
    rig = Rig(max_file_size_bytes=200)
    for _ in range(40):
        rig.tabular(payload="x" * 20)
    rig.writer.close()
    assert len(rig.closed) > 3
    first = rig.closed[0]
    header = len(encode_metadata(read_capture_file(rig.sim, first.path).metadata))
    per_record = (first.size_bytes - header) // first.readings  # all readings are one size
    for closed in rig.closed[:-1]:
        assert 200 < closed.size_bytes <= 200 + per_record
    assert sum(c.readings for c in rig.closed) == 40
    assert rig.writer.statistics().rotations == len(rig.closed) - 1


def test_rotated_files_are_renamed_at_the_next_sync_with_one_directory_fsync() -> None:
    rig = Rig(max_file_size_bytes=200, buffer_bytes=0)
    for _ in range(11):  # 3 readings a file: the last file has room for one more
        rig.tabular(payload="x" * 20)
        rig.now += 0.05
    rotated = rig.writer.statistics().rotations
    assert rotated >= 2
    assert len(rig.writer.live_paths()) == rotated + 1  # fsynced, kept from recovery/policies
    assert all(name.endswith(".prog") for name in rig.files())
    assert rig.closed == []
    assert rig.fs.kinds().count("fsync") == rotated  # each file's data before it is left
    assert rig.writer.sync_deadline() == DEFAULT_DURABILITY_WINDOW_S  # the first reading's
    before = len(rig.fs.ops)
    rig.writer.sync()
    # the open file's fsync, the renames, then one directory fsync for them and its name
    assert rig.fs.kinds()[before:] == ["fsync"] + ["rename"] * rotated + ["fsync_dir"]
    assert len(rig.closed) == rotated
    assert len(rig.writer.live_paths()) == 1
    before = len(rig.fs.ops)
    rig.tabular(payload="x" * 20)
    rig.writer.sync()
    assert rig.fs.kinds()[before:] == ["write", "fsync"]  # the open file's name is durable
    rig.writer.close()
    assert sum(c.readings for c in rig.closed) == 12


def test_with_no_durability_window_every_file_completes_at_once() -> None:
    rig = Rig(data_type=DataType.DATA_TYPE_BINARY_SENSOR, durability_window_s=0.0)
    rig.writer.write(binary_reading(b"x", time_requested_ns=0, time_received_ns=0))
    assert rig.fs.kinds() == ["open", "write", "write", "fsync", "rename", "fsync_dir"]
    assert len(rig.closed) == 1
    assert rig.writer.live_paths() == frozenset()


def test_a_file_at_exactly_the_limit_is_not_cut_one_byte_over_is() -> None:
    """rdk's rule is strictly "over the limit": pin the boundary on both sides."""

    def closed_files(max_size: int, count: int) -> list[ClosedFile]:
        rig = Rig(max_file_size_bytes=max_size)
        rig.seq = 1  # seqs 1..count: every record the same size (a zero seq is omitted)
        for _ in range(count):
            rig.tabular(payload="x")
        rig.writer.close()
        return rig.closed

    [two] = closed_files(1 << 20, 2)
    assert [c.readings for c in closed_files(two.size_bytes, 3)] == [3]
    assert [c.readings for c in closed_files(two.size_bytes - 1, 3)] == [2, 1]


def test_zero_max_size_means_one_reading_per_file_not_empty_files() -> None:
    rig = Rig(max_file_size_bytes=0)
    for _ in range(3):
        rig.tabular()
    rig.writer.close()
    assert [c.readings for c in rig.closed] == [1, 1, 1]


def test_each_binary_reading_gets_its_own_file_completed_by_one_directory_fsync() -> None:
    # A camera's files are renamed together at the next sync (group commit): one directory
    # fsync per durability window instead of one per image.
    rig = Rig(data_type=DataType.DATA_TYPE_BINARY_SENSOR, file_extension=".jpeg")
    for i in range(3):
        rig.writer.write(
            binary_reading(bytes([i]) * 10, time_requested_ns=i, time_received_ns=i),
            reading_id=ReadingId("cam", 0, i),
        )
    assert len(rig.writer.live_paths()) == 3  # data fsynced, names not yet final
    assert rig.closed == []
    assert rig.fs.kinds() == ["open", "write", "write", "fsync"] * 3
    assert rig.writer.sync_deadline() == rig.now + DEFAULT_DURABILITY_WINDOW_S
    rig.now += DEFAULT_DURABILITY_WINDOW_S
    assert rig.writer.maybe_sync()
    assert rig.writer.live_paths() == frozenset()
    assert [c.reading_ids for c in rig.closed] == [(ReadingId("cam", 0, i),) for i in range(3)]
    assert rig.fs.kinds()[12:] == ["rename", "rename", "rename", "fsync_dir"]
    assert rig.writer.sync_deadline() is None


@pytest.mark.parametrize(
    ("mime_type", "extension"),
    [
        ("image/png", ".png"),
        ("image/jpeg", ".jpeg"),
        ("pointcloud/pcd", ".pcd"),
        ("image/webp", ""),  # no known extension: none rather than the collector's ".jpeg"
        ("", ".jpeg"),  # no per-reading type: the collector's header stands
    ],
)
def test_a_binary_readings_file_extension_follows_its_mime_type(
    mime_type: str, extension: str
) -> None:
    # GetImages returns JPEG colour and PNG depth images from one collector.
    rig = Rig(
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        file_extension=".jpeg",
        mime_type="image/jpeg",
    )
    rig.writer.write(
        binary_reading(b"image", time_requested_ns=0, time_received_ns=0), mime_type=mime_type
    )
    rig.writer.sync()
    [done] = rig.closed
    metadata = read_capture_file(rig.sim, done.path).metadata
    assert (metadata.mime_type, metadata.file_extension) == (mime_type or "image/jpeg", extension)


def test_close_protocol_is_flush_fsync_rename_fsync_dir() -> None:
    rig = Rig()
    rig.tabular()
    rig.fs.ops.clear()
    closed = rig.writer.flush_and_close()
    assert rig.fs.kinds() == ["write", "fsync", "rename", "fsync_dir"]
    assert closed is not None
    assert closed.path.endswith(".capture")
    assert rig.writer.flush_and_close() is None  # nothing open: nothing to do


def test_durability_window_syncs_data_and_the_new_name_once() -> None:
    rig = Rig(durability_window_s=1.0)
    rig.tabular()
    assert rig.writer.sync_deadline() == 1.0
    rig.now = 0.5
    rig.tabular()
    assert rig.writer.maybe_sync() is False
    assert "fsync" not in rig.fs.kinds()
    rig.now = 1.0
    assert rig.writer.maybe_sync() is True
    assert rig.fs.kinds()[-3:] == ["write", "fsync", "fsync_dir"]
    assert rig.writer.sync_deadline() is None
    rig.now = 1.2
    rig.tabular()
    rig.now = 2.3
    rig.tabular()  # a write past the deadline syncs at once, without the directory now
    assert rig.fs.kinds()[-2:] == ["write", "fsync"]
    stats = rig.writer.statistics()
    assert (stats.fsyncs, stats.dir_fsyncs, stats.pending_readings) == (2, 1, 0)
    # everything synced survives a power cut, name included
    rig.sim.crash()
    [name] = rig.files()
    assert len(read_capture_file(rig.sim, f"{rig.writer.directory}/{name}").readings) == 4


def test_a_zero_durability_window_makes_every_reading_durable_as_it_is_written() -> None:
    # durability_window_ms: 0 is documented as "fsync after every write"
    rig = Rig(durability_window_s=0.0)
    for _ in range(3):
        rig.tabular()
    rig.sim.crash()  # a power cut right after the last write loses nothing
    [name] = rig.files()
    assert len(read_capture_file(rig.sim, f"{rig.writer.directory}/{name}").readings) == 3
    stats = rig.writer.statistics()
    assert (stats.fsyncs, stats.dir_fsyncs) == (3, 1)


def test_buffer_is_written_when_full() -> None:
    rig = Rig(buffer_bytes=100)
    for _ in range(10):
        rig.tabular(pad="y" * 30)
    writes = rig.fs.kinds().count("write")
    assert 3 <= writes <= 6  # header + a few buffered batches, not one write per reading
    unbuffered = Rig(buffer_bytes=0)
    for _ in range(10):
        unbuffered.tabular()
    assert unbuffered.fs.kinds().count("write") == 11


def test_close_is_final_and_idempotent() -> None:
    rig = Rig()
    rig.tabular()
    rig.writer.close()
    rig.writer.close()
    with pytest.raises(StorageError, match="closed"):
        rig.tabular()
    stats = rig.writer.statistics()
    assert (stats.files_opened, stats.files_closed, stats.readings_written) == (1, 1, 1)


@pytest.mark.parametrize(
    ("option", "value", "path"),
    [
        ("durability_window_s", -1.0, "durability_window_s"),
        ("durability_window_s", float("nan"), "durability_window_s"),
        ("max_file_size_bytes", -1, "maximum_capture_file_size_bytes"),
        ("buffer_bytes", -1, "buffer_bytes"),
    ],
)
def test_bad_options_are_config_errors_naming_the_option(
    option: str, value: float, path: str
) -> None:
    options: dict[str, Any] = {option: value}
    with pytest.raises(ConfigError) as info:
        Rig(**options)
    assert [p.path for p in info.value.problems] == [path]


# -- pure decisions ------------------------------------------------------------------------


def test_sync_deadline_after() -> None:
    assert sync_deadline_after(1.5, 1.0) == 2.5


@pytest.mark.parametrize(("landed", "count"), [(0, 0), (9, 0), (10, 1), (14, 1), (15, 2), (100, 3)])
def test_landed_count(landed: int, count: int) -> None:
    assert landed_count([10, 5, 7], landed) == count
