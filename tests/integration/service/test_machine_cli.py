"""`dmsim machine` for real: the data manager on the wall clock, a real capture directory, and
`dmsim cloud serve` over gRPC on loopback — both as subprocesses, as on a Pi."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.integration.cloud.serve_process import serve_process
from tests.integration.service.machines import machine_config, with_vision

from dmsim.storage import RealFS, read_capture_file
from dmsim.storage._lock import directory_lock

DMSIM = [sys.executable, "-m", "dmsim.cli"]


def query(data: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [*DMSIM, "cloud", "query", "--data", str(data), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def offline_machine(
    config: Path, *options: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`dmsim machine` run to its end with no cloud listening (port 9)."""
    return subprocess.run(
        [*DMSIM, "machine", str(config), "--cloud", "127.0.0.1:9", *options],
        capture_output=True, text=True, timeout=60, check=check,
    )  # fmt: skip


def online_machine(
    config: Path, data: Path
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]:
    """`dmsim machine` run for 3 s with `dmsim cloud serve` on loopback; what the cloud
    then holds."""
    with serve_process(data) as cloud:
        done = subprocess.run(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
             "--duration", "3s"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done, query(data)


def test_a_real_machine_captures_syncs_and_shuts_down_cleanly(tmp_path: Path) -> None:
    capture_dir, data = tmp_path / "capture", tmp_path / "cloud"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    with serve_process(data) as cloud:
        machine = subprocess.Popen(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
             "--status-every", "1s", "--part-id", "bench-pi"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            out, err = machine.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            machine.send_signal(signal.SIGTERM)  # what systemd does at shutdown
            out, err = machine.communicate(timeout=60)
        assert machine.returncode == 0, err
        assert "Traceback" not in err
        assert "stopped cleanly" in out
        assert "captured" in out.splitlines()[0]  # progress lines while running
        # whatever was captured is either in the cloud or on disk in complete files
        assert not list(capture_dir.rglob("*.prog"))
        stored = query(data)
    assert stored, "readings reached the cloud over gRPC"
    assert {item["part_id"] for item in stored} == {"bench-pi"}
    assert {"probe", "cam"} <= {item["component_name"] for item in stored}


def test_a_second_start_gets_a_new_boot_number(tmp_path: Path) -> None:
    capture_dir = tmp_path / "capture"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    boots = []
    for _ in range(2):
        done = offline_machine(config, "--duration", "1s", check=True)
        boots.append(int((capture_dir / ".dmsim" / "boot").read_text()))
    assert boots[1] == boots[0] + 1
    # no cloud listens there: the operator is told what the next start will pick up
    waiting = list(capture_dir.rglob("*.capture"))
    assert waiting
    assert f"left to sync in {capture_dir}: {len(waiting):,} capture file(s)" in done.stdout


def test_a_restart_sends_what_the_last_run_left_at_once(tmp_path: Path) -> None:
    # rdk's first pass runs one interval after start: a machine restarted every few minutes
    # (a crash loop, a brown-out) with a 10-minute interval would never send its backlog.
    capture_dir, data = tmp_path / "capture", tmp_path / "cloud"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    offline_machine(config, "--duration", "1s", check=True)
    left = list(capture_dir.rglob("*.capture"))
    assert left  # no cloud listened there
    restarted = json.loads(config.read_text(encoding="utf-8"))
    restarted["services"][0]["attributes"].update(sync_interval_mins=10, capture_disabled=True)
    config.write_text(json.dumps(restarted), encoding="utf-8")
    done, stored = online_machine(config, data)
    assert not list(capture_dir.rglob("*.capture")), done.stdout
    assert f"left to sync in {capture_dir}: 0 capture file(s)" in done.stdout
    assert {item["component_name"] for item in stored} == {"probe", "cam"}


def test_a_capture_dir_edited_while_the_machine_was_off_is_still_synced(tmp_path: Path) -> None:
    """rdk never walks a directory the config no longer names; dmsim finds it in the part's
    record (in $VIAM_HOME), and leaves it alone while another process holds it."""
    first, second, data = tmp_path / "first", tmp_path / "second", tmp_path / "cloud"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(first)), encoding="utf-8")
    offline_machine(config, "--duration", "1s", check=True)
    left = sorted(first.rglob("*.capture"))
    assert left  # no cloud listened there
    readings = sum(len(read_capture_file(RealFS(), str(path)).readings) for path in left)
    config.write_text(json.dumps(machine_config(second)), encoding="utf-8")
    with directory_lock(str(first), purpose="test"):  # another process captures there
        held = offline_machine(config, "--duration", "1s", check=True)
    assert f"former capture directory not synced: {first}: in use by a running dmsim" in (
        held.stderr
    )
    assert sorted(first.rglob("*.capture")) == left
    done, stored = online_machine(config, data)
    assert not list(first.rglob("*.capture")), done.stdout
    assert f"left to sync in {first}: 0 capture file(s)" in done.stdout
    assert f"left to sync in {second}:" in done.stdout
    assert len(stored) >= readings


