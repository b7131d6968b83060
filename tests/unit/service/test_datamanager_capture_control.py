"""The data manager under a capture control sensor, on simulated time: overrides applied within
a poll, the sensor read before capture starts, a failing sensor reverting every collector,
reconfigure keeping what the sensor says, auto-enabled resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dmsim.cloud import CloudCore
from dmsim.config import loads_machine_config
from dmsim.devices import SimResourceSpec, build_sim_resources
from dmsim.net import SimCloudTransport, SimLink
from dmsim.runtime import RngTree, SimKernel, Trace
from dmsim.service import DataManager
from dmsim.storage import SimFS
from dmsim.storage._inspect import inspect_file
from dmsim.storage._sequences import SequenceFile, parse_sequence_file

CAPTURE_DIR = "/data/capture"
STATE_DIR = "/data/viam/dmsim"
RECORDER = "viam:capture-control:capture-control-sensor"
RECORDING = {"start_s": 10, "stop_s": 20, "frequency_hz": 5, "tags": ["run-1"]}


def machine(*, recordings: list[dict[str, Any]], **dm: Any) -> str:
    resources = [
        {"resource_name": "probe", "method": "Readings"},
        {"resource_name": "arm", "method": "JointPositions"},
        {"resource_name": "board", "method": "Analogs"},
    ]
    return json.dumps({
        "components": [
            {"name": "probe", "type": "sensor", "model": "fake",
             "service_configs": [{"type": "data_manager", "attributes": {
                 "capture_methods": [{"method": "Readings", "capture_frequency_hz": 1}]}}]},
            {"name": "arm", "type": "arm", "model": "ur5e"},
            {"name": "board", "type": "board", "model": "esp32"},
            {"name": "recorder", "type": "sensor", "model": RECORDER,
             "attributes": {"resources": resources, "recordings": recordings}},
        ],
        "services": [{"name": "dm", "type": "data_manager", "attributes": {
            "capture_dir": CAPTURE_DIR, "sync_disabled": True, "tags": ["fleet"],
            "capture_control_sensor": {"name": "recorder", "key": "overrides"}, **dm}}],
    })  # fmt: skip


class Rig:
    def __init__(self, config: str) -> None:
        self.kernel = SimKernel(epoch_ns=1_767_225_600 * 10**9)
        self.trace = Trace(self.kernel.now)
        infra = self.kernel.process("infra")
        rng = RngTree(5)
        self.fs = SimFS(capacity_bytes=1 << 30, rng=rng.child("disk"),
                        wall_clock=self.kernel.wall_ns)  # fmt: skip
        self.link = SimLink(infra, rng=rng.child("link"), trace=self.trace)
        self.link.start()
        self.cloud = CloudCore(clock=lambda: self.kernel.wall_ns() / 1e9)
        self.config = loads_machine_config(config)
        self.devices = build_sim_resources(
            [SimResourceSpec(f"rdk:component:{c.type}", c.name, c.model, c.attributes)
             for c in self.config.components],
            rt=infra, rng=rng.child("devices"),
        )  # fmt: skip
        self.logged: list[str] = []
        self.boot(0)

    def boot(self, number: int) -> None:
        """A new process with its own data manager (after a crash, say)."""
        self.rt = self.kernel.process(f"dmsim-{number}")
        self.dm = DataManager(
            rt=self.rt,
            fs=self.fs.for_process(self.rt),
            machine=self.config,
            resolve=lambda api, name: self.devices.get(name),
            transport=SimCloudTransport(self.rt, self.link, self.cloud),
            is_online=self.link.is_up,
            rng=RngTree(5).child("dm"),
            trace=self.trace,
            boot=number,
            part_id="part-1",
            state_dir=STATE_DIR,
            log=self.logged.append,
        )

    def call(self, coro: Any) -> Any:
        return self.kernel.run_main(coro)

    def captured_at(self, stream_prefix: str) -> list[float]:
        return [e.time for e in self.trace.of_kind("reading.captured")
                if e.fields["stream"].startswith(stream_prefix)]  # fmt: skip

    def tags_in_files(self, name: str) -> set[tuple[str, ...]]:
        self.call(self.dm.do_command({"command": "flush"}))
        found = set()
        for directory, _, names in self.fs.walk(CAPTURE_DIR):
            for file_name in names:
                info = inspect_file(self.fs, f"{directory}/{file_name}")
                if info.component_name == name:
                    found.add(tuple(info.tags))
        return found


def test_a_recording_captures_only_inside_its_window_at_its_rate_with_its_tags() -> None:
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=30.0)
    probe = rig.captured_at("rdk:component:sensor/probe/")
    # read before capture starts: the module's default 0 Hz means nothing before 10 s, not
    # even a collector started and stopped at the first poll
    assert probe
    assert min(probe) >= 10.0
    assert max(probe) < 20.2
    assert min(e.time for e in rig.trace.of_kind("capture.started")) >= 10.0
    assert 49 <= len(probe) <= 51  # 5 Hz over 10 s, within a poll of each edge
    arm = rig.captured_at("rdk:component:arm/arm/")
    assert 49 <= len(arm) <= 51
    assert min(arm) >= 10.0
    assert rig.tags_in_files("probe") == {("run-1",)}
    assert rig.tags_in_files("arm") == {("run-1",)}
    # the board's Analogs needs a reader_name: skipped, said once
    skipped = [line for line in rig.logged if "board/Analogs" in line]
    assert len(skipped) == 1
    assert "additional_params (reader_name)" in skipped[0]
    controls = rig.trace.of_kind("capture.control")
    assert [len(e.fields["overrides"]) for e in controls] == [3, 3, 3]  # 0 Hz, 5 Hz, 0 Hz
    status = rig.call(rig.dm.do_command({"command": "status"}))["capture_control"]
    assert status["sensor"] == "recorder"
    assert status["polling"]
    assert status["error"] is None


def test_a_failing_sensor_reverts_to_the_machine_config_and_says_so_once() -> None:
    rig = Rig(machine(recordings=[]))  # the sensor says 0 Hz for everything
    rig.call(rig.dm.start())
    rig.kernel.run(until=10.0)
    assert rig.captured_at("rdk:component:sensor/probe/") == []
    rig.devices["recorder"].inject_fault("read_error", fault_id="f1", until=20.0)
    rig.kernel.run(until=30.0)
    probe = rig.captured_at("rdk:component:sensor/probe/")
    # the configured 1 Hz while the sensor fails, within a poll of each edge
    assert 9 <= len(probe) <= 11
    assert min(probe) >= 10.0
    assert max(probe) <= 20.2
    failures = [line for line in rig.logged if "read failed" in line]
    assert len(failures) == 1
    assert "machine config" in failures[0]
    assert any("answers again" in line for line in rig.logged)
    health = [e.fields["error"] for e in rig.trace.of_kind("capture.control")]
    assert health[0] is None
    assert "read failed" in health[1]
    assert health[2:] == [None]


def test_reconfigure_keeps_the_sensors_overrides_without_restarting_collectors() -> None:
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    started = len(rig.trace.of_kind("capture.started", "capture.stopped"))
    rig.call(rig.dm.reconfigure(
        loads_machine_config(machine(recordings=[RECORDING], sync_interval_mins=5))
    ))  # fmt: skip
    assert len(rig.trace.of_kind("capture.started", "capture.stopped")) == started
    rig.kernel.run(until=18.0)
    assert max(rig.captured_at("rdk:component:arm/arm/")) > 17.5


def test_capture_disabled_means_no_polling() -> None:
    rig = Rig(machine(recordings=[RECORDING], capture_disabled=True))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    assert rig.captured_at("") == []
    assert rig.trace.of_kind("capture.control") == []
    assert rig.call(rig.dm.do_command({"command": "status"}))["capture_control"]["polling"] is False


def test_a_reconfigure_during_an_override_never_cuts_a_collector_short() -> None:
    # The recording ends at 20 s while the disk fails writes: retiring the probe's collector
    # waits for its queue to drain. A reconfigure lands in that wait; it must let the retire
    # finish, or the stream would start again from a stale sequence number and reuse
    # reading identities.
    second = {"start_s": 30, "stop_s": 35, "frequency_hz": 5, "tags": ["run-2"]}
    config = machine(recordings=[RECORDING, second])
    rig = Rig(config)
    rig.call(rig.dm.start())
    rig.kernel.run(until=19.5)
    rig.fs.inject_eio(prefix=CAPTURE_DIR, ops=["write", "open"], fault_id="eio")
    rig.kernel.run(until=20.15)  # the 0 Hz override is being applied: the drain waits
    rig.fs.clear_faults("eio")
    rig.call(rig.dm.reconfigure(loads_machine_config(config)))
    rig.kernel.run(until=40.0)
    rig.call(rig.dm.close())
    ids = [(e.fields["stream"], e.fields["boot"], e.fields["seq"])
           for e in rig.trace.of_kind("reading.captured")]  # fmt: skip
    assert len(ids) == len(set(ids))
    assert rig.trace.of_kind("reading.dropped") == []


def sequence_files(rig: Rig) -> dict[str, SequenceFile]:
    directory = f"{CAPTURE_DIR}/sequences"
    if not rig.fs.is_dir(directory):
        return {}
    return {
        name: parse_sequence_file(rig.fs.open_read(f"{directory}/{name}").read(), name)
        for name in rig.fs.listdir(directory)
    }


def test_a_recording_is_a_sequence_open_while_it_runs_and_closed_after() -> None:
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    ((name, opened),) = sequence_files(rig).items()
    assert name.endswith(".progseq")
    assert opened.end_ns is None
    rig.kernel.run(until=25.0)
    ((name, closed),) = sequence_files(rig).items()
    assert name == name.removesuffix(".seq") + ".seq"
    assert closed.tags == ("run-1",)
    assert ("probe", "Readings") in closed.resources
    epoch = 1_767_225_600 * 10**9
    assert closed.start_ns - epoch == pytest.approx(10e9, abs=0.15e9)
    assert closed.end_ns is not None
    assert closed.end_ns - epoch == pytest.approx(20e9, abs=0.15e9)
    status = rig.call(rig.dm.do_command({"command": "status"}))["capture_control"]
    assert (status["open_sequences"], status["sequences_closed"]) == (0, 1)


def test_a_failing_sensor_splits_the_sequence_and_close_ends_the_open_one() -> None:
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=12.0)
    rig.devices["recorder"].inject_fault("read_error", fault_id="f1", until=14.0)
    rig.kernel.run(until=16.0)
    rig.call(rig.dm.close())
    files = sequence_files(rig)
    assert all(name.endswith(".seq") for name in files)
    windows = sorted((f.start_ns, f.end_ns) for f in files.values())
    assert len(windows) == 2  # closed by the failure at 12 s, opened again at 14 s
    assert windows[0][1] is not None
    assert windows[0][1] <= windows[1][0]


def test_a_sequence_open_at_a_crash_is_quarantined_at_the_next_start() -> None:
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    rig.rt.kill()  # power cut: the .progseq is durable, its end never comes
    rig.fs.crash()
    rig.boot(1)
    rig.call(rig.dm.start())
    (orphan,) = rig.trace.of_kind("sequence.orphaned")
    assert orphan.fields["path"].startswith(f"{CAPTURE_DIR}/failed/sequences/")
    assert "end time is unknown" in orphan.fields["reason"]


def test_a_reconfigure_that_names_a_new_sensor_reads_it_before_applying() -> None:
    recording = {**RECORDING, "start_s": 0, "stop_s": 100}
    rig = Rig(machine(recordings=[recording], capture_control_sensor={}))
    rig.call(rig.dm.start())
    rig.kernel.run(until=5.0)
    assert rig.trace.of_kind("capture.control") == []  # no sensor configured: no polling
    rig.call(rig.dm.reconfigure(loads_machine_config(machine(recordings=[recording]))))
    (arm,) = [e for e in rig.trace.of_kind("capture.started") if e.fields["component"] == "arm"]
    assert arm.time == 5.0  # enabled by the sensor at the reconfigure, not a poll later


def test_a_shutdown_retries_a_refused_sequence_as_long_as_its_queues_then_says_it_is_lost() -> None:
    """The `.seq` of a sequence a shutdown ends waits for a refusing disk as long as the
    queues do (a minute); past that it is reported lost, once, with its fingerprint."""
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    rig.fs.inject_eio(prefix=f"{CAPTURE_DIR}/sequences", ops=("write",), fault_id="f1")
    started = rig.kernel.now()
    rig.call(rig.dm.close())
    assert rig.kernel.now() - started == pytest.approx(60.0, abs=1.0)
    (lost,) = rig.trace.of_kind("sequence.lost")
    assert lost.fields["fingerprint"]
    assert [line for line in rig.logged if "lost" in line] == [
        f"sequence {lost.fields['id']} lost: {lost.fields['reason']}"
    ]
    assert len([line for line in rig.logged if "could not write" in line]) == 1


def capture_turned_off_on_a_refusing_disk() -> Rig:
    """Capture turned off at 15 s, mid-recording, while the disk refuses writes to
    `sequences/` (fault ``full``; sync is disabled); at 30 s, the disk still refusing."""
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    rig.fs.inject_eio(prefix=f"{CAPTURE_DIR}/sequences", ops=("write",), fault_id="full")
    rig.call(rig.dm.reconfigure(
        loads_machine_config(machine(recordings=[RECORDING], capture_disabled=True))
    ))  # fmt: skip
    rig.kernel.run(until=30.0)
    return rig


def capture_turned_off_while_sequences_are_refused() -> Rig:
    """As :func:`capture_turned_off_on_a_refusing_disk`; the disk takes writes again at 30 s."""
    rig = capture_turned_off_on_a_refusing_disk()
    rig.fs.clear_faults("full")
    return rig


def test_status_names_a_sequence_file_the_disk_has_not_written_yet() -> None:
    rig = capture_turned_off_on_a_refusing_disk()
    (waiting,) = rig.call(rig.dm.do_command({"command": "status"}))["unwritten"]
    assert waiting.startswith(f"{CAPTURE_DIR}/sequences/")
    assert waiting.endswith(".seq")
    rig.fs.clear_faults("full")
    rig.kernel.run(until=70.0)
    assert rig.call(rig.dm.do_command({"command": "status"}))["unwritten"] == []


def test_a_sequence_a_reconfigure_ends_on_a_refusing_disk_is_written_once_the_disk_recovers() -> (
    None
):
    """Capture turned off mid-recording while the disk refuses writes (a full disk, say): the
    sequence ends then, and its `.seq` is written when the disk takes writes again (here, at
    the shutdown). It used to get one try and be reported lost at the reconfigure."""
    rig = capture_turned_off_while_sequences_are_refused()
    rig.call(rig.dm.close())
    assert rig.trace.of_kind("sequence.lost") == []
    ((name, closed),) = sequence_files(rig).items()
    assert name.endswith(".seq")
    epoch = 1_767_225_600 * 10**9
    assert closed.end_ns is not None
    assert closed.end_ns - epoch == pytest.approx(15e9, abs=0.15e9)  # when capture went off


def test_with_sync_disabled_a_refused_sequence_end_is_written_before_a_crash_can_lose_it() -> None:
    """Regression: the `.seq` a refusing disk kept waiting was retried only at sync passes and
    at the shutdown; with sync disabled (this machine's config) a crash after the disk
    recovered still found the `.progseq`, and the next start quarantined the recording."""
    rig = capture_turned_off_while_sequences_are_refused()
    rig.kernel.run(until=70.0)  # retried at doubling intervals, up to every 30 s
    rig.rt.kill()
    rig.fs.crash()
    rig.boot(1)
    rig.call(rig.dm.start())
    assert rig.trace.of_kind("sequence.orphaned") == []
    ((name, _),) = sequence_files(rig).items()
    assert name.endswith(".seq")


def test_a_sequence_ended_by_a_move_of_the_capture_dir_is_closed_in_the_old_one() -> None:
    """Its `.seq` goes where its `.progseq` was, and the `.progseq` goes, even when the
    refusing disk holds the write until after the move."""
    rig = Rig(machine(recordings=[RECORDING]))
    rig.call(rig.dm.start())
    rig.kernel.run(until=15.0)
    rig.fs.inject_eio(prefix=f"{CAPTURE_DIR}/sequences", ops=("write",), fault_id="full")
    moved = machine(recordings=[RECORDING], capture_dir=f"{CAPTURE_DIR}-moved")
    rig.call(rig.dm.reconfigure(loads_machine_config(moved)))
    rig.fs.clear_faults("full")
    rig.call(rig.dm.close())
    assert rig.trace.of_kind("sequence.lost") == []
    (name,) = rig.fs.listdir(f"{CAPTURE_DIR}/sequences")
    assert name.endswith(".seq")
