"""The data manager API on simulated time: Sync, DoCommand (status, flush, sync), Reconfigure,
Close — against SimFS, a simulated link and an in-process cloud."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from viam.proto.app.datasync import DataType

from dmsim.cloud import CloudCore
from dmsim.config import DATA_MANAGER_ATTRIBUTES, AttributeSpec, loads_machine_config
from dmsim.devices import SimResourceSpec, build_sim_resources
from dmsim.errors import ConfigError
from dmsim.net import SimCloudTransport, SimLink
from dmsim.runtime import RngTree, SimKernel, Trace
from dmsim.service import DataManager
from dmsim.service._machine import field_rng, status_of
from dmsim.storage import SimFS, read_capture_file
from dmsim.storage._capture_dirs import (
    CaptureDirs,
    capture_dirs_path,
    read_capture_dirs,
)
from dmsim.storage._codec import tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._lock import DirectoryBusy
from dmsim.storage._naming import CollectorKey
from dmsim.storage._writer import CaptureWriter

CAPTURE_DIR = "/data/capture"
STATE_DIR = "/data/viam/dmsim"


def machine(
    *, hz: float, sync_disabled: bool, capture_disabled: bool = False, **attributes: Any
) -> str:
    gate = {"name": "gate", "type": "sensor", "model": "sync-window"}
    return json.dumps({
        "components": [{
            "name": "probe", "type": "sensor", "model": "fake",
            "service_configs": [{"type": "data_manager", "attributes": {
                "capture_methods": [{"method": "Readings", "capture_frequency_hz": hz}]}}],
        }, gate],
        "services": [{"name": "dm", "type": "data_manager", "attributes": {
            "capture_dir": CAPTURE_DIR, "sync_disabled": sync_disabled,
            "capture_disabled": capture_disabled,
            "sync_interval_mins": 0.1, **attributes}}],
    })  # fmt: skip


# Syncs from 01:00 to 02:00 UTC; the rig's clock starts at midnight.
NIGHT_GATE = SimResourceSpec(
    "sensor", "gate", "sync-window", {"sync_from_hour": 1, "sync_until_hour": 2}
)


class Rig:
    def __init__(
        self,
        *,
        capture_disabled: bool = False,
        config: str | None = None,
        extra_devices: tuple[SimResourceSpec, ...] = (),
    ) -> None:
        self.kernel = SimKernel(epoch_ns=1_767_225_600 * 10**9)
        self.trace = Trace(self.kernel.now)
        infra = self.kernel.process("infra")
        rng = RngTree(4)
        self.fs = SimFS(capacity_bytes=1 << 30, rng=rng.child("disk"),
                        wall_clock=self.kernel.wall_ns)  # fmt: skip
        self.link = SimLink(infra, rng=rng.child("link"), trace=self.trace)
        self.link.start()
        self.cloud = CloudCore(clock=lambda: self.kernel.wall_ns() / 1e9)
        self.devices = build_sim_resources(
            [SimResourceSpec("sensor", "probe", "fake"), *extra_devices],
            rt=infra,
            rng=rng.child("devices"),
        )
        self.boot = -1
        self.restart(config or machine(hz=1, sync_disabled=True, capture_disabled=capture_disabled))

    def restart(
        self,
        config: str,
        *,
        part_id: str = "part-1",
        claim_dir: Callable[[str], None] | None = None,
    ) -> None:
        """A new process, with ``config`` (the first one's, at first)."""
        self.boot += 1
        self.rt = self.kernel.process(f"dmsim-{self.boot}")
        self.dm = DataManager(
            rt=self.rt,
            fs=self.fs.for_process(self.rt),
            machine=loads_machine_config(config),
            resolve=lambda api, name: self.devices.get(name) if api.endswith(":sensor") else None,
            transport=SimCloudTransport(self.rt, self.link, self.cloud),
            is_online=self.link.is_up,
            rng=RngTree(4).child("dm").child(str(self.boot)),
            trace=self.trace,
            boot=self.boot,
            part_id=part_id,
            state_dir=STATE_DIR,
            claim_dir=claim_dir,
        )

    def call(self, coro: Any) -> Any:
        return self.kernel.run_main(coro)

    def files(self, suffix: str) -> list[str]:
        return [f"{d}/{n}" for d, _, names in self.fs.walk(CAPTURE_DIR)
                for n in names if n.endswith(suffix)]  # fmt: skip


def test_manual_sync_works_with_scheduled_sync_disabled_and_returns_counts() -> None:
    rig = Rig()
    rig.call(rig.dm.start())
    rig.kernel.run(until=60.5)
    assert rig.cloud.statistics().readings == 0  # scheduled sync is off
    status = rig.call(rig.dm.do_command({"command": "status"}))
    assert status["collectors"][0]["captured"] == 60
    assert rig.call(rig.dm.do_command({"command": "flush"})) == {"flushed": 1}
    assert not rig.files(".prog")
    completed = len(rig.files(".capture"))
    assert completed >= 1
    report = rig.call(rig.dm.do_command({"command": "sync"}))["sync"]
    assert report["uploaded"] == report["dispatched"] == completed
    assert rig.cloud.statistics().readings == 60
    assert not rig.files(".capture")


def test_reconfigure_changes_the_rate_in_place_and_close_completes_every_file() -> None:
    rig = Rig()
    rig.call(rig.dm.start())
    rig.kernel.run(until=10.5)
    rig.call(rig.dm.reconfigure(loads_machine_config(machine(hz=10, sync_disabled=True))))
    rig.kernel.run(until=20.5)
    rig.call(rig.dm.close())
    assert [e.kind for e in rig.trace.of_kind("capture.started", "capture.rate_changed")] == [
        "capture.started",
        "capture.rate_changed",
    ]
    captured = rig.dm.statistics().collectors[0].captured
    # 1 Hz ticks at 1..10; the pending deadline (11.0) is kept, then 10 Hz up to 20.5, whose
    # tick fires before close() at that same instant
    assert captured == 10 + 96
    assert not rig.files(".prog")
    in_files = sum(len(e.fields["ids"]) for e in rig.trace.of_kind("file.completed"))
    assert in_files == captured  # Close drained every queued reading into a complete file


def readings_after_a_power_cut(rig: Rig, at: float) -> int:
    rig.kernel.run(until=at)
    rig.rt.kill()
    rig.fs.crash(tear=False)
    files = rig.files(".prog") + rig.files(".capture")
    return sum(len(read_capture_file(rig.fs, path).readings) for path in files)


def test_the_configured_durability_window_is_the_one_kept() -> None:
    rig = Rig(config=machine(hz=10, sync_disabled=True, durability_window_ms=0))
    rig.call(rig.dm.start())
    on_disk = readings_after_a_power_cut(rig, 30.25)
    assert on_disk == rig.dm.statistics().collectors[0].captured == 302  # 0: every write


def test_reconfigure_applies_a_new_durability_window() -> None:
    rig = Rig(config=machine(hz=10, sync_disabled=True, durability_window_ms=60_000))
    rig.call(rig.dm.start())
    rig.kernel.run(until=5.25)
    shorter = machine(hz=10, sync_disabled=True, durability_window_ms=0)
    rig.call(rig.dm.reconfigure(loads_machine_config(shorter)))
    # the collector restarted: the 60 s window's file was completed at the change
    assert len(rig.files(".capture")) == 1
    on_disk = readings_after_a_power_cut(rig, 30.25)
    assert on_disk == sum(c.captured for c in rig.dm.statistics().collectors) == 301


def test_reconfigure_applies_a_new_rotation_size() -> None:
    """Regression: the writers kept the size they were opened with, so a reconfigure to a
    smaller maximum_capture_file_size_bytes cut no more files than before."""
    rig = Rig(config=machine(hz=10, sync_disabled=True))
    rig.call(rig.dm.start())
    rig.kernel.run(until=5.25)
    smaller = machine(hz=10, sync_disabled=True, maximum_capture_file_size_bytes=1024)
    rig.call(rig.dm.reconfigure(loads_machine_config(smaller)))
    rig.kernel.run(until=30.25)
    sizes = [rig.fs.stat(path).size for path in rig.files(".capture")]
    # 250 readings of about 140 B since the change: over thirty files, none far over 1 KiB
    # (the first holds the 52 readings from before it)
    assert len(sizes) > 30
    assert sorted(sizes)[-2] < 1024 + 200


def test_frequent_reconfigures_do_not_starve_the_disk_policies() -> None:
    """Regression: every reconfigure restarted the disk policies, whose first check is one
    interval (30 s) after start, so a machine reconfigured every 20 s never checked its
    byte cap at all."""
    attributes = {"capture_dir_max_bytes": 4096, "maximum_capture_file_size_bytes": 1024}
    rig = Rig(config=machine(hz=10, sync_disabled=True, **attributes))
    rig.call(rig.dm.start())
    for step in range(1, 10):
        rig.kernel.run(until=20.0 * step)
        hz = 20 if step % 2 else 10  # only the rate changes, never the policies' settings
        rig.call(
            rig.dm.reconfigure(
                loads_machine_config(machine(hz=hz, sync_disabled=True, **attributes))
            )
        )
    checks = sum(p.checks for p in rig.dm.statistics().disk_policies)
    assert checks == 180 // 30 * 2  # both rules, every 30 s
    assert rig.trace.of_kind("disk_policy.delete")
    assert sum(rig.fs.stat(path).size for path in rig.files(".capture")) <= 4096 + 1200


def damage_the_record(rig: Rig) -> str:
    path = capture_dirs_path(STATE_DIR, "part-1")
    rig.fs.makedirs(STATE_DIR + "/capture-dirs")
    handle = rig.fs.open_append(path)
    handle.write(b"{not json")
    handle.close()
    return path


def test_a_damaged_record_of_capture_dirs_is_kept_aside_for_a_fix_while_capture_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig()
    path = damage_the_record(rig)
    rig.call(rig.dm.start())
    rig.kernel.run(until=5.5)
    assert f"capture directories of earlier configs not synced: {path}" in caplog.text
    assert f"kept as {path}.damaged for a person to mend" in caplog.text
    assert rig.dm.statistics().collectors[0].captured == 5
    aside = rig.fs.open_read(f"{path}.damaged")
    assert aside.read() == b"{not json"  # as it was
    aside.close()
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR)  # moves are recorded again


