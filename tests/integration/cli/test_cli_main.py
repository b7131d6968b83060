"""The `dmsim` entry point itself: help, version, and a reader that goes away."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from dmsim.cli import COMMAND_MODULES

DMSIM = [sys.executable, "-m", "dmsim.cli"]
CONFIG = Path(__file__).parents[2] / "data" / "configs" / "examples" / "every_method.json"


@pytest.mark.parametrize("argv", [["--help"], ["-h", "capture"]])
def test_help_lists_the_commands_and_version_prints(argv: list[str]) -> None:
    done = subprocess.run([*DMSIM, *argv], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0
    for command in COMMAND_MODULES:
        assert f"    {command} " in done.stdout
    done = subprocess.run(
        [*DMSIM, "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("dmsim ")


def test_a_closed_stdout_ends_quietly() -> None:
    """Regression: `dmsim config check FILE | head` printed a BrokenPipeError traceback."""
    process = subprocess.Popen(
        [*DMSIM, "config", "check", str(CONFIG), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # before the child writes anything: its first write hits EPIPE
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    process.stderr.close()
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def test_the_command_table_names_exactly_what_each_module_registers() -> None:
    for module_name in dict.fromkeys(COMMAND_MODULES.values()):
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(module_name).register(subparsers)
        listed = {name for name, module in COMMAND_MODULES.items() if module == module_name}
        assert set(subparsers.choices) == listed, module_name


@pytest.mark.parametrize("command", ["config", "capture"])
def test_a_command_loads_only_what_it_needs(command: str, tmp_path: Path) -> None:
    """`dmsim config check` and `dmsim capture verify` must not pay for the cloud, network and
    simulation stacks (seconds of start-up on a Pi)."""
    argv = ["config", "check", str(CONFIG)] if command == "config" else ["capture", "verify", "."]
    heavy = ["aiohttp", "dmsim.cloud", "dmsim.net", "dmsim.scenario", "numpy"]
    if command == "config":
        heavy.append("dmsim.storage")
    code = (
        f"import sys; from dmsim.cli import main; status = main({argv!r}); "
        f"print(status, sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_a_simulation_loads_no_server_and_no_grpc_client(tmp_path: Path) -> None:
    """The embedded cloud runs in-process: aiohttp and the network clients and servers are
    a fifth of a second of start-up that `dmsim simulate` does not use."""
    machine = Path(__file__).parents[3] / "scenarios" / "machines" / "one-sensor.json"
    argv = ["simulate", str(machine), "--duration", "5s", "--out", str(tmp_path / "out"), "--quiet"]
    heavy = ["aiohttp", "dmsim.cloud._client", "dmsim.cloud._serve", "dmsim.net._api"]
    code = (
        f"import sys; from dmsim.cli import main; status = main({argv!r}); "
        f"print(status, sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_an_unknown_command_lists_the_valid_ones() -> None:
    command = [*DMSIM, "catpure", "inspect", "x"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "invalid choice: 'catpure'" in done.stderr
    assert "'capture'" in done.stderr
