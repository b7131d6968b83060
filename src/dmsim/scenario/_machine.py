"""A scenario's machine: which resources and capture methods faults may name, and the pure
``reconfigure`` patch the world applies to the machine config document.

A change names its resource the way people do: the component or service name, a remote
resource's short name (``my-esp32`` or ``esp-home:my-esp32``) or its full name
(``rdk:component:board/my-esp32``). It applies to every capture method of that resource with
that method name, narrowed by ``additional_params`` when given (board Analogs ``A1`` vs ``A2``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from dmsim.config import (
    CaptureMethodConfig,
    ComponentConfig,
    MachineConfig,
    ServiceConfig,
    format_path,
)
from dmsim.devices import resolve_api
from dmsim.errors import ConfigError, Problem

__all__ = [
    "MAX_SIMULATED_TICKS",
    "apply_reconfigure",
    "captured_methods",
    "device_names",
    "matching_methods",
    "reconfigure_problems",
    "resource_names",
    "simulation_problems",
    "tick_budget_problem",
]

# Simulation serves every tick (tens of µs of wall time each, where the real runtime would skip
# what it cannot serve): past this many a run takes hours, which a rate like 1e9 Hz never meant.
MAX_SIMULATED_TICKS = 100_000_000


def resource_names(machine: MachineConfig) -> frozenset[str]:
    """Every name a fault may use for a resource of ``machine``."""
    names = {c.name for c in machine.components} | {s.name for s in machine.services}
    for method in machine.capture_methods():
        ref = method.resource
        names |= {ref.name, ref.short_name, str(ref)}
    return frozenset(names)


def device_names(machine: MachineConfig) -> frozenset[str]:
    """Every name a device fault may use: the resources the world simulates (components,
    services that capture, such as vision, and remote resources), not the data manager."""
    names = {c.name for c in machine.components}
    names |= {s.name for s in machine.services if s.capture_methods}
    for method in machine.capture_methods():
        names |= _names_of(method)
    return frozenset(names)


def captured_methods(machine: MachineConfig, resource: str) -> frozenset[str]:
    """The capture methods ``machine`` runs on ``resource`` (any name a fault may use)."""
    return frozenset(
        m.method for m in machine.capture_methods() if m.enabled and resource in _names_of(m)
    )


def simulation_problems(machine: MachineConfig) -> list[Problem]:
    """A problem per component (or capturing service) the world has no simulated model for."""
    problems = []
    owners: list[tuple[ComponentConfig | ServiceConfig, str]] = [
        (c, "component") for c in machine.components
    ]
    owners += [(s, "service") for s in machine.services if s.capture_methods]
    for owner, kind in owners:
        try:
            resolve_api(f"{owner.namespace}:{kind}:{owner.type}")
        except ConfigError as error:
            problems += [
                Problem(f"{format_path(owner.json_path)}.{p.path}", p.message)
                for p in error.problems
            ]
    return problems


def _names_of(method: CaptureMethodConfig) -> set[str]:
    ref = method.resource
    return {ref.name, ref.short_name, str(ref)}


def matching_methods(
    machine: MachineConfig, change: Mapping[str, Any]
) -> list[CaptureMethodConfig]:
    """The capture methods one change applies to."""
    wanted_params = change.get("additional_params") or {}
    return [
        method
        for method in machine.capture_methods()
        if change["resource"] in _names_of(method)
        and method.method == change["method"]
        and all(method.additional_params.get(k) == v for k, v in wanted_params.items())
    ]


def reconfigure_problems(
    machine: MachineConfig, params: Mapping[str, Any], where: str
) -> list[Problem]:
    """Changes that match no capture method, and a data_manager patch without a data manager."""
    problems = []
    for index, change in enumerate(params.get("changes", ())):
        if not matching_methods(machine, change):
            known = sorted(
                {f"{m.resource.short_name}/{m.method}" for m in machine.capture_methods()}
            )
            problems.append(
                Problem(
                    f"{where}.changes[{index}]",
                    f"no capture method {change['method']!r} on {change['resource']!r} "
                    f"(known: {', '.join(known) or 'none'})",
                )
            )
    if params.get("data_manager") and machine.data_manager is None:
        problems.append(
            Problem(f"{where}.data_manager", "the machine has no data_manager service to change")
        )
    return problems


def apply_reconfigure(
    document: Mapping[str, Any], machine: MachineConfig, params: Mapping[str, Any]
) -> dict[str, Any]:
    """A new machine config document with a ``reconfigure`` fault's changes applied.

    ``machine`` is ``document`` parsed (it locates each capture method in the document).
    The input is not modified; parse the result with :func:`dmsim.config.parse_machine_config`.
    """
    patched: dict[str, Any] = copy.deepcopy(_plain(document))
    for change in params.get("changes", ()):
        for method in matching_methods(machine, change):
            entry = _at(patched, method.json_path)
            if "capture_frequency_hz" in change:
                entry["capture_frequency_hz"] = change["capture_frequency_hz"]
            if "disabled" in change:
                entry["disabled"] = change["disabled"]
    attributes = params.get("data_manager")
    if attributes:
        for service in patched.get("services", []):
            if isinstance(service, dict) and service.get("type") == "data_manager":
                service.setdefault("attributes", {}).update(_plain(attributes))
    return patched


def _at(document: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    node = document
    for part in path:
        node = node[part]
    assert isinstance(node, dict)
    return node


def _plain(value: Any) -> Any:
    """JSON-like data from frozen mappings and tuples."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def tick_budget_problem(machine: MachineConfig, duration_s: float) -> Problem | None:
    """A problem naming the busiest collector if ``machine``'s collectors would take more than
    :data:`MAX_SIMULATED_TICKS` ticks in ``duration_s`` of simulated time, else ``None``."""
    rates = [m for m in machine.capture_methods() if m.enabled]
    total = sum(m.capture_frequency_hz for m in rates) * duration_s
    if total <= MAX_SIMULATED_TICKS:
        return None
    busiest = max(rates, key=lambda m: m.capture_frequency_hz)
    return Problem(
        f"{busiest.path}.capture_frequency_hz",
        f"{busiest.capture_frequency_hz:g} Hz: over {duration_s:g} s the collectors would "
        f"take {total:.3g} ticks, more than the {MAX_SIMULATED_TICKS:,} a simulated run serves "
        "(every tick is captured, so it would run for hours); lower the rate or the duration",
    )
