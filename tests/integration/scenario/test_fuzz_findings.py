"""Schedules `dmsim fuzz` found breaking a library scenario, shrunk, kept so they stay fixed
(a finding still open goes here as a strict xfail, which fails the suite once fixed; so does
a variant found reviewing one).
Each is judged as the fuzzer judges: by the expectations that hold for any schedule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dmsim.faults import FaultSchedule, FaultStep
from dmsim.scenario import Report, fuzz_expectations, load_scenario, run_scenario

LIBRARY = Path(__file__).resolve().parents[3] / "scenarios"


def run_finding(library_file: str, seed: int, *faults: FaultStep) -> Report:
    """The library scenario with the shrunk schedule instead of its own, judged as fuzzed."""
    library = load_scenario(LIBRARY / library_file)
    scenario = replace(
        library,
        expectations=fuzz_expectations(library),
        faults=FaultSchedule(faults),
    )
    return run_scenario(scenario, seed=seed, progress=False)


def test_capture_on_demand_9775_a_tag_change_while_writes_fail() -> None:
    """The control sensor failing for 5 s reverted the camera to its configured tags, then
    back: each change retired the collector while half the writes failed (EIO for 150 s).
    The retire gave up after 60 s and dropped the camera image still queued."""
    eio = FaultStep(
        at=3.0, kind="disk_eio", duration=149.9, fault_id="f5",
        params={"ops": ["write"], "probability": 0.5},
    )  # fmt: skip
    sensor_down = FaultStep(
        at=65.7, kind="device_read_error", duration=5.2, fault_id="f4",
        params={"component": "cycle-recorder"},
    )  # fmt: skip
    report = run_finding("capture-on-demand.scenario.yaml", 9775, eio, sensor_down)
    assert report.verdict_text == "pass", report.summary()
    assert report.to_json_dict()["readings"]["dropped"] == 0


def test_esp32_remote_0_a_lost_message_on_a_five_minute_interval() -> None:
    """The fault only gave the drain bound its start (the last 10 minutes); the flaky Wi-Fi's
    lost messages failed one upload twice, and each retry waited for the next 5-minute pass
    instead of its 0.2 s backoff: the file reached the cloud 15 minutes after capture."""
    unplugged = FaultStep(
        at=1798.9, kind="device_disconnect", duration=1.0, fault_id="f8",
        params={"component": "esp-home:my-esp32"},
    )  # fmt: skip
    report = run_finding("esp32-remote.scenario.yaml", 0, unplugged)
    assert report.verdict_text == "pass", report.summary()


def test_esp32_remote_335_outages_over_two_ticks_in_a_row() -> None:
    """The fault is harmless (it only starts the drain bound at 1.1 s); the flaky Wi-Fi's
    own outages covered the ticks at 300 s and 600 s, so the first pass ran at 900 s and the
    first second's readings reached the cloud 15 minutes after capture."""
    slow = FaultStep(
        at=0.1, kind="latency", duration=1.0, fault_id="f3",
        params={"seconds": 0.01, "direction": "upstream"},
    )  # fmt: skip
    report = run_finding("esp32-remote.scenario.yaml", 335, slow)
    assert report.verdict_text == "pass", report.summary()


def test_tomato_robot_21819_one_connection_reset_paused_every_upload_for_a_minute() -> None:
    """A connection reset mid-call counted as "offline": every upload paused for 60 s (as
    rdk does for gRPC UNAVAILABLE), though the link was up and the next call would have
    worked, and the point clouds missed the 45 s drain bound."""
    resets = FaultStep(
        at=98.3, kind="reset_after_bytes", duration=7.0, fault_id="f2",
        params={"bytes": 256 * 1024, "direction": "downstream"},
    )  # fmt: skip
    report = run_finding("tomato-robot.scenario.yaml", 21819, resets)
    assert report.verdict_text == "pass", report.summary()


def test_disk_full_deletion_2616539_a_power_cut_is_not_a_finding() -> None:
    """The scenario allows no window losses (its own schedule has no crash), but the fuzzer's
    envelope crashes the machine: the reading captured just before the power cut was lost
    inside the durability window, which is the promise, and was reported as a finding."""
    power_cut = FaultStep(at=128.9, kind="crash", fault_id="f7", params={"restart_after": 0.0})
    report = run_finding("field-failures/disk-full-deletion.scenario.yaml", 2616539, power_cut)
    assert report.verdict_text == "pass", report.summary()
    assert report.to_json_dict()["readings"]["lost_in_window"] >= 1


