"""Run a workload on a fresh simulated kernel (shared by the simulated network tests)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from dmsim.runtime import Runtime, SimKernel

EPOCH_NS = 1_700_000_000 * 10**9

Workload = Callable[[Runtime], Coroutine[Any, Any, Any]]


def run_sim(workload: Workload) -> Any:
    kernel = SimKernel(epoch_ns=EPOCH_NS)
    return kernel.run_main(workload(kernel.process("device")))