def test_a_capture_dir_changed_after_a_damaged_record_keeps_its_backlog_synced() -> None:
    """Regression: a damaged record was left in place and nothing recorded, so the directory
    the machine then captured in was named nowhere; a config edited while the machine was
    off stranded its backlog, and a move while it ran replaced the damaged record, with the
    directories it named, by a new one."""
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    path = damage_the_record(rig)
    rig.call(rig.dm.start())
    rig.kernel.run(until=30.5)
    rig.call(rig.dm.close())
    assert rig.files(".capture")
    rig.restart(moved(sync_disabled=False))
    rig.call(rig.dm.start())
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))
    rig.kernel.run(until=50.0)
    assert not rig.files(".capture")
    assert rig.cloud.statistics().readings >= 30
    rig.call(rig.dm.close())
    assert rig.fs.exists(f"{path}.damaged")


def test_a_second_damaged_record_never_replaces_the_first_one_kept() -> None:
    rig = Rig()
    path = damage_the_record(rig)
    rig.call(rig.dm.start())
    rig.call(rig.dm.close())
    rig.fs.unlink(path)
    damage_the_record(rig)
    rig.restart(machine(hz=1, sync_disabled=True))
    rig.call(rig.dm.start())
    rig.call(rig.dm.close())
    assert rig.fs.exists(f"{path}.damaged")
    assert rig.fs.exists(f"{path}.damaged.1")


