"""`dmsim machine` applies edits of its config file while it runs, as rdk does with a local
config: a new resource, a new rate, a new capture directory, a new promise; an edit it cannot
apply is reported and changes nothing."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from tests.integration.service.machines import machine_config, with_vision

from dmsim.devices.fakes import FakeEsp32
from dmsim.storage import RealFS, read_capture_file
from dmsim.storage._lock import directory_lock

DMSIM = [sys.executable, "-m", "dmsim.cli"]


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Replace the file the way editors and config managers do: a new file renamed over it."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(config), encoding="utf-8")
    os.replace(temporary, path)


def wait_for(condition: Callable[[], bool], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within:g}s"
        time.sleep(0.05)


@dataclass
class Machine:
    process: subprocess.Popen[str]
    err_path: Path
    out: str = ""

    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8")


@contextmanager
def running_machine(tmp_path: Path, config: Path, *extra: str) -> Iterator[Machine]:
    """A machine with nothing to sync to (no cloud listens on port 9), stopped (SIGTERM) at
    the end of the block; its stderr is readable while it runs, its stdout after."""
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [*DMSIM, "machine", str(config), "--cloud", "127.0.0.1:9", "--status-every", "0.2s",
             *extra],
            stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
        machine = Machine(process, err_path)
        try:
            yield machine
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            machine.out, _ = process.communicate(timeout=60)


def captured_files(directory: Path, component: str, suffix: str = ".capture") -> list[Path]:
    """The component's capture files; ``suffix=""`` includes the open (.prog) ones."""
    return list(directory.glob(f"rdk_component_*/{component}/*/*{suffix}"))


def captured_bytes(directory: Path, component: str) -> int:
    return sum(path.stat().st_size for path in captured_files(directory, component, ""))


def images(files: list[Path]) -> list[tuple[int, tuple[int, int]]]:
    """(seq, width and height) of every image in the capture files, in sequence order."""
    found = []
    for path in files:
        contents = read_capture_file(RealFS(), str(path))
        for reading, reading_id in zip(contents.readings, contents.reading_ids, strict=True):
            assert reading_id is not None
            found.append((reading_id.seq, Image.open(io.BytesIO(reading.binary)).size))
    return sorted(found)


def test_an_edit_adds_a_resource_moves_the_capture_dir_and_changes_the_promise(
    tmp_path: Path,
) -> None:
    first_dir, second_dir = tmp_path / "capture", tmp_path / "capture-2"
    config_path, trace = tmp_path / "machine.json", tmp_path / "trace.jsonl"
    config = machine_config(first_dir)
    write_config(config_path, config)
    with running_machine(tmp_path, config_path, "--trace", str(trace)) as machine:
        wait_for(lambda: bool(captured_files(first_dir, "probe")), "the first files")
        edited = json.loads(json.dumps(config))
        edited["components"].append(
            {"name": "probe2", "type": "sensor", "model": "fake",
             "service_configs": [{"type": "data_manager", "attributes": {
                 "capture_methods": [{"method": "Readings", "capture_frequency_hz": 50}]}}]}
        )  # fmt: skip
        attributes = edited["services"][0]["attributes"]
        attributes.update(capture_dir=str(second_dir), durability_window_ms=250)
        write_config(config_path, edited)
        machine.process.send_signal(signal.SIGHUP)  # check now (and do not hang up)
        wait_for(lambda: "reconfigured from" in machine.err(), "the reload")
        # the new sensor, and the old one in its new place
        wait_for(
            lambda: all(captured_files(second_dir, s, "") for s in ("probe", "probe2")),
            "both sensors' files in the new directory",
        )
        # and back: the first directory is this machine's already
        attributes["capture_dir"] = str(first_dir)
        write_config(config_path, edited)
        wait_for(lambda: machine.err().count("reconfigured from") == 2, "the move back")
        wait_for(lambda: bool(captured_files(first_dir, "probe2", "")), "files back in the first")
    assert machine.process.returncode == 0, machine.err()
    assert "Traceback" not in machine.err()
    # the part's record names the directory in use and the other, so that its backlog is
    # still synced after a restart under any config
    assert "still running the previous config" not in machine.err()
    record = Path(os.environ["VIAM_HOME"], "dmsim", "capture-dirs", "local-part.json")
    assert json.loads(record.read_text(encoding="utf-8")) == {
        "part_id": "local-part",
        "capture_dir": str(first_dir),
        "former_capture_dirs": [str(second_dir)],
    }
    # the operator is told what each directory still holds
    assert machine.out.count(f"left to sync in {first_dir}:") == 1
    assert machine.out.count(f"left to sync in {second_dir}:") == 1
    # the judge learns each promise: the start's, the looser one while the edit is applied,
    # then the edit's
    events = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    windows = [e["durability_window_s"] for e in events if e["kind"] == "world.promise"]
    assert windows == [1.0, 1.0, 0.25, 0.25, 0.25]


