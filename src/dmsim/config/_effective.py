"""A config back to JSON, with every default written out.

The result is plain JSON in the Viam layout (``service_configs`` entries of type
``data_manager`` holding ``capture_methods``) and parses to an equal :class:`MachineConfig`:
``parse_machine_config(to_effective_dict(c)) == c`` when parsed with the same environment.
"""

from __future__ import annotations

from typing import Any

from ._attributes import DATA_MANAGER_ATTRIBUTES
from ._jsonpos import JsonValue
from ._model import (
    CaptureMethodConfig,
    ComponentConfig,
    DataManagerConfig,
    MachineConfig,
    ModuleConfig,
    RemoteConfig,
    RetentionPolicy,
    ServiceConfig,
)

__all__ = ["data_manager_dict", "to_effective_dict"]


def to_effective_dict(config: MachineConfig) -> dict[str, Any]:
    """The effective config as JSON-ready data: defaults filled in, quirks resolved."""
    return {
        "components": [_component(c) for c in config.components],
        "services": [_service(s) for s in config.services],
        "remotes": [_remote(r) for r in config.remotes],
        "modules": [_module(m) for m in config.modules],
    }


def data_manager_dict(manager: DataManagerConfig) -> dict[str, JsonValue]:
    """Every data_manager attribute with its effective value, in table order."""
    out: dict[str, JsonValue] = {}
    for spec in DATA_MANAGER_ATTRIBUTES:
        value = getattr(manager, spec.name)
        if isinstance(value, tuple):
            out[spec.name] = list(value)
        elif spec.name == "mongo_capture_config":
            mongo = manager.mongo_capture_config
            out[spec.name] = {
                "uri": mongo.uri,
                "database": mongo.database,
                "collection": mongo.collection,
            }
        elif spec.name == "capture_control_sensor":
            sensor = manager.capture_control_sensor
            out[spec.name] = {"name": sensor.name, "key": sensor.key}
        else:
            out[spec.name] = value
    return out


def _retention(policy: RetentionPolicy) -> dict[str, JsonValue]:
    fields = {
        "days": policy.days,
        "binary_limit_gb": policy.binary_limit_gb,
        "tabular_limit_gb": policy.tabular_limit_gb,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _method(method: CaptureMethodConfig, *, remote: bool) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {
        "method": method.method,
        "capture_frequency_hz": method.capture_frequency_hz,
        "additional_params": dict(method.additional_params),
        "disabled": method.disabled,
        "cache_size_kb": method.cache_size_kb,
        "capture_queue_size": method.capture_queue_size,
        "capture_buffer_size": method.capture_buffer_size,
        "tags": list(method.tags),
    }
    if method.retention_policy is not None:
        out["retention_policy"] = _retention(method.retention_policy)
    if remote:
        out["name"] = f"{method.resource.api}/{method.resource.name}"
    return out


def _service_configs(
    methods: tuple[CaptureMethodConfig, ...], *, remote: bool = False
) -> list[JsonValue]:
    if not methods:
        return []
    capture: list[JsonValue] = [_method(m, remote=remote) for m in methods]
    return [{"type": "data_manager", "attributes": {"capture_methods": capture}}]


def _component(component: ComponentConfig) -> dict[str, JsonValue]:
    return {
        "name": component.name,
        "namespace": component.namespace,
        "type": component.type,
        "model": component.model,
        "attributes": dict(component.attributes),
        "depends_on": list(component.depends_on),
        "service_configs": _service_configs(component.capture_methods),
    }


def _service(service: ServiceConfig) -> dict[str, JsonValue]:
    return {
        "name": service.name,
        "namespace": service.namespace,
        "type": service.type,
        "model": service.model,
        "attributes": dict(service.attributes),
        "depends_on": list(service.depends_on),
        "service_configs": _service_configs(service.capture_methods),
    }


def _remote(remote: RemoteConfig) -> dict[str, JsonValue]:
    return {
        "name": remote.name,
        "address": remote.address,
        "secret": remote.secret,
        "service_configs": _service_configs(remote.capture_methods, remote=True),
    }


def _module(module: ModuleConfig) -> dict[str, JsonValue]:
    return {
        "name": module.name,
        "type": module.type,
        "module_id": module.module_id,
        "version": module.version,
        "executable_path": module.executable_path,
        "log_level": module.log_level,
        "env": dict(module.env),
    }
