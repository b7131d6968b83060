"""The public surface of the top-level package, pinned."""

from __future__ import annotations

import subprocess
import sys

import dmsim


def test_public_names_are_pinned_and_resolve() -> None:
    assert dmsim.__all__ == [
        "DataManager",
        "RealRuntime",
        "RngTree",
        "SimKernel",
        "__version__",
        "fault_schedules",
        "load_machine_config",
        "load_scenario",
        "machine_configs",
        "run_scenario",
    ]
    for name in dmsim.__all__:
        assert getattr(dmsim, name) is not None


def test_strategies_are_importable_from_dmsim_and_generate() -> None:
    from hypothesis import given, settings

    from dmsim import fault_schedules, machine_configs

    @settings(max_examples=5, deadline=None)
    @given(config=machine_configs(), schedule=fault_schedules(duration=600.0))
    def check(config: object, schedule: object) -> None:
        assert config is not None
        assert schedule is not None

    check()


def test_importing_dmsim_imports_no_hypothesis_and_no_hardware_library() -> None:
    code = (
        "import sys, dmsim; "
        "bad = [m for m in ('hypothesis', 'gpiozero', 'smbus2', 'serial', 'docker') "
        "if m in sys.modules]; print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