def test_oversize_tabular_request_21930_a_restart_held_the_backlog_a_whole_interval() -> None:
    """A clean restart at 197 s, before the first 5-minute tick: the new process's first pass
    ran at 497 s, so readings captured at 0 s waited 8.3 minutes and missed the 5-minute
    drain bound by 0.07 s (rdk waits the same). A pass at start now sends the backlog."""
    restart = FaultStep(
        at=197.0, kind="clean_restart", fault_id="f1", params={"restart_after": 0.0}
    )
    report = run_finding("field-failures/oversize-tabular-request.scenario.yaml", 21930, restart)
    assert report.verdict_text == "pass", report.summary()


def test_tomato_robot_5455_one_refused_key_pauses_every_upload_past_the_drain_bound() -> None:
    """One UNAUTHENTICATED answer at 36 s pauses every upload for the offline interval (57 s
    here, jittered; rdk's fixed 60 s on UNAVAILABLE, which dmsim also waits on a refused
    key), so the point clouds reached the cloud at 95 s; the judge held them to the 45 s
    drain bound from the window's end, 83.7 s. The pause is the promise, not a defect: the
    drain bound starts when the pause such an answer starts can end."""
    reject = FaultStep(
        at=32.7,
        kind="rpc_reject",
        fault_id="f2",
        duration=6.0,
        params={"code": "UNAUTHENTICATED", "rpcs": ["DataCaptureUpload"], "count": 1},
    )
    report = run_finding("tomato-robot.scenario.yaml", 5455, reject)
    assert report.verdict_text == "pass", report.summary()


def eio_then_crash(crash_at: float) -> Report:
    """Every write fails from 26.2 s to 41.6 s (readings wait in memory), then a power cut."""
    eio = FaultStep(
        at=26.2, kind="disk_eio", fault_id="f2", duration=15.4,
        params={"ops": ["write"], "probability": 1.0},
    )  # fmt: skip
    crash = FaultStep(at=crash_at, kind="crash", fault_id="f5", params={"restart_after": 0.0})
    return run_finding("field-failures/clock-step-backwards.scenario.yaml", 1724786, eio, crash)


def test_clock_step_backwards_1724786_what_waited_for_the_disk_is_durable_soon_after() -> None:
    """Found on a copy of the scenario whose envelope adds reconfigures and disk faults, then
    moved: with the power cut at 50 s, the writer's retries had backed off to 30 s, so the
    readings it held were still in memory 8 s after the disk recovered (its next retry was
    due at 52 s). Retries now wait at most one durability window."""
    report = eio_then_crash(50.0)
    assert report.verdict_text == "pass", report.summary()


def test_clock_step_backwards_1724786_a_power_cut_while_the_disk_refuses_is_not_a_finding() -> None:
    """The finding as shrunk: a power cut 3 s after 15 s of refused writes took 33 readings
    held in memory, which the judge called 'lost' beyond the 2 s window; but while the disk
    refuses, no writer can make them durable (a power cut in the middle shows it). The judge
    now allows what waited for a disk fault until two windows past its end (a retry within
    one, an fsync within the next)."""
    during = eio_then_crash(36.6)
    assert during.verdict_text == "pass", during.summary()
    assert during.to_json_dict()["readings"]["lost_in_window"] > 2 * 2  # over 2 s at 2 Hz
    just_after = eio_then_crash(44.6)  # the finding as shrunk
    assert just_after.verdict_text == "pass", just_after.summary()


def rare_eio_then_crash(library_file: str, duration: float, ops: list[str], p: float) -> Report:
    eio = FaultStep(
        at=22.1, kind="disk_eio", fault_id="f2", duration=duration,
        params={"ops": ops, "probability": p},
    )  # fmt: skip
    crash = FaultStep(at=34.7, kind="crash", fault_id="f5", params={"restart_after": 0.0})
    return run_finding(library_file, 1724786, eio, crash)


def test_oversize_tabular_request_1724786_a_file_ended_by_an_error_was_renamed_unsynced() -> None:
    """One write in twenty failing: the failed write ended its file, which was renamed to
    .capture without an fsync; the power cut at 34.7 s dropped its last 4,730 bytes, sync
    uploaded the 15 readings left and deleted the file, and 5 readings never reached the
    cloud. A file ended by an error is now fsynced before its rename."""
    file = "field-failures/oversize-tabular-request.scenario.yaml"
    report = rare_eio_then_crash(file, 18.4, ["rename", "write"], 0.05)
    assert report.verdict_text == "pass", report.summary()


def test_upload_lost_after_ack_timeout_1724786_recovery_left_a_prog_until_the_next_start() -> None:
    """Half the renames failing: at the restart after the power cut, recovery could not
    rename the sensor's .prog and left it for the next process start, which never came; 16
    readings stayed on the machine. Each sync pass now retries what recovery left."""
    file = "field-failures/upload-lost-after-ack-timeout.scenario.yaml"
    report = rare_eio_then_crash(file, 15.4, ["rename"], 0.5)
    assert report.verdict_text == "pass", report.summary()
    assert report.to_json_dict()["readings"]["pending"] == 0


