"""Group-committed deletions, and quarantine as sync uses it."""

from __future__ import annotations

from tests.unit.sync.sync_fakes import EPOCH_NS, write_file

from dmsim.runtime import RngTree
from dmsim.storage._quarantine import move_to_failed
from dmsim.storage._simfs import SimFS
from dmsim.sync import REASON_SUFFIX, failed_destination
from dmsim.sync._disk import DirSyncer, fsync_dirs


def sim_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 24, rng=RngTree(0), wall_clock=lambda: EPOCH_NS)


def test_failed_destinations_follow_rdk() -> None:
    assert (
        failed_destination("/cap/rdk_component_camera/cam/ReadImage/a.capture", "/cap/")
        == "/cap/failed/rdk_component_camera/cam/ReadImage/a.capture"
    )
    assert failed_destination("/extra/logs/run.txt", "/cap") == "/extra/logs/failed/run.txt"
    assert failed_destination("/capture2/x.capture", "/cap") == "/capture2/failed/x.capture"


def test_quarantine_never_overwrites_and_records_the_reason() -> None:
    fs = sim_fs()
    for body in (b"one", b"two"):
        write_file(fs, "/cap/s/a.capture", body)
        move_to_failed(fs, "/cap/s/a.capture", "/cap", f"reason {body.decode()}")
    assert fs.listdir("/cap/failed/s") == [
        "a-1.capture",
        "a-1.capture" + REASON_SUFFIX,
        "a.capture",
        "a.capture" + REASON_SUFFIX,
    ]
    handle = fs.open_read("/cap/failed/s/a-1.capture" + REASON_SUFFIX)
    assert handle.read() == b"reason two\n"
    fs.crash()  # the move and the reason are durable
    assert len(fs.listdir("/cap/failed/s")) == 4
    assert fs.listdir("/cap/s") == []


def test_quarantine_on_a_failing_disk_still_moves_the_file() -> None:
    fs = sim_fs()
    write_file(fs, "/cap/s/a.capture", b"data")
    fs.inject_eio(prefix="/cap/failed", ops=["write"], fault_id="full")
    destination, reason_written = move_to_failed(fs, "/cap/s/a.capture", "/cap", "why")
    assert destination == "/cap/failed/s/a.capture"
    assert not reason_written
    assert fs.exists(destination)
    assert not fs.exists("/cap/s/a.capture")


def test_dir_syncer_groups_by_directory_and_batch() -> None:
    syncer = DirSyncer(batch=3)
    assert not syncer.note("/a/1")
    assert not syncer.note("/b/2")
    assert syncer.note("/a/3")
    assert syncer.take() == ["/a", "/b"]
    assert syncer.take() == []


def test_fsync_dirs_reports_failures_and_ignores_vanished_directories() -> None:
    fs = sim_fs()
    fs.makedirs("/a")
    fs.makedirs("/b")
    fs.inject_eio(prefix="/b", ops=["fsync_dir"], fault_id="eio")
    failures = fsync_dirs(fs, ["/a", "/b", "/gone"])
    assert [d for d, _ in failures] == ["/b"]
