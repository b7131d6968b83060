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
- ``crash`` → SIGKILL, restarted after ``restart_after``; ``clean_restart`` → SIGTERM, the same;
  ``manual_sync`` → SIGUSR1 once the running machine has started.

The machine's ``capture_dir`` and each of its ``additional_sync_paths`` are the run's own, under
the working directory (``sync-paths/`` mirrors the absolute paths): sync deletes what it
uploads, and a host directory of the scenario's name is not the run's to send away. The
scenario's ``file_writers`` write there for real until the duration is over; each file they
complete goes to ``files.jsonl``, and the judge follows it to the cloud's ``FileUpload`` store.

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
import itertools
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
from dmsim.runtime import RealRuntime, RngTree, Runtime
from dmsim.service._events import EventLog, machine_trace
from dmsim.storage import RealFS

from ._expect import ExpectationResult, check_allowed, check_arbitrary_files, check_count
from ._judge import RealRunVerdict, judge_real_run
from ._machine import apply_reconfigure
from ._model import CountBound, DiskSpec, NetworkSpec, Scenario
from ._world_faults import _RPC_KINDS, _end, _rpc_fault
from ._world_files import FileWriters

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
    supported = _PROXY_KINDS | _PROCESS_KINDS | set(_RPC_KINDS) | {"manual_sync"}
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
        self._started_at = 0  # the trace's size when the last machine process began
        self.machine_log = machine_log
        self.port = 0
        self.writers: FileWriters | None = None
        self.written_files: EventLog | None = None

    async def run(self) -> WallClockRun:
        from dmsim.cloud import CloudCore, CloudHost, CloudServer, RpcFaultPlan
        from dmsim.net import FaultProxy

        manager = self.s.machine.data_manager
        own_paths = {
            "capture_dir": str(self.capture.resolve()),
            "additional_sync_paths": [self._own(p) for p in manager.additional_sync_paths]
            if manager is not None
            else [],
        }
        document = apply_reconfigure(
            self.s.machine_document, self.s.machine, {"data_manager": own_paths}
        )
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
            self.writers = self._writers()
            tasks = [
                asyncio.ensure_future(self._apply(step, proxy, origin))
                for step in self.s.faults.steps
                if step.kind not in _RPC_KINDS
            ]
            await self._wait_until(origin + self.s.duration_s)
            await self._stop_writers()  # as in a simulation: a file half written is completed
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
            await self._stop_writers()
            if self.machine is not None and self.machine.returncode is None:
                await self._stop_machine(signal.SIGKILL)
            await proxy.stop()
            await server.stop()
            core.close()
            if self.written_files is not None:
                self.written_files.close()
        window = self.s.machine.promise().durability_window_s
        verdict = judge_real_run(
            self.trace,
            self.workdir / "cloud",
            durability_window_s=window,
            drain_within_s=self.s.expectations.drain_within_s,
            written_files=self.written_files.path if self.written_files is not None else None,
        )
        return WallClockRun(
            verdict,
            _expectations(self.s, verdict),
            self.workdir,
            tuple(unjudged_expectations(self.s)),
        )

    def _own(self, path: str) -> str:
        """This run's copy of a path of the machine: sync deletes what it uploads, and the
        host's own directory of that name is not the scenario's to send away."""
        return str((self.workdir / "sync-paths").resolve() / path.lstrip("/"))

    def _writers(self) -> FileWriters | None:
        """The scenario's file writers, started, on this host's disk in this run's copies of
        the sync paths; what they complete goes to ``files.jsonl`` for the judge."""
        if not self.s.file_writers:
            return None
        trace = machine_trace(self.rt.wall_ns)
        self.written_files = EventLog(
            self.workdir / "files.jsonl",
            trace=trace,
            full=True,
            monotonic=self.rt.monotonic,
            option="files",
        )
        writers = FileWriters(
            [replace(spec, directory=self._own(spec.directory)) for spec in self.s.file_writers],
            rt=self.rt,
            fs=RealFS(),
            rng=RngTree(self.s.seed).child("file-writers"),
            trace=trace,
        )
        writers.start()
        return writers

    async def _stop_writers(self) -> None:
        if self.writers is not None:
            await self.writers.stop()
            self.writers = None

    async def _start_machine(self) -> None:
        if self.machine is not None and self.machine.returncode is None:
            return  # one machine at a time (it holds its capture directory's lock anyway)
        self._started_at = self.trace.stat().st_size if self.trace.exists() else 0
        self.machine = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dmsim.cli", "machine", str(self.config),
            "--cloud", f"127.0.0.1:{self.port}", "--trace", str(self.trace),
            "--seed", str(self.s.seed), "--status-every", "1h",
            stdout=self.machine_log, stderr=self.machine_log,
            # its own state: the part's record of capture directories names this run's only
            env={**os.environ, "VIAM_HOME": str((self.workdir / "viam-home").resolve())},
        )  # fmt: skip
        self.log(f"machine started (pid {self.machine.pid})")

    async def _machine_started(self) -> bool:
        """Whether the machine runs and has started (SIGUSR1 before its handler is set would
        kill it): its trace shows the start of the process last begun."""
        while self.machine is not None and self.machine.returncode is None:
            if self.trace.exists():
                with self.trace.open("rb") as trace:
                    trace.seek(self._started_at)
                    if b'"kind":"machine.start"' in trace.read():
                        return True
            await self.rt.sleep(0.1)
        return False

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
        if step.kind == "manual_sync":  # Sync() at the machine; nothing while it is down
            if await self._machine_started():
                assert self.machine is not None
                self.machine.send_signal(signal.SIGUSR1)
            return
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
        """Until the capture directory holds no capture file and the sync paths no file, or
        ``drain_within`` is over (quarantine aside)."""
        limit = self.s.expectations.drain_within_s or _DEFAULT_DRAIN_S
        deadline = self.rt.monotonic() + limit
        sync_paths = self.workdir / "sync-paths"
        while self.rt.monotonic() < deadline:
            captures = (
                p
                for p in self.capture.rglob("*.capture")
                if "failed" not in p.relative_to(self.capture).parts[:1]
            )
            files = (
                p
                for p in sync_paths.rglob("*")
                if p.is_file() and "failed" not in p.relative_to(sync_paths).parts
            )
            if next(itertools.chain(captures, files), None) is None:
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
    if verdict.ledger.arbitrary_files.followed:
        results.append(check_arbitrary_files(verdict.ledger.arbitrary_files))
    if verdict.stale_warning is not None:
        results.append(verdict.stale_warning)
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
