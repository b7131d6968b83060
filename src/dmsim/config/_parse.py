"""From a JSON-like dict to a validated :class:`MachineConfig`, reporting every problem.

Validation is stricter than rdk's (which rejects only negative data manager numbers and skips
bad collectors with a log line): wrong types, out-of-range values, bad tags, duplicate names,
unsupported methods, missing or invalid ``additional_params``, a vision ``camera_name`` that names
no camera and a ``selective_syncer_name`` that names no sensor are errors. Things rdk quietly
reinterprets (a 0 meaning "unset", a frequency ≤ 0 meaning "disabled") are warnings. Errors and
warnings are raised together in one :class:`~dmsim.errors.ConfigError`; a valid config keeps its
warnings in ``MachineConfig.warnings``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from dmsim.errors import ConfigError, Problem

from ._capture_methods import MethodDefaults, parse_service_configs, split_api
from ._crossref import check_references
from ._data_manager import parse_data_manager
from ._effective import data_manager_dict
from ._jsonpos import JsonPath, JsonValue
from ._model import (
    ComponentConfig,
    DataManagerConfig,
    MachineConfig,
    ModuleConfig,
    RemoteConfig,
    ResourceRef,
    ServiceConfig,
)
from ._reader import Locate, Reader, describe

__all__ = ["parse_machine_config", "parse_with_locator"]

# rdk's top-level config keys: anything else is most likely a typo.
_TOP_LEVEL = (
    "components", "services", "remotes", "modules", "processes", "packages", "network",
    "auth", "cloud", "debug", "log", "revision", "jobs", "maintenance", "agent",
    "disable_partial_start", "enable_web_profile", "global_log_configuration",
    "disable_log_deduplication",
)  # fmt: skip
_BAD_NAME = re.compile(r"[/:\x00-\x1f]")


def parse_machine_config(
    data: Mapping[str, object],
    *,
    env: Mapping[str, str] | None = None,
    cpu_count: int | None = None,
) -> MachineConfig:
    """Validate a parsed machine config; raise :class:`ConfigError` listing every problem.

    ``env`` (default ``os.environ``) supplies ``VIAM_HOME`` and ``HOME`` for the default capture
    directory; ``cpu_count`` (default ``os.cpu_count()``) sets the default number of sync threads.
    """
    return parse_with_locator(data, env=env, cpu_count=cpu_count, locate=None, source="")


def parse_with_locator(
    data: object,
    *,
    env: Mapping[str, str] | None,
    cpu_count: int | None,
    locate: Locate | None,
    source: str,
    prior: Sequence[Problem] = (),
) -> MachineConfig:
    """:func:`parse_machine_config` with positions and problems already found in the text."""
    reader = Reader(locate)
    reader.problems.extend(prior)
    root = reader.mapping(data, ())
    if root is None:
        raise ConfigError(reader.problems, source=source or None)
    reader.unknown_keys(root, (), _TOP_LEVEL)
    env = os.environ if env is None else env
    cpus = (os.cpu_count() or 1) if cpu_count is None else cpu_count
    data_manager = _data_manager(reader, root, env, cpus)
    defaults = MethodDefaults(cache_size_kb=data_manager.cache_size_kb if data_manager else 1.0)
    config = MachineConfig(
        components=tuple(
            _component(reader, obj, path, defaults)
            for path, obj in reader.objects(root.get("components"), ("components",))
        ),
        services=tuple(
            _service(reader, obj, path, defaults, data_manager)
            for path, obj in reader.objects(root.get("services"), ("services",))
        ),
        remotes=tuple(
            _remote(reader, obj, path, defaults)
            for path, obj in reader.objects(root.get("remotes"), ("remotes",))
        ),
        modules=tuple(
            _module(reader, obj, path)
            for path, obj in reader.objects(root.get("modules"), ("modules",))
        ),
        data_manager=data_manager,
        source=source,
    )
    check_references(reader, config)
    if reader.errors:
        raise ConfigError(reader.problems, source=source or None)
    return dataclasses.replace(config, warnings=tuple(reader.problems))


def _data_manager(
    reader: Reader, root: Mapping[str, object], env: Mapping[str, str], cpus: int
) -> DataManagerConfig | None:
    """The one data_manager service's config; a second one is an error."""
    found: DataManagerConfig | None = None
    first: JsonPath = ()
    for path, obj in _quiet_objects(root.get("services"), ("services",)):
        if _quiet_type(obj, "service") != "data_manager":
            continue
        if found is not None:
            reader.error(path, f"a second data_manager service (the first is services[{first[1]}])")
            continue
        attrs = obj.get("attributes")  # a wrong type is reported with the service itself
        attrs = (
            {k: v for k, v in attrs.items() if isinstance(k, str)}
            if isinstance(attrs, dict)
            else {}
        )
        name = obj.get("name")
        found = parse_data_manager(
            reader,
            name if isinstance(name, str) else "",
            attrs,
            (*path, "attributes"),
            env=env,
            cpu_count=cpus,
        )
        first = path
    return found


def _quiet_objects(value: object, path: JsonPath) -> list[tuple[JsonPath, dict[str, object]]]:
    """Like ``Reader.objects`` without reporting (the full pass reports)."""
    if not isinstance(value, list):
        return []
    return [((*path, i), v) for i, v in enumerate(value) if isinstance(v, dict)]


def _quiet_type(obj: Mapping[str, object], kind: str) -> str:
    """The type of a resource, from ``type`` or an ``api`` triplet, without reporting."""
    value, api = obj.get("type"), obj.get("api")
    if isinstance(value, str) and value:
        return value
    parts = split_api(api) if isinstance(api, str) else None
    return parts[2] if parts and parts[1] == kind else ""


