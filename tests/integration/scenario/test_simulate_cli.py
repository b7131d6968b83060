"""`dmsim simulate` end to end through the real executable, on the documents' machines."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dmsim.storage._reader import CaptureReader
from dmsim.storage._realfs import RealFS

CONFIGS = Path(__file__).parents[2] / "data" / "configs"
DMSIM = [sys.executable, "-m", "dmsim.cli"]

MACHINES = {
    "camera ReadImage": CONFIGS / "examples" / "camera_readimage_fixed.json",
    "tmp36 + wifi": CONFIGS / "seeds" / "sensors_tmp36_wifi.json",
    "vision CaptureAllFromCamera": CONFIGS / "seeds" / "vision_capture_all.json",
    "ESP32 analogs + gpios": CONFIGS / "examples" / "remote_esp32_analogs_gpios_fixed.json",
    "tomato robot": CONFIGS / "examples" / "tomato_robot.json",
}


def simulate(config: Path, out: Path, *, duration: str = "60s", seed: int = 7) -> dict:
    done = subprocess.run(
        [
            *DMSIM,
            "simulate",
            str(config),
            "--duration",
            duration,
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_counts_match_frequency_times_duration_and_files_are_valid(
    machine: str, tmp_path: Path
) -> None:
    summary = simulate(MACHINES[machine], tmp_path / "out")
    assert summary["collectors"], "every document machine captures something"
    for collector in summary["collectors"]:
        expected = collector["frequency_hz"] * summary["duration_s"]
        # Ticks land at 1/f, 2/f, ...; the one at exactly the end may fall outside the run.
        assert expected - 1 <= collector["captured"] <= expected, collector
        assert collector["skipped"] == 0, collector
    assert summary["duplicates_in_cloud"] == 0
    fs = RealFS()
    readings = 0
    for path in sorted((tmp_path / "out").rglob("*")):
        if path.is_file():
            assert path.suffix == ".capture", path  # clean shutdown: no .prog left
            with CaptureReader(fs, str(path)) as reader:
                readings += sum(1 for _ in reader.records())
                assert reader.torn_tail_bytes == 0
    captured = sum(c["captured"] for c in summary["collectors"])
    assert readings + summary["cloud_readings"] == captured


def test_same_seed_gives_a_byte_identical_capture_directory(tmp_path: Path) -> None:
    config = MACHINES["ESP32 analogs + gpios"]
    first = simulate(config, tmp_path / "a", duration="5m", seed=11)
    second = simulate(config, tmp_path / "b", duration="5m", seed=11)
    assert first["collectors"] == second["collectors"]
    comparison = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert _identical(comparison)
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def _identical(cmp: filecmp.dircmp[str]) -> bool:
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    return all(_identical(sub) for sub in cmp.subdirs.values())


def test_bad_input_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"components": [ {"name": "x", "type": "arm"', encoding="utf-8")
    done = subprocess.run(
        [*DMSIM, "simulate", str(bad), "--duration", "10s", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "line 1" in done.stderr
    done = subprocess.run(
        [
            *DMSIM,
            "simulate",
            str(MACHINES["tmp36 + wifi"]),
            "--duration",
            "soon",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--duration" in done.stderr


def run_simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DMSIM, "simulate", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_out_is_refused_before_the_run(tmp_path: Path, where: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    out = afile if where == "a file" else afile / "sub"
    done = run_simulate(str(MACHINES["tmp36 + wifi"]), "--duration", "24h", "--out", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"--out: {out}" in done.stderr
    assert "simulated" not in done.stdout  # refused up front, not after a day's simulation


def test_methods_that_do_not_capture_are_listed_and_mongo_is_said_to_be_off(
    tmp_path: Path,
) -> None:
    config = json.loads((CONFIGS / "seeds" / "sensors_tmp36_wifi.json").read_text())
    [first, second] = [c for c in config["components"] if c.get("service_configs")][:2]
    first["service_configs"][0]["attributes"]["capture_methods"][0]["disabled"] = True
    second["service_configs"][0]["attributes"]["capture_methods"][0]["capture_frequency_hz"] = 0
    for service in config["services"]:
        if service["type"] == "data_manager":
            service["attributes"]["mongo_capture_config"] = {"uri": "mongodb://127.0.0.1:1"}
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(config))
    done = run_simulate(str(path), "--duration", "10s", "--out", str(tmp_path / "o"), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    idle = {(c["component"], c["reason"]) for c in summary["not_capturing"]}
    assert idle == {(first["name"], "disabled"), (second["name"], "frequency 0 Hz")}
    assert "mongo_capture_config is not simulated" in done.stderr
    table = run_simulate(str(path), "--duration", "10s", "--out", str(tmp_path / "t"))
    assert f"not capturing: {first['name']} " in table.stdout


def sensor_machine(path: Path, **attributes: object) -> Path:
    """A machine config file: one fake sensor read at 1 Hz, data_manager ``attributes``."""
    component = {
        "name": "probe", "type": "sensor", "model": "fake",
        "service_configs": [{"type": "data_manager", "attributes": {
            "capture_methods": [{"method": "Readings", "capture_frequency_hz": 1}]}}],
    }  # fmt: skip
    dm = {"name": "dm", "type": "data_manager", "attributes": attributes}
    path.write_text(json.dumps({"components": [component], "services": [dm]}), encoding="utf-8")
    return path


def test_a_sync_interval_below_the_floor_syncs_at_the_default(tmp_path: Path) -> None:
    """Regression: ``sync_interval_mins: 1e-9`` passed ``config check``, then ``simulate`` never
    finished (a sync pass every 60 ns). rdk uses the 0.1 default below 0.0001 minutes."""
    config = sensor_machine(tmp_path / "tiny.json", sync_interval_mins=1e-9)
    argv = ["simulate", str(config), "--duration", "10s", "--out", str(tmp_path / "o"), "--json"]
    done = subprocess.run([*DMSIM, *argv], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "sync_interval_mins (line 1, column" in done.stderr
    assert "1e-09 is below 0.0001, which means unset (as in rdk)" in done.stderr
    assert json.loads(done.stdout)["duration_s"] == 10


def test_a_machine_without_a_data_manager_is_refused_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bare.json"
    config.write_text("{}", encoding="utf-8")
    done = run_simulate(str(config), "--duration", "10s", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{config}: 1 problem(s)")
    assert "no data_manager service" in done.stderr
    assert "never awaited" not in done.stderr
    assert not (tmp_path / "o").exists()  # refused before anything was made


def test_a_rate_no_simulation_could_serve_is_refused_up_front_naming_it(tmp_path: Path) -> None:
    # 1e9 Hz used to run silently for hours: simulation captures every tick.
    config = tmp_path / "fast.json"
    methods = [{"method": "Readings", "capture_frequency_hz": 1e9}]
    dm = {"type": "data_manager", "attributes": {"capture_methods": methods}}
    probe = {"name": "probe", "type": "sensor", "model": "fake", "service_configs": [dm]}
    services = [{"name": "dm", "type": "data_manager", "attributes": {}}]
    config.write_text(json.dumps({"components": [probe], "services": services}), encoding="utf-8")
    out = tmp_path / "out"
    done = run_simulate(str(config), "--duration", "1s", "--out", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    path = "components[0].service_configs[0].attributes.capture_methods[0].capture_frequency_hz"
    assert f"{path}: 1e+09 Hz" in done.stderr
    assert "lower the rate or the duration" in done.stderr
    assert not out.exists()
