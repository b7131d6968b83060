"""Crash-point enumeration on SimFS.

A workload (a tabular collector with rotation and buffering, a binary collector, periodic sync
passes, durability deadlines served on time) runs on a simulated clock. A power cut is injected
before every filesystem step it takes (open, write, fsync, rename, fsync_dir, unlink, makedirs),
each with several seeded tears of the pending bytes; start-up recovery then runs, itself cut at
every one of its steps and run again. After each, the capture directory must prove:

- every reading written more than one durability window before the cut survives, exactly once;
- no file is left as ``.prog`` (or as a recovery temp), nothing lands in ``failed/``;
- every file verifies (no torn tail, no damage, no duplicate identity) and every reading read
  back equals the one written; a collector's files, in name order, hold its readings in order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import pytest
from viam.proto.app.datasync import DataType, SensorData

from dmsim.runtime import RngTree
from dmsim.storage._codec import binary_reading, tabular_reading
from dmsim.storage._fs import FileHandle, FileSystem
from dmsim.storage._identity import ReadingId
from dmsim.storage._inspect import capture_files, verify_dir
from dmsim.storage._naming import CollectorKey
from dmsim.storage._reader import read_capture_file
from dmsim.storage._recovery import recover_capture_dir
from dmsim.storage._simfs import SimFS
from dmsim.storage._writer import CaptureWriter

WINDOW = 1.0
ROOT = "/cap"


class PowerCut(BaseException):
    """Not an error the code under test may catch: the machine is gone."""


@dataclass
class CuttingFS:
    """SimFS with a power cut before step number ``cut_at`` (``None``: never)."""

    sim: SimFS
    cut_at: int | None
    steps: int = 0

    def step(self) -> None:
        if self.steps == self.cut_at:
            self.sim.crash(tear=True)
            raise PowerCut
        self.steps += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def open_append(self, path: str) -> FileHandle:
        self.step()
        return CuttingHandle(self.sim.open_append(path), self)

    def rename(self, src: str, dst: str) -> None:
        self.step()
        self.sim.rename(src, dst)

    def unlink(self, path: str) -> None:
        self.step()
        self.sim.unlink(path)

    def fsync_dir(self, path: str) -> None:
        self.step()
        self.sim.fsync_dir(path)

    def makedirs(self, path: str) -> None:
        self.step()
        self.sim.makedirs(path)


@dataclass
class CuttingHandle:
    inner: FileHandle
    fs: CuttingFS

    @property
    def path(self) -> str:
        return self.inner.path

    def write(self, data: bytes) -> None:
        self.fs.step()
        self.inner.write(data)

    def fsync(self) -> None:
        self.fs.step()
        self.inner.fsync()

    def size(self) -> int:
        return self.inner.size()

    def close(self) -> None:
        self.inner.close()


@dataclass
class Workload:
    fs: FileSystem
    now: float = 0.0
    written: dict[ReadingId, tuple[float, SensorData]] = field(default_factory=dict)

    def run(self) -> None:
        tabular = self._writer(
            "s", DataType.DATA_TYPE_TABULAR_SENSOR, max_file_size_bytes=400, buffer_bytes=150
        )
        binary = self._writer("cam", DataType.DATA_TYPE_BINARY_SENSOR)
        events: list[tuple[float, int, str, int]] = []
        for seq in range(24):
            events.append((0.1 + seq * 0.3, len(events), "tabular", seq))
        for seq in range(3):
            events.append((0.5 + seq * 2.1, len(events), "binary", seq))
        for n in range(1, 4):
            events.append((n * 2.5, len(events), "pass", 0))
        heapq.heapify(events)
        while events:
            due = [(d, w) for w in (tabular, binary) if (d := w.sync_deadline()) is not None]
            if due and min(due, key=lambda item: item[0])[0] <= events[0][0]:
                self.now, writer = min(due, key=lambda item: item[0])
                assert writer.maybe_sync()
                continue
            self.now, _, kind, seq = heapq.heappop(events)
            if kind == "pass":
                tabular.flush_and_close()
                binary.flush_and_close()
            elif kind == "tabular":
                reading = tabular_reading(
                    {"seq": seq, "pad": "t" * 20}, time_requested_ns=seq, time_received_ns=seq
                )
                self._write(tabular, reading, ReadingId("s", 0, seq))
            else:
                reading = binary_reading(
                    bytes([seq]) * 150, time_requested_ns=seq, time_received_ns=seq
                )
                self._write(binary, reading, ReadingId("cam", 0, seq))
        tabular.close()
        binary.close()

    def _writer(self, name: str, data_type: DataType.ValueType, **options: Any) -> CaptureWriter:
        return CaptureWriter(
            self.fs,
            capture_dir=ROOT,
            key=CollectorKey.of("rdk:component:x", name, "Get"),
            data_type=data_type,
            now=lambda: self.now,
            wall_ns=lambda: 1_700_000_000 * 10**9 + int(self.now * 1e9),
            durability_window_s=WINDOW,
            **options,
        )

    def _write(self, writer: CaptureWriter, reading: SensorData, rid: ReadingId) -> None:
        writer.write(reading, reading_id=rid)
        self.written[rid] = (self.now, reading)


def new_sim(seed: int) -> SimFS:
    sim = SimFS(capacity_bytes=1 << 24, rng=RngTree(seed), wall_clock=lambda: 0, block_size=64)
    sim.makedirs(ROOT)  # the capture directory exists before the service starts
    return sim


def count_steps() -> int:
    fs = CuttingFS(new_sim(0), None)
    Workload(fs).run()
    return fs.steps


TOTAL_STEPS = count_steps()


def check_directory(sim: SimFS, workload: Workload, cut_time: float) -> None:
    listing = capture_files(sim, ROOT)
    files = listing.files
    assert listing.quarantined == 0
    assert all(path.endswith(".capture") for path in files), files
    assert not any(name.endswith(".recovering") for _, _, names in sim.walk(ROOT) for name in names)
    report = verify_dir(sim, ROOT)
    assert report.ok, report.problems
    found: dict[str, list[int]] = {}
    for path in files:
        contents = read_capture_file(sim, path)
        for rid, reading in zip(contents.reading_ids, contents.readings, strict=True):
            assert rid is not None
            assert workload.written[rid][1] == reading
            found.setdefault(rid.stream, []).append(rid.seq)
    for seqs in found.values():
        assert seqs == sorted(seqs)
    survivors = {ReadingId(stream, 0, seq) for stream, seqs in found.items() for seq in seqs}
    must_survive = {rid for rid, (t, _) in workload.written.items() if cut_time - t > WINDOW}
    assert must_survive <= survivors, sorted(must_survive - survivors)


def crash_workload(cut_at: int, seed: int) -> tuple[SimFS, Workload]:
    sim = new_sim(seed)
    workload = Workload(CuttingFS(sim, cut_at))
    with pytest.raises(PowerCut):
        workload.run()
    return sim, workload


def test_the_workload_takes_many_steps() -> None:
    assert TOTAL_STEPS > 60


@pytest.mark.parametrize("seed", range(6))
def test_a_power_cut_at_any_step_then_recovery_keeps_the_promise(seed: int) -> None:
    for cut_at in range(TOTAL_STEPS):
        sim, workload = crash_workload(cut_at, seed * 1000 + cut_at)
        report = recover_capture_dir(sim, ROOT)
        assert report.errors == ()
        check_directory(sim, workload, workload.now)


def test_a_finished_workload_loses_nothing() -> None:
    sim = new_sim(0)
    workload = Workload(sim)
    workload.run()
    sim.crash()
    check_directory(sim, workload, float("inf"))


def test_a_power_cut_during_recovery_is_settled_by_the_next_recovery() -> None:
    runs = 0
    for cut_at in range(TOTAL_STEPS):
        for recovery_cut in range(recovery_steps_after(cut_at)):
            sim, workload = crash_workload(cut_at, cut_at)
            with pytest.raises(PowerCut):
                recover_capture_dir(CuttingFS(sim, recovery_cut), ROOT)
            report = recover_capture_dir(sim, ROOT)
            assert report.errors == ()
            check_directory(sim, workload, workload.now)
            runs += 1
    assert runs > 40


def recovery_steps_after(cut_at: int) -> int:
    sim, _ = crash_workload(cut_at, cut_at)
    counting = CuttingFS(sim, None)
    recover_capture_dir(counting, ROOT)
    return counting.steps
