"""dmsim: a Viam-compatible data capture/sync core for edge machines, and the deterministic
simulation harness that proves it.

The names here are the entry points; the subpackages hold the rest (``dmsim.config``,
``dmsim.runtime``, ``dmsim.storage``, ``dmsim.capture``, ``dmsim.sync``, ``dmsim.service``,
``dmsim.devices``, ``dmsim.cloud``, ``dmsim.net``, ``dmsim.faults``, ``dmsim.scenario``,
``dmsim.testing``). Hypothesis strategies (:func:`machine_configs`, :func:`fault_schedules`)
are loaded on first use, so importing dmsim does not import Hypothesis.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("dmsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

_LAZY = {
    "DataManager": "dmsim.service",
    "RealRuntime": "dmsim.runtime",
    "RngTree": "dmsim.runtime",
    "SimKernel": "dmsim.runtime",
    "fault_schedules": "dmsim.faults",
    "load_machine_config": "dmsim.config",
    "load_scenario": "dmsim.scenario",
    "machine_configs": "dmsim.config.strategies",
    "run_scenario": "dmsim.scenario",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dmsim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
