"""The simulated resources of a machine: its components and services, and the resources of its
remote parts named by remote capture methods (an ESP32 board behind ``esp-home``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmsim.config import MachineConfig
from dmsim.devices import PayloadOptions, SimDevice, SimResourceSpec, build_sim_resources
from dmsim.runtime import RngTree, Runtime, Trace

__all__ = ["build_world_devices"]


def build_world_devices(
    machine: MachineConfig,
    *,
    rt: Runtime,
    rng: RngTree,
    trace: Trace,
    payload: Mapping[str, Any],
) -> dict[tuple[str, str], SimDevice]:
    """Devices keyed by (api, short name), as capture methods name them."""
    options = PayloadOptions(**dict(payload)) if payload else None
    local = [
        SimResourceSpec(
            api_type=f"{c.namespace}:component:{c.type}",
            name=c.name,
            model=c.model,
            attributes=dict(c.attributes),
        )
        for c in machine.components
    ] + [
        SimResourceSpec(
            api_type=f"{s.namespace}:service:{s.type}",
            name=s.name,
            model=s.model,
            attributes=dict(s.attributes),
        )
        for s in machine.services
        if s.capture_methods
    ]
    built = build_sim_resources(local, rt=rt, rng=rng.child("local"), trace=trace, payload=options)
    devices = {(d.api, d.name): d for d in built.values()}
    for remote in machine.remotes:
        specs = {
            m.resource.name: SimResourceSpec(api_type=m.resource.api, name=m.resource.name)
            for m in remote.capture_methods
        }
        remote_built = build_sim_resources(
            specs.values(),
            rt=rt,
            rng=rng.child("remote").child(remote.name),
            trace=trace,
            payload=options,
        )
        for device in remote_built.values():
            devices[(device.api, f"{remote.name}:{device.name}")] = device
    return devices