def test_unknown_commands_name_the_valid_ones() -> None:
    rig = Rig()
    rig.call(rig.dm.start())
    with pytest.raises(ConfigError, match="status, flush or sync"):
        rig.call(rig.dm.do_command({"command": "reboot"}))


def test_capture_disabled_runs_no_collector_and_no_disk_deleter() -> None:
    rig = Rig(capture_disabled=True)
    rig.call(rig.dm.start())
    rig.kernel.run(until=120.0)
    status = rig.call(rig.dm.do_command({"command": "status"}))
    assert status["collectors"] == []
    assert status["disk_policies"] == []
    assert not rig.trace.of_kind("reading.captured")


def test_selective_sync_uploads_only_while_its_sensor_says_should_sync() -> None:
    config = machine(hz=1, sync_disabled=False, selective_syncer_name="gate")
    rig = Rig(config=config, extra_devices=(NIGHT_GATE,))
    rig.call(rig.dm.start())
    rig.kernel.run(until=3599.0)
    assert rig.cloud.statistics().readings == 0  # before 01:00: the gate says no
    assert rig.dm.statistics().sync.ticks_skipped_selective > 500
    rig.kernel.run(until=7200.0)
    in_window = rig.cloud.statistics().readings
    assert in_window >= 7100  # the backlog of the first hour, then as it comes
    rig.kernel.run(until=3 * 3600.0)
    assert rig.cloud.statistics().readings == in_window  # after 02:00: closed again