def test_edits_that_cannot_be_applied_are_reported_and_change_nothing(tmp_path: Path) -> None:
    capture_dir, config_path = tmp_path / "capture", tmp_path / "machine.json"
    config = machine_config(capture_dir)
    write_config(config_path, config)

    with running_machine(tmp_path, config_path) as machine:
        wait_for(lambda: captured_bytes(capture_dir, "probe") > 0, "the first readings")
        config_path.write_text('{"components": [', encoding="utf-8")  # saved half-written
        wait_for(lambda: "still running the previous config" in machine.err(), "a report")
        unbuildable = json.loads(json.dumps(config))
        unbuildable["components"][1]["attributes"]["width_px"] = 8
        write_config(config_path, unbuildable)
        wait_for(lambda: "width_px" in machine.err(), "a report")
        moved = json.loads(json.dumps(config))
        moved["services"][0]["attributes"]["capture_dir"] = str(tmp_path / "taken")
        with directory_lock(str(tmp_path / "taken"), purpose="test"):  # another process's
            write_config(config_path, moved)
            wait_for(lambda: "in use by a running dmsim" in machine.err(), "a report")
        before = captured_bytes(capture_dir, "probe")
        wait_for(lambda: captured_bytes(capture_dir, "probe") > before, "capture after refusals")
    assert machine.process.returncode == 0, machine.err()
    err = machine.err()
    assert "Traceback" not in err
    assert "reconfigured" not in err
    assert f"{config_path} changed; still running the previous config:" in err
    assert "JSON" in err  # what is wrong with the half-written file
    assert "could not be reopened" not in err  # the camera's old device was opened again
    assert captured_files(capture_dir, "cam")  # and captured on


def test_a_changed_camera_is_rebuilt_and_its_stream_goes_on(tmp_path: Path) -> None:
    """The vision service reading the camera is paused while it is rebuilt (it never finds
    the camera missing) and goes on with the new one."""
    capture_dir, config_path = tmp_path / "capture", tmp_path / "machine.json"
    config = with_vision(machine_config(capture_dir), hz=20)
    write_config(config_path, config)
    with running_machine(tmp_path, config_path) as machine:
        wait_for(lambda: bool(captured_files(capture_dir, "cam")), "the first images")
        smaller = json.loads(json.dumps(config))
        smaller["components"][1]["attributes"]["width_px"] = 32
        write_config(config_path, smaller)
        wait_for(lambda: "rebuilt rdk:component:camera 'cam'" in machine.err(), "the rebuild")
        rebuilt_files = len(captured_files(capture_dir, "cam"))
        wait_for(
            lambda: len(captured_files(capture_dir, "cam")) > rebuilt_files + 1,
            "images from the new camera",
        )
    assert machine.process.returncode == 0, machine.err()
    assert "Traceback" not in machine.err()
    assert "names no camera" not in machine.err()
    vision = list(capture_dir.glob("rdk_service_vision/detector/*/*.capture"))
    for files in (captured_files(capture_dir, "cam"), vision):
        readings = images(files)
        seqs = [seq for seq, _ in readings]
        assert seqs == list(range(len(seqs)))  # one stream: nothing lost or repeated across it
        sizes = [size for _, size in readings]
        first_small = sizes.index((32, 48))
        assert first_small > 0
        assert set(sizes[:first_small]) == {(64, 48)}
        assert set(sizes[first_small:]) == {(32, 48)}


def test_a_real_board_is_rebuilt_on_its_serial_port(tmp_path: Path) -> None:
    """`--devices real`: an ESP32 on a pseudo-terminal, its analog reader moved to another pin
    by an edit; the driver is closed and built again, and the readings come from the new pin."""
    capture_dir, config_path = tmp_path / "capture", tmp_path / "machine.json"

    def config(pin: int) -> dict[str, Any]:
        return {
            "components": [
                {"name": "esp", "type": "board", "model": "esp32",
                 "attributes": {"serial_path": str(tmp_path / "esp32"),
                                "analogs": [{"name": "A1", "pin": pin}]},
                 "service_configs": [{"type": "data_manager", "attributes": {
                     "capture_methods": [{"method": "Analogs", "capture_frequency_hz": 20,
                                          "additional_params": {"reader_name": "A1"}}]}}]},
            ],
            "services": [{"name": "dm", "type": "data_manager", "attributes": {
                "capture_dir": str(capture_dir), "sync_interval_mins": 0.02}}],
        }  # fmt: skip

    def values() -> list[tuple[int, int]]:
        found = []
        for path in captured_files(capture_dir, "esp"):
            contents = read_capture_file(RealFS(), str(path))
            for reading, reading_id in zip(contents.readings, contents.reading_ids, strict=True):
                assert reading_id is not None
                found.append((reading_id.seq, int(reading.struct["value"])))
        return sorted(found)

    write_config(config_path, config(34))
    with (
        FakeEsp32(link=tmp_path / "esp32", analogs={34: 1234, 35: 4000}, rate_hz=100),
        running_machine(tmp_path, config_path, "--devices", "real") as machine,
    ):
        wait_for(lambda: bool(captured_files(capture_dir, "esp")), "the first readings")
        write_config(config_path, config(35))
        wait_for(lambda: "rebuilt rdk:component:board 'esp'" in machine.err(), "the rebuild")
        rebuilt = captured_bytes(capture_dir, "esp")  # files complete at the stop: no cloud
        wait_for(lambda: captured_bytes(capture_dir, "esp") > rebuilt, "readings of the new pin")
    assert machine.process.returncode == 0, machine.err()
    assert "Traceback" not in machine.err()
    readings = values()
    assert [seq for seq, _ in readings] == list(range(len(readings)))
    first_new = [value for _, value in readings].index(4000)
    assert {value for _, value in readings[:first_new]} == {1234}
    assert {value for _, value in readings[first_new:]} == {4000}
