"""A scenario on the wall clock: the real machine, the real gRPC cloud, faults through real means.

``dmsim run SCENARIO --wall-clock`` runs the scenario's machine as ``dmsim machine`` (a
subprocess, simulated devices on the real clock, ``--trace`` on) against the fake cloud's gRPC
server, with the TCP fault proxy between them, in a working directory (capture directory,
cloud data, trace). The fault schedule is applied at its times from the start:

- ``link_down`` → a ``down`` toxic on the proxy; ``latency``, ``bandwidth`` and
  ``reset_after_bytes`` → ``latency``, ``bandwidth`` (KB/s) and ``limit_data`` toxics in their
  direction (upstream: the machine's requests);
- the RPC faults (``rpc_reject``, ``slow_ack``, ``drop_ack_after_commit``, ``stall_mid_stream``,
  ``restart_mid_stream``, ``cloud_storage_full``) → the cloud's fault plan, with their windows;
- ``crash`` → SIGKILL, restarted after ``restart_after``; ``clean_restart`` → SIGTERM, the same.

Everything else a simulation can do (disk and device faults, clock steps, reconfigures, packet
loss, network profiles other than ``lan``, connectivity traces, a simulated disk's size) has no
real means here, and a scenario that asks for it is refused up front, naming each one. When the
duration is over the faults are lifted and the machine is restarted cleanly (the final read: a
fresh process has no offline pause left to wait out, as the simulation's final drain forces a
sync); it gets ``drain_within`` (or 60 s) to empty its capture directory and is stopped
cleanly; :func:`~dmsim.scenario._judge.judge_real_run` then judges every reading with the
simulation's oracle. Only the expectations that need no simulated view are checked (allowed
classes, a consistent trace, ``drain_within``, ``min_delivered``); the others are listed as
not judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from dmsim.errors import Problem, ScenarioError
from dmsim.faults import FaultStep
from dmsim.net import ToxicNotFoundError
from dmsim.runtime import RealRuntime, Runtime

from ._expect import ExpectationResult, check_allowed, check_count
from ._judge import RealRunVerdict, judge_real_run
from ._machine import apply_reconfigure
from ._model import CountBound, DiskSpec, NetworkSpec, Scenario
from ._world_faults import _RPC_KINDS, _end, _rpc_fault

__all__ = ["WallClockRun", "run_on_wall_clock", "wall_clock_problems"]

_PROXY_KINDS = {"link_down", "latency", "bandwidth", "reset_after_bytes"}
_PROCESS_KINDS = {"crash", "clean_restart"}
_DEFAULT_DRAIN_S = 60.0
_STREAMS = {
    "upstream": ("upstream",),
    "downstream": ("downstream",),
    "both": ("upstream", "downstream"),
}


@dataclass(frozen=True, slots=True)
class WallClockRun:
    verdict: RealRunVerdict
    expectations: tuple[ExpectationResult, ...]
    workdir: Path
    unjudged: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict.passed and all(e.ok for e in self.expectations)

    def summary(self) -> str:
        lines = [self.verdict.summary(), "expectations (wall clock)"]
        if self.unjudged:
            lines.append(f"  not judged on the wall clock: {', '.join(self.unjudged)}")
        lines += [
            f"  {'PASS' if e.ok else 'FAIL'}  {e.name}  {e.detail}" for e in self.expectations
        ]
        lines.append(f"working directory: {self.workdir}")
        return "\n".join(lines)


def wall_clock_problems(scenario: Scenario) -> list[Problem]:
    """What of ``scenario`` has no real means here (empty: it can run on the wall clock)."""
    problems = []
    supported = _PROXY_KINDS | _PROCESS_KINDS | set(_RPC_KINDS)
    for step in scenario.faults.steps:
        if step.kind not in supported:
            problems.append(
                Problem(
                    f"faults[{step.fault_id}]", f"{step.kind} has no real means on the wall clock"
                )
            )
    if scenario.network != NetworkSpec():
        problems.append(
            Problem(
                "network",
                "only the lan profile without a connectivity trace runs on the wall clock",
            )
        )
    if scenario.disk != DiskSpec():
        problems.append(Problem("disk", "the real disk is used as it is: leave disk unset"))
    if scenario.machine.data_manager is None:
        problems.append(Problem("machine", "no data_manager service: nothing to run"))
    return problems


def run_on_wall_clock(
    scenario: Scenario, workdir: Path, *, log: Callable[[str], None] = lambda _line: None
) -> WallClockRun:
    problems = wall_clock_problems(scenario)
    if problems:
        raise ScenarioError(problems, source=str(scenario.source or scenario.name))
    workdir.mkdir(parents=True, exist_ok=True)
    rt = RealRuntime()
    with (workdir / "machine.log").open("ab") as machine_log:  # its output, every boot
        return rt.run_main(_Run(scenario, workdir, log, rt, machine_log).run())


class _Run:
    def __init__(
        self,
        scenario: Scenario,
        workdir: Path,
        log: Callable[[str], None],
        rt: Runtime,
        machine_log: BinaryIO,
    ) -> None:
        self.s = scenario
        self.rt = rt
        self.workdir = workdir
        self.log = log
        self.capture = workdir / "capture"
        self.trace = workdir / "trace.jsonl"
        self.config = workdir / "machine.json"
        self.machine: asyncio.subprocess.Process | None = None
        self.machine_log = machine_log
        self.port = 0

    async def run(self) -> WallClockRun:
        from dmsim.cloud import CloudCore, CloudHost, CloudServer, RpcFaultPlan
        from dmsim.net import FaultProxy

        capture_dir = {"data_manager": {"capture_dir": str(self.capture.resolve())}}
        document = apply_reconfigure(self.s.machine_document, self.s.machine, capture_dir)
        self.config.write_text(json.dumps(document, indent=2), encoding="utf-8")
        rt = self.rt
        plan = RpcFaultPlan()
        cloud_dir = str((self.workdir / "cloud").resolve())
        core = CloudCore(clock=lambda: rt.wall_ns() / 1e9, data_dir=cloud_dir)
        server = CloudServer(CloudHost(core, runtime=rt, plan=plan))
        await server.start()
        proxy = FaultProxy(
            ("127.0.0.1", 0), ("127.0.0.1", server.port), seed=self.s.seed, runtime=rt
        )
        try:
            await proxy.start()
            self.port = proxy.listen_address[1]
            origin = rt.monotonic()
            for step in self.s.faults.steps:
                if step.kind in _RPC_KINDS:
                    fault = _rpc_fault(step, self.s.duration_s)  # window on the plan's clock
                    end = None if fault.end is None else origin + fault.end
                    plan.add(replace(fault, start=origin + step.at, end=end))
            await self._start_machine()
            tasks = [
                asyncio.ensure_future(self._apply(step, proxy, origin))
                for step in self.s.faults.steps
                if step.kind not in _RPC_KINDS
            ]
            await self._wait_until(origin + self.s.duration_s)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await proxy.reset()
            plan.clear()
            # The final read. A sync paused by an outage waits out its offline interval (60 s
            # by default); the simulation's final drain forces a sync, and here a clean restart
            # does the same: a new process starts without the pause.
            await self._stop_machine(signal.SIGTERM)
            await self._start_machine()
            await self._drain()
            await self._stop_machine(signal.SIGTERM)
        finally:
            if self.machine is not None and self.machine.returncode is None:
                await self._stop_machine(signal.SIGKILL)
            await proxy.stop()
            await server.stop()
            core.close()
        window = self.s.machine.promise().durability_window_s
        drain = self.s.expectations.drain_within_s
        verdict = judge_real_run(
            self.trace, self.workdir / "cloud", durability_window_s=window, drain_within_s=drain
        )
        return WallClockRun(
            verdict,
            _expectations(self.s, verdict),
            self.workdir,
            tuple(unjudged_expectations(self.s)),
        )

    async def _start_machine(self) -> None:
        if self.machine is not None and self.machine.returncode is None:
            return  # one machine at a time (it holds its capture directory's lock anyway)
        self.machine = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dmsim.cli", "machine", str(self.config),
            "--cloud", f"127.0.0.1:{self.port}", "--trace", str(self.trace),
            "--seed", str(self.s.seed), "--status-every", "1h",
            stdout=self.machine_log, stderr=self.machine_log,
            # its own state: the part's record of capture directories names this run's only
            env={**os.environ, "VIAM_HOME": str((self.workdir / "viam-home").resolve())},
        )  # fmt: skip
        self.log(f"machine started (pid {self.machine.pid})")

    async def _stop_machine(self, signum: int) -> None:
        if self.machine is None or self.machine.returncode is not None:
            return
        self.machine.send_signal(signum)
        await self.machine.wait()
        self.log(f"machine stopped ({signal.Signals(signum).name})")

    async def _wait_until(self, deadline: float) -> None:
        now = self.rt.monotonic
        while (left := deadline - now()) > 0:
            await self.rt.sleep(min(left, 5.0))
            self.log(
                f"{self.s.duration_s - max(0.0, deadline - now()):.0f}s of {self.s.duration_s:g}s"
            )

    async def _apply(self, step: FaultStep, proxy: Any, origin: float) -> None:
        now = self.rt.monotonic
        await self.rt.sleep(max(0.0, origin + step.at - now()))
        self.log(f"fault {step.fault_id}: {step.kind}")
        if step.kind in _PROCESS_KINDS:
            await self._stop_machine(signal.SIGKILL if step.kind == "crash" else signal.SIGTERM)
            await self.rt.sleep(float(step.params.get("restart_after", 0.0)))
            await self._start_machine()
            return
        names = []
        for toxic in _toxics(step):
            names.append(toxic["name"])
            await proxy.add_toxic(toxic)
        await self.rt.sleep(max(0.0, origin + _end(step, self.s.duration_s) - now()))
        for name in names:
            with contextlib.suppress(ToxicNotFoundError):  # a heal may have removed it
                await proxy.remove_toxic(name)

    async def _drain(self) -> None:
        limit = self.s.expectations.drain_within_s or _DEFAULT_DRAIN_S
        deadline = self.rt.monotonic() + limit
        while self.rt.monotonic() < deadline:
            waiting = [
                p
                for p in self.capture.rglob("*.capture")
                if "failed" not in p.relative_to(self.capture).parts[:1]
            ]
            if not waiting:
                return
            await self.rt.sleep(0.5)


def _toxics(step: FaultStep) -> list[dict[str, Any]]:
    p = step.params
    streams = _STREAMS[str(p.get("direction", "both"))]
    if step.kind == "link_down":
        return [{"name": f"{step.fault_id}-down", "type": "down", "stream": "downstream"}]
    out = []
    for stream in streams:
        if step.kind == "latency":
            attributes = {
                "latency": round(float(p["seconds"]) * 1000),
                "jitter": round(float(p.get("jitter", 0.0)) * 1000),
            }
            kind = "latency"
        elif step.kind == "bandwidth":
            attributes, kind = {"rate": max(1, round(float(p["bytes_per_s"]) / 1000))}, "bandwidth"
        else:
            attributes, kind = {"bytes": int(p["bytes"])}, "limit_data"
        out.append(
            {
                "name": f"{step.fault_id}-{stream}",
                "type": kind,
                "stream": stream,
                "attributes": attributes,
            }
        )
    return out


def _expectations(scenario: Scenario, verdict: RealRunVerdict) -> tuple[ExpectationResult, ...]:
    """The checks a simulated run makes that need no simulated view (see :mod:`._verdict`)."""
    expect = scenario.expectations
    anomalies = verdict.ledger.anomalies
    results = [
        check_allowed(verdict.counts, expect.allowed),
        ExpectationResult("trace_consistent", not anomalies, f"{len(anomalies)} anomalies"),
    ]
    if expect.min_delivered is not None:
        delivered = verdict.counts.get("delivered", 0)
        bound = CountBound(minimum=expect.min_delivered)
        results.append(check_count("min_delivered", delivered, bound))
    return tuple(results)


def unjudged_expectations(scenario: Scenario) -> list[str]:
    """Expectations a wall-clock run does not check (they need the simulated world's view)."""
    expect = scenario.expectations
    names = [
        name
        for name, value in (
            ("time_to_cloud_p99", expect.time_to_cloud_p99_s),
            ("late_after", expect.late_after_s),
            ("drain_to_files", expect.drain_to_files),
            ("disk_high_water", expect.disk_high_water),
            ("max_skipped", expect.max_skipped),
            ("max_capture_gap", expect.max_capture_gap_s),
        )
        if value is not None
    ]
    return names + [f"counts[{key}]" for key in expect.counts]