def test_reconfigure_adds_and_removes_the_selective_syncer() -> None:
    gated = machine(hz=1, sync_disabled=False, selective_syncer_name="gate")
    open_ = machine(hz=1, sync_disabled=False)
    rig = Rig(config=gated, extra_devices=(NIGHT_GATE,))
    rig.call(rig.dm.start())
    rig.kernel.run(until=600.0)
    assert rig.cloud.statistics().readings == 0
    rig.call(rig.dm.reconfigure(loads_machine_config(open_)))
    rig.kernel.run(until=1200.0)
    synced = rig.cloud.statistics().readings
    assert synced >= 1100  # removing the syncer lets scheduled sync run at once
    rig.call(rig.dm.reconfigure(loads_machine_config(gated)))
    rig.kernel.run(until=1800.0)
    assert rig.cloud.statistics().readings <= synced + 20  # gated again (a pass in flight)


def test_machines_in_the_field_draw_different_backoff_jitter() -> None:
    # Two Pis on the same config and default seed, back online after the same outage.
    draws = {field_rng().child("sync").child("sync-backoff").random().random() for _ in range(2)}
    assert len(draws) == 2


def test_readings_deleted_by_a_disk_policy_are_counted_and_shown_in_the_status_line() -> None:
    config = machine(
        hz=20,
        sync_disabled=True,
        capture_dir_max_bytes=20_000,
        disk_check_interval_secs=1,
        maximum_capture_file_size_bytes=4096,
    )
    rig = Rig(config=config)
    rig.call(rig.dm.start())
    rig.kernel.run(until=60.0)
    stats = rig.dm.statistics()
    deleted = sum(p.readings_deleted for p in stats.disk_policies)
    traced = sum(len(e.fields["ids"]) for e in rig.trace.of_kind("file.deleted_by_policy"))
    assert deleted == traced > 0
    line = status_of(stats, 60.0).line()
    assert f"readings deleted by disk policy {deleted:,}" in line
    # Regression: reconfigure and close replaced the policies, and their counts went with them
    # (the final "stopped cleanly" line said nothing of the deletions).
    rig.call(rig.dm.reconfigure(loads_machine_config(config)))
    rig.kernel.run(until=90.0)
    rig.call(rig.dm.close())
    final = rig.dm.statistics()
    traced = sum(len(e.fields["ids"]) for e in rig.trace.of_kind("file.deleted_by_policy"))
    assert sum(p.readings_deleted for p in final.disk_policies) == traced > deleted


def capture_bytes(rig: Rig, *directories: str) -> int:
    return sum(
        rig.fs.stat(f"{d}/{n}").size
        for directory in directories
        for d, _, names in rig.fs.walk(directory)
        for n in names
        if n.endswith((".capture", ".prog"))
    )


MOVED_DIR = "/data/capture-2"


def test_the_byte_cap_counts_the_backlog_a_moved_capture_dir_left() -> None:
    """Regression: after a capture_dir move the byte cap held the new directory alone, so the
    old one's backlog (still to be synced) doubled what the machine kept."""
    attributes = {
        "capture_dir_max_bytes": 20_000,
        "disk_check_interval_secs": 1,
        "maximum_capture_file_size_bytes": 2048,
    }
    rig = Rig(config=machine(hz=20, sync_disabled=True, **attributes))
    rig.call(rig.dm.start())
    rig.kernel.run(until=60.0)
    moved = json.loads(machine(hz=20, sync_disabled=True, **attributes))
    moved["services"][0]["attributes"]["capture_dir"] = MOVED_DIR
    rig.call(rig.dm.reconfigure(loads_machine_config(json.dumps(moved))))
    rig.kernel.run(until=120.0)
    assert capture_bytes(rig, MOVED_DIR) > 10_000
    assert capture_bytes(rig, CAPTURE_DIR, MOVED_DIR) <= 20_000 + 2 * 2048
    deleted = [e.fields["path"] for e in rig.trace.of_kind("disk_policy.delete") if e.time > 60]
    from_old_dir = [path.startswith(f"{CAPTURE_DIR}/") for path in deleted]
    assert from_old_dir[0]
    assert from_old_dir == sorted(from_old_dir, reverse=True)  # the older backlog first