def _name(reader: Reader, obj: Mapping[str, object], path: JsonPath, what: str) -> str:
    name = reader.string(obj, "name", path)
    if not name:
        if obj.get("name") is None:
            reader.error((*path, "name"), f"required: every {what} needs a name")
        elif obj.get("name") == "":
            reader.error((*path, "name"), "must not be empty")
    elif _BAD_NAME.search(name) or name in (".", "..") or name != name.strip():
        reader.error(
            (*path, "name"),
            f"{name!r} is not a usable name: no '/', ':', control characters or outer spaces",
        )
    return name


def _identity(
    reader: Reader, obj: Mapping[str, object], path: JsonPath, kind: str
) -> tuple[str, str]:
    """``(namespace, type)`` from ``namespace`` + ``type``, or from an ``api`` triplet."""
    namespace = reader.string(obj, "namespace", path) or "rdk"
    kind_type = reader.string(obj, "type", path)
    api = reader.string(obj, "api", path)
    if api:
        parts = split_api(api)
        if parts is None or parts[1] != kind:
            reader.error((*path, "api"), f"expected <namespace>:{kind}:<type>, got {api!r}")
        elif kind_type and kind_type != parts[2]:
            reader.error((*path, "type"), f"{kind_type!r} disagrees with api {api!r}")
        else:
            namespace, kind_type = parts[0], parts[2]
    if not kind_type and not api:
        reader.error((*path, "type"), f"required: the {kind} type, e.g. camera")
    elif _BAD_NAME.search(kind_type):
        reader.error((*path, "type"), f"{kind_type!r} is not a {kind} type")
    if ":" in namespace or "/" in namespace:
        reader.error((*path, "namespace"), f"{namespace!r} is not a namespace")
    return namespace, kind_type


def _attributes(
    reader: Reader, obj: Mapping[str, object], path: JsonPath
) -> Mapping[str, JsonValue]:
    where = (*path, "attributes")
    value = obj.get("attributes")
    if value is not None and not isinstance(value, dict):
        reader.error(where, f"expected an object, found {describe(value)}")
        return MappingProxyType({})
    copied = reader.json_value(value or {}, where)
    return MappingProxyType(copied if isinstance(copied, dict) else {})


def _component(
    reader: Reader, obj: Mapping[str, object], path: JsonPath, defaults: MethodDefaults
) -> ComponentConfig:
    name = _name(reader, obj, path, "component")
    namespace, kind_type = _identity(reader, obj, path, "component")
    model = reader.string(obj, "model", path)
    if not model:
        reader.error((*path, "model"), "required: the component model, e.g. webcam or fake")
    resource = ResourceRef(f"{namespace}:component:{kind_type}", name)
    return ComponentConfig(
        name=name,
        type=kind_type,
        model=model,
        namespace=namespace,
        attributes=_attributes(reader, obj, path),
        depends_on=reader.strings(obj, "depends_on", path),
        capture_methods=parse_service_configs(
            reader, obj, path, resource=resource, defaults=defaults
        ),
        json_path=path,
    )


def _service(
    reader: Reader,
    obj: Mapping[str, object],
    path: JsonPath,
    defaults: MethodDefaults,
    manager: DataManagerConfig | None,
) -> ServiceConfig:
    name = _name(reader, obj, path, "service")
    namespace, kind_type = _identity(reader, obj, path, "service")
    resource = ResourceRef(f"{namespace}:service:{kind_type}", name)
    attributes = _attributes(reader, obj, path)
    if manager is not None and manager.json_path == (*path, "attributes"):
        # the data manager's attributes are its effective ones, defaults included
        attributes = MappingProxyType(data_manager_dict(manager))
    return ServiceConfig(
        name=name,
        type=kind_type,
        model=reader.string(obj, "model", path) or "rdk:builtin:builtin",
        namespace=namespace,
        attributes=attributes,
        depends_on=reader.strings(obj, "depends_on", path),
        capture_methods=parse_service_configs(
            reader, obj, path, resource=resource, defaults=defaults
        ),
        json_path=path,
    )


def _remote(
    reader: Reader, obj: Mapping[str, object], path: JsonPath, defaults: MethodDefaults
) -> RemoteConfig:
    name = _name(reader, obj, path, "remote")
    address = reader.string(obj, "address", path)
    if not address:
        reader.error((*path, "address"), "required: host[:port] of the remote part")
    return RemoteConfig(
        name=name,
        address=address,
        secret=reader.string(obj, "secret", path),
        capture_methods=parse_service_configs(
            reader, obj, path, resource=None, remote=name, defaults=defaults
        ),
        json_path=path,
    )


def _module(reader: Reader, obj: Mapping[str, object], path: JsonPath) -> ModuleConfig:
    name = _name(reader, obj, path, "module")
    kind = reader.string(obj, "type", path) or "registry"
    module = ModuleConfig(
        name=name,
        type=kind,
        module_id=reader.string(obj, "module_id", path),
        version=reader.string(obj, "version", path),
        executable_path=reader.string(obj, "executable_path", path),
        log_level=reader.string(obj, "log_level", path),
        env=MappingProxyType(reader.string_map(obj, "env", path)),
        json_path=path,
    )
    if kind not in ("registry", "local"):
        reader.error((*path, "type"), f"must be registry or local, got {kind!r}")
    elif kind == "registry" and not module.module_id:
        reader.error((*path, "module_id"), "required for a registry module, e.g. viam:tflite_cpu")
    elif kind == "local" and not module.executable_path:
        reader.error((*path, "executable_path"), "required for a local module")
    return module
