"""A real machine probing the cloud while sync waits out an offline pause (``dmsim machine``):
the pause ends at the first probe that reaches the cloud, nothing is probed while uploads
work, and the probe period is jittered. On simulated time, with a fake data manager."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from dmsim.runtime import RngTree, SimKernel, Trace
from dmsim.service._machine import PROBE_EVERY_S, probe_while_paused


@dataclass
class PausedManager:
    """The two calls the prober makes; paused from ``paused_from`` until told it is online."""

    kernel: SimKernel
    paused_from: float
    online_at: list[float] = field(default_factory=list)

    def paused_unreachable(self) -> bool:
        return self.kernel.now() >= self.paused_from and not self.online_at

    def notify_online(self) -> None:
        self.online_at.append(self.kernel.now())


def run_prober(
    manager: PausedManager, cloud_back_at: float, *, seed: int = 1, until: float = 300.0
) -> tuple[list[float], Trace]:
    kernel = manager.kernel
    rt = kernel.process("machine")
    trace = Trace(kernel.now)
    probes: list[float] = []

    async def reachable() -> bool:
        probes.append(kernel.now())
        return kernel.now() >= cloud_back_at

    rt.spawn(
        probe_while_paused(manager, reachable, rt=rt, rng=RngTree(seed), trace=trace),
        name="probe",
    )
    kernel.run(until=until)
    return probes, trace


def test_the_pause_ends_at_the_first_probe_that_reaches_the_cloud() -> None:
    kernel = SimKernel(epoch_ns=0)
    manager = PausedManager(kernel, paused_from=20.0)
    probes, trace = run_prober(manager, cloud_back_at=41.0)
    assert probes[0] >= 20.0  # nothing probed while uploads work
    assert len(manager.online_at) == 1
    (online,) = manager.online_at
    assert online == min(t for t in probes if t >= 41.0)  # the first probe that got through
    assert online - 41.0 <= 1.5 * PROBE_EVERY_S  # not the rest of a 60 s pause
    assert probes[-1] == online  # once online, the prober is quiet again
    assert [event.kind for event in trace] == ["sync.cloud_reachable"]


def test_a_cloud_that_stays_away_is_probed_without_ending_the_pause() -> None:
    kernel = SimKernel(epoch_ns=0)
    manager = PausedManager(kernel, paused_from=0.0)
    probes, _ = run_prober(manager, cloud_back_at=float("inf"), until=600.0)
    assert manager.online_at == []
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert all(0.5 * PROBE_EVERY_S <= gap <= 1.5 * PROBE_EVERY_S for gap in gaps)
    assert len(set(gaps)) > 1  # jittered: a fleet does not probe (and return) in step


def test_machines_with_different_seeds_probe_at_different_moments() -> None:
    moments = []
    for seed in (1, 2):
        manager = PausedManager(SimKernel(epoch_ns=0), paused_from=0.0)
        probes, _ = run_prober(manager, cloud_back_at=float("inf"), seed=seed, until=60.0)
        moments.append(probes)
    assert moments[0] != moments[1]