def test_esp32_remote_1823_a_deletion_whose_unlink_failed_is_no_deletion() -> None:
    """A byte cap of 64 KiB over 1 KiB files, then one disk operation in a hundred failing:
    two of the cap's unlinks failed, the files stayed and were uploaded later, and the judge
    (which took the deletion recorded just before each unlink as done) called each upload of
    a deleted file an anomaly."""
    cap = FaultStep(
        at=20.0, kind="reconfigure", fault_id="f8",
        params={
            "changes": [
                {"resource": "esp-home:my-esp32", "method": "Gpios", "capture_frequency_hz": 0.5},
                {"resource": "esp-home:my-esp32", "method": "Analogs", "capture_frequency_hz": 2.0},
            ],
            "data_manager": {
                "maximum_capture_file_size_bytes": 1024,
                "capture_dir_max_bytes": 65536,
                "durability_window_ms": 0,
            },
        },
    )  # fmt: skip
    eio = FaultStep(
        at=710.5, kind="disk_eio", fault_id="f6", duration=221.3,
        params={"ops": ["fsync", "unlink", "write"], "probability": 0.01},
    )  # fmt: skip
    report = run_finding("esp32-remote.scenario.yaml", 1823, cap, eio)
    assert report.verdict_text == "pass", report.summary()
    assert report.to_json_dict()["files"]["deleted_by_policy"] > 1000


def test_cloud_restart_mid_stream_171770868_a_file_that_could_not_be_read_was_deleted() -> None:
    """A 64 KiB byte cap, then one open in ten failing: the cap deleted a file it could not
    open as holding no readings, and the point cloud in it was lost without a name. Such a
    file now waits for a pass that can read it."""
    cap = FaultStep(
        at=0.0, kind="reconfigure", fault_id="f4",
        params={"data_manager": {"capture_dir_max_bytes": 65536}},
    )  # fmt: skip
    eio = FaultStep(
        at=67.0, kind="disk_eio", fault_id="f3", duration=40.3,
        params={"ops": ["open"], "probability": 0.1},
    )  # fmt: skip
    file = "field-failures/cloud-restart-mid-stream.scenario.yaml"
    report = run_finding(file, 171770868, cap, eio)
    assert report.verdict_text == "pass", report.summary()
    assert report.to_json_dict()["readings"]["deleted_by_policy"] > 0


def test_oversize_tabular_request_18352_an_abandoned_upload_held_the_simulated_link() -> None:
    """1 kB/s upstream for 75 s, a clean restart inside it: the first upload (640 KB) hit its
    30 s deadline, but the simulated link kept sending it for 640 s, and every later call
    queued behind it timed out long after the link had recovered (a harness defect: the
    core was waiting on a link that no longer existed)."""
    slow = FaultStep(
        at=1.7, kind="bandwidth", fault_id="f5", duration=75.0,
        params={"bytes_per_s": 1000.0, "direction": "upstream"},
    )  # fmt: skip
    restart = FaultStep(
        at=67.9, kind="clean_restart", fault_id="f10", params={"restart_after": 0.0}
    )
    file = "field-failures/oversize-tabular-request.scenario.yaml"
    report = run_finding(file, 18352, slow, restart)
    assert report.verdict_text == "pass", report.summary()


def test_tiny_file_flood_offline_1581_a_shutdown_that_waited_out_a_refusing_disk() -> None:
    """Every open failing for 129 s, a clean restart 60 s into it: the shutdown gave up after
    its 60 s on the two sensors' queues (120 readings) and said so, as promised, but the
    fuzzer did not allow that class. It does now when its envelope can stop the machine
    while the disk refuses writes, and the oracle accepts a drop only during such a fault."""
    eio = FaultStep(
        at=89.6, kind="disk_eio", fault_id="f4", duration=129.0,
        params={"ops": ["open"], "probability": 1.0},
    )  # fmt: skip
    restart = FaultStep(
        at=150.0, kind="clean_restart", fault_id="f8", params={"restart_after": 0.0}
    )
    report = run_finding("field-failures/tiny-file-flood-offline.scenario.yaml", 1581, eio, restart)
    assert report.verdict_text == "pass", report.summary()
    assert report.to_json_dict()["readings"]["dropped"] == 120


def test_garbage_appended_file_3535_garbage_appended_while_opens_fail() -> None:
    """Found fuzzing a field replay (seed 10584): the fault driver appended its garbage
    through the faulty disk, so an open failing with EIO at that moment crashed the simulated
    world. The other writer fails like any writer would: its fault acts on nothing."""
    link_down = FaultStep(at=60.0, kind="link_down", duration=300.0, fault_id="f1")
    eio = FaultStep(
        at=239.5, kind="disk_eio", duration=1.0, fault_id="f2",
        params={"ops": ["open"], "probability": 1.0},
    )  # fmt: skip
    garbage = FaultStep(at=240.0, kind="disk_append_garbage", fault_id="f3", params={"bytes": 137})
    report = run_finding("field-failures/garbage-appended-file.scenario.yaml", 3535, link_down,
                         eio, garbage)  # fmt: skip
    assert report.verdict_text == "pass", report.summary()
    assert report.verdict.faults_without_target == ("f3",)