def test_bad_addresses_are_clear_errors(tmp_path: Path) -> None:
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(tmp_path / "c")), encoding="utf-8")
    for cloud in ("nowhere", "127.0.0.1:8²"):  # "²" is a digit to str.isdigit, not to int()
        done = subprocess.run(
            [*DMSIM, "machine", str(config), "--cloud", cloud],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2
        assert "--cloud: expected HOST:PORT" in done.stderr
    done = subprocess.run(
        [*DMSIM, "machine", str(config), "--cloud", "127.0.0.1:99999"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2  # it retried "port must be 0-65535" forever
    assert "--cloud: port must be in 1..65535, got 99999" in done.stderr


def test_recover_and_a_second_machine_are_refused_while_a_machine_runs(tmp_path: Path) -> None:
    # Recovery beside a live machine renamed the .prog being written; sync could then upload
    # and delete it while the machine went on writing to the unlinked file.
    capture_dir = tmp_path / "capture"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    machine = subprocess.Popen(
        [*DMSIM, "machine", str(config), "--cloud", "127.0.0.1:9", "--duration", "30s",
         "--status-every", "0.2s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert machine.stdout is not None
        machine.stdout.readline()  # running: its first status line
        recover = subprocess.run(
            [*DMSIM, "capture", "recover", str(capture_dir)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert recover.returncode == 2
        assert f"in use by a running dmsim (pid {machine.pid})" in recover.stderr
        assert recover.stdout == ""  # refused before looking at a single file
        second = offline_machine(config, "--duration", "1s")
        assert second.returncode == 1  # could not run (a config error would be 2)
        assert "in use by a running dmsim" in second.stderr
    finally:
        machine.send_signal(signal.SIGTERM)
        machine.communicate(timeout=60)
    assert machine.returncode == 0
    # once it has stopped, recovery may run
    after = subprocess.run(
        [*DMSIM, "capture", "recover", str(capture_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert after.returncode == 0, after.stderr


def test_a_capture_dir_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(blocker / "capture")), encoding="utf-8")
    done = offline_machine(config, "--duration", "1s")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"capture_dir: {blocker / 'capture'}: " in done.stderr


def test_hardware_that_cannot_be_built_is_named_and_nothing_starts(tmp_path: Path) -> None:
    config, capture_dir = tmp_path / "machine.json", tmp_path / "capture"
    machine = machine_config(capture_dir)
    machine["components"] = [
        {"name": "gripper-arm", "type": "arm", "model": "ur5e"},
        {"name": "esp", "type": "board", "model": "esp32", "attributes": {}},
    ]
    config.write_text(json.dumps(machine), encoding="utf-8")
    done = offline_machine(config, "--devices", "real")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no hardware driver for rdk:component:arm model 'ur5e'" in done.stderr
    assert "attributes.serial_path: is required for an ESP32 board" in done.stderr
    assert not list(capture_dir.glob("**/*.prog"))


def test_a_simulated_device_that_cannot_be_built_is_named_once(tmp_path: Path) -> None:
    """Simulated devices are built as a set, so one bad camera fails every one of them: the
    error is still said once, not once per device."""
    config, capture_dir = tmp_path / "machine.json", tmp_path / "capture"
    machine = machine_config(capture_dir)
    components = machine["components"]
    assert isinstance(components, list)
    components[1]["attributes"]["width_px"] = 8
    config.write_text(json.dumps(machine), encoding="utf-8")
    done = offline_machine(config, "--duration", "1s")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("width_px") == 1, done.stderr


def test_a_vision_service_reads_the_camera_the_machine_runs(tmp_path: Path) -> None:
    """Regression: the simulated devices of `dmsim machine` looked for each other in an empty
    map at start, so a vision service found no camera ("names no camera") and captured
    nothing."""
    config, capture_dir = tmp_path / "machine.json", tmp_path / "capture"
    machine = with_vision(machine_config(capture_dir), hz=5)
    config.write_text(json.dumps(machine), encoding="utf-8")
    done = offline_machine(config, "--duration", "2s")
    assert done.returncode == 0, done.stderr
    assert "names no camera" not in done.stderr
    assert list(capture_dir.glob("rdk_service_vision/detector/CaptureAllFromCamera/*.capture"))


def _status(line: str, field: str) -> int:
    """A count from a status line (``uploaded files 12``), 0 when the line does not show it."""
    _, found, rest = line.partition(f"{field} ")
    return int(rest.split()[0].replace(",", "")) if found else 0


def _first_status(lines: Iterator[str], field: str, above: int, within: float) -> str:
    """The first status line whose ``field`` is above ``above``, seen within ``within`` s."""
    deadline = time.monotonic() + within
    for line in lines:
        if _status(line, field) > above:
            return line
        assert time.monotonic() < deadline, f"no {field} above {above} within {within:g}s"
    raise AssertionError(f"the machine stopped before {field} rose above {above}")


def test_uploads_resume_seconds_after_the_cloud_comes_back(tmp_path: Path) -> None:
    # The machine cannot see its link, so an unreachable cloud starts the 60 s offline pause
    # (rdk's). The pause is a guess at when the cloud is back; a cloud that was back in a few
    # seconds (a restart, a router reboot) left every reading waiting out the whole minute.
    capture_dir, data = tmp_path / "capture", tmp_path / "cloud"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    with contextlib.ExitStack() as stack:
        cloud = stack.enter_context(serve_process(data))
        port = cloud.grpc_port
        machine = subprocess.Popen(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{port}",
             "--status-every", "0.2s", "--events", str(tmp_path / "events.jsonl")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert machine.stdout is not None
            lines = iter(machine.stdout.readline, "")
            _first_status(lines, "uploaded files", 0, within=60)
            stack.close()  # the cloud goes away: the next upload finds it unreachable
            line = _first_status(lines, "offline pauses", 0, within=60)
            with serve_process(data, "--port", str(port)):
                back = time.monotonic()
                _first_status(lines, "uploaded files", _status(line, "uploaded files"), 30)
                waited = time.monotonic() - back
        finally:
            machine.send_signal(signal.SIGTERM)
            _, err = machine.communicate(timeout=60)
    assert machine.returncode == 0, err
    assert waited < 15  # the probe every 2.5–7.5 s, not the rest of the 60 s pause
    assert "the cloud is reachable again: retrying now" in err  # why, after "next in 60s"
    events = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = [json.loads(line)["kind"] for line in events]
    assert kinds.count("sync.cloud_reachable") == 1  # in the log: why the backlog moved again
    assert kinds.index("sync.paused") < kinds.index("sync.cloud_reachable")


def test_sigusr1_syncs_now_and_says_what_went_and_what_waits(tmp_path: Path) -> None:
    """Viam's Sync() for an operator at the machine (`kill -USR1`: before unplugging it):
    the capture files go now, whatever the interval, and the line says what is left."""
    capture_dir, extra, data = tmp_path / "capture", tmp_path / "extra", tmp_path / "cloud"
    extra.mkdir()
    (extra / "calibration.json").write_text('{"offset": 0.2}', encoding="utf-8")
    config = tmp_path / "machine.json"
    machine = machine_config(capture_dir)
    machine["services"][0]["attributes"].update(  # type: ignore[index]
        sync_interval_mins=60,
        additional_sync_paths=[str(extra)],
        file_last_modified_millis=120_000,  # the start holds arbitrary files two minutes
    )
    config.write_text(json.dumps(machine), encoding="utf-8")
    with serve_process(data) as cloud:
        process = subprocess.Popen(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
             "--status-every", "0.2s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            lines = iter(process.stdout.readline, "")
            _first_status(lines, "captured", 20, within=60)
            assert query(data) == []  # the start-up pass found nothing; the next is an hour off
            process.send_signal(signal.SIGUSR1)
            said = next(line for line in lines if line.startswith("sync now:"))
            stored = query(data)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    uploaded, sent = (int(n) for n in said.split("uploaded ")[1].split(" file")[0].split(" of "))
    assert uploaded == sent >= 2, said  # the sensor's file and the camera's, at least
    assert "1 file waiting (a start or a clock set holds arbitrary files 1" in said, said
    assert {"probe", "cam"} <= {item["component_name"] for item in stored}
    assert (extra / "calibration.json").exists()


def _wait_for(path: Path, test: Callable[[dict[str, Any]], bool], within: float) -> dict[str, Any]:
    """The status file's content once ``test`` holds for it (a reader never sees half a file)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists():
            status = json.loads(path.read_text(encoding="utf-8"))
            if test(status):
                return status
        time.sleep(0.05)
    raise AssertionError(f"{path} did not show what was awaited within {within:g}s")


def test_a_status_file_shows_what_the_machine_does_and_its_end(tmp_path: Path) -> None:
    """What `DoCommand status` tells, for an operator or a monitoring agent: the former
    capture directories, what a refusing disk keeps waiting, sync's counters."""
    capture_dir, data, status_file = tmp_path / "capture", tmp_path / "cloud", tmp_path / "s.json"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    with serve_process(data) as cloud:
        machine = subprocess.Popen(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
             "--status-every", "0.2s", "--status-file", str(status_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            running = _wait_for(status_file, lambda s: s["sync"]["files_uploaded"] > 0, 60)
        finally:
            machine.send_signal(signal.SIGTERM)
            _, err = machine.communicate(timeout=60)
    assert machine.returncode == 0, err
    assert running["state"] == "running"
    assert running["pid"] == machine.pid
    assert running["capture_dirs"]["in_use"] == str(capture_dir)
    assert running["unwritten"] == []
    streams = [c["stream"] for c in running["collectors"]]
    assert len(streams) == 2, streams
    assert any("probe" in stream for stream in streams), streams
    assert all(c["captured"] > 0 for c in running["collectors"])
    stopped = json.loads(status_file.read_text(encoding="utf-8"))
    assert stopped["state"] == "stopped"
    assert stopped["uptime_s"] >= running["uptime_s"]
    assert stopped["sync"]["files_uploaded"] >= running["sync"]["files_uploaded"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".s.json")] == []


def test_a_status_file_that_cannot_be_written_is_named_and_the_machine_runs_on(
    tmp_path: Path,
) -> None:
    capture_dir, status_dir = tmp_path / "capture", tmp_path / "run"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture_dir)), encoding="utf-8")
    status_file = status_dir / "status.json"
    done = offline_machine(config, "--status-file", str(status_file), "--duration", "1s")
    assert done.returncode == 2  # refused at start: nothing runs
    assert f"--status-file: {status_dir}: no such directory" in done.stderr
    assert not capture_dir.exists()
    status_dir.mkdir()
    machine = subprocess.Popen(
        [*DMSIM, "machine", str(config), "--cloud", "127.0.0.1:9", "--status-every", "0.2s",
         "--status-file", str(status_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(status_file, lambda s: s["state"] == "running", 60)
        status_file.unlink()
        status_dir.rmdir()  # /run cleaned under a running machine
        time.sleep(1.5)
    finally:
        machine.send_signal(signal.SIGTERM)
        out, err = machine.communicate(timeout=60)
    assert machine.returncode == 0, err
    assert "stopped cleanly" in out
    assert err.count(f"status file not written: {status_file}") == 1, err  # once, not each time
    assert list(capture_dir.rglob("*.capture"))  # capture went on