def moved(**attributes: Any) -> str:
    return machine(hz=1, capture_dir=MOVED_DIR, **attributes)


def recorded(rig: Rig, part_id: str = "part-1") -> CaptureDirs | None:
    return read_capture_dirs(rig.fs, STATE_DIR, part_id)


def test_the_capture_dir_in_use_is_recorded_at_start_and_at_a_move() -> None:
    rig = Rig(config=machine(hz=1, sync_disabled=False))
    rig.call(rig.dm.start())
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR)
    rig.kernel.run(until=10.0)
    rig.call(rig.dm.reconfigure(loads_machine_config(moved(sync_disabled=False))))
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))
    rig.call(rig.dm.reconfigure(loads_machine_config(machine(hz=1, sync_disabled=False))))
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR, (MOVED_DIR,))
    rig.call(rig.dm.close())


def test_a_capture_dir_changed_while_the_machine_was_off_keeps_the_old_backlog_synced() -> None:
    """Regression: the old directory was named only in the new one, by the process applying
    the move; a config edited while the machine was off left the next boot no trace of it,
    and its backlog stayed on the machine for good (as in rdk)."""
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    rig.call(rig.dm.start())
    rig.kernel.run(until=30.5)
    rig.call(rig.dm.close())
    left = rig.files(".capture")
    assert left
    assert rig.cloud.statistics().readings == 0
    rig.restart(moved(sync_disabled=False))
    rig.call(rig.dm.start())
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))
    rig.kernel.run(until=50.0)
    assert not rig.files(".capture")
    assert rig.cloud.statistics().readings >= 30  # the old backlog, and the new readings
    rig.call(rig.dm.close())


def test_a_part_never_adopts_the_capture_dirs_another_part_recorded_on_the_host() -> None:
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    rig.call(rig.dm.start())
    rig.kernel.run(until=30.5)
    rig.call(rig.dm.close())
    rig.restart(moved(sync_disabled=False), part_id="part-2")
    rig.call(rig.dm.start())
    rig.kernel.run(until=50.0)
    assert rig.files(".capture")  # part-1's backlog is not part-2's to upload
    assert recorded(rig, "part-2") == CaptureDirs("part-2", MOVED_DIR)
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR)
    rig.call(rig.dm.close())


