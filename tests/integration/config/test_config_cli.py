"""``dmsim config check`` end to end, as a user runs it: exit codes, output, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[2] / "data" / "configs"
DMSIM = Path(sys.executable).with_name("dmsim")


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VIAM_HOME"}
    env["HOME"] = str(home)
    return subprocess.run(
        [str(DMSIM), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_a_good_file_prints_the_effective_config(tmp_path: Path) -> None:
    result = run("config", "check", str(DATA / "seeds" / "sensors_tmp36_wifi.json"), home=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    effective = yaml.safe_load(result.stdout)
    manager = effective["services"][0]["attributes"]
    assert manager["capture_dir"] == f"{tmp_path}/.viam/capture"
    assert manager["sync_interval_mins"] == 3
    assert manager["maximum_capture_file_size_bytes"] == 262144
    assert manager["durability_window_ms"] == 1000
    assert "#   rdk:component:sensor/tmp36 Readings [] 0.2 Hz, tabular .dat, tags -" in (
        result.stdout.splitlines()
    )
    assert result.stdout.startswith("# ")
    assert "valid, 2 collector(s), 0 warning(s)" in result.stdout.splitlines()[0]


def test_json_output_parses_and_checks_again(tmp_path: Path) -> None:
    source = DATA / "examples" / "every_method.json"
    first = run("config", "check", "--json", str(source), home=tmp_path)
    assert (first.returncode, first.stderr) == (0, "")
    effective = json.loads(first.stdout)
    assert len(effective["components"]) == 9
    copy = tmp_path / "effective.json"
    copy.write_text(first.stdout)
    human = run("config", "check", str(copy), home=tmp_path)
    assert (human.returncode, human.stderr) == (0, "")
    assert yaml.safe_load(human.stdout) == effective
    assert "valid, 21 collector(s), 0 warning(s)" in human.stdout.splitlines()[0]


def test_a_broken_file_exits_2_with_every_problem_on_stderr(tmp_path: Path) -> None:
    path = DATA / "seeds" / "remote_esp32_analogs_gpios.json"
    result = run("config", "check", str(path), home=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: 3 problem(s)",
        "  services[0].name (line 12, column 7): duplicate key 'name' (first at line 4, "
        "column 7); JSON readers disagree on which one wins",
        "  services[0].type (line 13, column 7): duplicate key 'type' (first at line 5, "
        "column 7); JSON readers disagree on which one wins",
        "  remotes[0].service_configs[0].attributes.capture_methods[0] (line 26, column 14): "
        "invalid JSON: expected a value, found a comment '//' (JSON has no comments)",
    ]


def test_warnings_print_but_exit_0(tmp_path: Path) -> None:
    path = DATA / "seeds" / "esp32_board.json"
    result = run("config", "check", str(path), home=tmp_path)
    assert result.returncode == 0
    assert result.stderr == (
        f"{path}: warning: services (line 1, column 1): no data_manager service: the 2 capture "
        "method(s) capture nothing\n"
    )


def test_binary_garbage_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "machine.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run("config", "check", "--json", str(path), home=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"{path}: 1 problem(s)\n"
        "  (line 1, column 1): not UTF-8 text: byte 0x89 (invalid start byte)\n"
    )
