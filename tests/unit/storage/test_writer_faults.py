"""CaptureWriter under disk faults: EIO, ENOSPC short writes, failed completions, dead process."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from viam.proto.app.datasync import DataType

from dmsim.runtime import ProcessKilled, RngTree, SimKernel
from dmsim.storage._codec import binary_reading, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._reader import read_capture_file
from dmsim.storage._simfs import SimFS
from dmsim.storage._writer import CaptureWriteError, CaptureWriter, ClosedFile

KEY = CollectorKey.of("rdk:component:sensor", "s", "Readings")
DIR = "/cap/rdk_component_sensor/s/Readings"


class Rig:
    def __init__(
        self, *, data_type: DataType.ValueType = DataType.DATA_TYPE_TABULAR_SENSOR, **options: Any
    ) -> None:
        self.fs = SimFS(capacity_bytes=1 << 24, rng=RngTree(5), wall_clock=lambda: 0, block_size=64)
        self.now = 0.0
        self.wall = 1_700_000_000 * 10**9
        self.closed: list[ClosedFile] = []
        self.binary = data_type == DataType.DATA_TYPE_BINARY_SENSOR
        self.writer = CaptureWriter(
            self.fs,
            capture_dir="/cap",
            key=KEY,
            data_type=data_type,
            now=lambda: self.now,
            wall_ns=self.tick_wall,
            on_file_closed=self.closed.append,
            **options,
        )

    def tick_wall(self) -> int:
        self.wall += 1000
        return self.wall

    def write(self, seq: int) -> None:
        rid = ReadingId("s", 0, seq)
        if self.binary:
            reading = binary_reading(
                bytes([seq % 256]) * 50, time_requested_ns=seq, time_received_ns=seq
            )
        else:
            reading = tabular_reading(
                {"seq": seq, "pad": "p" * 40}, time_requested_ns=seq, time_received_ns=seq
            )
        self.writer.write(reading, reading_id=rid)

    def stored(self) -> tuple[list[int], int]:
        """Sequence numbers in the .capture files, in name order, and torn bytes seen."""
        seqs: list[int] = []
        torn = 0
        for name in self.fs.listdir(DIR):
            assert name.endswith(".capture"), name
            contents = read_capture_file(self.fs, f"{DIR}/{name}")
            seqs.extend(rid.seq for rid in contents.reading_ids if rid is not None)
            torn += contents.torn_tail_bytes
        return seqs, torn

    def eio(self, *ops: str, count: int | None = 1) -> None:
        self.fs.inject_eio(prefix="/cap", ops=ops, fault_id="f1", count=count)


def test_eio_on_write_ends_the_file_and_hands_the_reading_back() -> None:
    rig = Rig(buffer_bytes=0)
    for seq in range(3):
        rig.write(seq)
    rig.eio("write")
    with pytest.raises(CaptureWriteError) as info:
        rig.write(3)
    error = info.value
    assert isinstance(error, OSError)
    assert error.errno == errno.EIO
    assert error.operation == "write"
    assert [rid for rid, _ in error.rejected] == [ReadingId("s", 0, 3)]
    assert rig.closed[-1].ended_by_error
    assert [r.seq for r in rig.closed[-1].reading_ids] == [0, 1, 2]  # type: ignore[union-attr]
    assert rig.writer.live_paths() == frozenset()
    rig.write(3)  # the caller retries: a new file, no duplicate
    rig.write(4)
    rig.writer.close()
    assert rig.stored() == ([0, 1, 2, 3, 4], 0)
    stats = rig.writer.statistics()
    assert (stats.write_errors, stats.readings_rejected, stats.readings_written) == (1, 1, 5)


def test_a_file_ended_by_a_write_error_is_complete_only_once_its_data_is_durable() -> None:
    """Regression (dmsim fuzz, oversize-tabular-request seed 1724786): a write error ended
    the file by renaming it to .capture without an fsync first; a power cut then dropped the
    unsynced readings from a file already reported complete, sync uploaded the rest and
    deleted it, and the cloud never saw them. Closing is flush → fsync → rename → dir fsync,
    also after an error."""
    rig = Rig(buffer_bytes=0, durability_window_s=60.0)
    for seq in range(3):
        rig.write(seq)  # written, not yet fsynced: the window is long
    rig.eio("write")
    with pytest.raises(CaptureWriteError):
        rig.write(3)
    assert [r.seq for r in rig.closed[-1].reading_ids] == [0, 1, 2]  # type: ignore[union-attr]
    rig.fs.crash()
    assert rig.stored() == ([0, 1, 2], 0)  # what it reported complete survived the power cut


def test_a_file_whose_data_cannot_be_made_durable_is_not_reported_complete() -> None:
    rig = Rig(buffer_bytes=0, durability_window_s=60.0)
    for seq in range(3):
        rig.write(seq)
    rig.eio("write", "fsync", count=None)
    with pytest.raises(CaptureWriteError):
        rig.write(3)
    assert rig.closed == []  # its data is not durable: not complete, not renamed
    rig.fs.clear_faults()
    rig.writer.sync()  # the next sync fsyncs it, then completes it
    assert [r.seq for r in rig.closed[-1].reading_ids] == [0, 1, 2]  # type: ignore[union-attr]
    rig.fs.crash()
    assert rig.stored() == ([0, 1, 2], 0)


def test_enospc_short_write_keeps_the_landed_prefix_and_the_unlanded_readings() -> None:
    rig = Rig(buffer_bytes=1 << 20)
    for seq in range(10):
        rig.write(seq)
    avail = rig.fs.disk_usage("/").avail_bytes
    rig.fs.fill(avail - 200)  # room for a few records, then a short write
    with pytest.raises(CaptureWriteError) as info:
        rig.writer.sync()
    assert info.value.errno == errno.ENOSPC
    assert info.value.rejected == ()  # nothing lost: unwritten readings stay pending
    ended = rig.closed[-1]
    assert ended.ended_by_error
    assert 0 < ended.readings < 10
    assert rig.writer.statistics().pending_readings == 10 - ended.readings
    rig.fs.fill(0)
    rig.write(10)
    rig.writer.close()
    seqs, torn = rig.stored()
    assert seqs == list(range(11))  # each exactly once, in order
    assert torn > 0  # the short write's partial record, dropped by the reader


def test_write_that_cannot_open_a_file_is_rejected_and_retried_cleanly() -> None:
    rig = Rig()
    rig.eio("open")
    with pytest.raises(CaptureWriteError) as info:
        rig.write(0)
    assert info.value.operation == "open"
    assert len(info.value.rejected) == 1
    rig.write(0)
    rig.writer.close()
    assert rig.stored() == ([0], 0)


def test_fsync_failure_ends_the_file_but_keeps_what_it_holds() -> None:
    rig = Rig()
    rig.write(0)
    rig.write(1)
    rig.eio("fsync")
    with pytest.raises(CaptureWriteError) as info:
        rig.writer.sync()
    assert info.value.operation == "fsync"
    assert rig.closed[-1].ended_by_error
    rig.write(2)
    rig.writer.close()
    assert rig.stored() == ([0, 1, 2], 0)


def test_an_error_after_the_reading_landed_is_not_raised() -> None:
    # Raising would make the caller write the reading a second time.
    rig = Rig(buffer_bytes=0, durability_window_s=1.0)
    rig.write(0)
    rig.now = 5.0
    rig.eio("fsync")
    rig.write(1)  # lands, then the due sync fails: counted, not raised
    assert rig.writer.statistics().write_errors == 1
    rig.write(2)
    rig.writer.close()
    assert rig.stored() == ([0, 1, 2], 0)


def test_failed_rename_strands_the_file_until_a_later_pass() -> None:
    rig = Rig()
    rig.write(0)
    [prog] = rig.writer.live_paths()
    rig.eio("rename")
    with pytest.raises(CaptureWriteError) as info:
        rig.writer.flush_and_close()
    assert info.value.operation == "rename"
    assert rig.writer.live_paths() == frozenset({prog})  # recovery and policies keep off
    assert rig.writer.statistics().files_awaiting_rename == 1
    assert rig.closed == []
    rig.writer.flush_and_close()  # the fault fired once: the retry completes it
    assert rig.writer.live_paths() == frozenset()
    assert [c.readings for c in rig.closed] == [1]
    assert rig.stored() == ([0], 0)


def test_a_rename_failing_at_a_sync_is_retried_one_window_later_not_at_every_write() -> None:
    rig = Rig(data_type=DataType.DATA_TYPE_BINARY_SENSOR)
    rig.write(0)
    rig.now = 1.0
    rig.eio("rename")
    with pytest.raises(CaptureWriteError) as info:
        rig.writer.maybe_sync()
    assert info.value.operation == "rename"
    assert rig.writer.sync_deadline() == 2.0
    rig.write(1)  # before the new deadline: no second attempt
    assert rig.closed == []
    rig.now = 2.0
    assert rig.writer.maybe_sync()
    assert [c.readings for c in rig.closed] == [1, 1]
    assert rig.stored() == ([0, 1], 0)


def test_failed_directory_fsync_is_retried_too() -> None:
    rig = Rig()
    rig.write(0)
    rig.eio("fsync_dir")
    with pytest.raises(CaptureWriteError) as info:
        rig.writer.flush_and_close()
    assert info.value.operation == "fsync_dir"
    rig.writer.close()
    assert [c.readings for c in rig.closed] == [1]


def test_close_reports_pending_readings_it_cannot_write() -> None:
    rig = Rig(buffer_bytes=1 << 20)
    for seq in range(4):
        rig.write(seq)
    rig.eio("write", count=None)
    with pytest.raises(CaptureWriteError) as info:
        rig.writer.close()
    assert [rid.seq for rid, _ in info.value.rejected] == [0, 1, 2, 3]  # type: ignore[union-attr]
    assert rig.writer.statistics().readings_rejected == 4
    rig.writer.close()  # already closed: nothing more happens


def test_binary_write_failure_discards_the_empty_file() -> None:
    rig = Rig(data_type=DataType.DATA_TYPE_BINARY_SENSOR)
    rig.write(0)
    rig.fs.inject_eio(prefix="/cap", ops=["write"], fault_id="f2", count=1)
    with pytest.raises(CaptureWriteError):
        rig.write(1)  # the header lands, the record does not: nothing worth keeping
    assert rig.writer.statistics().files_discarded == 1
    rig.write(1)
    rig.writer.sync()
    assert rig.stored() == ([0, 1], 0)
    assert all(not name.endswith(".prog") for name in rig.fs.listdir(DIR))


def test_a_killed_process_cannot_write_even_in_cleanup() -> None:
    kernel = SimKernel(epoch_ns=0)
    rt = kernel.process("capture")
    fs = SimFS(capacity_bytes=1 << 20, rng=RngTree(0), wall_clock=lambda: 0)
    writer = CaptureWriter(
        fs.for_process(rt),
        capture_dir="/cap",
        key=KEY,
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: 0,
    )
    writer.write(tabular_reading({}, time_requested_ns=0, time_received_ns=0))
    rt.kill()
    with pytest.raises(ProcessKilled):
        writer.close()