def test_a_former_capture_dir_another_process_holds_is_left_alone_until_it_is_free(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another process may capture in a directory the part used before: its open files are
    live, so neither recovered (which would complete them under it) nor synced."""
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    rig.call(rig.dm.start())
    rig.kernel.run(until=30.5)
    rig.call(rig.dm.close())
    backlog = rig.files(".capture")
    live = orphaned_prog(rig, "other")

    def held_elsewhere(directory: str) -> None:
        if directory == CAPTURE_DIR:
            raise DirectoryBusy(f"{directory}: in use by a running dmsim (pid 7)")

    rig.restart(moved(sync_disabled=False), claim_dir=held_elsewhere)
    rig.call(rig.dm.start())
    rig.kernel.run(until=60.0)
    assert rig.fs.exists(live)
    assert rig.files(".capture") == backlog
    assert rig.cloud.statistics().readings <= rig.dm.statistics().collectors[0].captured
    said = f"former capture directory not synced: {CAPTURE_DIR}: in use by a running dmsim"
    assert said in caplog.text
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))  # kept for later
    assert capture_dirs_status(rig)["former"] == [{"path": CAPTURE_DIR, "synced": False}]
    rig.call(rig.dm.close())
    rig.restart(moved(sync_disabled=False), claim_dir=lambda directory: None)
    rig.call(rig.dm.start())
    rig.kernel.run(until=90.0)
    assert not rig.files(".prog")
    assert not rig.files(".capture")
    assert capture_dirs_status(rig)["former"] == [{"path": CAPTURE_DIR, "synced": True}]


def capture_dirs_status(rig: Rig) -> dict[str, Any]:
    status: dict[str, Any] = rig.call(rig.dm.do_command({"command": "status"}))
    assert status["capture_dir"] == status["capture_dirs"]["in_use"]
    return status["capture_dirs"]


def test_status_names_the_record_and_what_the_disk_has_not_written_yet() -> None:
    """An operator asking a machine whose disk refuses writes sees what waits (here, the
    record of a moved capture directory) until the disk takes it."""
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    moved_while_fsync_fails(rig, sync_disabled=True)
    record = capture_dirs_path(STATE_DIR, "part-1")
    status = rig.call(rig.dm.do_command({"command": "status"}))
    assert status["capture_dirs"]["record_written"] is False
    assert status["unwritten"] == [record]
    rig.fs.clear_faults("f1")
    rig.kernel.run(until=60.0)
    assert capture_dirs_status(rig) == {
        "in_use": MOVED_DIR,
        "former": [{"path": CAPTURE_DIR, "synced": True}],
        "record": record,
        "record_written": True,
    }
    assert rig.call(rig.dm.do_command({"command": "status"}))["unwritten"] == []


def moved_while_fsync_fails(rig: Rig, *, sync_disabled: bool = False) -> None:
    """Start, then move the capture directory while every fsync in the state directory fails:
    the record still names the old directory as the one in use."""
    rig.call(rig.dm.start())
    rig.kernel.run(until=10.0)
    rig.fs.inject_eio(prefix=STATE_DIR, ops=["fsync"], fault_id="f1")
    rig.call(rig.dm.reconfigure(loads_machine_config(moved(sync_disabled=sync_disabled))))
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR)


def test_with_sync_disabled_a_refused_record_is_written_before_a_crash_can_lose_it() -> None:
    """Regression: the record a refusing disk kept waiting was retried only at sync passes
    and at the shutdown; with sync disabled, a crash after the disk recovered left the next
    boot, under the new config, no trace of the old directory."""
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    moved_while_fsync_fails(rig, sync_disabled=True)
    rig.kernel.run(until=20.0)
    rig.fs.clear_faults("f1")
    rig.kernel.run(until=60.0)  # retried at doubling intervals, up to every 30 s
    rig.rt.kill()
    rig.fs.crash()
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))


def test_a_capture_dir_move_is_recorded_before_the_capture_closes() -> None:
    """Regression (dmsim fuzz, collector-stopped-by-eio seed 5715): a move first closed the
    capture, which waits for a failing disk; a stop abandoned the reconfigure there, and the
    next boot, under the new config, never learned of the old directory and its backlog."""
    rig = Rig(config=machine(hz=1, sync_disabled=False))
    rig.call(rig.dm.start())
    rig.kernel.run(until=10.0)
    rig.fs.inject_eio(prefix=CAPTURE_DIR, ops=["fsync"], fault_id="f1")
    edit = rig.rt.spawn(
        rig.dm.reconfigure(loads_machine_config(moved(sync_disabled=False))), name="edit"
    )
    rig.kernel.run(until=20.0)
    assert not edit.done()  # the capture waits for the disk to complete its files
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))
    rig.fs.clear_faults("f1")
    rig.kernel.run(until=25.0)
    assert edit.done()
    rig.call(rig.dm.close())


def test_the_capture_dirs_a_refusing_disk_kept_unrecorded_are_recorded_at_a_later_pass(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found fixing collector-stopped-by-eio seed 5715: the record was tried once, at the
    move; a restart after the disk recovered forgot the old directory and its backlog."""
    caplog.set_level("INFO", logger="dmsim.datamanager")
    rig = Rig(config=machine(hz=1, sync_disabled=False))
    moved_while_fsync_fails(rig)
    rig.kernel.run(until=40.0)  # passes at 12 ... 36 s meet the same error
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR)
    rig.fs.clear_faults("f1")
    rig.kernel.run(until=50.0)
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))
    path = capture_dirs_path(STATE_DIR, "part-1")
    said = [r.getMessage() for r in caplog.records if "directories in" in r.getMessage()]
    assert len(said) == 2, said  # the failure once, then that it is written
    assert said[0].startswith(f"cannot record the capture directories in {path} yet")
    assert said[1] == f"recorded the capture directories in {path}"
    rig.call(rig.dm.close())