def test_garbage_appended_file_3838_a_device_fault_due_while_a_clean_stop_drains() -> None:
    """Found fuzzing a field replay (seed 3838): faults are applied one after another, and a
    clean restart's stop waited out a disk refusing writes (60 s) before the next fault was
    applied; a device fault whose window had ended meanwhile was refused ("ends at 16.4s, not
    after now (72.5s)"), which stopped `dmsim fuzz` itself. Each fault now happens at its
    own time: the device is unplugged while the machine drains to the refusing disk."""
    writes_fail = FaultStep(
        at=5.0, kind="disk_eio", duration=120.0, fault_id="f1",
        params={"ops": ["write"], "probability": 1.0},
    )  # fmt: skip
    restart = FaultStep(at=10.0, kind="clean_restart", fault_id="f2")
    unplugged = FaultStep(
        at=12.0, kind="device_disconnect", duration=4.0, fault_id="f3",
        params={"component": "probe"},
    )  # fmt: skip
    report = run_finding("field-failures/garbage-appended-file.scenario.yaml", 3838,
                         writes_fail, restart, unplugged)  # fmt: skip
    assert report.verdict_text == "pass", report.summary()
    assert report.verdict.faults_without_target == ()


def fsync_failing(at: float, duration: float) -> FaultStep:
    return FaultStep(
        at=at, kind="disk_eio", duration=duration, fault_id="f1",
        params={"ops": ["fsync"], "probability": 1.0},
    )  # fmt: skip


def capture_dir_move(at: float, fault_id: str, directory: str) -> FaultStep:
    return FaultStep(
        at=at, kind="reconfigure", fault_id=fault_id,
        params={"data_manager": {"capture_dir": f"/home/dmsim/.viam/{directory}"}},
    )  # fmt: skip


def test_collector_stopped_by_eio_5715_a_capture_dir_moved_while_fsync_fails() -> None:
    """Every fsync failing for 46 s; the capture directory moved 23 s into it, then a clean
    restart: the move closed the capture (waiting for the disk) before naming the old
    directory in the new one, the stop abandoned it there, and the new boot, under the new
    config, never knew the old directory: its 54 readings stayed on the machine. The move
    names the old directory first now."""
    restart = FaultStep(at=84.6, kind="clean_restart", fault_id="f4", params={"restart_after": 0.0})
    report = run_finding("field-failures/collector-stopped-by-eio.scenario.yaml", 5715,
                         fsync_failing(39.7, 46.5), capture_dir_move(63.2, "f2", "capture-moved"),
                         restart)  # fmt: skip
    assert report.verdict_text == "pass", report.summary()


def test_collector_stopped_by_eio_5715_variant_a_second_move_asked_while_the_first_waits() -> None:
    """Found reviewing the fix above: a second move, asked while the first waits for the
    failing disk to close the capture, is never applied (edits are applied one at a time); a
    crash then boots the newest config, whose directory named neither earlier one, and the
    first directory's unfinished file was never recovered. The part's record of its capture
    directories, kept outside them, names the first one now."""
    crash = FaultStep(at=70.0, kind="crash", fault_id="f4", params={"restart_after": 1.0})
    report = run_finding("field-failures/collector-stopped-by-eio.scenario.yaml", 5715,
                         fsync_failing(40.0, 60.0), capture_dir_move(50.0, "f2", "capture-moved"),
                         capture_dir_move(60.0, "f3", "capture-moved-2"), crash)  # fmt: skip
    assert report.verdict_text == "pass", report.summary()


def test_collector_stopped_by_eio_variant_b_capture_dir_moved_while_the_machine_is_off() -> None:
    """The config edited while the machine is off (a reconfigure between a crash and its
    restart; the loader refused one there before): the next boot starts in the new directory
    and recovers and syncs the old one's offline backlog, the crash's unfinished file too,
    from the part's record of the directory it used."""
    offline = FaultStep(at=10.0, kind="link_down", duration=80.0, fault_id="f1")
    crash = FaultStep(at=50.0, kind="crash", fault_id="f2", params={"restart_after": 20.0})
    report = run_finding("field-failures/collector-stopped-by-eio.scenario.yaml", 5715, offline,
                         crash, capture_dir_move(60.0, "f3", "capture-moved"))  # fmt: skip
    assert report.verdict_text == "pass", report.summary()
    assert report.verdict.faults_without_target == ()
