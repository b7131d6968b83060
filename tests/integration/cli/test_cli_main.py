"""The `dmsim` entry point itself: help, version, and a reader that goes away."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DMSIM = [sys.executable, "-m", "dmsim.cli"]
CONFIG = Path(__file__).parents[2] / "data" / "configs" / "examples" / "every_method.json"


def test_help_lists_the_commands_and_version_prints() -> None:
    done = subprocess.run(
        [*DMSIM, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0
    for command in ("config", "capture", "simulate", "run", "fuzz", "cloud", "proxy"):
        assert command in done.stdout
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