def test_a_shutdown_waits_for_the_disk_to_record_the_capture_dirs() -> None:
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    moved_while_fsync_fails(rig)
    rig.kernel.run(until=20.0)
    close = rig.rt.spawn(rig.dm.close(), name="close")
    rig.kernel.run(until=45.0)
    assert recorded(rig) == CaptureDirs("part-1", CAPTURE_DIR)
    rig.fs.clear_faults("f1")
    rig.kernel.run(until=50.0)
    assert close.done()
    assert recorded(rig) == CaptureDirs("part-1", MOVED_DIR, (CAPTURE_DIR,))


def test_a_shutdown_that_cannot_record_the_capture_dirs_says_what_a_restart_would_miss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(config=machine(hz=1, sync_disabled=True))
    moved_while_fsync_fails(rig)
    rig.call(rig.dm.close())
    assert (
        f"gave up recording the capture directories in {capture_dirs_path(STATE_DIR, 'part-1')}: "
        f"a restart under another capture_dir will not sync {MOVED_DIR}, {CAPTURE_DIR}"
    ) in caplog.text


def test_the_disk_full_rule_counts_the_backlog_a_moved_capture_dir_left() -> None:
    """Regression: after a capture_dir move the disk-full rule weighed the new directory alone
    against the disk's use; with the old backlog the larger part, it only warned, and the
    disk filled until every write failed."""
    attributes = {
        "disk_check_interval_secs": 1,
        "maximum_capture_file_size_bytes": 2048,
        "disk_usage_deletion_threshold": 0.8,
    }
    rig = Rig(config=machine(hz=20, sync_disabled=True, **attributes))
    rig.fs.set_capacity(300_000)
    rig.call(rig.dm.start())
    while rig.fs.disk_usage(CAPTURE_DIR).used_fraction < 0.6:
        rig.kernel.run(until=rig.kernel.now() + 1.0)
    moved = json.loads(machine(hz=20, sync_disabled=True, **attributes))
    moved["services"][0]["attributes"]["capture_dir"] = MOVED_DIR
    rig.call(rig.dm.reconfigure(loads_machine_config(json.dumps(moved))))
    rig.kernel.run(until=rig.kernel.now() + 300.0)
    assert sum(c.write_errors for c in rig.dm.statistics().collectors) == 0
    assert rig.fs.disk_usage(MOVED_DIR).used_fraction < 0.9
    assert rig.trace.of_kind("disk_policy.delete")


def test_scheduled_sync_runs_on_the_interval_truncated_to_whole_milliseconds() -> None:
    """rdk's ticker is 60000 × sync_interval_mins ms, truncated: 0.123456 min is 7.407 s, not
    7.40736 s. Regression: the engine used the untruncated interval."""
    config = machine(hz=1, sync_disabled=False, capture_disabled=True, sync_interval_mins=0.123456)
    rig = Rig(config=config)
    rig.call(rig.dm.start())
    rig.kernel.run(until=30.0)
    passes = rig.trace.of_kind("sync.pass")
    ticks = [event.time for event in passes if event.fields["kind"] == "scheduled"]
    assert ticks == pytest.approx([7.407, 14.814, 22.221, 29.628])


def smallest_accepted(spec: AttributeSpec) -> float:
    assert spec.low is not None  # every numeric attribute has a floor
    if not spec.low_open:
        return spec.low
    return spec.low + (1 if spec.kind == "int" else 1e-9)


def largest_accepted(spec: AttributeSpec) -> float | None:
    if spec.high is None or not spec.high_open:
        return spec.high
    return spec.high - (1 if spec.kind == "int" else 1e-9)


