"""A resource's ``service_configs``: its ``data_manager`` entry and capture methods.

Each capture method is resolved to the resource it reads (:class:`ResourceRef`): the owning
component or service, or — under a remote — the resource its ``name`` field names
(``rdk:component:board/my-esp32``). A method whose frequency is ≤ 0 (or below 1e-6 Hz, which
rdk also treats as zero) is kept but disabled, with a warning, as rdk does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._data_manager import parse_tags
from ._jsonpos import JsonPath, format_path
from ._methods import MethodSpec, check_param, method_spec, unknown_method_message
from ._model import CaptureMethodConfig, ResourceRef, RetentionPolicy
from ._reader import Reader

__all__ = ["MethodDefaults", "parse_service_configs", "split_api"]

MIN_FREQUENCY_HZ = 1e-6  # rdk treats anything closer to 0 as 0 (rdk#5977)
MAX_FREQUENCY_HZ = 1e9  # one capture per nanosecond: the interval would round to 0

_METHOD_KEYS = (
    "method",
    "capture_frequency_hz",
    "additional_params",
    "disabled",
    "cache_size_kb",
    "capture_queue_size",
    "capture_buffer_size",
    "retention_policy",
    "name",
    "tags",
)
_METHOD_IGNORED = {"capture_directory": "the data_manager's capture_dir applies (as in rdk)"}


@dataclass(frozen=True, slots=True)
class MethodDefaults:
    """Defaults a capture method takes from the data manager."""

    cache_size_kb: float = 1.0
    capture_queue_size: int = 250
    capture_buffer_size: int = 4096


def split_api(api: str) -> tuple[str, str, str] | None:
    """``"rdk:component:camera"`` → ``("rdk", "component", "camera")``; None if malformed."""
    parts = api.split(":")
    if len(parts) != 3 or not all(parts) or parts[1] not in ("component", "service"):
        return None
    return parts[0], parts[1], parts[2]


def parse_service_configs(
    reader: Reader,
    owner: Mapping[str, object],
    path: JsonPath,
    *,
    resource: ResourceRef | None,
    remote: str = "",
    defaults: MethodDefaults,
) -> tuple[CaptureMethodConfig, ...]:
    """The capture methods of ``owner`` (a component, service or remote at ``path``).

    ``resource`` is the owner itself, or None for a remote, whose methods name their resource.
    """
    methods: list[CaptureMethodConfig] = []
    seen_data_manager: JsonPath | None = None
    for entry_path, entry in reader.objects(
        owner.get("service_configs"), (*path, "service_configs")
    ):
        kind = reader.string(entry, "type", entry_path)
        if kind != "data_manager":
            what = f"of type {kind!r}" if kind else "without a type"
            reader.warn(entry_path, f"a service_configs entry {what} is ignored by dmsim")
            continue
        if seen_data_manager is not None:
            reader.error(
                entry_path,
                f"a second data_manager entry (the first is {format_path(seen_data_manager)})",
            )
            continue
        seen_data_manager = entry_path
        attrs_path = (*entry_path, "attributes")
        attrs = reader.mapping(entry.get("attributes"), attrs_path)
        if attrs is None:
            continue
        reader.unknown_keys(attrs, attrs_path, ("capture_methods", "retention_policy"))
        shared = _retention(reader, attrs, attrs_path)
        for method_path, obj in reader.objects(
            attrs.get("capture_methods"), (*attrs_path, "capture_methods")
        ):
            method = _method(
                reader,
                obj,
                method_path,
                owner=resource,
                remote=remote,
                defaults=defaults,
                shared_retention=shared,
            )
            if method is not None:
                methods.append(method)
    return tuple(methods)


def _method(
    reader: Reader,
    obj: Mapping[str, object],
    path: JsonPath,
    *,
    owner: ResourceRef | None,
    remote: str,
    defaults: MethodDefaults,
    shared_retention: RetentionPolicy | None,
) -> CaptureMethodConfig | None:
    reader.unknown_keys(obj, path, _METHOD_KEYS, ignored=_METHOD_IGNORED)
    name = reader.string(obj, "name", path)
    resource = _resource(reader, name, path, owner, remote)
    method = reader.string(obj, "method", path)
    if not method:
        reader.error((*path, "method"), "required: the method to capture, e.g. Readings")
    spec = method_spec(resource.api, method) if resource else None
    if resource is not None and method and spec is None:
        reader.error((*path, "method"), unknown_method_message(resource.api, method))
    disabled = reader.boolean(obj, "disabled", path)
    frequency = _frequency(reader, obj, path, disabled)
    params = reader.string_map(obj, "additional_params", path)
    if spec is not None:
        raw_params = obj.get("additional_params")
        written = raw_params.keys() if isinstance(raw_params, Mapping) else ()
        _check_params(reader, spec, params, written, (*path, "additional_params"))
    if resource is None or spec is None:
        return None
    return CaptureMethodConfig(
        resource=resource,
        method=method,
        capture_frequency_hz=frequency if frequency is not None else 0.0,
        additional_params=MappingProxyType(dict(sorted(params.items()))),
        disabled=disabled or frequency is None,
        cache_size_kb=_positive(reader, obj, "cache_size_kb", path, defaults.cache_size_kb),
        capture_queue_size=_size(reader, obj, "capture_queue_size", path, defaults),
        capture_buffer_size=_size(reader, obj, "capture_buffer_size", path, defaults),
        retention_policy=_retention(reader, obj, path) or shared_retention,
        name=name,
        tags=parse_tags(reader, obj, path),
        json_path=path,
    )


def _resource(
    reader: Reader, name: str, path: JsonPath, owner: ResourceRef | None, remote: str
) -> ResourceRef | None:
    if owner is not None:
        if name and name not in (owner.name, str(owner)):
            reader.error(
                (*path, "name"),
                f"{name!r} is not this resource ({owner}); only a remote's capture methods "
                "name their resource",
            )
        return owner
    if not name:
        reader.error(
            (*path, "name"),
            "required for a remote's capture method: the remote resource, "
            "e.g. rdk:component:board/my-esp32",
        )
        return None
    api, _, short = name.rpartition("/")
    if split_api(api) is None or not short or ":" in short:
        reader.error(
            (*path, "name"),
            f"expected <namespace>:<component|service>:<type>/<name>, e.g. "
            f"rdk:component:board/my-esp32, got {name!r}",
        )
        return None
    return ResourceRef(api, short, remote)


def _frequency(
    reader: Reader, obj: Mapping[str, object], path: JsonPath, disabled: bool
) -> float | None:
    """The frequency, or None when the method is (or must be treated as) disabled."""
    where = (*path, "capture_frequency_hz")
    frequency = reader.number(obj, "capture_frequency_hz", path, None)
    if frequency is None:
        if not disabled and obj.get("capture_frequency_hz") is None:
            reader.error(where, "required: captures per second, e.g. 0.5 for one every 2 s")
        return None
    if frequency > MAX_FREQUENCY_HZ:
        reader.error(where, f"must be at most {MAX_FREQUENCY_HZ:g} Hz, got {frequency:g}")
        return None
    if frequency < MIN_FREQUENCY_HZ and not disabled:
        reader.warn(where, f"{frequency:g} Hz captures nothing: the method is treated as disabled")
        return None
    return frequency if frequency >= MIN_FREQUENCY_HZ else None


def _check_params(
    reader: Reader,
    spec: MethodSpec,
    params: Mapping[str, str],
    written: Collection[str],
    path: JsonPath,
) -> None:
    """Check the string ``params``; a key ``written`` but not among them had the wrong type,
    which ``string_map`` has reported: it is not missing as well."""
    for param in spec.params:
        value = params.get(param.name)
        if value is None:
            if param.required and param.name not in written:
                reader.error((*path, param.name), f"required by {spec.method}: {param.doc}")
            continue
        problem = check_param(param, value)
        if problem is not None:
            reader.error((*path, param.name), problem)


def _positive(
    reader: Reader, obj: Mapping[str, object], key: str, path: JsonPath, default: float
) -> float:
    value = reader.number(obj, key, path, None)
    if value is None:
        return default
    if value <= 0:
        reader.error((*path, key), f"must be positive, got {value:g}")
        return default
    return value


def _size(
    reader: Reader, obj: Mapping[str, object], key: str, path: JsonPath, defaults: MethodDefaults
) -> int:
    default: int = getattr(defaults, key)
    value = reader.integer(obj, key, path, None)
    if value is None or value == 0:  # rdk: 0 → the default
        return default
    if value < 0:
        reader.error((*path, key), f"can't be negative, got {value}")
        return default
    return value


def _retention(reader: Reader, obj: Mapping[str, object], path: JsonPath) -> RetentionPolicy | None:
    where = (*path, "retention_policy")
    policy = reader.mapping(obj.get("retention_policy"), where)
    if not policy:
        return None
    keys = ("days", "binary_limit_gb", "tabular_limit_gb")
    reader.unknown_keys(policy, where, keys)
    values: dict[str, int | None] = {}
    for key in keys:
        value = reader.integer(policy, key, where, None)
        if value is not None and value < 1:
            reader.error((*where, key), f"must be at least 1, got {value}")
            value = None
        values[key] = value
    if all(v is None for v in values.values()):
        return None
    return RetentionPolicy(**values)
