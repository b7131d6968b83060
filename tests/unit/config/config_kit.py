"""Builders and helpers shared by the config tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dmsim.config import MachineConfig, loads_machine_config, parse_machine_config
from dmsim.errors import ConfigError, Problem

DATA = Path(__file__).resolve().parents[2] / "data" / "configs"
ENV = {"HOME": "/home/robot"}
CPUS = 8


def parse(data: Any, **kwargs: Any) -> MachineConfig:
    kwargs.setdefault("env", ENV)
    kwargs.setdefault("cpu_count", CPUS)
    return parse_machine_config(data, **kwargs)


def loads(text: str | bytes) -> MachineConfig:
    return loads_machine_config(text, env=ENV, cpu_count=CPUS)


def problems(data: Any) -> list[Problem]:
    """Every problem (errors and warnings) of a config dict, or of JSON text."""
    try:
        config = loads(data) if isinstance(data, str | bytes) else parse(data)
    except ConfigError as error:
        return error.problems
    return list(config.warnings)


def errors(data: Any) -> dict[str, str]:
    return {p.path: p.message for p in problems(data) if p.severity == "error"}


def warnings(data: Any) -> dict[str, str]:
    return {p.path: p.message for p in problems(data) if p.severity == "warning"}


def only_error(data: Any) -> Problem:
    found = [p for p in problems(data) if p.severity == "error"]
    assert len(found) == 1, found
    return found[0]


def method(method_name: str, hz: Any = 1.0, /, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method_name, **fields}
    if hz is not None:
        out["capture_frequency_hz"] = hz
    return out


def with_methods(methods: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "data_manager", "attributes": {"capture_methods": methods, **extra}}]


def component(
    kind: str, *methods: dict[str, Any], name: str | None = None, **fields: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name or f"my-{kind}",
        "namespace": "rdk",
        "type": kind,
        "model": "fake",
        "attributes": {},
        **fields,
    }
    if methods:
        out["service_configs"] = with_methods(list(methods))
    return out


def machine(
    *components: dict[str, Any],
    services: list[dict[str, Any]] | None = None,
    dm: dict[str, Any] | None = None,
    remotes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A config with a data_manager service (attributes ``dm``) first in ``services``."""
    manager = {"name": "dm", "namespace": "rdk", "type": "data_manager", "attributes": dm or {}}
    return {
        "components": list(components),
        "services": [manager, *(services or [])],
        "remotes": remotes or [],
    }