@pytest.mark.parametrize("extreme", [smallest_accepted, largest_accepted])
def test_the_extremes_config_check_accepts_make_a_data_manager(
    extreme: Callable[[AttributeSpec], float | None],
) -> None:
    """Every numeric attribute at the end of its accepted range at once. Regression:
    ``max_upload_message_bytes`` of 10 passed ``config check``, then the data manager refused
    it at start-up (its floor is 1024)."""
    numeric = [spec for spec in DATA_MANAGER_ATTRIBUTES if spec.kind in ("int", "number")]
    attributes = {spec.name: extreme(spec) for spec in numeric if extreme(spec) is not None}
    attributes["capture_dir"] = CAPTURE_DIR
    document = {"services": [{"name": "dm", "type": "data_manager", "attributes": attributes}]}
    kernel = SimKernel(epoch_ns=0)
    rt = kernel.process("dmsim")
    rng = RngTree(1)
    link = SimLink(kernel.process("infra"), rng=rng.child("link"))
    DataManager(
        rt=rt,
        fs=SimFS(capacity_bytes=1 << 30, rng=rng.child("disk"), wall_clock=kernel.wall_ns),
        machine=loads_machine_config(json.dumps(document)),
        resolve=lambda api, name: None,
        transport=SimCloudTransport(rt, link, CloudCore(clock=lambda: 0.0)),
        is_online=link.is_up,
        rng=rng.child("dm"),
        trace=None,
        boot=0,
        part_id="part-1",
        state_dir=STATE_DIR,
    )


def orphaned_prog(rig: Rig, component: str) -> str:
    """A .prog holding three fsynced readings of stream "old", as a power cut leaves it."""
    writer = CaptureWriter(
        rig.fs,
        capture_dir=CAPTURE_DIR,
        key=CollectorKey.of("rdk:component:sensor", component, "Readings"),
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: 1_767_225_600 * 10**9,
    )
    for seq in range(3):
        reading = tabular_reading({"v": seq}, time_requested_ns=seq, time_received_ns=seq)
        writer.write(reading, reading_id=ReadingId("old", 0, seq))
    writer.sync()
    [prog] = writer.live_paths()
    return prog


def test_what_start_up_recovery_did_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    # Regression: on a real machine (no trace) torn tails were dropped and damaged files
    # moved to failed/ without a word.
    rig = Rig()
    prog = orphaned_prog(rig, "probe")  # then a torn record after it
    handle = rig.fs.open_append(prog)
    handle.write(b"\x30\x0a\x02")
    handle.close()
    with caplog.at_level("WARNING", logger="dmsim.datamanager"):
        rig.call(rig.dm.start())
    logged = [r.getMessage() for r in caplog.records]
    kept = "3 reading(s) (prefix kept, 3 torn byte(s) dropped)"
    assert f"start-up recovery: recovered {prog} -> {prog[:-5]}.capture: {kept}" in logged
    assert any("1 .prog file(s): 1 recovered" in line for line in logged)
    rig.call(rig.dm.close())


def test_a_prog_that_start_up_recovery_could_not_settle_is_settled_at_a_later_pass(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression (dmsim fuzz, upload-lost-after-ack-timeout seed 1724786): a rename that
    failed (EIO) during start-up recovery left the orphaned .prog "for the next run", so its
    readings stayed on the machine, never uploaded, until the process restarted again. Each
    sync pass now retries what recovery left."""
    rig = Rig(config=machine(hz=1, sync_disabled=False))
    prog = orphaned_prog(rig, "old")
    rig.fs.inject_eio(prefix=prog, ops=["rename"], fault_id="f1")
    caplog.set_level("WARNING", logger="dmsim.datamanager")
    recovery = rig.call(rig.dm.start())
    assert [issue.path for issue in recovery.errors] == [prog]
    rig.kernel.run(until=20.0)  # passes at 6, 12 and 18 s meet the same error
    assert rig.fs.exists(prog)
    assert rig.call(rig.dm.do_command({"command": "status"}))["unwritten"] == [prog]
    rig.fs.clear_faults("f1")
    rig.kernel.run(until=30.0)  # the next pass, at 24 s, settles it
    retried = [r.getMessage() for r in caplog.records if "recovery retried" in r.getMessage()]
    assert retried[0].startswith(f"recovery retried: recovered {prog}")
    assert not any("left for later" in line for line in retried)  # failing passes say nothing
    assert not rig.fs.exists(prog)
    (settled,) = [e for e in rig.trace.of_kind("recovery.torn") if e.fields["path"] == prog]
    assert 20.0 < settled.time <= 25.0
    assert settled.fields["ids_kept"] == [["old", 0, 0], ["old", 0, 1], ["old", 0, 2]]
    stored = {(r.stream, r.seq) for r in rig.cloud.stored_readings() if r.stream == "old"}
    assert stored == {("old", 0), ("old", 1), ("old", 2)}
