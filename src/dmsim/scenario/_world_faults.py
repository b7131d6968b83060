"""Applying a scenario's fault schedule to the world, each fault at its absolute time.

Faults may overlap, start together or start as another ends; each acts over its own window
and ends without disturbing the others. At every instant the world is its base plus every
fault active then:

- Network faults are known in advance. ``link_down`` windows take the link down, whatever
  else holds. ``latency``, ``bandwidth``, ``loss`` and ``reset_after_bytes`` become
  impairments of the link (:class:`~dmsim.net.Impairment`) in their ``direction`` (upstream:
  the machine's requests; downstream: the cloud's answers), composed on the base (the
  profile, or the connectivity trace's row at that time) as :mod:`dmsim.net._timeline`
  documents: latency and jitter add, losses are independent stages
  (``1 - (1 - p1)(1 - p2)``), bandwidth caps and byte budgets take the smallest. They never
  bring up a link the trace holds down.
- RPC faults go into the cloud's fault plan with their windows and counts.
- Disk fills add to the initial fill, each removed when its own window ends; the capacity is
  the smallest that an active ``disk_capacity`` fault sets (the disk's own once none is).
- ``rtc_unset`` steps the wall clock back to the Unix epoch at its start and forward by that
  same step at its end, so overlapping ones each undo exactly what they did.
- Everything else (EIO, process, reconfigure, clock steps, devices) is done when its time
  comes, and undone at its window's end. What takes the machine time runs on its own, so it
  never holds up the faults after it: a clean restart waits for the stop it asked for (a
  crash may cut that short, as a stop timeout's SIGKILL would), and the machine applies a
  config edit while faults go on happening to it.

Every fault is traced as ``fault.start``/``fault.end``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dmsim.cloud import RpcFault
from dmsim.config import parse_machine_config
from dmsim.faults import FaultStep
from dmsim.net import Direction, DownWindow, Impairment, load_connectivity_trace
from dmsim.runtime import Task
from dmsim.storage import append_durably

from ._machine import apply_reconfigure
from ._model import SIM_ENV, Scenario

if TYPE_CHECKING:
    from ._world import World

__all__ = ["FaultDriver", "link_setup"]

_RPC_KINDS = {
    "rpc_reject": "reject",
    "drop_ack_after_commit": "drop_ack",
    "slow_ack": "slow_ack",
    "stall_mid_stream": "stall",
    "restart_mid_stream": "restart",
    "cloud_storage_full": "storage_full",
}
_DEVICE_KINDS = {
    "device_read_error": "read_error",
    "device_timeout": "timeout",
    "device_disconnect": "disconnect",
    "device_stuck": "stuck",
}
_IMPAIRMENT_KINDS = {"latency", "bandwidth", "loss", "reset_after_bytes"}
_DIRECTIONS = {
    "upstream": frozenset({Direction.UPSTREAM}),
    "downstream": frozenset({Direction.DOWNSTREAM}),
    "both": frozenset(Direction),
}


def _end(step: FaultStep, duration_s: float) -> float:
    return step.at + step.duration if step.duration is not None else duration_s


def link_setup(scenario: Scenario) -> dict[str, Any]:
    """The :class:`SimLink` arguments for a scenario: profile, outages, the connectivity
    trace's rows and the network faults' impairments."""
    steps = scenario.faults.steps
    return {
        "profile": scenario.network.profile,
        "down_windows": [
            DownWindow(step.at, _end(step, scenario.duration_s), step.fault_id)
            for step in steps
            if step.kind == "link_down"
        ],
        "connectivity": load_connectivity_trace(scenario.network.trace)
        if scenario.network.trace is not None
        else [],
        "impairments": [
            _impairment(step, scenario.duration_s)
            for step in steps
            if step.kind in _IMPAIRMENT_KINDS
        ],
    }


def _impairment(step: FaultStep, duration_s: float) -> Impairment:
    p = step.params
    window = Impairment(
        start=step.at,
        end=_end(step, duration_s),
        fault_id=step.fault_id,
        directions=_DIRECTIONS[str(p.get("direction", "both"))],
    )
    if step.kind == "latency":
        return replace(window, latency=float(p["seconds"]), jitter=float(p.get("jitter", 0.0)))
    if step.kind == "bandwidth":
        return replace(window, bandwidth=float(p["bytes_per_s"]))
    if step.kind == "loss":
        return replace(window, loss=float(p["probability"]))
    return replace(window, reset_after_bytes=int(p["bytes"]))


def _rpc_fault(step: FaultStep, duration_s: float) -> RpcFault:
    p = step.params
    return RpcFault(
        fault_id=step.fault_id,
        kind=_RPC_KINDS[step.kind],  # type: ignore[arg-type]
        rpcs=frozenset(p.get("rpcs", ())),
        code=str(p.get("code", "UNAVAILABLE")),
        seconds=float(p.get("seconds", 0.0)),
        after_bytes=int(p.get("after_bytes", 0)),
        commit=bool(p.get("commit", False)),
        start=step.at,
        end=_end(step, duration_s)
        if step.duration is not None or step.kind == "cloud_storage_full"
        else None,
        count=int(p["count"]) if "count" in p else None,
    )


class FaultDriver:
    def __init__(self, world: World) -> None:
        self._w = world
        self._active: dict[str, FaultStep] = {}
        self._runner: Task[None] | None = None
        self._restarts: list[Task[None]] = []
        self._stops: list[Task[None]] = []  # clean restarts waiting for their stop
        # each by fault id, so one fault's end undoes only what that fault did
        self._fills: dict[str, int] = {}
        self._capacities: dict[str, int] = {}
        self._rtc_steps: dict[str, float] = {}

    def start(self) -> None:
        duration = self._w.scenario.duration_s
        for step in self._w.scenario.faults.steps:
            if step.kind in _RPC_KINDS:
                self._w.plan.add(_rpc_fault(step, duration))
        self._runner = self._w.infra.spawn(self._run(), name="faults")

    async def _run(self) -> None:
        rt = self._w.infra
        for step in self._w.scenario.faults.steps:
            await rt.sleep_until(step.at)
            self._w.trace.record(
                "fault.start",
                fault_id=step.fault_id,
                fault_kind=step.kind,
                params=dict(step.params),
                duration=step.duration,
            )
            self._apply(step)
            if step.duration is not None:
                self._active[step.fault_id] = step
                rt.spawn(self._end_later(step), name=f"fault-end:{step.fault_id}")
            elif step.spec.window == "forbidden":
                self._w.trace.record("fault.end", fault_id=step.fault_id, fault_kind=step.kind)
            else:
                self._active[step.fault_id] = step  # lasts until the end of the run

    async def _end_later(self, step: FaultStep) -> None:
        assert step.duration is not None
        await self._w.infra.sleep_until(step.at + step.duration)
        if self._active.pop(step.fault_id, None) is not None:
            self._undo(step)

    async def heal(self) -> None:
        """Lift every fault still active and apply no more (the end of the run); then let
        the stops and config edits under way finish on the healed machine."""
        if self._runner is not None:
            await self._runner.stop()
        for step in list(self._active.values()):
            self._active.pop(step.fault_id)
            self._undo(step)
        self._w.plan.clear()
        for stop in self._stops:
            await stop.join()
        await self._w.settle()
        for pending in self._restarts:  # the end of the run boots the machine itself
            await pending.stop()

    def _apply(self, step: FaultStep) -> None:
        w, p, kind = self._w, step.params, step.kind
        if kind == "disk_fill":
            self._fills[step.fault_id] = int(p["bytes"])
            self._fill_disk()
        elif kind == "disk_eio":
            w.fs.inject_eio(
                prefix=self._w.capture_dir + str(p.get("prefix", "")),
                ops=tuple(p.get("ops", ()))
                or ("open", "write", "fsync", "rename", "unlink", "fsync_dir", "read"),
                fault_id=step.fault_id,
                probability=float(p["probability"]) if "probability" in p else None,
            )
        elif kind == "disk_capacity":
            self._capacities[step.fault_id] = int(p["bytes"])
            self._resize_disk()
        elif kind == "disk_append_garbage":
            self._append_garbage(str(p.get("prefix", "")), int(p["bytes"]), step.fault_id)
        elif kind == "crash":
            if w.crash():  # a crash while the process is down changes nothing
                self._restart_later(float(p["restart_after"]))
        elif kind == "clean_restart":
            restart_after = float(p.get("restart_after", 0.0))
            self._stops.append(w.infra.spawn(self._clean_restart(restart_after), name="stop"))
        elif kind == "reconfigure":
            document = apply_reconfigure(w.document, w.machine, p)
            machine = parse_machine_config(
                document, env=SIM_ENV, cpu_count=w.scenario.host.cpu_count
            )
            w.edit_config(machine, copy.deepcopy(document))
        elif kind == "manual_sync":
            w.manual_sync(step.fault_id)
        elif kind == "clock_step":
            w.kernel.step_wall_clock(float(p["seconds"]))
        elif kind == "rtc_unset":
            # The RTC forgot the time: wall clock back at the Unix epoch until the fault ends.
            self._rtc_steps[step.fault_id] = -w.kernel.wall_ns() / 1e9
            w.kernel.step_wall_clock(self._rtc_steps[step.fault_id])
        elif kind in _DEVICE_KINDS:
            device = self._device(str(p["component"]))
            until = step.at + step.duration if step.duration is not None else None
            method = str(p["method"]) if p.get("method") is not None else None
            device.inject_fault(
                _DEVICE_KINDS[kind], fault_id=step.fault_id, until=until, method=method
            )
        # network and rpc faults were set up in advance (link windows and impairments, plan)

    def _undo(self, step: FaultStep) -> None:
        w, kind = self._w, step.kind
        if kind == "disk_fill":
            del self._fills[step.fault_id]
            self._fill_disk()
        elif kind == "disk_eio":
            w.fs.clear_faults(step.fault_id)
        elif kind == "disk_capacity":
            del self._capacities[step.fault_id]
            self._resize_disk()
        elif kind == "rtc_unset":
            w.kernel.step_wall_clock(-self._rtc_steps.pop(step.fault_id))
        elif kind in _DEVICE_KINDS:
            self._device(str(step.params["component"])).clear_fault(step.fault_id)
        elif kind in _RPC_KINDS:
            w.plan.remove(step.fault_id)
        w.trace.record("fault.end", fault_id=step.fault_id, fault_kind=kind)

    def _fill_disk(self) -> None:
        """The ballast: the disk's initial fill plus every active fill fault."""
        self._w.fs.fill(self._w.scenario.disk.initial_fill_bytes + sum(self._fills.values()))

    def _resize_disk(self) -> None:
        """The smallest capacity an active fault sets, else the disk's own."""
        own = self._w.scenario.disk.capacity_bytes
        self._w.fs.set_capacity(min(self._capacities.values(), default=own))

    async def _clean_restart(self, restart_after: float) -> None:
        if await self._w.clean_stop():
            self._restart_later(restart_after)

    def _restart_later(self, delay: float) -> None:
        self._restarts.append(self._w.infra.spawn(self._restart_after(delay), name="restart"))

    async def _restart_after(self, delay: float) -> None:
        await self._w.infra.sleep(delay)
        self._w.restart()

    def _device(self, name: str) -> Any:
        for (_api, short_name), device in self._w.devices.items():
            if short_name == name or short_name.endswith(f":{name}"):
                return device
        raise KeyError(name)

    def _append_garbage(self, prefix: str, nbytes: int, fault_id: str) -> None:
        """Append seeded garbage to the newest completed capture file under ``prefix``."""
        w = self._w
        root = self._w.capture_dir
        newest: str | None = None
        for dirpath, dirnames, filenames in w.fs.walk(root):
            dirnames[:] = [d for d in dirnames if d != "failed"]
            for name in filenames:
                path = f"{dirpath}/{name}"
                if name.endswith(".capture") and path.startswith(root + prefix):
                    newest = path if newest is None or name > newest.rsplit("/", 1)[-1] else newest
        if newest is None:
            w.trace.record("fault.no_target", fault_id=fault_id)
            return
        garbage = w.rng.child("garbage").child(fault_id).random().randbytes(nbytes)
        try:
            append_durably(w.fs, newest, garbage)
        except OSError as error:  # the other writer meets the disk's faults too
            w.trace.record("fault.no_target", fault_id=fault_id, path=newest, error=str(error))
            return
        w.trace.record("fault.garbage_appended", fault_id=fault_id, path=newest, bytes=nbytes)
